"""Examples shown in the OpenAPI documentation for each route's success answer."""

from __future__ import annotations

from typing import Any

ACCEPTED = {"client_id": "c-1001", "order_id": "o-123", "workflow_id": "client-c-1001", "status": "accepted"}
BATCH = {
    "accepted": 1,
    "invalid": 1,
    "unavailable": 0,
    "results": [
        {"index": 0, "client_id": "c-1001", "order_id": "o-123", "status": "accepted", "errors": []},
        {
            "index": 1,
            "client_id": None,
            "order_id": None,
            "status": "invalid",
            "errors": [{"field": "currency", "reason": "unknown ISO 4217 currency code 'XYZ'"}],
        },
    ],
}
PROFILE_BATCH = {
    "accepted": 1,
    "invalid": 1,
    "unavailable": 0,
    "results": [
        {"index": 0, "client_id": "c-1001", "status": "accepted", "changed": True, "errors": []},
        {
            "index": 1,
            "client_id": None,
            "status": "invalid",
            "changed": None,
            "errors": [{"field": "time_zone", "reason": "unknown IANA time zone 'Mars/Olympus'"}],
        },
    ],
}
PROFILE_ACCEPTED = {
    "client_id": "c-1001",
    "workflow_id": "client-c-1001",
    "changed": True,
    "status": "accepted",
}
SUMMARY = {
    "client_id": "c-1001",
    "order_count": 4,
    "first_order_at": "2025-02-01T10:00:00Z",
    "last_order_at": "2025-09-14T08:30:00Z",
    "total_spend": "316.00",
    "currency": "USD",
    "score": 31.5,
    "tier": "at_risk",
    "segment": "at_risk",
    "holdout": False,
    "unsubscribed_at": None,
}
CLIENT_PAGE = {"items": [SUMMARY], "next_cursor": "WyJjLTEwMDEiXQ"}
EMAIL_SUMMARY = {
    "email_id": "e-3f2a9c",
    "client_id": "c-1001",
    "status": "pending_approval",
    "subject": "We saved your size, Anna",
    "holdout": False,
    "created_at": "2026-01-05T10:00:00Z",
    "scheduled_for": None,
    "sent_at": None,
}
CLIENT_DETAIL = {
    **SUMMARY,
    "profile": {
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Berg",
        "time_zone": "Europe/Stockholm",
        "locale": "sv-SE",
        "style_notes": "Prefers merino.",
    },
    "scores": [
        {
            "scored_at": "2026-01-05T00:00:00Z",
            "score": 31.5,
            "tier": "at_risk",
            "segment": "at_risk",
            "p_alive": 0.62,
            "p_order_again": 0.21,
            "expected_orders": 0.4,
            "expected_value": 31.0,
            "reasons": ["no order for 94 days; usually orders every 35"],
            "model_version": 3,
        }
    ],
    "emails": [EMAIL_SUMMARY],
    "live_state": {"client_id": "c-1001", "order_count": 4, "last_order_at": "2025-09-14T08:30:00Z"},
    "live_state_reason": None,
}
EMAIL_PAGE = {"items": [EMAIL_SUMMARY], "next_cursor": None}
EMAIL_DETAIL = {
    **EMAIL_SUMMARY,
    "draft": {
        "subject": "We saved your size, Anna",
        "preheader": "New merino arrived",
        "body_text": "Hi Anna, ...",
        "body_html": "<p>Hi Anna, ...</p>",
        "generator": "template",
        "model": None,
        "prompt_version": "t1",
    },
    "guardrails": [{"name": "length", "passed": True, "detail": ""}],
    "approved_by": None,
    "approved_at": None,
    "rejected_reason": None,
    "delivery": {
        "to_address": None,
        "scheduled_for": None,
        "sending_at": None,
        "sent_at": None,
        "message_id": None,
        "failure_reason": None,
    },
    "events": [{"kind": "drafted", "at": "2026-01-05T10:00:00Z", "actor": None, "detail": None}],
}
EMAIL_IMPORT = {
    "imported": 1,
    "unchanged": 0,
    "conflict": 0,
    "unknown_client": 1,
    "invalid": 0,
    "unavailable": 0,
    "results": [
        {
            "index": 0,
            "email_id": "mc-2025-10-winback-c-1001",
            "client_id": "c-1001",
            "status": "imported",
            "errors": [],
        },
        {
            "index": 1,
            "email_id": "mc-2025-10-winback-c-1002",
            "client_id": "c-1002",
            "status": "unknown_client",
            "errors": [{"field": "client_id", "reason": "no such client: create it first"}],
        },
    ],
}
DECISION = {"email_id": "e-3f2a9c", "status": "approved", "scheduled_for": "2026-01-06T09:00:00Z"}

CLIENT_EXPORT = {
    "client_id": "c-1001",
    "exported_at": "2026-01-06T09:00:00Z",
    "profile": {"id": "c-1001", **CLIENT_DETAIL["profile"], "order_count": 4},  # type: ignore[dict-item]
    "orders": [{"order_id": "o-123", "placed_at": "2025-09-14T08:30:00", "amount_minor": 7900}],
    "scores": [{"scored_at": "2026-01-05T00:00:00", "score": 31.5, "tier": "at_risk"}],
    "emails": [{"id": "e-3f2a9c", "status": "sent", "to_address": "anna@example.com", "events": []}],
    "suppressions": [],
    "live_state": CLIENT_DETAIL["live_state"],
    "live_state_reason": None,
}
ERASURE_RECEIPT = {
    "client_id": "c-1001",
    "workflow": "terminated",
    "data_key_destroyed": True,
    "rows_deleted": {"clients": 1, "orders": 4, "emails": 1, "email_events": 3},
    "hashed_suppressions": 1,
}


def ok(example: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The success response's documented example."""
    return {status: {"content": {"application/json": {"example": example}}}}
