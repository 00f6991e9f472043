"""The verified-key cache: concurrent misses share one lookup; only verified keys are kept."""

from __future__ import annotations

import asyncio

import pytest

from core.store.apikeys import KeyCache, StoredKey

KEY = StoredKey(
    key_id="0123456789abcdef", secret_hash="h", name="n", scopes=frozenset({"ingest"}), revoked=False
)


class Lookup:
    """Counts calls; answers once released."""

    def __init__(self, result: StoredKey | None) -> None:
        self.result = result
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> StoredKey | None:
        self.calls += 1
        await self.release.wait()
        return self.result


async def test_key_cache_concurrent_misses_share_one_lookup() -> None:
    cache, lookup = KeyCache(), Lookup(KEY)
    waiting = [asyncio.ensure_future(cache.verify("token", lookup)) for _ in range(64)]
    await asyncio.sleep(0)
    lookup.release.set()
    assert await asyncio.gather(*waiting) == [KEY] * 64
    assert lookup.calls == 1
    assert cache.get(KEY.key_id) == KEY


async def test_key_cache_rejected_token_is_not_cached_and_is_looked_up_again() -> None:
    cache, lookup = KeyCache(), Lookup(None)
    lookup.release.set()
    assert await cache.verify("token", lookup) is None
    assert await cache.verify("token", lookup) is None
    assert lookup.calls == 2
    assert cache.get(KEY.key_id) is None


async def test_key_cache_caller_going_away_does_not_cancel_the_lookup_for_others() -> None:
    cache, lookup = KeyCache(), Lookup(KEY)
    first = asyncio.ensure_future(cache.verify("token", lookup))
    second = asyncio.ensure_future(cache.verify("token", lookup))
    await asyncio.sleep(0)
    first.cancel()
    lookup.release.set()
    assert await second == KEY
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_key_cache_failed_lookup_reaches_every_caller_and_is_retried() -> None:
    cache = KeyCache()

    async def failing() -> StoredKey | None:
        await asyncio.sleep(0)
        raise ConnectionError("database down")

    results = await asyncio.gather(
        *(cache.verify("token", failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    lookup = Lookup(KEY)
    lookup.release.set()
    assert await cache.verify("token", lookup) == KEY
