"""Checks on an email edited by ops before approval (interim: issue 5 brings core/guardrails.py).

Pure and sandbox-safe: the ``approve_email`` Update validator calls ``check_edit``
so a bad edit is refused before anything reaches the workflow history.
TODO(lead): when core/guardrails.py lands, make ``check_edit`` delegate to it.
"""

from __future__ import annotations

import re

MAX_SUBJECT = 150
MAX_PREHEADER = 150
MAX_BODY = 5000
MIN_BODY = 20

URL = re.compile(r"(https?://|www\.)\S+|\b[a-z0-9-]+\.(com|net|org|io|co|shop|store)\b", re.IGNORECASE)
PRICE = re.compile(r"[$€£¥]\s?\d|\d\s?(?:[$€£¥]|usd|eur|gbp|jpy)\b|\b\d{1,3}\s?%|\bpercent\b", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_edit(subject: str | None, preheader: str | None, body_text: str | None) -> list[str]:
    """Problems with the edited fields (empty when acceptable); ``None`` fields are not edited."""
    problems: list[str] = []
    for field, value, limit in (
        ("subject", subject, MAX_SUBJECT),
        ("preheader", preheader, MAX_PREHEADER),
        ("body_text", body_text, MAX_BODY),
    ):
        if value is None:
            continue
        problems.extend(_check_field(field, value, limit))
    if subject is not None and not subject.strip():
        problems.append("subject: must not be blank")
    if body_text is not None and len(body_text.strip()) < MIN_BODY:
        problems.append(f"body_text: shorter than {MIN_BODY} characters")
    return problems


def _check_field(field: str, value: str, limit: int) -> list[str]:
    problems = []
    if len(value) > limit:
        problems.append(f"{field}: longer than {limit} characters")
    if field != "body_text" and "\n" in value:
        problems.append(f"{field}: must be one line")
    if CONTROL.search(value):
        problems.append(f"{field}: contains control characters")
    if URL.search(value):
        problems.append(f"{field}: links are added by the template, not typed in")
    if PRICE.search(value):
        problems.append(f"{field}: prices and discounts are not allowed in edits")
    return problems
