"""The ``rekindle`` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from cli import apikey
from cli.client import app as client_app
from cli.model import app as model_app
from cli.opsuser import app as opsuser_app
from core.runtime.process import run_and_exit
from core.runtime.settings import Settings

app = typer.Typer(help="Rekindle: durable client re-engagement.", no_args_is_help=True)
app.add_typer(model_app, name="model", help="Fit and apply the engagement model to an order export.")
app.add_typer(opsuser_app, name="opsuser")
app.add_typer(apikey.app, name="apikey")
app.add_typer(client_app, name="client")


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
    from api.main import loop_factory, serve

    run_and_exit(lambda: serve(Settings()), loop_factory=loop_factory())


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="Target revision"),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION instead"),
) -> None:
    """Apply database migrations."""
    from core.store import migrate as migrations

    url = Settings().database.url

    async def run() -> None:
        if down:
            await asyncio.to_thread(migrations.downgrade, url, revision)
        else:
            await asyncio.to_thread(migrations.upgrade, url, revision)
        typer.echo(f"database at {revision}{' (downgraded)' if down else ''}")

    run_and_exit(run)


@app.command("rewrap-keys")
def rewrap_keys() -> None:
    """Re-wrap every client data key under the active master codec key (before retiring an old one)."""
    from core.store.datakeys import data_keys_for
    from core.store.db import create_engine, session_factory

    settings = Settings()

    async def run() -> None:
        engine = create_engine(settings.database)
        try:
            keys = data_keys_for(settings, session_factory(engine))
            moved = await keys.rewrap() if keys is not None else 0
        finally:
            await engine.dispose()
        typer.echo(f"{moved} client data keys re-wrapped under the active master key")

    run_and_exit(run)


@app.command("import")
def import_orders(
    path: Annotated[
        Path | None, typer.Argument(help="Order CSV: client_id,ordered_at,amount[,order_id,currency]")
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option(
            help="Profile CSV: client_id and any of email, first_name, last_name, time_zone, "
            "locale, style_notes (imported first, so drafts know the address)"
        ),
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency of rows without one")] = "USD",
    concurrency: Annotated[
        int, typer.Option(min=1, max=512, help="Clients (one message each) in flight")
    ] = 64,
    restart: Annotated[bool, typer.Option(help="Ignore the checkpoints and send every row")] = False,
) -> None:
    """Backfill profiles and an order export: one message per client (resumable; idempotent)."""
    from cli.importer import import_command

    if path is None and profiles is None:
        typer.echo("error: name an order CSV, --profiles PROFILES.csv, or both", err=True)
        raise typer.Exit(1)
    for given in (profiles, path):
        if given is not None and not given.is_file():
            typer.echo(f"error: no such file: {given}", err=True)
            raise typer.Exit(1)
    run_and_exit(lambda: import_command(Settings(), path, profiles, currency, concurrency, restart))


@app.command()
def demo(
    clients: Annotated[int, typer.Option(min=1, max=100_000, help="How many demo clients")] = 2000,
    seed: Annotated[int, typer.Option(help="Population seed: the same seed gives the same clients")] = 7,
    base_url: Annotated[
        str | None, typer.Option(help="The API (default: settings.api.public_base_url)")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="REKINDLE_API_KEY", help="Default: data/admin-api-key")
    ] = None,
) -> None:
    """Seed a running stack with made-up clients and order histories (idempotent)."""
    from cli.demo import demo_command

    run_and_exit(lambda: demo_command(Settings(), clients, seed, base_url, api_key))


@app.command()
def replay(
    workflow_ids: Annotated[
        list[str] | None, typer.Argument(help="Workflow ids (latest run of each)")
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="A visibility query, e.g. \"ExecutionStatus='Running'\"")
    ] = None,
    all_running: Annotated[
        bool, typer.Option("--all", help="Every running Rekindle workflow (client and refit)")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="With --query/--all: the first N")] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            min=1, help="With --query/--all: N uniformly at random (pages the whole listing, keeps N)"
        ),
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="History JSON files (temporal workflow show -o json)")
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Also write each fetched history (encrypted) here")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Histories fetched at once")] = 16,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Replaying processes, this one included [default: one more per spare core, "
            "for every 200 histories listed]",
        ),
    ] = None,
) -> None:
    """Replay histories against this checkout's workflows: 0 all replayed, 1 nondeterministic, 2 error."""
    from cli.replay import Request, replay_command

    request = Request(
        ids=workflow_ids or [], query=query, all=all_running, limit=limit, sample=sample,
        directory=directory, save=save, concurrency=concurrency, processes=processes,
    )  # fmt: skip
    run_and_exit(lambda: replay_command(Settings(), request))


def main() -> None:
    app()
