"""Real processes the fault tests break: the worker (``python -m worker``), a Temporal dev
server with its state on disk, and a throwaway PostgreSQL cluster run as the ``postgres`` user."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cli.devstack import server_state_flags
from core.runtime.settings import Settings
from tests.helpers import PRODUCTION_TEST_ENV, TEST_CODEC_KEY_ID, TEST_CODEC_KEYS, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The worker's settings as the environment a production worker would get."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_DATABASE__URL": settings.database.url,
            "REKINDLE_TEMPORAL__ADDRESS": settings.temporal.address,
            "REKINDLE_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
            "REKINDLE_TEMPORAL__SEND_TASK_QUEUE": settings.temporal.send_task_queue,
            "REKINDLE_TEMPORAL__LLM_TASK_QUEUE": settings.temporal.llm_task_queue,
            "REKINDLE_TEMPORAL__REFIT_TASK_QUEUE": settings.temporal.refit_task_queue,
            "REKINDLE_SMTP__PORT": str(settings.smtp.port),
            "REKINDLE_SMTP__TIMEOUT_SECONDS": "10",
            "REKINDLE_SMTP__RATE_LIMIT_PER_SECOND": "50",
            "REKINDLE_WORKER__METRICS_PORT": "0",
            "REKINDLE_SCORING__REFIT_ENABLED": "false",
            "REKINDLE_LOGGING__FORMAT": "json",
            "REKINDLE_LOGGING__LEVEL": "WARNING",
            "REKINDLE_SECURITY__CODEC_KEYS": TEST_CODEC_KEYS,
            "REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID": TEST_CODEC_KEY_ID,
            **PRODUCTION_TEST_ENV,
            **_policy_env(settings),
            **extra,
        }
    )
    return env


def _policy_env(settings: Settings) -> dict[str, str]:
    """The scenario's policy for the worker too: whichever process reads the live policy first
    seeds version 1 from its own settings, so API and worker must agree (as in production)."""
    env = {}
    for name, value in settings.policy.model_dump(mode="json").items():
        if value is not None:
            text = (
                json.dumps(value)
                if isinstance(value, list)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
            env[f"REKINDLE_POLICY__{name.upper()}"] = text
    return env


@dataclass
class WorkerProcess:
    """``python -m worker`` in a subprocess that a test may SIGKILL and start again."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; in-flight activities are left to time out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def worker_process(settings: Settings, log: Path, **extra: str) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(worker_env(settings, **extra), log)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@dataclass
class TemporalServer:
    """``temporal server start-dev`` with its state in a SQLite file, so it survives a restart."""

    db_file: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = str(BIN / "temporal") if (BIN / "temporal").exists() else shutil.which("temporal")
        assert binary is not None, "temporal binary missing: run `make install`"
        cmd = [binary, "server", "start-dev", *server_state_flags(self.db_file), "--ip", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--headless", "--log-level", "error"]
        return cmd

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=out)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql")
    return found[-1]


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)


@dataclass
class PostgresCluster:
    """A throwaway cluster (initdb) on a free port, owned by the ``postgres`` OS user."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        _as_postgres(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "postgres.log")
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: every open connection is cut, new ones are refused."""
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    # Not under pytest's tmp_path: its parents are private to root, postgres could not enter.
    folder = Path(tempfile.mkdtemp(prefix="rekindle-pg-", dir="/tmp"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = PostgresCluster(folder)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
