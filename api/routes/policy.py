"""The live policy: read it (ops), replace it (admin), read its history with diffs (ops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api import examples, policy_service
from api.auth import AdminKey, OpsKey
from api.deps import SessionDep, StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES
from api.policy_schemas import (
    EXAMPLE_OUT,
    EXAMPLE_PUBLISHED,
    EXAMPLE_VERSIONS,
    PolicyChange,
    PolicyIn,
    PolicyOut,
    PolicyPublished,
    PolicyVersionOut,
    PolicyVersionPage,
    Rollout,
)
from api.routes.actions import key_actor
from core.store.policy_store import policy_versions

router = APIRouter(prefix="/v1", tags=["policy"])


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
    return PolicyPublished.of(
        stored,
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
        PolicyVersionOut.of(r, changes=[PolicyChange.model_validate(c) for c in r.changes]) for r in rows
    ]
    return PolicyVersionPage(items=items, next_before=rows[-1].version if more else None)
