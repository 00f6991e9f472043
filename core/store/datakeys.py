"""Per-client payload data keys: envelope encryption under the master codec keys.

Each client gets a random AES-256 key the first time one of their workflow's payloads
is encoded. It is stored in ``client_data_keys`` wrapped (AES-GCM) by the active master
key, with the wrapping key's id, so master keys rotate as before: a wrapped key opens
with whichever configured master key wrapped it, and ``rewrap`` moves every data key to
the active master key before an old one is retired. Erasing the client deletes the row:
their history then names a key nobody has (crypto-shredding).

Every process that encodes or decodes client payloads (API and its codec server,
worker, ``rekindle`` commands that talk to Temporal) reads the table through this
cache. Entries are trusted for ``ttl`` seconds; while the database is unreachable a
cached key keeps serving (a worker must not jam on an outage), an uncached one raises.
``destroy`` evicts at once in this process; another process may keep a destroyed key
for at most ``ttl`` seconds, and only its own workflow, terminated by the erasure,
would ever use it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.runtime.codec import DATA_KEY_PREFIX, KEY_BYTES, CodecError, MasterKeys, codec_from_settings
from core.runtime.settings import Settings
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import ClientDataKey

DEFAULT_TTL_SECONDS = 60.0
MAX_CACHED = 100_000


class DataKeyUnwrapFailed(CodecError):
    """A stored data key does not open with the master key it names (retired or wrong)."""


UNAVAILABLE_MESSAGE = "client data keys unavailable (database unreachable)"


class DataKeysUnavailable(CodecError):
    """The database is unreachable and the key is not cached: a workflow task fails and is
    retried until the database is back; the API answers 503."""


def _aad(key_id: str) -> bytes:
    # Binds the wrapped key to its id: a wrapped key copied to another row does not open.
    return f"rekindle/client-data-key/{key_id}".encode()


@dataclass(frozen=True)
class _Entry:
    key_id: str
    cipher: AESGCM | None  # None: known to be absent (destroyed or never made)
    fetched: float


class DataKeys:
    """The data-key table behind a small TTL cache, by client id and by key id."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        master: MasterKeys,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._master = master
        self._ttl = ttl
        self._clock = clock
        self._by_client: OrderedDict[str, _Entry] = OrderedDict()
        self._by_id: OrderedDict[str, _Entry] = OrderedDict()

    async def for_client(self, client_id: str) -> tuple[str, AESGCM]:
        """The client's key id and cipher; a new key is made (once, race-free) on first use."""
        entry = self._by_client.get(client_id)
        if entry is not None and entry.cipher is not None and self._fresh(entry):
            return entry.key_id, entry.cipher
        try:
            row = await self._load_or_create(client_id)
        except SQLAlchemyError as exc:
            if entry is not None and entry.cipher is not None:
                return entry.key_id, entry.cipher
            raise DataKeysUnavailable(UNAVAILABLE_MESSAGE) from exc
        cipher = self._unwrap(row)
        self._remember(client_id, _Entry(row.key_id, cipher, self._clock()))
        return row.key_id, cipher

    async def by_id(self, key_id: str) -> AESGCM | None:
        """The cipher of a data key, or None when it does not exist (destroyed)."""
        entry = self._by_id.get(key_id)
        if entry is not None and self._fresh(entry):
            return entry.cipher
        try:
            async with self._sessions() as session:
                row = await session.get(ClientDataKey, key_id)
        except SQLAlchemyError as exc:
            if entry is not None and entry.cipher is not None:
                return entry.cipher
            raise DataKeysUnavailable(UNAVAILABLE_MESSAGE) from exc
        if row is None:
            self._cache(self._by_id, key_id, _Entry(key_id, None, self._clock()))
            return None
        cipher = self._unwrap(row)
        # Known by client too: a worker that decoded a client's payloads can encode their next
        # ones from its cache while the database is away.
        self._remember(row.client_id, _Entry(key_id, cipher, self._clock()))
        return cipher

    async def destroy(self, session: AsyncSession, client_id: str) -> str | None:
        """Delete the client's key in ``session``'s transaction; its id, or None if there was none."""
        key_id = await session.scalar(
            delete(ClientDataKey).where(ClientDataKey.client_id == client_id).returning(ClientDataKey.key_id)
        )
        self.forget(client_id, key_id)
        return key_id

    def forget(self, client_id: str, key_id: str | None) -> None:
        """Drop cached entries (after a destroy, also once its transaction has committed)."""
        entry = self._by_client.pop(client_id, None)
        for known in {key_id, entry.key_id if entry else None} - {None}:
            self._by_id.pop(str(known), None)

    async def rewrap(self) -> int:
        """Re-wrap every data key not under the active master key; how many were moved."""
        active = self._master.active_key_id
        moved = 0
        async with transaction(self._sessions) as session:
            rows = await session.scalars(select(ClientDataKey).where(ClientDataKey.master_key_id != active))
            for row in rows:
                plain = self._master.open(row.master_key_id, row.wrapped, _aad(row.key_id))
                master_id, wrapped = self._master.seal(plain, _aad(row.key_id))
                await session.execute(
                    update(ClientDataKey)
                    .where(ClientDataKey.key_id == row.key_id)
                    .values(master_key_id=master_id, wrapped=wrapped)
                )
                moved += 1
        return moved

    async def _load_or_create(self, client_id: str) -> ClientDataKey:
        async with self._sessions() as session:
            # Read first: a refresh of a known client's key must not take SQLite's write lock.
            found = await session.scalar(select(ClientDataKey).where(ClientDataKey.client_id == client_id))
        if found is not None:
            return found
        async with transaction(self._sessions) as session:
            key_id = f"{DATA_KEY_PREFIX}{secrets.token_hex(16)}"
            master_id, wrapped = self._master.seal(os.urandom(KEY_BYTES), _aad(key_id))
            values = {
                "key_id": key_id,
                "client_id": client_id,
                "master_key_id": master_id,
                "wrapped": wrapped,
                "created_at": utcnow(),
            }
            dialect = session.get_bind().dialect.name
            await session.execute(
                insert_ignoring_conflicts(dialect, ClientDataKey.__table__, values, ["client_id"])
            )
            # Whoever won a race for this client, everyone uses the stored key.
            row = await session.scalar(select(ClientDataKey).where(ClientDataKey.client_id == client_id))
        assert row is not None
        return row

    def _unwrap(self, row: ClientDataKey) -> AESGCM:
        try:
            return AESGCM(self._master.open(row.master_key_id, row.wrapped, _aad(row.key_id)))
        except CodecError as exc:
            raise DataKeyUnwrapFailed(
                f"data key {row.key_id!r} does not open with master key {row.master_key_id!r}: {exc}"
            ) from None

    def _fresh(self, entry: _Entry) -> bool:
        return self._clock() - entry.fetched < self._ttl

    def _remember(self, client_id: str, entry: _Entry) -> None:
        self._cache(self._by_client, client_id, entry)
        self._cache(self._by_id, entry.key_id, entry)

    @staticmethod
    def _cache(cache: OrderedDict[str, _Entry], key: str, entry: _Entry) -> None:
        cache[key] = entry
        cache.move_to_end(key)
        while len(cache) > MAX_CACHED:
            cache.popitem(last=False)


class ReplayDataKeys:
    """Data keys for a replayer: read from the configured database, whose engine is made only
    when a history holds a data key (master-key and committed test histories never touch it).
    What a replay encodes is never stored, so it is sealed with the master key, making no key."""

    def __init__(self, settings: Settings, master: MasterKeys) -> None:
        self._settings = settings
        self._master = master
        self._keys: DataKeys | None = None
        self._engine: AsyncEngine | None = None

    async def for_client(self, client_id: str) -> tuple[str, AESGCM]:
        return self._master.active_key_id, self._master.ciphers[self._master.active_key_id]

    async def aclose(self) -> None:
        """Dispose of the engine, if one was made (a replaying process may just exit)."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine, self._keys = None, None

    async def by_id(self, key_id: str) -> AESGCM | None:
        if self._keys is None:
            from core.store.db import create_engine, session_factory

            self._engine = create_engine(self._settings.database)
            self._keys = DataKeys(session_factory(self._engine), self._master)
        return await self._keys.by_id(key_id)


def data_keys_for(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> DataKeys | None:
    """The data keys of this database under the configured master keys; None when encryption is off."""
    codec = codec_from_settings(settings.security)
    return DataKeys(sessions, codec.master) if codec is not None else None
