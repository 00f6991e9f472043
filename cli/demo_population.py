"""The demo population: made-up clients with order histories from the BG/NBD process.

Pure and deterministic: the same seed and client count give the same client ids,
names, addresses, time zones, order ids and amounts on every run. Order *dates* are
laid out backwards from ``today`` (the simulation draws only day offsets), so a
re-run on another day re-sends the same order ids and changes nothing, because
orders are idempotent by id. Names are a small built-in list per locale; every
address is on ``example.com`` (RFC 2606), so no real person is ever written to.

A share of clients also has a *past episode*: a win-back email from the retailer's
previous tool (imported through the API), sent or held out, on a day 35-150 days
ago when the client had been silent for 60 days or more. Emailed clients sometimes
come back for it (an extra order a few days later); held-out ones only order at
their natural rate, so the uplift report has a modest, honest effect to measure.
Those draws come from their own per-client generator: the clients, their natural
orders and every id are the same as without them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from core.domain.scoring.params import BgNbdParams, GammaGammaParams
from core.domain.scoring.simulate import simulate_orders
from core.domain.scoring.summary import day_number

# Per day: one order every ~45 days on average, a fair share of churners (Beta(0.7, 3)
# dropout per order) and a long tail of loyalists; spend around 40 a basket.
DEMO_BGNBD = BgNbdParams(r=0.9, alpha=40.0, a=0.7, b=3.0)
DEMO_SPEND = GammaGammaParams(p=6.0, q=4.0, gamma=20.0)
HISTORY_DAYS = 540  # first orders fall within the last ~18 months
EMAIL_DOMAIN = "example.com"
CURRENCY = "USD"
MIN_AMOUNT = Decimal("5.00")
# The previous tool's win-back campaign: who it reached, how it split, what it did.
CAMPAIGN_SHARE = 0.7  # of the clients who were at risk at some point in the window
HOLDOUT_SHARE = 0.2
WON_BACK_RATE = 0.12  # emailed clients who came back because of the email
ANCHOR_DAYS_AGO = (35, 150)  # every episode's 30-day window has closed
AT_RISK_SILENCE_DAYS = 60
WON_BACK_AFTER_DAYS = (3, 25)
SUBJECTS = ("We saved your size", "It has been a while", "New this season, picked for you")


@dataclass(frozen=True)
class Locale:
    tag: str
    zones: tuple[str, ...]
    first: tuple[str, ...]
    last: tuple[str, ...]


LOCALES = (
    Locale(
        "en-US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        ("Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Mason", "Harper", "Ethan"),
        ("Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore"),
    ),
    Locale(
        "en-GB",
        ("Europe/London",),
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Poppy", "Jack", "Freya", "Alfie"),
        ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Clarke"),
    ),
    Locale(
        "de-DE",
        ("Europe/Berlin",),
        ("Lena", "Jonas", "Mia", "Lukas", "Hannah", "Felix", "Lea", "Maximilian", "Jürgen"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    ),
    Locale(
        "fr-FR",
        ("Europe/Paris",),
        ("Léa", "Hugo", "Chloé", "Louis", "Manon", "Gabriel", "Inès", "Raphaël", "Camille"),
        ("Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Girard"),
    ),
    Locale(
        "es-ES",
        ("Europe/Madrid",),
        ("Lucía", "Mateo", "Sofía", "Hugo", "Martina", "Pablo", "Carmen", "Álvaro", "Elena"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez"),
    ),
    Locale(
        "sv-SE",
        ("Europe/Stockholm",),
        ("Astrid", "Elias", "Maja", "William", "Ebba", "Oskar", "Saga", "Nils", "Linnéa"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson"),
    ),
    Locale(
        "pt-BR",
        ("America/Sao_Paulo",),
        ("Ana", "João", "Beatriz", "Pedro", "Larissa", "Gustavo", "Júlia", "Rafael", "Camila"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira"),
    ),
    Locale(
        "ja-JP",
        ("Asia/Tokyo",),
        ("Yui", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Yuto", "Mei"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
    ),
    Locale(
        "en-AU",
        ("Australia/Sydney", "Australia/Perth"),
        ("Charlotte", "Jack", "Mia", "Lachlan", "Matilda", "Cooper", "Zoe", "Riley"),
        ("Nguyen", "Kelly", "Murphy", "Campbell", "Mitchell", "Stewart", "Ryan", "King"),
    ),
)
STYLE_NOTES = (
    None,
    None,
    "Prefers merino; no hard sell.",
    "Buys gifts around the holidays.",
    "Likes new arrivals first.",
    "Short messages, please.",
)


@dataclass(frozen=True)
class DemoOrder:
    order_id: str
    placed_at: datetime
    amount: Decimal


@dataclass(frozen=True)
class DemoEpisode:
    """A past win-back email: sent (emailed arm) or held out; ``sent_at`` only when emailed."""

    email_id: str
    arm: Literal["emailed", "holdout"]
    drafted_at: datetime
    sent_at: datetime | None
    subject: str


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    profile: dict[str, str]
    orders: tuple[DemoOrder, ...]  # oldest first
    episode: DemoEpisode | None = None

    def latest(self) -> DemoOrder:
        return self.orders[-1]


def client_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index + 1:05d}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _profile(cid: str, index: int, rng: np.random.Generator) -> dict[str, str]:
    locale = LOCALES[int(rng.integers(len(LOCALES)))]
    first = locale.first[int(rng.integers(len(locale.first)))]
    last = locale.last[int(rng.integers(len(locale.last)))]
    profile = {
        "first_name": first,
        "last_name": last,
        # The index keeps addresses unique; the domain is reserved for examples.
        "email": f"{_ascii(first)}.{_ascii(last)}.{index + 1}@{EMAIL_DOMAIN}",
        "time_zone": locale.zones[int(rng.integers(len(locale.zones)))],
        "locale": locale.tag,
    }
    note = STYLE_NOTES[int(rng.integers(len(STYLE_NOTES)))]
    if note is not None:
        profile["style_notes"] = note
    return profile


def build_population(clients: int, seed: int, today: date, prefix: str = "demo") -> list[DemoClient]:
    """``clients`` clients, each with at least one order, every order before ``today``."""
    rng = np.random.default_rng(seed)
    until = today - timedelta(days=1)
    sim = simulate_orders(
        DEMO_BGNBD, DEMO_SPEND, clients, rng, start=until - timedelta(days=HISTORY_DAYS), until=until
    )
    # Day offsets from ``until`` rather than absolute days: the same draws on any day.
    offsets = sim.days - day_number(until)
    hours = rng.integers(8, 22, sim.days.size)
    minutes = rng.integers(0, 60, sim.days.size)
    order_rows: list[list[tuple[int, int, int, float]]] = [[] for _ in range(clients)]
    for owner, off, hour, minute, amount in zip(
        sim.client_ids.tolist(),
        offsets.tolist(),
        hours.tolist(),
        minutes.tolist(),
        sim.amounts.tolist(),
        strict=True,
    ):
        order_rows[owner].append((off, hour, minute, amount))
    profile_rng = np.random.default_rng([seed, 1])
    population = []
    for index, rows in enumerate(order_rows):
        cid = client_id(prefix, index)
        rows.sort()
        orders = [
            DemoOrder(f"{cid}-o{n + 1:03d}", _at(until, off, hour, minute), _amount(amount))
            for n, (off, hour, minute, amount) in enumerate(rows)
        ]
        profile = _profile(cid, index, profile_rng)
        campaign_rng = np.random.default_rng([seed, 2, index])
        episode, won_back = _past_episode(cid, [r[0] for r in rows], orders, profile, until, campaign_rng)
        if won_back is not None:
            orders = sorted([*orders, won_back], key=lambda o: o.placed_at)
        population.append(DemoClient(cid, profile, tuple(orders), episode))
    return population


def _at(until: date, offset: int, hour: int, minute: int) -> datetime:
    return datetime.combine(until + timedelta(days=offset), time(hour, minute), UTC)


def _amount(amount: float) -> Decimal:
    return max(MIN_AMOUNT, Decimal(f"{amount:.2f}"))


def anchor_days(order_days: list[int]) -> list[int]:
    """Day offsets (from ``until``) in the campaign window when the client was at risk.

    At risk: an order at least ``AT_RISK_SILENCE_DAYS`` before and none since; no order
    the next day either, so the email always comes before the client's next order.
    """
    least, most = ANCHOR_DAYS_AGO
    days = []
    for day in range(1 - most, 2 - least):  # ``until`` is yesterday: N days ago is 1 - N
        before = [d for d in order_days if d <= day - AT_RISK_SILENCE_DAYS]
        if before and not any(day - AT_RISK_SILENCE_DAYS < d <= day + 1 for d in order_days):
            days.append(day)
    return days


def _past_episode(
    cid: str,
    order_days: list[int],
    orders: list[DemoOrder],
    profile: dict[str, str],
    until: date,
    rng: np.random.Generator,
) -> tuple[DemoEpisode | None, DemoOrder | None]:
    """The client's past win-back email, if the campaign reached them, and the order it won back."""
    u = rng.random(10)  # a fixed number of draws: the same stream whatever the branch
    candidates = anchor_days(order_days)
    if not candidates or u[0] >= CAMPAIGN_SHARE:
        return None, None
    day = until + timedelta(days=candidates[int(u[1] * len(candidates))])
    zone = ZoneInfo(profile["time_zone"])
    # Sent at a polite local hour (9:00-13:00), drafted one to four hours before.
    sent_local = datetime.combine(day, time(9), zone) + timedelta(minutes=int(u[2] * 240))
    sent_at = sent_local.astimezone(UTC)
    drafted_at = sent_at - timedelta(minutes=60 + int(u[3] * 180))
    subject = SUBJECTS[int(u[4] * len(SUBJECTS))]
    if u[5] < HOLDOUT_SHARE:
        return DemoEpisode(f"{cid}-winback", "holdout", drafted_at, None, subject), None
    episode = DemoEpisode(f"{cid}-winback", "emailed", drafted_at, sent_at, subject)
    if u[6] >= WON_BACK_RATE:
        return episode, None
    low, high = WON_BACK_AFTER_DAYS
    back_day = day + timedelta(days=low + int(u[7] * (high - low + 1)))
    placed_at = datetime.combine(back_day, time(8 + int(u[8] * 14), int(u[9] * 60)), UTC)
    amount = sum((o.amount for o in orders), Decimal(0)) / len(orders)
    return episode, DemoOrder(f"{cid}-wonback", placed_at, _amount(float(amount)))
