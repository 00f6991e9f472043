"""``rekindle apikey``: create, list and revoke API keys.

A new key's token is printed once, on stdout alone (so scripts can capture it);
only a hash of its secret is stored.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.runtime.process import run_and_exit
from core.runtime.settings import Settings
from core.store import audit
from core.store.apikeys import Scope, create_key, revoke_key, verify_token
from core.store.audit import CLI
from core.store.db import create_engine, session_factory
from core.store.models import ApiKey

app = typer.Typer(help="Manage API keys (scopes: ingest, ops, admin).", no_args_is_help=True)
DEV_KEY_NAME = "dev-stack admin"


class ScopeOption(StrEnum):
    INGEST = "ingest"
    OPS = "ops"
    ADMIN = "admin"


@app.command("create")
def create(
    scope: Annotated[list[ScopeOption], typer.Option("--scope", help="Repeat for several scopes")],
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key")],
) -> None:
    """Create a key and print its token (shown this once)."""
    settings = Settings()
    scopes: tuple[Scope, ...] = tuple(s.value for s in scope)

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            sessions = session_factory(engine)
            key = await create_key(sessions, name, scopes)
            detail = {"name": name, "scopes": list(scopes)}
            await audit.record(
                sessions, CLI, "api_key.create", target_type="api_key", target_id=key.key_id, detail=detail
            )
        finally:
            await engine.dispose()
        typer.echo(f"created key {key.key_id} ({', '.join(key.scopes)}); the token is shown once:", err=True)
        typer.echo(key.token)

    run_and_exit(run)


@app.command("list")
def list_keys() -> None:
    """Key ids, names, scopes and state (never secrets)."""
    settings = Settings()

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            async with session_factory(engine)() as session:
                rows = (await session.execute(select(ApiKey).order_by(ApiKey.created_at))).scalars()
                for row in rows:
                    state = "revoked" if row.revoked_at else "active"
                    typer.echo(f"{row.key_id}  {state:7}  {','.join(row.scopes):17}  {row.name}")
        finally:
            await engine.dispose()

    run_and_exit(run)


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (the part after rk_)")]) -> None:
    """Revoke a key; requests with it fail within seconds."""
    settings = Settings()

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            sessions = session_factory(engine)
            if not await revoke_key(sessions, key_id):
                raise LookupError(f"no active key {key_id}")
            await audit.record(sessions, CLI, "api_key.revoke", target_type="api_key", target_id=key_id)
        finally:
            await engine.dispose()
        typer.echo(f"revoked {key_id}")

    run_and_exit(run)


async def dev_admin_key(sessions: async_sessionmaker[AsyncSession], path: Path) -> str:
    """The dev stack's admin token, kept in ``path`` so it is stable across restarts."""
    token = _read_token(path)
    if token is not None:
        stored = await verify_token(sessions, token)
        if stored is not None and stored.allows("admin"):
            return token
    key = await create_key(sessions, DEV_KEY_NAME, ("admin",))
    _write_token(path, key.token)
    return key.token


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _write_token(path: Path, token: str) -> None:
    """Readable by its owner only: it is a credential."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
