"""``rekindle client``: a client's rights, for scripts. Goes through the running API (admin key),
so the API's own caches (the erased client's data key) are dropped at once."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer

from cli import apiclient
from core.runtime.process import finish, run_and_exit
from core.runtime.settings import Settings

app = typer.Typer(help="A client's data: export it, erase it.", no_args_is_help=True)
BaseUrl = Annotated[str | None, typer.Option(help="The API (default: settings.api.public_base_url)")]
ApiKey = Annotated[str | None, typer.Option(envvar="REKINDLE_API_KEY", help="Default: data/admin-api-key")]


async def _call(method: str, path: str, given_url: str | None, key: str | None) -> httpx.Response:
    settings = Settings()
    try:
        headers = {"authorization": f"Bearer {apiclient.resolve_key(settings, key)}"}
    except apiclient.NoApiKey as exc:
        _fail(str(exc))
    url = apiclient.base_url(settings, given_url)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        try:
            return await http.request(method, path)
        except httpx.TransportError as exc:
            _fail(f"nothing answers at {url}: {type(exc).__name__}")


def _fail(message: str, status: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    finish(status)


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


@app.command()
def erase(
    client_id: Annotated[str, typer.Argument(help="The retailer's client id")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Erase a client: workflow terminated, rows deleted, history made undecodable. Idempotent."""
    if not yes and not typer.confirm(f"Erase client {client_id} for good?"):
        raise typer.Exit(1)

    async def run() -> None:
        response = await _call("DELETE", f"/v1/clients/{client_id}", base_url, api_key)
        if response.status_code != 200:
            _fail(f"{client_id}: {_error(response)}", 2 if response.status_code < 500 else 1)
        receipt = response.json()
        typer.echo(
            f"erased {client_id}: workflow {receipt['workflow']}, "
            f"{sum(receipt['rows_deleted'].values())} rows deleted, "
            f"data key {'destroyed' if receipt['data_key_destroyed'] else 'absent'}, "
            f"{receipt['hashed_suppressions']} address(es) kept as a keyed hash"
        )

    run_and_exit(run)


@app.command()
def export(
    client_id: Annotated[str, typer.Argument(help="The retailer's client id")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here (default: stdout)")] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Everything Rekindle holds about a client, as JSON."""

    async def run() -> None:
        response = await _call("GET", f"/v1/clients/{client_id}/export", base_url, api_key)
        if response.status_code != 200:
            _fail(f"{client_id}: {_error(response)}", 2 if response.status_code < 500 else 1)
        text = json.dumps(response.json(), indent=2, ensure_ascii=False) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text)

    run_and_exit(run)
