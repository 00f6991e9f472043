"""``rekindle opsuser``: manage the people who sign in to the dashboard."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import typer

from core.db import create_engine, session_factory
from core.opsusers import OpsUserError, create_user, user_exists
from core.process import run_and_exit
from core.settings import Settings

app = typer.Typer(help="Dashboard users (ops).", no_args_is_help=True)
DEV_USERNAME = "ops"


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command()
def create(
    username: str = typer.Argument(..., help="Sign-in name (lowercase letters, digits, . _ -)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin"),
) -> None:
    """Create a dashboard user; the password is prompted for (or read from stdin)."""
    password = _read_password(password_stdin)
    settings = Settings()

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            await create_user(session_factory(engine), username, password)
        except OpsUserError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            await engine.dispose()
        typer.echo(f"ops user {username!r} created")

    run_and_exit(run)


async def ensure_dev_user(settings: Settings, data_dir: Path) -> tuple[str, str | None]:
    """The dev stack's default user: ``ops`` with a random password kept in the data dir.

    Returns the password when this stack knows it (None if someone set their own).
    """
    path = data_dir / "ops-password.txt"
    stored = path.read_text().strip() if path.exists() else None
    engine = create_engine(settings.database)
    try:
        sessions = session_factory(engine)
        if await user_exists(sessions, DEV_USERNAME):
            return DEV_USERNAME, stored
        password = stored or secrets.token_urlsafe(12)
        await create_user(sessions, DEV_USERNAME, password)
    finally:
        await engine.dispose()
    path.write_text(password + "\n")
    path.chmod(0o600)
    return DEV_USERNAME, password
