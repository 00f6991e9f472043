"""The template drafter (Jinja2): the default with no LLM key, and the LLM's fallback.

Personal (the vetted first name, recent categories), varied by tier, segment and the score's
reasons, deterministic per email id (a retry drafts the same text), and never empty: if a
rendering fails the guardrails (say, a category named "sale"), it is rendered again with less
client data, down to a generic text that always passes.

Written in the client's language (English, French, German, Spanish, Japanese: ``ctx.locale``),
with the policy's call-to-action link when there is one, and aware of the episode: a follow-up
(``ctx.touch`` > 1) refers to the earlier email by its subject.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from activities.draft_model import Draft, DraftContext
from activities.rendering import environment
from core.domain.guardrails import check_with_policy, failures, passed, unapproved_offer_phrases

PROMPT_VERSION = "template-v2"
TIERS = ("active", "cooling", "at_risk", "lapsed")
LOCALES = ("fr", "de", "es", "ja")  # beside English, each with one template (drafts/{locale}.txt.j2)
_LONG_GAP = re.compile(r"no order for|days since|overdue|usually orders|longer than usual", re.I)
_ONE_TIME = re.compile(r"\bone order\b|single order|first order|only order|one-time", re.I)


def _variant(email_id: str) -> int:
    return int.from_bytes(hashlib.sha256(email_id.encode()).digest()[:4], "big")


def _flags(reasons: list[str]) -> dict[str, bool]:
    return {
        "long_gap": any(_LONG_GAP.search(r) for r in reasons),
        "one_time": any(_ONE_TIME.search(r) for r in reasons),
    }


def template_name(ctx: DraftContext) -> str:
    """English has a template per tier and one for follow-ups; other languages one each."""
    if ctx.locale in LOCALES:
        return f"drafts/{ctx.locale}.txt.j2"
    if ctx.touch > 1:
        return "drafts/follow_up.txt.j2"
    return f"drafts/{ctx.tier if ctx.tier in TIERS else 'at_risk'}.txt.j2"


def _render(ctx: DraftContext, categories: list[str], first_name: str | None) -> tuple[str, str, str]:
    template = environment().get_template(template_name(ctx))
    values: dict[str, Any] = {
        "tier": ctx.tier,
        "touch": ctx.touch,
        "earlier": [e.subject for e in ctx.earlier if e.subject],
        "cta_link": ctx.cta_link,
        "lines": environment().get_template("drafts/_lines.txt.j2").make_module(),
        "first_name": first_name,
        "categories": categories,
        "segment": (ctx.segment or "").lower(),
        "flags": _flags(ctx.reasons),
        "variant": _variant(ctx.email_id),
    }
    parts = []
    for block in ("subject", "preheader", "body"):
        rendered = "".join(template.blocks[block](template.new_context(values)))
        parts.append(re.sub(r"\n{3,}", "\n\n", rendered).strip())
    return parts[0], parts[1], parts[2]


def draft_from_template(ctx: DraftContext) -> Draft:
    """A guardrail-clean draft from the templates, with less personalisation if need be."""
    attempts: list[dict[str, Any]] = []
    # The last resort drops everything configurable too (a link named ".../sale" fails the offer rule).
    generic = replace(ctx, tier="at_risk", segment=None, reasons=[], earlier=[], cta_link=None)
    # A category is the retailer's free text: "sale" or "free gifts" must not slip into an email.
    usable = [c for c in ctx.categories() if not unapproved_offer_phrases(c, ctx.policy.offer, ctx.locale)]
    for source, categories, name in (
        (ctx, usable, ctx.first_name),
        (ctx, [], ctx.first_name),
        (ctx, [], None),
        (generic, [], None),
    ):
        subject, preheader, body = _render(source, categories, name)
        verdicts = check_with_policy(
            subject, preheader, body, first_name=ctx.first_name or "", policy=ctx.policy
        )
        if passed(verdicts):
            return Draft(
                subject=subject,
                preheader=preheader,
                body_text=body,
                generator="template",
                prompt_version=PROMPT_VERSION,
                verdicts=verdicts,
                attempts=attempts,
            )
        attempts.append({"generator": "template", "failures": failures(verdicts)})
    raise AssertionError("the generic template must always pass the guardrails")
