"""API keys: bearer tokens ``rk_<key_id>_<secret>``, only a hash of the secret at rest.

The secret is 32 random bytes, so a single SHA-256 is enough (no dictionary to
attack, nothing to stretch); comparisons are constant-time. Scopes: ``ingest``
(send orders and profiles), ``ops`` (read clients and emails, approve and reject)
and ``admin`` (everything).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import transaction, utcnow
from core.store.models import ApiKey

Scope = Literal["ingest", "ops", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "rk"
NAME_MAX = 100
# Verified keys are remembered briefly so ingest does not pay a database read per
# request; a revocation takes effect within this many seconds.
CACHE_SECONDS = 10.0
CACHE_MAX = 1024
_TOKEN = re.compile(r"^rk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``token`` is shown once and never stored."""

    key_id: str
    token: str
    name: str
    scopes: tuple[Scope, ...]


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    secret_hash: str
    name: str
    scopes: frozenset[str]
    revoked: bool

    def allows(self, scope: Scope) -> bool:
        """``admin`` implies every scope."""
        return not self.revoked and (scope in self.scopes or "admin" in self.scopes)


class KeyCache:
    """key_id -> (stored key, expiry). Only keys whose secret verified are cached.

    Concurrent misses for one token share a single lookup: when a busy key expires,
    every request in flight would otherwise read the database at once.
    """

    def __init__(self) -> None:
        self._keys: dict[str, tuple[StoredKey, float]] = {}
        self._pending: dict[str, asyncio.Future[StoredKey | None]] = {}

    async def verify(self, token: str, lookup: Callable[[], Awaitable[StoredKey | None]]) -> StoredKey | None:
        """``lookup()`` for this token, shared by concurrent callers; a verified key is cached.

        The lookup runs as its own task: a caller that goes away does not cancel it for the others.
        """
        task = self._pending.get(token)
        if task is None:
            task = asyncio.ensure_future(self._lookup(token, lookup))
            self._pending[token] = task
        return await asyncio.shield(task)

    async def _lookup(
        self, token: str, lookup: Callable[[], Awaitable[StoredKey | None]]
    ) -> StoredKey | None:
        try:
            key = await lookup()
        finally:
            del self._pending[token]
        if key is not None:
            self.put(key)
        return key

    def get(self, key_id: str) -> StoredKey | None:
        entry = self._keys.get(key_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: StoredKey) -> None:
        if len(self._keys) >= CACHE_MAX:
            self._keys.clear()
        self._keys[key.key_id] = (key, time.monotonic() + CACHE_SECONDS)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else ``None``."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(key: StoredKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_hash, hash_secret(secret))


def new_key(name: str, scopes: tuple[Scope, ...]) -> tuple[NewKey, str]:
    """A new key and the hash to store for it."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token = f"{PREFIX}_{key_id}_{secret}"
    return NewKey(key_id=key_id, token=token, name=name, scopes=scopes), hash_secret(secret)


async def create_key(
    sessions: async_sessionmaker[AsyncSession], name: str, scopes: tuple[Scope, ...]
) -> NewKey:
    """Store a new key and return it with its token (the only time the token exists)."""
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"the key's name must have 1 to {NAME_MAX} characters")
    key, secret_hash = new_key(name, tuple(dict.fromkeys(scopes)))
    async with transaction(sessions) as session:
        session.add(
            ApiKey(
                key_id=key.key_id,
                secret_hash=secret_hash,
                name=name,
                scopes=list(key.scopes),
                created_at=utcnow(),
                revoked_at=None,
            )
        )
    return key


async def load_key(session: AsyncSession, key_id: str) -> StoredKey | None:
    row = (await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))).scalar_one_or_none()
    if row is None:
        return None
    return StoredKey(
        key_id=row.key_id,
        secret_hash=row.secret_hash,
        name=row.name,
        scopes=frozenset(str(s) for s in row.scopes),
        revoked=row.revoked_at is not None,
    )


async def verify_token(sessions: async_sessionmaker[AsyncSession], token: str) -> StoredKey | None:
    """The stored, unrevoked key a token belongs to, or ``None``."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    async with sessions() as session:
        key = await load_key(session, parsed[0])
    if key is None or key.revoked or not secret_matches(key, parsed[1]):
        return None
    return key


async def revoke_key(sessions: async_sessionmaker[AsyncSession], key_id: str) -> bool:
    """Revoke a key; ``False`` if there is no such unrevoked key."""
    async with transaction(sessions) as session:
        result = await session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return bool(getattr(result, "rowcount", 0))
