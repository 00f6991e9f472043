"""Done-when for the right to be forgotten and to a copy, on the real dev server.

The stack here is wired as in production: per-client data keys in the API's Temporal
client, the worker and the codec server. One client is exported, then erased; the
database and their history (read raw, then through the codec and ``/codec/decode``)
hold no trace of them afterwards, while another client is untouched.
"""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from cli.replay import new_replayer
from core.contracts.messages import client_workflow_id
from core.runtime.codec import DATA_KEY_PREFIX, KEY_ID_METADATA, DataKeyDestroyed, EncryptionCodec
from core.runtime.settings import Settings
from core.runtime.temporal import data_converter
from core.store.clients import client_row
from core.store.datakeys import ReplayDataKeys
from core.store.db import transaction
from core.store.models import Base
from core.store.models import Client as ClientRow
from core.store.privacy import is_suppressed
from tests.helpers import (
    eventually,
    order_body,
    orders_recorded,
    session_codec,
    unique_id,
    wire_payload,
)
from tests.integration.conftest import Stack, auth
from tests.integration.test_privacy import _payloads, _raw_history
from workflows.client import ClientEngagementWorkflow

pytestmark = pytest.mark.temporal


@dataclass
class KeyedStack:
    """The production-wired stack and a codec that reads its data keys."""

    http: httpx.AsyncClient
    temporal: Client
    codec: EncryptionCodec
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings


@pytest.fixture
def keyed(keyed_stack: Stack) -> KeyedStack:
    assert keyed_stack.data_keys is not None
    codec = session_codec().with_data_keys(keyed_stack.data_keys)
    return KeyedStack(
        keyed_stack.http, keyed_stack.temporal, codec, keyed_stack.sessions, keyed_stack.settings
    )


@dataclass(frozen=True)
class Person:
    client_id: str
    email: str
    first_name: str
    last_name: str
    style_notes: str

    @property
    def traces(self) -> list[str]:
        return [self.client_id, self.email, self.first_name, self.last_name, self.style_notes]


def _person(tag: str) -> Person:
    cid = unique_id(f"gdpr-{tag}")
    return Person(cid, f"{cid}@example.com", f"Wilhelmina{tag}", f"Quaxley{tag}", f"loves-{tag}-mohair")


async def _enrol(stack: KeyedStack, who: Person) -> None:
    profile = {
        "email": who.email,
        "first_name": who.first_name,
        "last_name": who.last_name,
        "style_notes": who.style_notes,
    }
    response = await stack.http.put(f"/v1/clients/{who.client_id}", json=profile)
    assert response.status_code == 202, response.text
    for n, at in ((1, "2026-01-05T10:00:00Z"), (2, "2026-02-05T10:00:00Z")):
        order = order_body(f"{who.client_id}-o{n}", at)
        response = await stack.http.post(f"/v1/clients/{who.client_id}/orders", json=order)
        assert response.status_code == 202, response.text
    await eventually(lambda: orders_recorded(stack.temporal, who.client_id, 2), timeout=60)


async def _database_text(sessions: async_sessionmaker[AsyncSession]) -> str:
    """Every row of every table, as one string to search."""
    chunks = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def _sqlite_files(settings: Settings) -> bytes:
    url = make_url(settings.database.url)
    if url.get_backend_name() != "sqlite":
        return b""
    path = Path(str(url.database))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def _decode_via_api(stack: KeyedStack, payloads: list[Payload]) -> list[int]:
    statuses = []
    for payload in payloads:
        response = await stack.http.post("/codec/decode", json={"payloads": [wire_payload(payload)]})
        statuses.append(response.status_code)
    return statuses


