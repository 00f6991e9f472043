"""The issue's acceptance path, against the real dev server, worker and API: a lapsed client's
workflow is asleep under a policy that leaves lapsed clients alone; an admin's PUT targets them
and changes the cap; the sleeping workflow reports the new version in ``live_state`` and the
client gets a draft."""

from __future__ import annotations

from typing import Any

import pytest

from core.contracts.model import RefitModelInput
from tests.helpers import eventually, order_body, unique_id
from tests.integration.conftest import Stack
from tests.test_refit import UNTIL as SIMULATED_UNTIL
from tests.test_refit import seed_simulated_orders
from workflows.refit import RefitModelWorkflow

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


async def test_refit_re_plans_a_sleeping_client_with_the_new_model(stack: Stack) -> None:
    """A refit that stores a model version pushes it (``push_rollout``) to every running client:
    a client asleep until its next check is woken, rescored with the new model, and reports it."""
    cid = unique_id("sleeper")
    assert (await stack.http.put(f"/v1/clients/{cid}", json={"email": "bo@example.com"})).status_code == 202
    for n, day in enumerate(["2025-06-10", "2025-08-10"]):
        response = await stack.http.post(
            f"/v1/clients/{cid}/orders", json=order_body(f"{cid}-{n}", f"{day}T10:00:00Z")
        )
        assert response.status_code == 202, response.text

    async def asleep() -> dict[str, Any] | None:
        detail = (await stack.http.get(f"/v1/clients/{cid}")).json()
        live = detail["live_state"]
        return detail if live and live["order_count"] == 2 and detail["scores"] else None

    before = await eventually(asleep, timeout=60, interval=0.5)
    assert before["live_state"]["model_version"] in (None, 0)
    assert {s["model_version"] for s in before["scores"]} <= {None, 0}

    await seed_simulated_orders(stack.sessions, 700, seed=7)
    refit = await stack.temporal.execute_workflow(
        RefitModelWorkflow.run,
        RefitModelInput(calibration_end=SIMULATED_UNTIL, batch_size=700),
        id=unique_id("refit"),
        task_queue=stack.settings.temporal.refit_task_queue,
    )
    assert (refit.stored, refit.version) == (True, 1)

    async def re_planned() -> dict[str, Any] | None:
        detail = (await stack.http.get(f"/v1/clients/{cid}")).json()
        live = detail["live_state"]
        rescored = any(s["model_version"] == 1 for s in detail["scores"])
        return detail if live and live["model_version"] == 1 and rescored else None

    after = await eventually(re_planned, timeout=60, interval=0.5)
    assert after["live_state"]["order_count"] == 2  # the same client, not a fresh run
    assert after["scores"][0]["scored_at"] >= before["scores"][0]["scored_at"]
