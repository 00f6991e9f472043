"""The policy gate: may we email this client now, and if not, when?

Pure and deterministic (no wall clock, no I/O), so the client workflow calls it
at draft time, at approval and right before sending, and replays get the same
answers. "Not now" always comes with the next allowed moment (or ``None`` when
only a message can lift the block, e.g. ``resumed``); the workflow reschedules,
it never drops.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Stage = Literal["draft", "approval", "send"]
FALLBACK_ZONE = "UTC"


@dataclass(frozen=True)
class GateContext:
    """What the gate looks at: the client's consent, pause and sending record."""

    unsubscribed: bool
    bounced: bool
    paused: bool
    last_sent_at: datetime | None
    frequency_cap_days: int
    time_zone: str
    quiet_hours_start: int
    quiet_hours_end: int
    # a pause the client chose on the preference page ends by itself
    paused_until: datetime | None = None


@dataclass(frozen=True)
class GateDecision:
    """``allowed`` now; otherwise ``not_before`` (``None``: wait for a message) and
    ``final`` when nothing will ever lift the block (consent withdrawn, address bounced)."""

    allowed: bool
    reason: str | None = None
    not_before: datetime | None = None
    final: bool = False


ALLOWED = GateDecision(allowed=True)


def check_gate(ctx: GateContext, now: datetime, stage: Stage) -> GateDecision:
    """Consent, bounce, pause, frequency cap, then quiet hours (for scheduling a send)."""
    if ctx.unsubscribed:
        return GateDecision(False, "unsubscribed", final=True)
    if ctx.bounced:
        return GateDecision(False, "bounced", final=True)
    if ctx.paused:
        return GateDecision(False, "paused")
    if ctx.paused_until is not None and now < ctx.paused_until:
        return GateDecision(False, "paused", not_before=ctx.paused_until)
    if ctx.last_sent_at is not None and ctx.frequency_cap_days > 0:
        cap_ends = ctx.last_sent_at + timedelta(days=ctx.frequency_cap_days)
        if now < cap_ends:
            return GateDecision(False, "frequency_cap", not_before=cap_ends)
    if stage != "draft":
        # Drafting at night is harmless (ops read it in the morning); sending is not.
        window = next_send_window(now, ctx.time_zone, ctx.quiet_hours_start, ctx.quiet_hours_end)
        if window > now:
            return GateDecision(False, "quiet_hours", not_before=window)
    return ALLOWED


def zone(name: str | None, default: str) -> ZoneInfo:
    """The client's zone, else the configured default, else UTC: never an error in a workflow."""
    for candidate in (name, default, FALLBACK_ZONE):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(FALLBACK_ZONE)


def in_send_window(local_hour: int, quiet_start: int, quiet_end: int) -> bool:
    """Quiet hours run from ``quiet_start`` to ``quiet_end`` (wrapping midnight when start > end)."""
    if quiet_start == quiet_end:
        return True  # no quiet hours configured
    if quiet_start > quiet_end:
        return quiet_end <= local_hour < quiet_start
    return not (quiet_start <= local_hour < quiet_end)


def next_send_window(now: datetime, time_zone: str, quiet_start: int, quiet_end: int) -> datetime:
    """``now`` if it is inside the send window in ``time_zone``, else the next window opening (UTC)."""
    tz = zone(time_zone, FALLBACK_ZONE)
    local = now.astimezone(tz)
    if in_send_window(local.hour, quiet_start, quiet_end):
        return now
    opening = datetime.combine(local.date(), time(quiet_end), tzinfo=tz)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), time(quiet_end), tzinfo=tz)
    return opening.astimezone(now.tzinfo)


def holdout_fraction_of(client_id: str) -> float:
    """A stable number in [0, 1) for a client id: the first 8 bytes of its SHA-256."""
    digest = hashlib.sha256(client_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(client_id: str, fraction: float) -> bool:
    """Whether this client is in the control group (same answer everywhere, forever)."""
    return holdout_fraction_of(client_id) < fraction


def earliest(*moments: datetime | None) -> datetime | None:
    """The first of the given moments, ignoring ``None``."""
    present = [m for m in moments if m is not None]
    return min(present) if present else None
