"""The OpenAPI document: every route summarised, with an example of its success and errors."""

from __future__ import annotations

import json

from api.app import create_app
from core.runtime.settings import Settings


def test_openapi_every_route_documented_with_examples() -> None:
    spec = create_app(Settings(_env_file=None)).openapi()
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            if not operation.get("summary"):
                missing.append(f"{label}: summary")
            for status, response in operation["responses"].items():
                if "example" not in json.dumps(response):
                    missing.append(f"{label}: example for {status}")
    assert missing == []
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


async def test_openapi_405_allow_lists_every_method_of_the_path() -> None:
    """``Allow`` on a 405 names every method the path serves (as the OpenAPI document does),
    not only the first route's; an unknown method on a one-method path still gets its one."""
    import httpx

    app = create_app(Settings(_env_file=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rekindle.test") as http:
        client = await http.options("/v1/clients/c-1")
        policy = await http.patch("/v1/policy")
        orders = await http.get("/v1/clients/c-1/orders")
        pause = await http.options("/v1/clients/c-1:pause")
        ses = await http.get("/v1/webhooks/ses")  # the feedback route, not an endpoint id
        disable = await http.get("/v1/webhooks/ep_0123456789abcdefghij:disable")
    documented = app.openapi()["paths"]
    assert client.status_code == 405
    assert set(client.headers["allow"].split(", ")) - {"HEAD"} == {
        m.upper() for m in documented["/v1/clients/{client_id}"]
    }
    assert set(policy.headers["allow"].split(", ")) - {"HEAD"} == {
        m.upper() for m in documented["/v1/policy"]
    }
    assert orders.headers["allow"] == "POST"
    assert pause.headers["allow"] == "POST"  # not also the methods of "/v1/clients/{client_id}"
    assert (ses.status_code, ses.headers["allow"]) == (405, "POST")
    assert (disable.status_code, disable.headers["allow"]) == (405, "POST")
    assert client.json()["error"]["code"] == "method_not_allowed"
