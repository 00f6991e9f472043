"""Charts as geometry for inline SVG: the templates draw these, no chart library or script.

Every function returns plain numbers and labels in a fixed viewBox; the SVG scales
with CSS, so one drawing serves a phone and a desktop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH, HEIGHT = 440, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 30
X_TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    title: str = ""


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: float
    title: str = ""


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"


@dataclass
class Chart:
    """A drawing in a ``WIDTH`` x ``HEIGHT`` viewBox, with axis ticks and a plain-text summary."""

    bars: list[Bar] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    summary: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def empty(self) -> bool:
        return not self.bars and not self.points


def _nice_max(value: float) -> float:
    """The smallest ceiling at or above ``value`` whose four grid steps are whole 1-2-5 numbers,
    so counts never get fractional ticks (4, 8, 20, 40, 80, 200, ...)."""
    quarter = max(value / 4, 1.0)
    magnitude = 10 ** math.floor(math.log10(quarter))
    for step in (1, 2, 5, 10):
        if quarter <= step * magnitude:
            return float(4 * step * magnitude)
    return float(40 * magnitude)  # pragma: no cover - the loop always returns


def _spread(points: Sequence[Point], count: int) -> list[Point]:
    """Up to ``count`` points evenly spread, always the first and the last."""
    if len(points) <= count:
        return list(points)
    step = (len(points) - 1) / (count - 1)
    return [points[round(i * step)] for i in range(count)]


def _x_ticks(ticks: list[Tick]) -> list[Tick]:
    """Edge labels anchored inwards so the first and last dates are not cut off."""
    if len(ticks) < 2:
        return ticks
    first, last = ticks[0], ticks[-1]
    return [Tick(first.pos, first.label, "start"), *ticks[1:-1], Tick(last.pos, last.label, "end")]


def _y(value: float, top: float) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return TOP + plot * (1 - value / top)


def _y_ticks(top: float, fmt: str = "{:g}") -> list[Tick]:
    return [Tick(_y(top * i / 4, top), fmt.format(top * i / 4)) for i in range(5)]


def bar_chart(
    labels: Sequence[str], values: Sequence[int], summary: str, titles: Sequence[str] | None = None
) -> Chart:
    """Vertical bars, one per label (the score distribution)."""
    top = _nice_max(max(values, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = _y(value, top)
        title = titles[i] if titles else f"{label}: {value}"
        bars.append(
            Bar(LEFT + i * slot + slot * 0.1, y, slot * 0.8, HEIGHT - BOTTOM - y, label, value, title)
        )
    x_ticks = [Tick(b.x + b.width / 2, b.label) for b in bars]
    return Chart(bars=bars, y_ticks=_y_ticks(top), x_ticks=x_ticks, summary=summary)


def line_chart(
    series: Sequence[tuple[datetime, float]],
    summary: str,
    y_max: float | None = None,
    titles: Sequence[str] | None = None,
    width: int = WIDTH,
) -> Chart:
    """A line over time (at-risk clients per week, a client's score history)."""
    if not series:
        return Chart(summary=summary, width=width)
    top = y_max if y_max is not None else _nice_max(max(v for _, v in series))
    start, end = series[0][0], series[-1][0]
    span = (end - start).total_seconds() or 1.0
    # Short labels keep four ticks apart on a phone; the year matters over long spans.
    fmt = "%b %Y" if span > 300 * 86400 else "%d %b"
    plot_w = width - LEFT - RIGHT
    points = []
    for i, (at, value) in enumerate(series):
        x = LEFT + plot_w * ((at - start).total_seconds() / span if len(series) > 1 else 0.5)
        title = titles[i] if titles else ""
        label = at.astimezone(UTC).strftime(fmt)
        points.append(Point(x, _y(value, top), label, value, title or f"{at:%Y-%m-%d}: {value:g}"))
    x_ticks = _x_ticks([Tick(p.x, p.label) for p in _spread(points, X_TICKS)])
    return Chart(points=points, y_ticks=_y_ticks(top), x_ticks=x_ticks, summary=summary, width=width)
