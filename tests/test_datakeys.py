"""Per-client data keys on a real database: chosen by the SDK's serialization context,
one per client even under races, destroyed for good, rotated with the master keys."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from core.runtime.codec import (
    DATA_KEY_PREFIX,
    KEY_ID_METADATA,
    DataKeyDestroyed,
    EncryptionCodec,
    UnknownKeyId,
    codec_from_settings,
    new_key,
)
from core.runtime.settings import SecuritySettings
from core.store.datakeys import DataKeys, DataKeysUnavailable
from core.store.db import transaction
from core.store.models import ClientDataKey

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email": "ada@example.com"}')


def _codec(keys: dict[str, str], active: str) -> EncryptionCodec:
    raw = ",".join(f"{k}:{v}" for k, v in keys.items())
    codec = codec_from_settings(SecuritySettings(codec_keys=SecretStr(raw), codec_active_key_id=active))
    assert codec is not None
    return codec


def _keyed(
    sessions: async_sessionmaker[AsyncSession], codec: EncryptionCodec, ttl: float = 60
) -> EncryptionCodec:
    return codec.with_data_keys(DataKeys(sessions, codec.master, ttl=ttl))


def _workflow(workflow_id: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)


def _activity(workflow_id: str) -> ActivitySerializationContext:
    return ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="record_order",
        activity_task_queue="q",
        workflow_id=workflow_id,
        workflow_type="ClientEngagementWorkflow",
        is_local=False,
    )


def _key_id(payload: Payload) -> str:
    return payload.metadata[KEY_ID_METADATA].decode()


async def test_datakeys_context_picks_the_clients_key_and_others_use_the_master(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    codec = _keyed(sessions, _codec({"m1": new_key()}, "m1"))
    [by_workflow] = await codec.with_context(_workflow("client-c-1")).encode([PLAIN])
    [by_activity] = await codec.with_context(_activity("client-c-1")).encode([PLAIN])
    [other] = await codec.with_context(_workflow("client-c-2")).encode([PLAIN])
    [resume] = await codec.with_context(_workflow("pause-timer-c-1")).encode([PLAIN])
    assert _key_id(resume) == _key_id(by_workflow)  # the pause's timed resume is the client's too
    # A client whose own id starts with "resume-" has its own key, not client c-1's.
    [lookalike] = await codec.with_context(_workflow("client-resume-c-1")).encode([PLAIN])
    assert _key_id(lookalike) not in (_key_id(by_workflow), _key_id(other))
    [refit] = await codec.with_context(_workflow("rekindle-refit")).encode([PLAIN])
    [bare] = await codec.encode([PLAIN])
    assert _key_id(by_workflow) == _key_id(by_activity)
    assert _key_id(by_workflow).startswith(DATA_KEY_PREFIX)
    assert _key_id(other).startswith(DATA_KEY_PREFIX)
    assert _key_id(other) != _key_id(by_workflow)
    assert _key_id(refit) == _key_id(bare) == "m1"
    # Any copy decodes by the key id alone: the codec server has no context.
    assert await codec.decode([by_workflow, by_activity, other, refit, bare]) == [PLAIN] * 5


async def test_datakeys_one_key_per_client_under_concurrent_first_use(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    master = {"m1": new_key()}
    processes = [_keyed(sessions, _codec(master, "m1")) for _ in range(4)]  # separate caches
    encoded = await asyncio.gather(
        *(p.with_context(_workflow("client-race")).encode([PLAIN]) for p in processes * 3)
    )
    assert len({_key_id(batch[0]) for batch in encoded}) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ClientDataKey)) == 1


async def test_datakeys_destroyed_key_never_decodes_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    master = {"m1": new_key()}
    writer = _keyed(sessions, _codec(master, "m1"))
    reader = _keyed(sessions, _codec(master, "m1"), ttl=0)  # another process, nothing cached
    [sealed] = await writer.with_context(_workflow("client-gone")).encode([PLAIN])
    assert await reader.decode([sealed]) == [PLAIN]
    async with transaction(sessions) as session:
        key_id = await session.scalar(
            delete(ClientDataKey).where(ClientDataKey.client_id == "gone").returning(ClientDataKey.key_id)
        )
    assert writer.data_keys is not None
    cast(DataKeys, writer.data_keys).forget("gone", key_id)
    for codec in (writer, reader):
        with pytest.raises(DataKeyDestroyed):
            await codec.decode([sealed])
    # Without data keys at all (the test suite's plain codec), it is an unknown key too.
    with pytest.raises(UnknownKeyId):
        await _codec(master, "m1").decode([sealed])


async def test_datakeys_survive_master_rotation_and_rewrap(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = new_key(), new_key()
    before = _keyed(sessions, _codec({"a": a}, "a"))
    [sealed] = await before.with_context(_workflow("client-rot")).encode([PLAIN])
    rotated = _keyed(sessions, _codec({"a": a, "b": b}, "b"), ttl=0)
    assert await rotated.decode([sealed]) == [PLAIN]  # wrapped under a, a still configured
    assert await cast(DataKeys, rotated.data_keys).rewrap() == 1
    assert await cast(DataKeys, rotated.data_keys).rewrap() == 0
    only_b = _keyed(sessions, _codec({"b": b}, "b"), ttl=0)
    assert await only_b.decode([sealed]) == [PLAIN]
    [again] = await only_b.with_context(_workflow("client-rot")).encode([PLAIN])
    assert _key_id(again) == _key_id(sealed)  # the client keeps their key across rotations


class _Flaky:
    """A session factory that can be switched off, as a database outage."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.down = False

    def __call__(self) -> AsyncSession:
        if self.down:
            raise OperationalError("SELECT 1", {}, Exception("database is down"))
        return self.sessions()


async def test_datakeys_cached_key_serves_through_a_database_outage(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    flaky = _Flaky(sessions)
    codec = _codec({"m1": new_key()}, "m1")
    keyed = codec.with_data_keys(DataKeys(cast(async_sessionmaker[AsyncSession], flaky), codec.master, ttl=0))
    [sealed] = await keyed.with_context(_workflow("client-up")).encode([PLAIN])
    assert await keyed.decode([sealed]) == [PLAIN]
    flaky.down = True
    assert await keyed.decode([sealed]) == [PLAIN]
    [more] = await keyed.with_context(_workflow("client-up")).encode([PLAIN])
    assert _key_id(more) == _key_id(sealed)
    with pytest.raises(DataKeysUnavailable):
        await keyed.with_context(_workflow("client-new")).encode([PLAIN])


async def test_datakeys_a_decoded_clients_key_encodes_through_an_outage(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A worker that only ever decoded a client's payloads (the API encoded them) can still
    encode that client's next ones while the database is away."""
    master = {"m1": new_key()}
    [sealed] = (
        await _keyed(sessions, _codec(master, "m1")).with_context(_workflow("client-w")).encode([PLAIN])
    )
    flaky = _Flaky(sessions)
    codec = _codec(master, "m1")
    worker = codec.with_data_keys(
        DataKeys(cast(async_sessionmaker[AsyncSession], flaky), codec.master, ttl=0)
    )
    assert await worker.decode([sealed]) == [PLAIN]
    flaky.down = True
    [more] = await worker.with_context(_workflow("client-w")).encode([PLAIN])
    assert _key_id(more) == _key_id(sealed)
