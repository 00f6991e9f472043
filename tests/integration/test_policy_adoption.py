"""The issue's acceptance path, against the real dev server, worker and API: a lapsed client's
workflow is asleep under a policy that leaves lapsed clients alone; an admin's PUT targets them
and changes the cap; the sleeping workflow reports the new version in ``live_state`` and the
client gets a draft."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import eventually, order_body, unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


def _lapsed(policy: dict[str, Any], email: bool, cap: int) -> dict[str, Any]:
    lapsed = {**policy["tiers"]["lapsed"], "email": email}
    return {**policy, "frequency_cap_days": cap, "tiers": {**policy["tiers"], "lapsed": lapsed}}


async def test_policy_put_reaches_a_sleeping_lapsed_client_who_then_gets_a_draft(stack: Stack) -> None:
    policy = (await stack.http.get("/v1/policy")).json()["policy"]
    off = await stack.http.put("/v1/policy", json={"policy": _lapsed(policy, email=False, cap=30)})
    assert off.json()["version"] == 2, off.text

    cid = unique_id("lapsed")
    assert (
        await stack.http.put(f"/v1/clients/{cid}", json={"email": "ada@example.com", "first_name": "Ada"})
    ).status_code == 202
    for n, day in enumerate(["2024-01-10", "2024-02-10", "2024-03-10"]):
        response = await stack.http.post(
            f"/v1/clients/{cid}/orders", json=order_body(f"{cid}-{n}", f"{day}T10:00:00Z")
        )
        assert response.status_code == 202, response.text

    async def asleep_lapsed() -> dict[str, Any] | None:
        live = (await stack.http.get(f"/v1/clients/{cid}")).json()["live_state"]
        ok = live and live["tier"] == "lapsed" and live["order_count"] == 3 and live["policy_version"] == 2
        return live if ok else None

    state = await eventually(asleep_lapsed, timeout=60, interval=0.5)
    assert state["pending_email"] is None

    on = await stack.http.put("/v1/policy", json={"policy": _lapsed(policy, email=True, cap=14)})
    assert (on.json()["version"], on.json()["rollout"]["status"]) == (3, "started"), on.text

    async def adopted_and_drafted() -> dict[str, Any] | None:
        live = (await stack.http.get(f"/v1/clients/{cid}")).json()["live_state"]
        return live if live and live["policy_version"] == 3 and live["pending_email"] else None

    state = await eventually(adopted_and_drafted, timeout=60, interval=0.5)
    assert state["pending_email"]["status"] == "pending_approval"
    emails = (await stack.http.get("/v1/emails", params={"client_id": cid})).json()["items"]
    assert [e["status"] for e in emails] == ["pending_approval"]
