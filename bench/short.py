"""Every bench in its short mode: what ``make bench`` runs, and CI after the tests.

A bench is a script in ``bench/`` with a ``__main__`` block; each runs as
``python bench/<name>.py --short`` in its own process group, bounded by ``--timeout``, and
passes when it exits 0 and the last line of its standard output is one JSON object. With
``REKINDLE_TEST_POSTGRES_URL`` set (CI sets it), a bench that takes ``--database-url`` runs
once more against that PostgreSQL server. Benches run ``--jobs`` at a time (most of a short
run is waiting for servers to start); each one's output is printed when it ends, then a
summary. Exit status 1 if any bench failed.

    .venv/bin/python bench/short.py [--jobs 3] [--timeout 300] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
POSTGRES_URL = os.environ.get("REKINDLE_TEST_POSTGRES_URL")
GRACE_SECONDS = 30  # after Ctrl-C on timeout, for the bench to stop its servers
# The longest short runs (a minute or two on a loaded machine: whole stacks started) go first,
# so the quick ones fill the other slots meanwhile instead of leaving one long run at the end.
LONGEST_FIRST = ("backfill", "onboard", "quickstart", "soak")


@dataclass
class Outcome:
    name: str
    args: list[str]
    seconds: float
    error: str | None  # None: it passed
    stdout: str
    stderr: str


def benches(names: list[str]) -> list[tuple[str, list[str]]]:
    """(script, extra arguments) for each bench run, PostgreSQL variants included."""
    runs: list[tuple[str, list[str]]] = []
    paths = sorted(BENCH.glob("*.py"), key=lambda p: (p.stem not in LONGEST_FIRST, p.stem))
    for path in paths:
        source = path.read_text()
        if path.name == Path(__file__).name or 'if __name__ == "__main__":' not in source:
            continue
        if names and path.stem not in names:
            continue
        runs.append((path.stem, []))
        if POSTGRES_URL and '"--database-url"' in source:
            runs.append((path.stem, ["--database-url", POSTGRES_URL]))
    return runs


def verdict(returncode: int, stdout: str) -> str | None:
    """Why a finished bench failed, or None: exit 0 and a JSON object as the last line."""
    if returncode != 0:
        return f"exit status {returncode}"
    lines = stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    return None if isinstance(figures, dict) else "the last line of its output is not a JSON object"


def run(name: str, args: list[str], timeout: float) -> Outcome:
    """One bench in its own process group; Ctrl-C then SIGKILL to the group if it overruns."""
    command = [sys.executable, str(BENCH / f"{name}.py"), "--short", *args]
    started = time.monotonic()
    proc = subprocess.Popen(
        command, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        error = verdict(proc.returncode, stdout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        error = f"still running after {timeout:.0f} s: stopped"
    return Outcome(name, args, time.monotonic() - started, error, stdout, stderr)


def label(outcome: Outcome) -> str:
    return " ".join([outcome.name, *(["(PostgreSQL)"] if outcome.args else [])])


def show(outcome: Outcome) -> None:
    """A bench's figures for people; on failure the end of its standard error too."""
    status = "ok" if outcome.error is None else f"FAILED: {outcome.error}"
    print(f"\n=== {label(outcome)}: {status} ({outcome.seconds:.1f} s)")
    print(outcome.stdout.rstrip())
    if outcome.error is not None:
        print("--- end of its standard error:")
        print("\n".join(outcome.stderr.rstrip().splitlines()[-40:]))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these benches (default: all)")
    parser.add_argument("--jobs", type=int, default=3, help="benches running at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one bench may take")
    args = parser.parse_args()
    runs = benches(args.names)
    if not runs:
        parser.error(f"no bench called {' or '.join(args.names)}")
    started = time.monotonic()
    print(f"{len(runs)} bench runs in short mode, {args.jobs} at a time", flush=True)
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for outcome in pool.map(lambda r: run(r[0], r[1], args.timeout), runs):
            show(outcome)
            outcomes.append(outcome)
    print(f"\n=== summary ({time.monotonic() - started:.0f} s in all)")
    for outcome in outcomes:
        print(f"{label(outcome):28} {outcome.seconds:6.1f} s  {outcome.error or 'ok'}")
    sys.exit(1 if any(o.error for o in outcomes) else 0)


if __name__ == "__main__":
    main()
