"""The demo population: deterministic, plausible, valid under the contracts, all in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.email_import_schemas import ImportedEmail
from cli.demo import episode_item
from cli.demo_population import EMAIL_DOMAIN, build_population
from core.contracts.consent import ProfileUpdated
from core.contracts.messages import OrderPlaced
from core.domain.uplift import uplift_report
from tests.helpers import demo_episodes

TODAY = date(2026, 11, 29)


def test_population_is_deterministic_and_ids_do_not_depend_on_the_day() -> None:
    a = build_population(300, 7, TODAY)
    assert a == build_population(300, 7, TODAY)
    later = build_population(300, 7, date(2027, 2, 1))
    assert [(c.client_id, c.profile, [o.order_id for o in c.orders]) for c in a] == [
        (c.client_id, c.profile, [o.order_id for o in c.orders]) for c in later
    ]
    episodes = [(c.episode.email_id, c.episode.arm) for c in a if c.episode]
    assert episodes == [(c.episode.email_id, c.episode.arm) for c in later if c.episode]
    assert episodes
    assert a[0].client_id == "demo-00001"
    assert a[0].orders[0].order_id == "demo-00001-o001"


def test_population_is_valid_and_every_order_is_in_the_past() -> None:
    clients = build_population(500, 3, TODAY)
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    emails = set()
    for client in clients:
        profile = ProfileUpdated.model_validate(client.profile)
        assert profile.email is not None
        assert profile.email.endswith("@" + EMAIL_DOMAIN)
        assert profile.time_zone is not None
        assert profile.first_name
        emails.add(profile.email)
        assert client.orders, "every client has at least one order"
        times = [o.placed_at for o in client.orders]
        assert times == sorted(times)
        assert times[-1] < midnight
        for order in client.orders:
            OrderPlaced(
                order_id=order.order_id, placed_at=order.placed_at, amount=order.amount, currency="USD"
            )
    assert len(emails) == len(clients)


def test_population_has_churners_and_loyalists() -> None:
    clients = build_population(1000, 7, TODAY)
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    silent_days = [(midnight - c.latest().placed_at).days for c in clients]
    assert sum(d > 180 for d in silent_days) > 100  # long gone: at risk or lapsed
    assert sum(d < 30 for d in silent_days) > 100  # ordered recently
    assert sum(len(c.orders) >= 6 for c in clients) > 100  # loyal repeat buyers
    assert len({c.profile["locale"] for c in clients}) >= 8


def test_past_episodes_fall_in_at_risk_gaps_at_polite_hours() -> None:
    clients = build_population(1000, 7, TODAY)
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    with_episode = [c for c in clients if c.episode is not None]
    assert 0.3 < len(with_episode) / len(clients) < 0.7
    for client in with_episode:
        ep = client.episode
        assert ep is not None
        ImportedEmail.model_validate(episode_item(client.client_id, ep))  # the API takes it
        assert ep.email_id == f"{client.client_id}-winback"
        assert midnight - timedelta(days=151) < ep.drafted_at < midnight - timedelta(days=34)
        natural = [o.placed_at for o in client.orders if not o.order_id.endswith("-wonback")]
        before = [t for t in natural if t < ep.drafted_at]
        assert before, "the client had ordered before"
        assert ep.drafted_at - max(before) >= timedelta(days=59)  # silent long enough: at risk
        if ep.arm == "holdout":
            assert ep.sent_at is None
            continue
        assert ep.sent_at is not None
        assert timedelta(hours=1) <= ep.sent_at - ep.drafted_at <= timedelta(hours=4)
        local = ep.sent_at.astimezone(ZoneInfo(client.profile["time_zone"]))
        assert 9 <= local.hour < 13
        assert all(t > ep.sent_at for t in natural if t > ep.drafted_at)  # sent before any reorder


def test_won_back_orders_come_only_after_an_email_and_keep_the_order_sorted() -> None:
    clients = build_population(2000, 7, TODAY)
    won = 0
    for client in clients:
        times = [o.placed_at for o in client.orders]
        assert times == sorted(times)
        extra = [o for o in client.orders if o.order_id.endswith("-wonback")]
        if not extra:
            continue
        won += 1
        ep = client.episode
        assert ep is not None
        assert ep.arm == "emailed"
        assert ep.sent_at is not None
        assert timedelta(days=2) < extra[0].placed_at - ep.sent_at < timedelta(days=27)
        numbered = [o.order_id for o in client.orders if o is not extra[0]]
        assert numbered == [f"{client.client_id}-o{n + 1:03d}" for n in range(len(numbered))]
    emailed = sum(c.episode is not None and c.episode.arm == "emailed" for c in clients)
    assert 0.06 < won / emailed < 0.18


def test_campaign_arms_and_effect_on_a_large_population() -> None:
    clients = build_population(6000, 11, TODAY)
    episodes = demo_episodes(clients)
    holdout = sum(e.arm == "holdout" for e in episodes) / len(episodes)
    assert 0.17 < holdout < 0.23
    now = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
    window = uplift_report(episodes, now).windows[0]
    assert window.emailed.rate is not None
    assert window.holdout.rate is not None
    assert window.emailed.rate > window.holdout.rate


def test_default_demo_shows_an_uplift_report_with_a_positive_measured_uplift() -> None:
    """``rekindle demo`` with its defaults (2,000 clients, seed 7), on any day."""
    for today in (TODAY, date(2027, 6, 1)):
        clients = build_population(2000, 7, today)
        now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
        report = uplift_report(demo_episodes(clients), now)
        by_days = {w.days: w for w in report.windows}
        assert by_days[30].enough_data
        assert by_days[30].uplift is not None
        assert by_days[30].uplift > 0
        assert all(w.emailed.n >= 30 and w.holdout.n >= 30 for w in report.windows)
