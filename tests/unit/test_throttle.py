"""The sign-in throttle's sliding windows, on a fake clock."""

from __future__ import annotations

from core.domain.throttle import ADDRESS_LIMIT, USER_LIMIT, WINDOW_SECONDS, FailureCounter, SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counter_locks_at_the_limit_until_the_oldest_failure_expires() -> None:
    clock = Clock()
    counter = FailureCounter(limit=3, window=60, clock=clock)
    for _ in range(2):
        counter.failed("ana")
        clock.now += 10
    assert counter.retry_after("ana") is None
    counter.failed("ana")  # third failure at t=20 (first at t=0)
    assert counter.retry_after("ana") == 40.0
    clock.now += 39.9
    assert counter.retry_after("ana") is not None
    clock.now += 0.1  # the first failure leaves the window: one more try
    assert counter.retry_after("ana") is None
    assert counter.retry_after("someone else") is None


def test_counter_memory_is_bounded() -> None:
    counter = FailureCounter(limit=2, window=60, clock=Clock(), max_keys=100)
    for i in range(1000):
        counter.failed(f"user-{i}")
    assert len(counter._failures) == 100
    assert counter.retry_after("user-999") is None  # one failure kept: below the limit
    assert "user-0" not in counter._failures  # the oldest were dropped


def test_sign_in_throttle_by_user_and_by_address() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(USER_LIMIT):
        throttle.failed("ana", "10.0.0.1")
    assert throttle.retry_after("ana", "10.0.0.2") == WINDOW_SECONDS  # the user is locked anywhere
    assert throttle.retry_after("bo", "10.0.0.1") is None  # others from that address are not (yet)
    for i in range(ADDRESS_LIMIT - USER_LIMIT):
        throttle.failed(f"guess-{i}", "10.0.0.1")
    assert throttle.retry_after("bo", "10.0.0.1") is not None  # now the address is
    assert throttle.retry_after("bo", "10.0.0.3") is None
    throttle.succeeded("ana")
    assert throttle.retry_after("ana", "10.0.0.2") is None
