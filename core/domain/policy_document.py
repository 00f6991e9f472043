"""The live policy: a versioned document ops edit, validated here, read by every workflow.

Pure (pydantic and stdlib only) so the API validates it, the store keeps it and the client
workflow reads it inside the Temporal sandbox with the very same model.

- ``Policy``: caps, quiet hours, approval expiry, cool-down, the call-to-action links a draft
  may carry, the locales drafts are written in, and one ``TierPolicy`` per tier (target the
  tier or not, auto-approve, an offer, a sequence of touches, a minimum expected value).
- ``default_policy(settings)``: version 1, seeded from ``PolicySettings`` so a fresh install
  behaves as before (only ``at_risk`` is emailed, once per episode), except that ``lapsed``
  clients get a gentle two-touch win-back.
- ``diff(old, new)``: what changed, path by path, for the audit trail and the dashboard.

The document is strict when ops write it (an unknown or misspelt field is a 422), tolerant
when a workflow reads it (``Policy.tolerant``): an older worker must not choke on a field a
newer API added.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.domain.text import NOT_BLANK_SCHEMA

Locale = Literal["en", "fr", "de", "es", "ja"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("en", "fr", "de", "es", "ja")
TIER_NAMES = ("active", "cooling", "at_risk", "lapsed")
MAX_TOUCHES = 5
MAX_FOLLOW_UP_DAYS = 180.0
TOLERANT = {"tolerant": True}
OfferText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), NOT_BLANK_SCHEMA
]
# An http(s) link without white space, quotes or angle brackets (``Policy._web_links`` checks it;
# the pattern says the same to the OpenAPI document's readers).
LINK_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s<>\"'`]+\s*$"
Link = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=8, max_length=500),
    Field(json_schema_extra={"pattern": LINK_PATTERN}),
]


class Document(BaseModel):
    """Frozen, strict by default; ``context=TOLERANT`` drops fields this code does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("tolerant") and isinstance(data, dict):
            return {k: v for k, v in data.items() if k in cls.model_fields}
        return data


def _one_delay_per_follow_up_schema(schema: dict[str, Any]) -> None:
    """``follow_up_days`` holds ``touches - 1`` delays (``touches`` left out is 1)."""
    schema["anyOf"] = [{"properties": {"touches": {"const": 1}, "follow_up_days": {"maxItems": 0}}}] + [
        {
            "required": ["touches", "follow_up_days"],
            "properties": {
                "touches": {"const": touches},
                "follow_up_days": {"minItems": touches - 1, "maxItems": touches - 1},
            },
        }
        for touches in range(2, MAX_TOUCHES + 1)
    ]


