"""The README's quick start, timed step by step, from a fresh clone with an empty package cache.

Follows the README word for word in a temporary folder: ``git clone`` of this repository,
then ``make run`` (terminal 1: creates ``.tools/`` and ``.venv/``, downloading every package
from the registry into a private, empty uv cache, then ``rekindle up``), then
``.venv/bin/rekindle demo`` (terminal 2), while it polls what a newcomer would look at:
the drafts waiting for approval (``GET /v1/emails?status=pending_approval``), the dashboard's
approval queue and uplift report (signed in as ``ops`` with the printed password), and the
Temporal Web UI. Needs the README's ports free (8000, 7233, 8233, 1025). Loopback only (and
the package registry); every wait is bounded; stops the stack by itself (Ctrl-C, as a person
would) and removes the folder.

    .venv/bin/python bench/quickstart.py [--clients N] [--keep] [--short]

``--short`` (for CI) downloads nothing: ``make run`` installs from this machine's uv cache with
uv offline, and the clone borrows this checkout's ``.tools`` (the pinned uv) instead of
fetching it with pip; so it times neither a fresh cache nor the README's ports, which it
leaves free (the stack gets free ports through ``REKINDLE_*`` variables). The demo seeds 10
clients and the bench polls every second; under a minute on a loaded machine, bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, parse_args

ROOT = Path(__file__).resolve().parent.parent
README_PORTS = {"API": 8000, "Temporal gRPC": 7233, "Temporal Web UI": 8233, "SMTP sink": 1025}
PORT_SETTINGS = {
    "API": "REKINDLE_API__PORT",
    "Temporal gRPC": "REKINDLE_DEVSTACK__TEMPORAL_PORT",
    "Temporal Web UI": "REKINDLE_DEVSTACK__TEMPORAL_UI_PORT",
    "SMTP sink": "REKINDLE_DEVSTACK__SMTP_SINK_PORT",
}
READY = "Rekindle is up."
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Stream:
    """A child's merged output, read on a thread; remembers when each line arrived."""

    def __init__(self, proc: subprocess.Popen[str], started: float) -> None:
        self.lines: list[tuple[float, str]] = []
        self.started = started
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip()))

    def first(self, needle: str) -> float | None:
        return next((t for t, line in self.lines if needle in line), None)

    def tail(self, n: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


def ports_free(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"port {port} ({name}) is in use: the README's quick start needs it free")


def wait_for(check: Any, limit: float, what: str, proc: subprocess.Popen[str], out: Stream) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}:\n{out.tail()}")
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not within {limit:.0f} s:\n{out.tail()}")


def dashboard(folder: Path, api: str) -> dict[str, Any]:
    """Sign in as ops (the printed password) and read the approval queue and the uplift page."""
    password = (folder / "data" / "ops-password.txt").read_text().strip()
    with httpx.Client(base_url=api, timeout=60) as ui:
        found = CSRF.search(ui.get("/ui/login").text)
        assert found, "no CSRF token on the sign-in page"
        form = {"username": "ops", "password": password, "csrf_token": found.group(1), "next": "/ui"}
        signed_in = ui.post("/ui/login", data=form)
        assert signed_in.status_code == 303, f"sign-in answered {signed_in.status_code}"
        approvals = ui.get("/ui/approvals")
        uplift = ui.get("/ui/uplift")
    return {
        "approvals_page_status": approvals.status_code,
        "approvals_page_drafts": approvals.text.count('<article class="card draft"'),
        "uplift_page_status": uplift.status_code,
        "uplift_not_enough_data": "not enough data yet" in uplift.text.lower(),
    }


