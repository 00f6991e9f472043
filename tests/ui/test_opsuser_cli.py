"""``rekindle opsuser create`` writes a user that can sign in; bad input is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.opsuser import ensure_dev_user
from core.runtime.settings import Settings
from core.store.opsusers import authenticate

REKINDLE = str(Path(sys.executable).parent / "rekindle")


def _create(db_url: str, username: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REKINDLE_DATABASE__URL": db_url}
    return subprocess.run(
        [REKINDLE, "opsuser", "create", username, "--password-stdin"],
        input=password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_opsuser_cli_create(db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    done = _create(db_url, "ops.carol", "a long enough passphrase")
    assert done.returncode == 0, done.stderr
    assert "ops user 'ops.carol' created" in done.stdout
    assert await authenticate(sessions, "ops.carol", "a long enough passphrase")
    again = _create(db_url, "ops.carol", "another long passphrase")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    weak = _create(db_url, "ops.dave", "short")
    assert weak.returncode == 1
    assert "at least 12 characters" in weak.stderr
    assert "short" not in weak.stderr.replace("at least", "")


async def test_opsuser_dev_user_is_created_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    user, password = await ensure_dev_user(settings, tmp_path)
    assert user == "ops"
    assert password is not None
    kept = tmp_path / "ops-password.txt"
    assert kept.read_text().strip() == password
    assert kept.stat().st_mode & 0o777 == 0o600
    assert await authenticate(sessions, "ops", password)
    assert await ensure_dev_user(settings, tmp_path) == ("ops", password)  # a restart keeps it
