"""Sign-in throttling: too many failed attempts lock a username, or a client address, for a while.

Counted in memory, per API process: with several replicas an attacker gets each one's budget,
which still turns an online guessing attack into a handful of tries an hour. The check comes
before the (deliberately slow) password hash, so a flood of guesses costs little CPU either.
Pure, with an injectable clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

USER_LIMIT = 5  # failures per username within the window
ADDRESS_LIMIT = 20  # failures per client address within the window
WINDOW_SECONDS = 15 * 60.0
MAX_KEYS = 100_000  # bounded memory under a flood of made-up usernames


@dataclass
class FailureCounter:
    """Failures per key in a sliding window; a key at ``limit`` waits until its oldest expires."""

    limit: int
    window: float
    clock: Callable[[], float] = time.monotonic
    max_keys: int = MAX_KEYS
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again; None when it may now."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        now = self.clock()
        while failures and failures[0] + self.window <= now:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window - now

    def failed(self, key: str) -> None:
        failures = self._failures.pop(key, None) or deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures[key] = failures  # re-inserted: the dict stays ordered by last failure
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


@dataclass
class SignInThrottle:
    """Per username and per client address; a success clears the username's failures."""

    clock: Callable[[], float] = time.monotonic
    users: FailureCounter = field(init=False)
    addresses: FailureCounter = field(init=False)

    def __post_init__(self) -> None:
        self.users = FailureCounter(USER_LIMIT, WINDOW_SECONDS, self.clock)
        self.addresses = FailureCounter(ADDRESS_LIMIT, WINDOW_SECONDS, self.clock)

    def retry_after(self, username: str, address: str) -> float | None:
        waits = [w for w in (self.users.retry_after(username), self.addresses.retry_after(address)) if w]
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        self.users.failed(username)
        self.addresses.failed(address)

    def succeeded(self, username: str) -> None:
        self.users.forget(username)
