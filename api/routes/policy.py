"""The live policy: read it (ops), replace it (admin), read its history with diffs (ops)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from api import examples, policy_service
from api.auth import AdminKey, OpsKey
from api.deps import SessionDep, StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES
from api.routes.actions import key_actor
from core.policy_document import Policy, default_policy
from core.policy_store import StoredPolicy, policy_versions

router = APIRouter(prefix="/v1", tags=["policy"])
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


class PolicyOut(BaseModel):
    version: int
    policy: Policy
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, stored: StoredPolicy) -> PolicyOut:
        return cls(
            version=stored.version,
            policy=stored.policy,
            updated_at=stored.updated_at,
            updated_by=stored.updated_by,
        )


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


@router.get("/policy", responses={**examples.ok(EXAMPLE_OUT), **AUTH_RESPONSES}, summary="The live policy")
async def get_policy(state: StateDep, _key: OpsKey) -> PolicyOut:
    """The current version; settings seed version 1 on first use."""
    return PolicyOut.of(await policy_service.current(state))


@router.put(
    "/policy",
    responses={**examples.ok(EXAMPLE_PUBLISHED), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Replace the live policy",
)
async def put_policy(body: PolicyIn, state: StateDep, key: AdminKey, request: Request) -> PolicyPublished:
    """Store a new version (an identical document changes nothing) and push it to every
    running client workflow, asleep or not (a batch signal; ``rollout.status`` says whether
    it started: ``unavailable`` means Temporal was unreachable, and the same PUT again
    completes the push)."""
    published = await policy_service.publish(state, body.policy, f"api:{key.name}", key_actor(key, request))
    stored = published.stored
    return PolicyPublished(
        **PolicyOut.of(stored).model_dump(),
        changed=published.changed,
        changes=[PolicyChange.model_validate(c) for c in stored.changes] if published.changed else [],
        rollout=Rollout(job_id=published.rollout_job, status=published.rollout_status),
    )


@router.get(
    "/policy/versions",
    responses={**examples.ok(EXAMPLE_VERSIONS), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Every policy version",
)
async def get_policy_versions(
    session: SessionDep,
    state: StateDep,
    _key: OpsKey,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None,
        # The column is a 32-bit integer on PostgreSQL: a larger cursor is a 422, not an overflow.
        Query(ge=1, le=2_147_483_647, description="`next_before` of the previous page"),
    ] = None,
) -> PolicyVersionPage:
    """Newest first, each with who saved it, when, and what changed from the version before."""
    await policy_service.current(state)
    rows = await policy_versions(session, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        PolicyVersionOut(
            **PolicyOut.of(r).model_dump(), changes=[PolicyChange.model_validate(c) for c in r.changes]
        )
        for r in rows
    ]
    return PolicyVersionPage(items=items, next_before=rows[-1].version if more else None)
