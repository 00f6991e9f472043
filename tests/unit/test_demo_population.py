"""The demo population: deterministic, plausible, valid under the contracts, all in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cli.demo_population import EMAIL_DOMAIN, build_population
from core.contracts import OrderPlaced, ProfileUpdated

TODAY = date(2026, 11, 29)


def test_population_is_deterministic_and_ids_do_not_depend_on_the_day() -> None:
    a = build_population(300, 7, TODAY)
    assert a == build_population(300, 7, TODAY)
    later = build_population(300, 7, date(2027, 2, 1))
    assert [(c.client_id, c.profile, [o.order_id for o in c.orders]) for c in a] == [
        (c.client_id, c.profile, [o.order_id for o in c.orders]) for c in later
    ]
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
