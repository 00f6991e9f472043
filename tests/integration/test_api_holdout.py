"""``clients.holdout`` is the client's arm from the first write, so ops can list the control group."""

from __future__ import annotations

import pytest

from core.domain.policy import in_holdout
from tests.helpers import unique_id
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


async def test_api_clients_holdout_filter_lists_the_control_group(stack: Stack) -> None:
    fraction = stack.settings.policy.holdout_fraction
    ids = [unique_id("h") for _ in range(40)]
    held = {cid for cid in ids if in_holdout(cid, fraction)}
    assert held, "40 ids at a 10% holdout should hold out at least one"
    for cid in ids:
        response = await stack.http.put(f"/v1/clients/{cid}", json={"first_name": "Ada"})
        assert response.status_code == 202, response.text
    listed = (await stack.http.get("/v1/clients", params={"holdout": "true", "limit": 500})).json()
    assert {c["client_id"] for c in listed["items"]} & set(ids) == held
    treated = (await stack.http.get("/v1/clients", params={"holdout": "false", "limit": 500})).json()
    assert {c["client_id"] for c in treated["items"]} & set(ids) == set(ids) - held
