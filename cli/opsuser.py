"""``rekindle opsuser``: manage the people who sign in to the dashboard.

Roles: ``viewer`` reads, ``approver`` also decides drafts and acts on clients and emails,
``admin`` also reads the audit log and manages webhooks. Every change is audited.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.runtime.process import run_and_exit
from core.runtime.settings import Settings
from core.store import audit
from core.store.audit import CLI
from core.store.db import create_engine, session_factory
from core.store.opsusers import OpsUserError, create_user, list_users, update_user, user_exists

app = typer.Typer(help="Dashboard users (ops).", no_args_is_help=True)
DEV_USERNAME = "ops"


class RoleOption(StrEnum):
    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _with_sessions(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]) -> None:
    settings = Settings()

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            await work(session_factory(engine))
        except OpsUserError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            await engine.dispose()

    run_and_exit(run)


@app.command()
def create(
    username: str = typer.Argument(..., help="Sign-in name (lowercase letters, digits, . _ -)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin"),
    role: Annotated[
        RoleOption, typer.Option("--role", help="viewer, approver or admin")
    ] = RoleOption.APPROVER,
) -> None:
    """Create a dashboard user; the password is prompted for (or read from stdin)."""
    password = _read_password(password_stdin)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        await create_user(sessions, username, password, role.value)
        await audit.record(
            sessions,
            CLI,
            "ops_user.create",
            target_type="ops_user",
            target_id=username,
            detail={"role": role.value},
        )
        typer.echo(f"ops user {username!r} created ({role.value})")

    _with_sessions(work)


@app.command("list")
def list_command() -> None:
    """Usernames, roles and state (never password hashes)."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        for user in await list_users(sessions):
            state = "disabled" if user.disabled_at else "active"
            typer.echo(f"{user.username:24}  {user.role:8}  {state:8}  created {user.created_at:%Y-%m-%d}")

    _with_sessions(work)


@app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="The user")],
    role: Annotated[RoleOption, typer.Argument(help="viewer, approver or admin")],
) -> None:
    """Change a user's role (effective on their next request)."""
    _change(username, "ops_user.set_role", f"{username!r} is now {role.value}", role=role.value)


@app.command()
def disable(username: Annotated[str, typer.Argument(help="The user")]) -> None:
    """Disable a user: they are signed out at their next request and cannot sign in."""
    _change(username, "ops_user.disable", f"{username!r} disabled", disabled=True)


@app.command()
def enable(username: Annotated[str, typer.Argument(help="The user")]) -> None:
    """Enable a disabled user again."""
    _change(username, "ops_user.enable", f"{username!r} enabled", disabled=False)


def _change(
    username: str, action: str, done: str, *, role: str | None = None, disabled: bool | None = None
) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        if not await update_user(sessions, username, role=role, disabled=disabled):
            raise LookupError(f"no ops user {username!r}")
        detail = {"role": role} if role else None
        await audit.record(sessions, CLI, action, target_type="ops_user", target_id=username, detail=detail)
        typer.echo(done)

    _with_sessions(work)


async def ensure_dev_user(settings: Settings, data_dir: Path) -> tuple[str, str | None]:
    """The dev stack's default user: ``ops`` (admin) with a random password kept in the data dir.

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
        await create_user(sessions, DEV_USERNAME, password, role="admin")
    finally:
        await engine.dispose()
    path.write_text(password + "\n")
    path.chmod(0o600)
    return DEV_USERNAME, password
