"""Checks on ops' edits before approval."""

from __future__ import annotations

import pytest

from core.edits import check_edit

BODY = "Hello again, we have new knitwear you might like this autumn."


def test_edit_clean_passes() -> None:
    assert check_edit("New knitwear for you", "Picked for you", BODY) == []
    assert check_edit(None, None, None) == []


@pytest.mark.parametrize(
    ("subject", "preheader", "body", "problem"),
    [
        ("x" * 151, None, None, "subject: longer than 150"),
        ("  ", None, None, "subject: must not be blank"),
        ("two\nlines", None, None, "subject: must be one line"),
        ("See https://evil.example", None, None, "subject: links"),
        (None, "visit shop.com today", None, "preheader: links"),
        (None, None, "Only $9.99 this week for you, friend", "body_text: prices"),
        (None, None, "Take 20% off everything you like today", "body_text: prices"),
        (None, None, "too short", "body_text: shorter than 20"),
        (None, None, "ok text but with a \x07 bell inside it", "body_text: contains control"),
    ],
)
def test_edit_problems_are_named(
    subject: str | None, preheader: str | None, body: str | None, problem: str
) -> None:
    problems = check_edit(subject, preheader, body)
    assert any(p.startswith(problem) for p in problems), problems
