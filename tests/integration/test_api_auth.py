"""API keys: 401 without a valid key, 403 with the wrong scope, open routes stay open."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.apikeys import parse_token, revoke_key, verify_token
from core.store.models import ApiKey
from tests.helpers import order_body, unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal
REKINDLE = str(Path(sys.executable).parent / "rekindle")


async def test_auth_missing_key_is_401(stack: Stack) -> None:
    response = await stack.anon.post(f"/v1/clients/{unique_id('c')}/orders", json=order_body("o-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer rk_0123456789abcdef_" + "A" * 43,
    ],
    ids=["malformed", "basic", "unknown"],
)
async def test_auth_bad_key_is_401(stack: Stack, header: str) -> None:
    response = await stack.anon.get("/v1/clients", headers={"authorization": header})
    assert response.status_code == 401
    assert "rk_" not in response.json()["error"]["message"].replace("rk_…", "")


async def test_auth_wrong_secret_is_401(stack: Stack) -> None:
    token = await stack.key("ops")
    parsed = parse_token(token)
    assert parsed is not None
    forged = f"rk_{parsed[0]}_{'B' * 43}"
    async with stack.client(forged) as http:
        assert (await http.get("/v1/clients")).status_code == 401


async def test_auth_revoked_key_is_401(stack: Stack) -> None:
    token = await stack.key("ops")
    parsed = parse_token(token)
    assert parsed is not None
    assert await revoke_key(stack.sessions, parsed[0])
    async with stack.client(token) as http:
        assert (await http.get("/v1/clients")).status_code == 401


async def test_auth_wrong_scope_is_403(stack: Stack) -> None:
    ingest, ops = await stack.key("ingest"), await stack.key("ops")
    async with stack.client(ingest) as http:
        response = await http.get("/v1/clients")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert (await http.get("/v1/emails")).status_code == 403
        cid = unique_id("c")
        assert (await http.post(f"/v1/clients/{cid}/orders", json=order_body("o-1"))).status_code == 202
    async with stack.client(ops) as http:
        assert (await http.get("/v1/clients")).status_code == 200
        response = await http.post(f"/v1/clients/{unique_id('c')}/orders", json=order_body("o-1"))
        assert response.status_code == 403
        assert (await http.put(f"/v1/clients/{unique_id('c')}", json={})).status_code == 403


async def test_auth_admin_implies_every_scope(stack: Stack) -> None:
    assert (await stack.http.get("/v1/clients")).status_code == 200
    assert (await stack.http.get("/v1/emails")).status_code == 200
    response = await stack.http.post(f"/v1/clients/{unique_id('c')}/orders", json=order_body("o-1"))
    assert response.status_code == 202


async def test_auth_open_routes_need_no_key(stack: Stack) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert (await stack.anon.get(path)).status_code == 200, path
    assert (await stack.anon.get("/u/not-a-token")).status_code == 404


async def test_auth_keys_are_stored_hashed(stack: Stack) -> None:
    token = await stack.key("ingest", "ops", name="svc")
    async with stack.sessions() as session:
        row = (await session.execute(select(ApiKey).where(ApiKey.name == "svc"))).scalar_one()
    parsed = parse_token(token)
    assert parsed is not None
    assert parsed[1] not in row.secret_hash
    assert row.scopes == ["ingest", "ops"]


async def _rekindle(db_url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env["REKINDLE_DATABASE__URL"] = db_url
    process = await asyncio.create_subprocess_exec(
        REKINDLE, *args, env=env, cwd=cwd, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_apikey_cli_creates_a_key_once(
    db_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code, out, err = await _rekindle(
        db_url, tmp_path, "apikey", "create", "--scope", "ingest", "--scope", "ops", "--name", "billing"
    )
    assert code == 0, err
    assert "shown once" in err
    key = await verify_token(sessions, out.strip())
    assert key is not None
    assert key.name == "billing"
    assert key.allows("ingest")
    assert key.allows("ops")
    assert not key.allows("admin")

    code, out, err = await _rekindle(db_url, tmp_path, "apikey", "create", "--scope", "root", "--name", "x")
    assert code != 0
    assert "Traceback" not in err + out
