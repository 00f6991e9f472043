"""The demo population: made-up clients with order histories from the BG/NBD process.

Pure and deterministic: the same seed and client count give the same client ids,
names, addresses, time zones, order ids and amounts on every run. Order *dates* are
laid out backwards from ``today`` (the simulation draws only day offsets), so a
re-run on another day re-sends the same order ids and changes nothing, because
orders are idempotent by id. Names are a small built-in list per locale; every
address is on ``example.com`` (RFC 2606), so no real person is ever written to.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from core.scoring.params import BgNbdParams, GammaGammaParams
from core.scoring.simulate import simulate_orders
from core.scoring.summary import day_number

# Per day: one order every ~45 days on average, a fair share of churners (Beta(0.7, 3)
# dropout per order) and a long tail of loyalists; spend around 40 a basket.
DEMO_BGNBD = BgNbdParams(r=0.9, alpha=40.0, a=0.7, b=3.0)
DEMO_SPEND = GammaGammaParams(p=6.0, q=4.0, gamma=20.0)
HISTORY_DAYS = 540  # first orders fall within the last ~18 months
EMAIL_DOMAIN = "example.com"
CURRENCY = "USD"
MIN_AMOUNT = Decimal("5.00")


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
class DemoClient:
    client_id: str
    profile: dict[str, str]
    orders: tuple[DemoOrder, ...]  # oldest first

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
        orders = tuple(
            DemoOrder(
                order_id=f"{cid}-o{n + 1:03d}",
                placed_at=datetime.combine(until + timedelta(days=off), time(hour, minute), UTC),
                amount=max(MIN_AMOUNT, Decimal(f"{amount:.2f}")),
            )
            for n, (off, hour, minute, amount) in enumerate(rows)
        )
        population.append(DemoClient(cid, _profile(cid, index, profile_rng), orders))
    return population
