"""Client ids become workflow ids, which are never encrypted: an email address is refused."""

from __future__ import annotations

import pytest

from tests.helpers import order_body
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_client_id_with_at_sign_is_422(stack: Stack, method: str) -> None:
    path = "/v1/clients/anna@example.com" + ("/orders" if method == "POST" else "")
    body = order_body("o-1") if method == "POST" else {"first_name": "Anna"}
    response = await stack.http.request(method, path, json=body)
    assert response.status_code == 422, response.text
    (field,) = response.json()["error"]["fields"]
    assert field["field"] == "path.client_id"
    assert "anna" not in response.text
