"""The ``rekindle`` command line."""

from __future__ import annotations

import asyncio

import typer

from cli import apikey
from core.process import run_and_exit
from core.settings import Settings

app = typer.Typer(help="Rekindle: durable client re-engagement.", no_args_is_help=True)
app.add_typer(apikey.app, name="apikey")


@app.command()
def up() -> None:
    """Run the whole dev stack: Temporal dev server, migrations, worker, API, SMTP sink."""
    from cli.devstack import run_stack

    run_and_exit(lambda: run_stack(Settings()))


@app.command()
def worker() -> None:
    """Run the Temporal worker (production)."""
    from worker.main import serve

    run_and_exit(lambda: serve(Settings()))


@app.command()
def api() -> None:
    """Run the HTTP API (production)."""
    from api.main import serve

    run_and_exit(lambda: serve(Settings()))


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="Target revision"),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION instead"),
) -> None:
    """Apply database migrations."""
    from core import migrate as migrations

    url = Settings().database.url

    async def run() -> None:
        if down:
            await asyncio.to_thread(migrations.downgrade, url, revision)
        else:
            await asyncio.to_thread(migrations.upgrade, url, revision)
        typer.echo(f"database at {revision}{' (downgraded)' if down else ''}")

    run_and_exit(run)


def main() -> None:
    app()
