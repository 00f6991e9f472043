"""Request and response models of the policy routes (``api/routes/policy.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from api.rows import RowOut
from core.domain.policy_document import Policy, default_policy

EXAMPLE_POLICY = default_policy(cta_links=["https://shop.example.com/new"]).model_dump(mode="json")
EXAMPLE_OUT = {
    "version": 2,
    "policy": EXAMPLE_POLICY,
    "updated_at": "2026-12-02T15:51:00Z",
    "updated_by": "api:ops-admin",
}
EXAMPLE_CHANGES = [{"path": "cta_links", "old": [], "new": ["https://shop.example.com/new"]}]
EXAMPLE_PUBLISHED = {
    **EXAMPLE_OUT,
    "changed": True,
    "changes": EXAMPLE_CHANGES,
    "rollout": {"job_id": "rekindle-rollout-p2-m0-1796225460", "status": "started"},
}
EXAMPLE_VERSIONS = {"items": [{**EXAMPLE_OUT, "changes": EXAMPLE_CHANGES}], "next_before": None}


class PolicyIn(BaseModel):
    """``PUT /v1/policy``: the whole document (fields left out take their defaults)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"policy": EXAMPLE_POLICY}]}
    )

    policy: Policy

    @field_validator("policy", mode="before")
    @classmethod
    def _json_types(cls, value: Any) -> Any:
        """Each field takes its JSON type and no other: ``false`` is not 0, ``"30"`` is not 30,
        and ``30.0`` is the integer 30 (as JSON Schema counts it)."""
        return Policy.model_validate(_integral(value), strict=True) if isinstance(value, dict) else value


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


class PolicyOut(RowOut):
    version: int
    policy: Policy
    updated_at: datetime
    updated_by: str


class PolicyChange(BaseModel):
    path: str
    old: Any = None
    new: Any = None


class Rollout(BaseModel):
    job_id: str
    status: str


class PolicyPublished(PolicyOut):
    """``changed``: a new version was stored (false: the document equals the current one)."""

    changed: bool
    changes: list[PolicyChange]
    rollout: Rollout


class PolicyVersionOut(PolicyOut):
    changes: list[PolicyChange]


class PolicyVersionPage(BaseModel):
    items: list[PolicyVersionOut]
    next_before: int | None
