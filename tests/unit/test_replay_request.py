"""``rekindle replay``'s arguments and the dev stack's settings it picks up."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli.devdata import DEV_KEY_FILE, dev_settings
from cli.replay import Request, describe_mismatch
from cli.replay_sources import reservoir
from core.runtime.codec import new_key
from core.runtime.settings import DevStackSettings, Settings, TemporalSettings


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (Request(ids=[]), "exactly one source"),
        (Request(ids=["client-c-1"], all=True), "exactly one source"),
        (Request(ids=["client-c-1"], limit=5), "--limit and --sample go with"),
        (Request(ids=[], all=True, limit=5, sample=5), "choose --limit"),
        (Request(ids=[], directory=Path("x"), save=Path("y")), "--save keeps fetched"),
    ],
)
def test_replay_request_refuses_ambiguous_sources(request_: Request, problem: str) -> None:
    assert problem in (request_.problem() or "")


def test_replay_request_accepts_each_source_alone() -> None:
    for request in (Request(ids=["a"]), Request(ids=[], query="x"), Request(ids=[], all=True, sample=3)):
        assert request.problem() is None
    assert Request(ids=[], directory=Path("x")).problem() is None


def test_replay_reads_the_dev_stacks_key_and_port(tmp_path: Path) -> None:
    (tmp_path / DEV_KEY_FILE).write_text(f"dev-1:{new_key()}\n")
    base = Settings(_env_file=None, devstack=DevStackSettings(data_dir=tmp_path, temporal_port=17233))
    settings = dev_settings(base)
    assert settings.temporal.address == "127.0.0.1:17233"
    assert settings.security.codec_keys is not None
    assert settings.security.codec_keys.get_secret_value().startswith("dev-1:")


def test_replay_configured_settings_win_over_the_dev_stack(tmp_path: Path) -> None:
    (tmp_path / DEV_KEY_FILE).write_text(f"dev-1:{new_key()}\n")
    base = Settings(
        _env_file=None,
        devstack=DevStackSettings(data_dir=tmp_path, temporal_port=17233),
        temporal=TemporalSettings(address="temporal.internal:7233"),
        security={"codec_keys": f"prod-1:{new_key()}"},
    )
    settings = dev_settings(base)
    assert settings.temporal.address == "temporal.internal:7233"
    assert settings.security.codec_keys is not None
    assert settings.security.codec_keys.get_secret_value().startswith("prod-1:")


def test_replay_names_the_event_and_the_command_of_a_mismatch() -> None:
    core = (
        'Workflow activation completion failed: Failure { failure: Some(Failure { message: "[TMPRL1100] '
        "Nondeterminism error: Timer machine does not handle this event: HistoryEvent(id: 6, "
        'ActivityTaskScheduled)", source: "" }) }'
    )
    assert describe_mismatch(RuntimeError(core)) == (
        "event 6 (ActivityTaskScheduled), code issued StartTimer: "
        "Timer machine does not handle this event: HistoryEvent(id: 6, ActivityTaskScheduled)"
    )


async def _stream(n: int) -> AsyncIterator[int]:
    for item in range(n):
        yield item


async def test_replay_sample_is_uniform_over_a_stream_and_holds_only_the_sample() -> None:
    rng = random.Random(20261203)
    assert sorted(await reservoir(_stream(3), 5, rng)) == [0, 1, 2]  # fewer than asked: all of them
    counts = Counter[int]()
    for _ in range(4000):
        drawn = await reservoir(_stream(20), 5, rng)
        assert len(set(drawn)) == 5
        counts.update(drawn)
    # Each of the 20 items is expected 1,000 times (4,000 draws x 5/20); 4.5 standard deviations
    # (sd = sqrt(4000 * 0.25 * 0.75) = 27.4) either side. A first-N or last-N bias lands at 0 or 4,000.
    assert set(counts) == set(range(20))
    assert all(875 <= count <= 1125 for count in counts.values()), counts
