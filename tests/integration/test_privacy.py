"""Done-when for privacy: Temporal's stored histories hold no personal data, only ciphertext.

Histories are read raw from the dev server with a client that has no codec; with
the codec they decode (and replay); after a key rotation, history written with
the retired key still decodes while that key is configured.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from google.protobuf.message import Message
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.contracts.consent import ProfileUpdated
from core.contracts.messages import (
    SIGNAL_ORDER_PLACED,
    SIGNAL_PROFILE_UPDATED,
    OrderPlaced,
    client_workflow_id,
)
from core.runtime.client_workflow import signal_with_start
from core.runtime.codec import ENCODING, KEY_ID_METADATA, UnknownKeyId, codec_from_settings, new_key
from core.runtime.settings import SecuritySettings, Settings
from core.runtime.temporal import data_converter
from core.runtime.workflow_config import WorkflowStart
from tests.helpers import client_quiet, eventually, order_body, orders_recorded, session_codec, unique_id
from tests.integration.conftest import Stack
from worker.main import workers_running
from workflows.client import ClientEngagementWorkflow

pytestmark = pytest.mark.temporal

EMAIL = "ada.lovelace.privacy@example.com"
FIRST, LAST = "Augusta", "Byronesque"
STYLE = "prefers-handwritten-notes-about-teal-merino"
SKU, CATEGORY = "SKU-CONFIDENTIAL-7731", "secret-cashmere-line"


# The SDK writes a version marker for ``workflow.patched`` itself, past the data converter:
# it holds only the patch id (the raw-bytes check above covers it too).
PATCH_MARKER = "core_patch"


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload inside a protobuf message, but search attributes (indexed by the server,
    never encrypted) and patch markers: neither holds personal data."""
    if isinstance(message, Payload):
        yield message
        return
    if getattr(message, "marker_name", None) == PATCH_MARKER:
        return
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":
            continue
        if field.is_repeated:
            items = value.values() if field.message_type.GetOptions().map_entry else value
            for item in items:
                if isinstance(item, Message):
                    yield from _payloads(item)
        else:
            yield from _payloads(value)


def _raw_client(env: WorkflowEnvironment) -> Client:
    """A client with the default converter and no codec: what Temporal itself stores."""
    return Client(
        env.client.service_client, namespace=env.client.namespace, data_converter=DataConverter.default
    )


async def _raw_history(env: WorkflowEnvironment, workflow_id: str) -> WorkflowHistory:
    return await _raw_client(env).get_workflow_handle(workflow_id).fetch_history()


def _order(order_id: str, placed_at: str = "2026-01-05T10:00:00Z") -> dict[str, object]:
    body = order_body(order_id, placed_at)
    body["items"] = [{"sku": SKU, "category": CATEGORY, "kept": True}]
    return body


async def test_privacy_raw_history_holds_no_personal_data(stack: Stack, dev_env: WorkflowEnvironment) -> None:
    cid = unique_id("priv")
    for order_id, at in (("o-1", "2026-01-05T10:00:00Z"), ("o-2", "2026-02-05T10:00:00Z")):
        response = await stack.http.post(f"/v1/clients/{cid}/orders", json=_order(order_id, at))
        assert response.status_code == 202, response.text
    profile = ProfileUpdated(email=EMAIL, first_name=FIRST, last_name=LAST, style_notes=STYLE)
    await signal_with_start(
        stack.temporal, WorkflowStart.from_settings(stack.settings), cid, SIGNAL_PROFILE_UPDATED, profile
    )
    await eventually(lambda: orders_recorded(stack.temporal, cid, 2))

    history = await _raw_history(dev_env, client_workflow_id(cid))
    raw = b"".join(event.SerializeToString() for event in history.events)
    for secret in (EMAIL, FIRST, LAST, STYLE, SKU, CATEGORY):
        assert secret.encode() not in raw, f"{secret!r} is readable in the stored history"
    payloads = [p for event in history.events for p in _payloads(event)]
    assert len(payloads) >= 6  # input, 3 signals, 2 activity inputs and results at least
    assert {p.metadata["encoding"] for p in payloads} == {ENCODING}

    decoded = b"".join(p.SerializeToString() for p in await session_codec().decode(payloads))
    for secret in (EMAIL, FIRST, LAST, STYLE, SKU, CATEGORY):
        assert secret.encode() in decoded
    replayer = Replayer(workflows=[ClientEngagementWorkflow], data_converter=data_converter(session_codec()))
    await replayer.replay_workflow(history)


def _security(keys: dict[str, str], active: str) -> SecuritySettings:
    raw = ",".join(f"{key_id}:{key}" for key_id, key in keys.items())
    return SecuritySettings(codec_keys=SecretStr(raw), codec_active_key_id=active)


@contextlib.asynccontextmanager
async def _with_worker(
    env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Client]:
    codec = codec_from_settings(settings.security)
    client = Client(
        env.client.service_client, namespace=env.client.namespace, data_converter=data_converter(codec)
    )
    async with workers_running(client, settings, sessions):
        yield client


@pytest.mark.timeout(240)
async def test_privacy_retired_key_still_decodes_while_configured(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    keys = {"rot-a": new_key(), "rot-b": new_key()}
    cid = unique_id("rot")
    before = settings.model_copy(update={"security": _security({"rot-a": keys["rot-a"]}, "rot-a")})
    async with _with_worker(dev_env, before, sessions) as client:
        await signal_with_start(
            client,
            WorkflowStart.from_settings(before),
            cid,
            SIGNAL_ORDER_PLACED,
            OrderPlaced.model_validate(_order("o-1")),
        )
        await eventually(lambda: orders_recorded(client, cid, 1))
        # Stop the worker only once the workflow waits (for a decision on its draft): a worker
        # stopped while tasks are being handed out can strand one, and a stranded draft
        # activity holds the workflow for its 2-minute start-to-close timeout.
        await eventually(lambda: client_quiet(client, cid), timeout=60)

    # Rotate: B is active, A stays configured. A fresh worker replays the A-encrypted history.
    after = settings.model_copy(update={"security": _security(keys, "rot-b")})
    async with _with_worker(dev_env, after, sessions) as client:
        order = OrderPlaced.model_validate(_order("o-2", "2026-03-01T10:00:00Z"))
        await signal_with_start(client, WorkflowStart.from_settings(after), cid, SIGNAL_ORDER_PLACED, order)
        await eventually(lambda: orders_recorded(client, cid, 2), timeout=60)

    history = await _raw_history(dev_env, client_workflow_id(cid))
    payloads = [p for event in history.events for p in _payloads(event)]
    assert {p.metadata[KEY_ID_METADATA] for p in payloads} == {b"rot-a", b"rot-b"}
    rotated = codec_from_settings(after.security)
    assert rotated is not None
    decoded = b"".join(p.SerializeToString() for p in await rotated.decode(payloads))
    assert SKU.encode() in decoded
    only_b = codec_from_settings(_security({"rot-b": keys["rot-b"]}, "rot-b"))
    assert only_b is not None
    with pytest.raises(UnknownKeyId):
        await only_b.decode(payloads)
