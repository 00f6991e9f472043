"""`rekindle up` as a person runs it: a subprocess that serves, survives a restart, stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.devstack import (
    TEMPORAL_START_ATTEMPTS,
    TemporalExited,
    stack_settings,
    start_temporal,
    stop_process,
    with_dev_codec,
)
from core.runtime.settings import Settings
from core.runtime.temporal import connect
from tests.helpers import free_port, order_body

pytestmark = [pytest.mark.slow, pytest.mark.temporal]
ROOT = Path(__file__).resolve().parents[2]
REKINDLE = str(Path(sys.executable).parent / "rekindle")


def _env(tmp_path: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_DEVSTACK__DATA_DIR": str(tmp_path / "data"),
            "REKINDLE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'rekindle.db'}",
            "REKINDLE_DEVSTACK__TEMPORAL_PORT": str(ports["temporal"]),
            "REKINDLE_DEVSTACK__TEMPORAL_UI_PORT": str(ports["ui"]),
            "REKINDLE_DEVSTACK__SMTP_SINK_PORT": str(ports["smtp"]),
            "REKINDLE_API__PORT": str(ports["api"]),
            "REKINDLE_LOGGING__FORMAT": "json",
        }
    )
    return env


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in ("temporal", "ui", "smtp", "api")}


def _start(tmp_path: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [REKINDLE, "up"],
        cwd=tmp_path,
        env=_env(tmp_path, ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_up(process: subprocess.Popen[str], api: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{api}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the stack did not become ready")


def _headers(tmp_path: Path) -> dict[str, str]:
    token = (tmp_path / "data" / "admin-api-key").read_text().strip()
    return {"authorization": f"Bearer {token}"}


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out


@pytest.fixture
def stack_process(tmp_path: Path, ports: dict[str, int]) -> Iterator[subprocess.Popen[str]]:
    process = _start(tmp_path, ports)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def test_devstack_serves_restarts_and_stops(
    tmp_path: Path, ports: dict[str, int], stack_process: subprocess.Popen[str]
) -> None:
    api = f"http://127.0.0.1:{ports['api']}"
    _wait_up(stack_process, api)
    headers = _headers(tmp_path)
    accepted = httpx.post(
        f"{api}/v1/clients/dev-1/orders", json=order_body("o-1"), headers=headers, timeout=10
    )
    assert accepted.status_code == 202
    deadline = time.monotonic() + 20
    while httpx.get(f"{api}/v1/clients/dev-1", headers=headers, timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    ui = httpx.get(f"http://127.0.0.1:{ports['ui']}/", timeout=10)
    assert ui.status_code == 200
    # Payloads are encrypted with a development key kept in the data folder; the Web UI
    # decodes through the API's codec endpoint (anonymous on loopback only).
    key_file = tmp_path / "data" / "codec-keys"
    assert key_file.stat().st_mode & 0o777 == 0o600
    encoded = httpx.post(f"{api}/codec/encode", json={"payloads": [{"metadata": {}, "data": ""}]}, timeout=10)
    assert encoded.status_code == 200
    assert encoded.json()["payloads"][0]["metadata"]["encryption-key-id"] == "ZGV2LTE="  # dev-1
    out = _stop(stack_process)
    assert "Rekindle is up" in out
    assert f"http://127.0.0.1:{ports['api']}/docs" in out
    assert headers["authorization"].removeprefix("Bearer ") in out

    # Second run on the same data folder: the workflow and the database survived.
    again = _start(tmp_path, ports)
    try:
        _wait_up(again, api)
        assert _headers(tmp_path) == headers  # the dev key is stable across restarts
        accepted = httpx.post(
            f"{api}/v1/clients/dev-1/orders",
            json=order_body("o-2", "2026-03-01T10:00:00Z"),
            headers=headers,
            timeout=10,
        )
        assert accepted.status_code == 202
        deadline = time.monotonic() + 20
        while httpx.get(f"{api}/v1/clients/dev-1", headers=headers, timeout=5).json()["order_count"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        _stop(again)


def test_devstack_port_taken_is_a_clear_message(tmp_path: Path, ports: dict[str, int]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["api"]))
        blocker.listen()
        result = subprocess.run(
            [REKINDLE, "up"],
            cwd=tmp_path,
            env=_env(tmp_path, ports),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {ports['api']} (API)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _server_settings(tmp_path: Path, ports: dict[str, int]) -> Settings:
    base = Settings(_env_file=None)
    devstack = base.devstack.model_copy(
        update={"data_dir": tmp_path, "temporal_port": ports["temporal"], "temporal_ui_port": ports["ui"]}
    )
    return with_dev_codec(stack_settings(base.model_copy(update={"devstack": devstack})), tmp_path)


async def test_devstack_server_that_dies_while_starting_is_started_again(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    """The first start finds its port taken and exits; the second, with the port free, serves."""
    settings = _server_settings(tmp_path, ports)
    log_path = tmp_path / "temporal.log"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", ports["temporal"]))
    blocker.listen()

    def release_after_first_failure() -> None:
        deadline = time.monotonic() + 60
        while b"address already in use" not in log_path.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        blocker.close()

    with log_path.open("ab") as log:
        releaser = asyncio.create_task(asyncio.to_thread(release_after_first_failure))
        process = await start_temporal(settings, tmp_path, log)
        try:
            await releaser
            client = await connect(settings)
            assert await client.service_client.check_health()
        finally:
            stop_process(process)
    assert log_path.read_bytes().count(b"address already in use") == 1


async def test_devstack_server_that_keeps_dying_is_reported_with_its_log(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    settings = _server_settings(tmp_path, ports)
    with socket.socket() as blocker, (tmp_path / "temporal.log").open("ab") as log:
        blocker.bind(("127.0.0.1", ports["temporal"]))
        blocker.listen()
        with pytest.raises(TemporalExited) as raised:
            await start_temporal(settings, tmp_path, log)
    message = str(raised.value)
    assert message.startswith("the Temporal dev server exited with code 1")
    assert f"listen tcp 127.0.0.1:{ports['temporal']}: bind: address already in use" in message
    assert (tmp_path / "temporal.log").read_text().count("address already in use") == TEMPORAL_START_ATTEMPTS
