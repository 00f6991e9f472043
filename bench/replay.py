"""How fast ``rekindle replay --all`` replays running client workflows against the dev stack.

Starts ``rekindle up`` (the dev stack of ``make run``) on free loopback ports with a
throwaway data folder, seeds it with ``rekindle demo --clients N``, waits until every
client's history has stopped growing, then runs ``rekindle replay --all`` as it comes
(this process plus a helper per spare core, once the listing holds 200 histories),
``rekindle replay --all --processes 1`` (this process alone), ``--processes 2`` (a
helper whatever the count, so the short mode runs the helper path too) and
``rekindle replay --dir`` on what it saved, in ``--repeat`` alternating rounds, and
reports each run's rate as the command printed it, then the medians and the ratio of
the default to one process.
Loopback only; stops the stack it started; bounded by ``--timeout``.

    .venv/bin/python bench/replay.py [--clients 800] [--repeat 3] [--timeout 1200] [--short]

``--short`` (for CI, ``make bench``): 10 clients, one round, 300 s at most.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, parse_args  # noqa: E402

REKINDLE = str(Path(sys.executable).parent / "rekindle")
RATE = re.compile(r"(\d+) histories in ([\d.]+) s")


def stack_env(data: Path) -> dict[str, str]:
    ports: list[int] = []
    while len(ports) < 5:  # the kernel may hand a just-closed port out twice
        if (port := free_port()) not in ports:
            ports.append(port)
    temporal, ui, smtp, api, metrics = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_DEVSTACK__DATA_DIR": str(data),
            "REKINDLE_DEVSTACK__TEMPORAL_PORT": str(temporal),
            "REKINDLE_DEVSTACK__TEMPORAL_UI_PORT": str(ui),
            "REKINDLE_DEVSTACK__SMTP_SINK_PORT": str(smtp),
            "REKINDLE_API__PORT": str(api),
            "REKINDLE_API__PUBLIC_BASE_URL": f"http://127.0.0.1:{api}",
            "REKINDLE_WORKER__METRICS_PORT": str(metrics),
            "REKINDLE_DATABASE__URL": f"sqlite+aiosqlite:///{data}/rekindle.db",
            "REKINDLE_LOGGING__LEVEL": "WARNING",
        }
    )
    return env


async def run(env: dict[str, str], *args: str, budget: float = 600) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(REKINDLE, *args, env=env, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(process.communicate(), budget)
    return process.returncode or 0, out.decode(), err.decode()


async def wait_until_up(env: dict[str, str], data: Path, deadline: float) -> None:
    while not (data / "admin-api-key").exists() or not await _answers(env["REKINDLE_API__PORT"]):
        if time.monotonic() > deadline:
            raise TimeoutError("the dev stack did not come up")
        await asyncio.sleep(0.5)


async def _answers(port: str) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    except OSError:
        return False
    writer.close()
    return True


async def settled_events(
    env: dict[str, str], data: Path, clients: int, deadline: float
) -> tuple[list[int], Path]:
    """Poll saved histories until every client's history stops growing: lengths, last save."""
    previous: list[int] = []
    for attempt in range(10_000):
        out_dir = data / f"probe-{attempt}"
        status, _out, _err = await run(env, "replay", "--all", "--save", str(out_dir), "--processes", "1")
        files = list(out_dir.glob("*.json"))
        lengths = sorted(len(json.loads(f.read_text())["events"]) for f in files)
        if status == 0 and len(files) >= clients and lengths == previous:
            return lengths, out_dir
        if time.monotonic() > deadline:
            raise TimeoutError(f"histories still growing ({len(files)} of {clients} clients)")
        previous = lengths
        await asyncio.sleep(2)
    raise AssertionError("unreachable")


async def measure(env: dict[str, str], *args: str) -> tuple[int, float]:
    status, out, err = await run(env, "replay", *args)
    found = RATE.search(err)
    if status != 0 or found is None:
        raise RuntimeError(f"replay {' '.join(args)} exited {status}: {out[-300:]} {err[-300:]}")
    return int(found.group(1)), float(found.group(2))


CONFIGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("--all", ("--all",)),
    ("--all --processes 1", ("--all", "--processes", "1")),
    ("--all --processes 2", ("--all", "--processes", "2")),
    ("--dir", ("--dir", "SAVED")),
)


async def bench(clients: int, budget: float, repeat: int) -> dict[str, float]:
    deadline = time.monotonic() + budget
    with tempfile.TemporaryDirectory(prefix="rekindle-replay-bench-") as tmp:
        data = Path(tmp)
        env = stack_env(data)
        stack = await asyncio.create_subprocess_exec(
            REKINDLE, "up", env=env, stdout=DEVNULL, stderr=DEVNULL, start_new_session=True
        )
        try:
            await wait_until_up(env, data, deadline)
            status, _out, err = await run(env, "demo", "--clients", str(clients), budget=budget)
            if status != 0:
                raise RuntimeError(f"demo failed: {err[-300:]}")
            lengths, saved = await settled_events(env, data, clients, deadline)
            print(f"{len(lengths)} running client workflows; events per history: median "
                  f"{statistics.median(lengths):.0f}, max {max(lengths)}")  # fmt: skip
            runs: dict[str, list[tuple[int, float]]] = {label: [] for label, _ in CONFIGS}
            for round_ in range(repeat):  # side by side, alternating: the machine's load drifts
                for label, args in CONFIGS:
                    n, seconds = await measure(env, *(str(saved) if a == "SAVED" else a for a in args))
                    runs[label].append((n, seconds))
                    print(f"round {round_ + 1}: rekindle replay {label}: {n} histories in {seconds:.2f} s "
                          f"= {n / seconds:.1f}/s")  # fmt: skip
        finally:
            os.killpg(stack.pid, signal.SIGINT)
            await asyncio.wait_for(stack.wait(), 60)
    medians = {label: statistics.median(n / seconds for n, seconds in r) for label, r in runs.items()}
    for label, rate in medians.items():
        print(f"median of {repeat}: rekindle replay {label}: {rate:.1f}/s")
    default, one = medians["--all"], medians["--all --processes 1"]
    print(f"default / one process: {default / one:.2f}")
    return {
        "histories": runs["--all"][0][0],
        "histories_per_second": round(default, 1),
        "histories_per_second_one_process": round(one, 1),
        "histories_per_second_2_processes": round(medians["--all --processes 2"], 1),
        "histories_per_second_dir": round(medians["--dir"], 1),
        "ratio_to_one_process": round(default / one, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=800)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three runs (medians)")
    args = parse_args(parser, clients=10, timeout=300.0, repeat=1)
    result = asyncio.run(bench(args.clients, args.timeout, args.repeat))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