def pending(http: httpx.Client) -> int:
    """Drafts waiting for approval, counted through the API's cursor pages."""
    total, cursor = 0, None
    while True:
        params = {"status": "pending_approval", "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/emails", params=params).json()
        total += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def clone_env(args: argparse.Namespace, folder: Path, clone: Path, ports: dict[str, int]) -> dict[str, str]:
    """The environment of both terminals: a fresh uv cache, or in ``--short`` nothing to download."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REKINDLE_", "UV_", "VIRTUAL_ENV"))}
    if not args.short:
        env["UV_CACHE_DIR"] = str(folder / "uv-cache")  # empty: every package comes from the registry
        return env
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env["UV_OFFLINE"] = "1"  # a package missing from the cache fails the bench, never downloads
    (clone / ".tools").symlink_to(ROOT / ".tools")  # the pinned uv, not fetched again with pip
    env |= {PORT_SETTINGS[name]: str(port) for name, port in ports.items()}
    env["REKINDLE_API__PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['API']}"  # where the demo sends
    return env


def watch_demo(args: argparse.Namespace, clone: Path, env: dict[str, str], api: str) -> dict[str, Any]:
    """Terminal 2: ``rekindle demo``, with what a newcomer looks at polled while it runs."""
    figures: dict[str, Any] = {}
    key = (clone / "data" / "admin-api-key").read_text().strip()
    http = httpx.Client(base_url=api, headers={"authorization": f"Bearer {key}"}, timeout=60)
    demo_started = time.monotonic()
    demo = subprocess.Popen(
        [".venv/bin/rekindle", "demo", *(["--clients", str(args.clients)] if args.clients else [])],
        cwd=clone, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    demo_out = Stream(demo, demo_started)
    samples: list[tuple[float, int]] = []
    first_draft = first_uplift = None
    while demo.poll() is None and time.monotonic() - demo_started < args.timeout:
        count = pending(http)
        elapsed = time.monotonic() - demo_started
        samples.append((elapsed, count))
        if count and first_draft is None:
            first_draft = elapsed
            figures["dashboard_at_first_draft"] = dashboard(clone, api)
        if first_uplift is None and not dashboard(clone, api)["uplift_not_enough_data"]:
            first_uplift = time.monotonic() - demo_started
        time.sleep(args.poll)
    if demo.poll() is None:
        demo.kill()
        raise TimeoutError(f"rekindle demo: not done within {args.timeout:.0f} s:\n{demo_out.tail()}")
    if demo.wait() != 0:
        raise RuntimeError(f"rekindle demo exited with {demo.returncode}:\n{demo_out.tail()}")
    figures["demo_s"] = round(time.monotonic() - demo_started, 1)
    figures["first_pending_draft_s"] = round(first_draft, 1) if first_draft is not None else None
    figures["first_uplift_report_s"] = round(first_uplift, 1) if first_uplift is not None else None
    figures["pending_at"] = {f"{t:.0f}s": n for t, n in samples[:: max(1, len(samples) // 12)]}
    figures["pending_when_demo_done"] = pending(http)
    figures["dashboard_when_demo_done"] = dashboard(clone, api)
    figures["demo_said"] = demo_out.tail(3)
    http.close()
    return figures


def stop(stack: subprocess.Popen[str]) -> None:
    """Ctrl-C in terminal 1 (the whole process group, as a terminal sends it)."""
    if stack.poll() is None:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()


def run(args: argparse.Namespace, folder: Path, ports: dict[str, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    clone = folder / "rekindle"
    tick = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    figures["clone_s"] = round(time.monotonic() - tick, 1)
    env = clone_env(args, folder, clone, ports)
    started = time.monotonic()
    stack = subprocess.Popen(
        ["make", "run"], cwd=clone, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    out = Stream(stack, started)
    try:
        wait_for(lambda: out.first(READY) is not None, args.timeout, "make run", stack, out)
        installed = out.first(".venv/bin/rekindle up")
        figures["make_run_install_s"] = round(installed or 0.0, 1)
        figures["make_run_ready_s"] = round(out.first(READY) or 0.0, 1)
        figures["make_run_up_after_install_s"] = round(figures["make_run_ready_s"] - (installed or 0.0), 1)
        figures |= watch_demo(args, clone, env, f"http://127.0.0.1:{ports['API']}")
        web_ui = f"http://127.0.0.1:{ports['Temporal Web UI']}/"
        figures["temporal_web_ui_status"] = httpx.get(web_ui, timeout=30).status_code
    finally:
        stop(stack)
    figures["stack_stopped_cleanly"] = out.first("Stopped.") is not None  # what `rekindle up` says last
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=0, help="demo size (default: the demo's own default)")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="longest make run and the demo may each take (seconds)"
    )
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between looks at the API and UI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parse_args(parser, clients=10, timeout=150, poll=1.0)
    ports = {name: free_port() for name in README_PORTS} if args.short else README_PORTS
    if not args.short:
        ports_free(ports)
    folder = Path(tempfile.mkdtemp(prefix="bench-quickstart-"))
    try:
        figures = run(args, folder, ports)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    first_view = figures.get("dashboard_at_first_draft", {})
    print(
        f"git clone {figures['clone_s']} s; make run: dependencies installed after "
        f"{figures['make_run_install_s']} s, stack ready after {figures['make_run_ready_s']} s; "
        f"rekindle demo: first draft awaiting approval after {figures['first_pending_draft_s']} s, "
        f"uplift report (not 'not enough data yet') after {figures['first_uplift_report_s']} s, "
        f"done after {figures['demo_s']} s with {figures['pending_when_demo_done']} drafts awaiting approval"
    )
    print(f"drafts awaiting approval over time: {figures['pending_at']}")
    print(f"dashboard at the first draft: {first_view}")
    print(f"dashboard when the demo was done: {figures['dashboard_when_demo_done']}")
    print(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
