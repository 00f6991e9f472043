"""The live policy over HTTP: read, replace (a new version, or nothing when identical), 422, history."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


def _lapsed_win_back(policy: dict[str, Any]) -> dict[str, Any]:
    lapsed = {
        **policy["tiers"]["lapsed"],
        "email": True,
        "sequence": {"touches": 3, "follow_up_days": [5, 10]},
    }
    return {**policy, "frequency_cap_days": 14, "tiers": {**policy["tiers"], "lapsed": lapsed}}


async def test_api_policy_put_stores_a_version_with_its_diff_and_identical_changes_nothing(
    stack: Stack,
) -> None:
    first = (await stack.http.get("/v1/policy")).json()
    assert (first["version"], first["updated_by"]) == (1, "settings")
    assert first["policy"]["tiers"]["at_risk"]["email"] is True

    same = await stack.http.put("/v1/policy", json={"policy": first["policy"]})
    assert same.status_code == 200, same.text
    assert (same.json()["version"], same.json()["changed"]) == (1, False)

    edited = _lapsed_win_back(first["policy"])
    put = await stack.http.put("/v1/policy", json={"policy": edited})
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["version"], body["changed"], body["updated_by"]) == (2, True, "api:test admin")
    assert {c["path"] for c in body["changes"]} == {
        "frequency_cap_days",
        "tiers.lapsed.sequence.follow_up_days",
        "tiers.lapsed.sequence.touches",
    }
    assert body["rollout"]["status"] in ("started", "already_started"), body["rollout"]
    assert (await stack.http.get("/v1/policy")).json()["policy"] == body["policy"]

    history = (await stack.http.get("/v1/policy/versions")).json()
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert {"path": "frequency_cap_days", "old": 30, "new": 14} in history["items"][0]["changes"]
    assert history["items"][1]["changes"] != []  # version 1: everything, from nothing
    page = (await stack.http.get("/v1/policy/versions", params={"limit": 1})).json()
    assert ([v["version"] for v in page["items"]], page["next_before"]) == ([2], 2)

    audited = (await stack.http.get("/v1/audit", params={"action": "policy.update"})).json()["items"]
    assert [(e["target_id"], e["actor"]) for e in audited] == [("2", "key:test admin")]  # not the no-op


async def test_api_policy_invalid_is_422_with_field_and_reason_and_stores_nothing(stack: Stack) -> None:
    policy = (await stack.http.get("/v1/policy")).json()["policy"]
    bad = {**policy, "tiers": {**policy["tiers"], "lapsed": {"email": True, "sequence": {"touches": 2}}}}
    response = await stack.http.put("/v1/policy", json={"policy": bad})
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert fields == [
        {
            "field": "body.policy.tiers.lapsed.sequence",
            "reason": "follow_up_days needs one delay per follow-up: 1 for 2 touches, got 0",
        }
    ]
    unknown = await stack.http.put("/v1/policy", json={"policy": {**policy, "frequncy_cap_days": 3}})
    assert unknown.json()["error"]["fields"][0]["field"] == "body.policy.frequncy_cap_days"
    assert (await stack.http.get("/v1/policy")).json()["version"] == 1

    # Found by schemathesis on PostgreSQL: a cursor past the 32-bit column was a 500.
    huge = await stack.http.get("/v1/policy/versions", params={"before": 348289387397})
    assert huge.status_code == 422, huge.text
    assert huge.json()["error"]["fields"][0]["field"] == "query.before"


async def test_api_policy_put_needs_admin_and_get_needs_ops(stack: Stack) -> None:
    async with stack.client(await stack.key("ops")) as ops, stack.client(await stack.key("ingest")) as ingest:
        policy = (await ops.get("/v1/policy")).json()["policy"]
        assert (await ops.put("/v1/policy", json={"policy": policy})).status_code == 403
        assert (await ingest.get("/v1/policy")).status_code == 403
    assert (await stack.anon.get("/v1/policy/versions")).status_code == 401
