"""Documented examples for the ops actions, webhooks and audit routes (OpenAPI)."""

from __future__ import annotations

from typing import Any

from api.errors import documented

CLIENT_ACTION = {
    "client_id": "c-1001",
    "action": "pause",
    "changed": True,
    "paused": True,
    "paused_until": "2027-01-15T09:00:00Z",
    "unsubscribed": False,
}
EMAIL_ACTION = {"email_id": "e-3f2a9c", "action": "cancel", "changed": True, "status": "cancelled"}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: documented("The state does not allow it", "not_paused", "the client is not paused")
}
ENDPOINT: dict[str, Any] = {
    "id": "ep_3f2a9c0d1e2b3c4d5e6f",
    "url": "https://crm.example.com/hooks/rekindle",
    "event_types": ["email.sent", "client.unsubscribed"],
    "description": "CRM sync",
    "enabled": True,
    "created_at": "2026-12-02T15:00:00Z",
    "disabled_at": None,
    "cursor": 1042,
}
ENDPOINT_CREATED = {**ENDPOINT, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
ENDPOINT_PAGE = {"items": [ENDPOINT]}
DELIVERY_PAGE = {
    "items": [
        {
            "event_seq": 1043,
            "event_id": "msg_2f1c0e7a9b8d4c3e8f6a5b4c3d2e1f00",
            "event_type": "email.sent",
            "status": "pending",
            "attempts": 4,
            "last_status_code": 503,
            "last_error": "HTTP 503",
            "first_attempt_at": "2026-12-02T15:01:00Z",
            "last_attempt_at": "2026-12-02T15:01:15Z",
            "delivered_at": None,
        }
    ],
    "next_cursor": None,
}
AUDIT_PAGE = {
    "items": [
        {
            "id": 812,
            "at": "2026-12-02T15:02:00Z",
            "actor": "maria",
            "actor_kind": "ops_user",
            "action": "client.pause",
            "outcome": "ok",
            "target_type": "client",
            "target_id": "c-1001",
            "source": "10.0.4.17",
            "detail": {"reason": "asked by phone", "paused_until": None},
        }
    ],
    "next_cursor": "WyI4MTEiXQ",
}