class TouchSequence(Document):
    """How many emails one episode may send, and the wait before each follow-up (days after
    the previous send). A follow-up goes only if the client has not ordered since and can
    still be emailed; an order ends the sequence."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_one_delay_per_follow_up_schema)

    touches: int = Field(default=1, ge=1, le=MAX_TOUCHES)
    follow_up_days: list[Annotated[float, Field(gt=0, le=MAX_FOLLOW_UP_DAYS)]] = Field(
        default_factory=list, max_length=MAX_TOUCHES - 1
    )

    @model_validator(mode="after")
    def _one_delay_per_follow_up(self) -> TouchSequence:
        if len(self.follow_up_days) != self.touches - 1:
            raise ValueError(
                f"follow_up_days needs one delay per follow-up: {self.touches - 1} for "
                f"{self.touches} touches, got {len(self.follow_up_days)}"
            )
        return self


class TierPolicy(Document):
    """What to do with clients of one tier."""

    email: bool = False
    auto_approve: bool = False
    offer: OfferText | None = None
    sequence: TouchSequence = Field(default_factory=TouchSequence)
    # Email only clients whose expected spend over the horizon reaches this (None: anyone).
    min_expected_value: Annotated[float, Field(ge=0, le=1_000_000)] | None = None


class Tiers(Document):
    active: TierPolicy = Field(default_factory=TierPolicy)
    cooling: TierPolicy = Field(default_factory=TierPolicy)
    at_risk: TierPolicy = Field(default_factory=lambda: TierPolicy(email=True))
    lapsed: TierPolicy = Field(default_factory=TierPolicy)

    def of(self, tier: str) -> TierPolicy:
        """The entry for ``tier``; an unknown tier is never emailed."""
        found = getattr(self, tier, None) if tier in TIER_NAMES else None
        return found if isinstance(found, TierPolicy) else TierPolicy()


class QuietHours(Document):
    """No sends from ``start`` to ``end`` o'clock in the client's zone (wrapping midnight)."""

    start: int = Field(default=20, ge=0, le=23)
    end: int = Field(default=9, ge=0, le=23)


class Policy(Document):
    """The whole policy; see the module docstring."""

    frequency_cap_days: int = Field(default=30, ge=0, le=365)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    approval_expiry_hours: float = Field(default=72.0, gt=0, le=24 * 60)
    cool_down_days: int = Field(default=30, ge=0, le=365)
    tiers: Tiers = Field(default_factory=Tiers)
    # The shop links a draft may carry as its call to action (and nothing else but ours).
    cta_links: list[Link] = Field(default_factory=list, max_length=20)
    # Drafts are written in the client's locale when listed here, else in the first one.
    locales: list[Locale] = Field(
        default_factory=lambda: list(SUPPORTED_LOCALES), min_length=1, json_schema_extra={"uniqueItems": True}
    )

    @field_validator("cta_links")
    @classmethod
    def _web_links(cls, links: list[str]) -> list[str]:
        for link in links:
            scheme, _, rest = link.partition("://")
            if scheme.lower() not in ("https", "http") or not rest or any(c.isspace() for c in link):
                raise ValueError(f"not an http(s) link: {link[:60]!r}")
            if any(c in link for c in "<>\"'`"):
                raise ValueError(f"a link may not contain quotes or angle brackets: {link[:60]!r}")
        return list(dict.fromkeys(links))

    @field_validator("locales")
    @classmethod
    def _unique(cls, locales: list[str]) -> list[str]:
        if len(set(locales)) != len(locales):
            raise ValueError("each locale may be listed once")
        return locales

    @classmethod
    def tolerant(cls, data: dict[str, Any]) -> Policy:
        """Read a stored document, ignoring fields a newer version of this code added."""
        return cls.model_validate(data, context=TOLERANT)

    def locale_for(self, locale: str | None) -> str:
        """The locale to draft in: the client's language if the policy lists it, else the first."""
        language = (locale or "").replace("_", "-").split("-")[0].lower()
        return language if language in self.locales else self.locales[0]

    def digest(self) -> str:
        """A stable fingerprint: two documents with equal content have equal digests."""
        return hashlib.sha256(canonical_json(self).encode()).hexdigest()


def canonical_json(policy: Policy) -> str:
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def default_policy(
    *,
    auto_approve: bool = False,
    approval_expiry_hours: float = 72.0,
    frequency_cap_days: int = 30,
    quiet_hours_start: int = 20,
    quiet_hours_end: int = 9,
    cool_down_days: int = 30,
    offer: str | None = None,
    cta_links: list[str] | None = None,
) -> Policy:
    """Version 1: today's behaviour for ``at_risk``, plus a gentle win-back for ``lapsed``
    (two touches a fortnight apart, never auto-approved: a long-silent client deserves a
    person's eye, and no offer unless ops add one)."""
    at_risk = TierPolicy(email=True, auto_approve=auto_approve, offer=offer)
    lapsed = TierPolicy(email=True, sequence=TouchSequence(touches=2, follow_up_days=[14.0]))
    return Policy(
        frequency_cap_days=frequency_cap_days,
        quiet_hours=QuietHours(start=quiet_hours_start, end=quiet_hours_end),
        approval_expiry_hours=approval_expiry_hours,
        cool_down_days=cool_down_days,
        tiers=Tiers(at_risk=at_risk, lapsed=lapsed),
        cta_links=cta_links or [],
    )


Change = dict[str, Any]


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and (value or not prefix):  # an empty root is no setting at all
        for key in value:
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def diff(old: Policy | dict[str, Any] | None, new: Policy | dict[str, Any]) -> list[Change]:
    """``[{"path": "tiers.lapsed.email", "old": false, "new": true}, ...]`` in path order;
    lists are compared whole (``cta_links``, ``follow_up_days``)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(_plain(old) if old is not None else {}, "", before)
    _flatten(_plain(new), "", after)
    paths = sorted(set(before) | set(after))
    return [
        {"path": p, "old": before.get(p), "new": after.get(p)} for p in paths if before.get(p) != after.get(p)
    ]


def _plain(doc: Policy | dict[str, Any]) -> dict[str, Any]:
    return doc.model_dump(mode="json") if isinstance(doc, Policy) else doc
