"""Ops' edits before approval: merged with the pending draft and judged by the guardrails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.contracts.approval import ApproveEmail
from core.contracts.state import PendingEmail, WorkflowConfig
from core.domain.edits import failing_verdicts
from core.domain.guardrails import failures


def check_edit(*args: Any, **kwargs: Any) -> list[str]:
    """``"rule: detail"`` per failing guardrail, as the Update's error message lists them."""
    return failures(failing_verdicts(*args, **kwargs))


BODY = "Hi Anna,\n\nWe have new knitwear you might like this autumn.\n\nSee you soon."
NOW = datetime(2026, 3, 1, tzinfo=UTC)
PENDING = PendingEmail(
    email_id="e-1",
    status="pending_approval",
    created_at=NOW,
    expires_at=NOW,
    subject="New knitwear for you",
    preheader="Picked for you",
    body_text=BODY,
)
CONFIG = WorkflowConfig(public_base_url="https://rekindle.example.com", offer="free shipping")


def _edit(**fields: str) -> ApproveEmail:
    return ApproveEmail(email_id="e-1", approved_by="ops", **fields)


def test_edit_clean_passes() -> None:
    assert (
        check_edit(
            _edit(subject="Autumn knitwear, picked for you"), PENDING, first_name="Anna", config=CONFIG
        )
        == []
    )
    assert check_edit(_edit(), PENDING, first_name="Anna", config=CONFIG) == []


def test_edit_offer_in_policy_passes_and_our_links_pass() -> None:
    body = BODY + "\nFree shipping on your next box: https://rekindle.example.com/box"
    assert check_edit(_edit(body_text=body), PENDING, first_name="Anna", config=CONFIG) == []


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"subject": "x" * 150}, "length"),
        ({"subject": "See https://evil.example now"}, "only_our_links"),
        ({"body_text": BODY + "\nOnly $9.99 this week"}, "no_unapproved_offer"),
        ({"body_text": BODY + "\nTake 20% off everything"}, "no_unapproved_offer"),
        ({"body_text": BODY + "\n<b>bold</b>"}, "no_html"),
        ({"body_text": BODY + "\nWrite to bob@example.com"}, "no_other_client_data"),
        (
            {"body_text": "Hi Maria,\n\nWe have new knitwear you might like this autumn."},
            "no_other_client_data",
        ),
    ],
)
def test_edit_breaking_a_guardrail_is_named(fields: dict[str, str], rule: str) -> None:
    problems = check_edit(_edit(**fields), PENDING, first_name="Anna", config=CONFIG)
    assert any(p.startswith(rule) for p in problems), problems


def test_edit_of_a_draft_without_a_kept_body_judges_only_the_edit() -> None:
    legacy = PENDING.model_copy(update={"body_text": None})
    assert check_edit(_edit(subject="Autumn knitwear"), legacy, first_name="Anna", config=CONFIG) == []
    problems = check_edit(_edit(subject="50% off today"), legacy, first_name="Anna", config=CONFIG)
    assert any(p.startswith("no_unapproved_offer") for p in problems), problems


def test_edit_may_carry_a_policy_link_in_the_clients_language() -> None:
    config = WorkflowConfig(
        public_base_url="https://rekindle.example", cta_links=["https://shop.example.com/new"]
    )
    body = "Bonjour Anna,\n\nDécouvrez les nouveautés : https://shop.example.com/new\n\nL'équipe"
    edit = ApproveEmail(email_id="e1", approved_by="ops", subject="Des nouveautés", body_text=body)
    assert check_edit(edit, None, first_name="Anna", config=config, locale="fr") == []
    gratuit = ApproveEmail(email_id="e1", approved_by="ops", subject="Livraison gratuite", body_text=body)
    assert check_edit(gratuit, None, first_name="Anna", config=config, locale="fr") != []
    assert check_edit(edit, None, first_name="Anna", config=WorkflowConfig(), locale="fr") != []