@pytest.mark.timeout(240)
async def test_erasure_export_then_erase_leaves_no_trace(
    keyed: KeyedStack, dev_env: WorkflowEnvironment
) -> None:
    gone, kept = _person("gone"), _person("kept")
    await _enrol(keyed, gone)
    await _enrol(keyed, kept)
    # Ops pause them, with a note naming them: a pause row, an audit entry, an integrator event.
    paused = await keyed.http.post(
        f"/v1/clients/{gone.client_id}:pause", json={"reason": f"{gone.last_name} asked"}
    )
    assert paused.status_code == 200, paused.text

    exported = await keyed.http.get(f"/v1/clients/{gone.client_id}/export")
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert body["profile"]["email"] == gone.email
    assert len(body["orders"]) == 2
    assert body["live_state"] is not None
    assert {"client_pauses", "audit_log"} <= set(body["activity"])
    history = await _raw_history(dev_env, client_workflow_id(gone.client_id))
    payloads = [p for event in history.events for p in _payloads(event)]
    key_ids = {p.metadata[KEY_ID_METADATA].decode() for p in payloads}
    assert len(key_ids) == 1
    assert next(iter(key_ids)).startswith(DATA_KEY_PREFIX)
    assert gone.email.encode() in b"".join(p.SerializeToString() for p in await keyed.codec.decode(payloads))

    erased = await keyed.http.delete(f"/v1/clients/{gone.client_id}")
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["workflow"] == "terminated"
    assert receipt["data_key_destroyed"] is True
    assert receipt["rows_deleted"]["clients"] == 1
    assert receipt["rows_deleted"]["orders"] == 2

    for path in (f"/v1/clients/{gone.client_id}", f"/v1/clients/{gone.client_id}/export"):
        assert (await keyed.http.get(path)).status_code == 404
    again = await keyed.http.delete(f"/v1/clients/{gone.client_id}")
    assert again.status_code == 200
    assert again.json()["workflow"] == "not_running"
    assert sum(again.json()["rows_deleted"].values()) == 0

    text = await _database_text(keyed.sessions)
    for trace in gone.traces:
        assert trace not in text, f"{trace!r} is still in the database"
    for trace in kept.traces:
        assert trace in text
    assert gone.email.encode() not in _sqlite_files(keyed.settings)  # not even in free pages or the log
    secret = keyed.settings.security.suppression_hash_secret.get_secret_value()
    async with keyed.sessions() as session:
        assert await is_suppressed(session, secret, "someone-else", gone.email.upper())
        assert not await is_suppressed(session, secret, "someone-else", kept.email)

    history = await _raw_history(dev_env, client_workflow_id(gone.client_id))
    payloads = [p for event in history.events for p in _payloads(event)]
    assert payloads
    raw = b"".join(event.SerializeToString() for event in history.events)
    for trace in gone.traces[1:]:
        assert trace.encode() not in raw
    assert set(await _decode_via_api(keyed, payloads)) == {400}
    with pytest.raises(DataKeyDestroyed):
        await keyed.codec.decode(payloads[:1])

    kept_history = await _raw_history(dev_env, client_workflow_id(kept.client_id))
    kept_payloads = [p for event in kept_history.events for p in _payloads(event)]
    assert set(await _decode_via_api(keyed, kept_payloads)) == {200}
    assert kept.email.encode() in b"".join(
        p.SerializeToString() for p in await keyed.codec.decode(kept_payloads)
    )
    kept_export = await keyed.http.get(f"/v1/clients/{kept.client_id}/export")
    assert kept_export.json()["profile"]["email"] == kept.email
    replayer = Replayer(workflows=[ClientEngagementWorkflow], data_converter=data_converter(keyed.codec))
    await replayer.replay_workflow(kept_history)
    # `rekindle replay` reads the data keys from the configured database by itself.
    replay = new_replayer(keyed.settings)
    try:
        await replay.replay_workflow(kept_history)
        with pytest.raises(RuntimeError, match="DataKeyDestroyed"):  # and the erased one cannot
            await replay.replay_workflow(history, raise_on_replay_failure=True)
    finally:
        codec = replay.config()["data_converter"].payload_codec
        assert isinstance(codec, EncryptionCodec)
        assert isinstance(codec.data_keys, ReplayDataKeys)
        await codec.data_keys.aclose()


async def test_erasure_needs_the_admin_scope(keyed: KeyedStack) -> None:
    from core.store.apikeys import create_key

    token = (await create_key(keyed.sessions, "ops only", ("ops",))).token
    for method, path in (("DELETE", "/v1/clients/c-1"), ("GET", "/v1/clients/c-1/export")):
        response = await keyed.http.request(method, path, headers=auth(token))
        assert response.status_code == 403, response.text
    assert (await keyed.http.get("/v1/clients/never-seen/export")).status_code == 404
    assert (await keyed.http.delete("/v1/clients/bad id!")).status_code == 422


async def _rekindle(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "rekindle"), *args, stdout=PIPE, stderr=PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.timeout(120)
async def test_erasure_cli_exports_and_erases_for_scripts(keyed: KeyedStack, api_key: str) -> None:
    who = _person("cli")
    await _enrol(keyed, who)
    common = ("--base-url", str(keyed.http.base_url), "--api-key", api_key)
    status, out, _ = await _rekindle("client", "export", who.client_id, *common)
    assert status == 0
    assert json.loads(out)["profile"]["email"] == who.email
    status, out, _ = await _rekindle("client", "erase", who.client_id, "--yes", *common)
    assert status == 0, out
    assert f"erased {who.client_id}: workflow terminated" in out
    assert "data key destroyed" in out
    assert (await keyed.http.get(f"/v1/clients/{who.client_id}/export")).status_code == 404
    assert who.email not in await _database_text(keyed.sessions)


async def test_erasure_with_temporal_unreachable_erases_nothing(
    unreachable: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        client = await client_row(session, "c-stays")
        client.email = "stays@example.com"
    response = await unreachable.delete("/v1/clients/c-stays")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "temporal_unavailable"
    async with sessions() as session:
        kept = await session.get(ClientRow, "c-stays")
        assert kept is not None
        assert kept.email == "stays@example.com"
