"""The codec server for the Temporal Web UI: authenticated, CORS for the UI, clean errors."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from api.app import create_app
from api.deps import AppState
from core.runtime.codec import ENCODING, KEY_ID_METADATA, codec_from_settings, new_key
from core.runtime.settings import DatabaseSettings, SecuritySettings, Settings
from tests.helpers import TEST_SECURITY, serve_app, wire_payload

TOKEN = "ops-token-" + "x" * 24
UI_ORIGIN = "http://ui.example.test:8080"


def _settings(tmp_path: Path, **security: Any) -> Settings:
    base = Settings(_env_file=None)
    return base.model_copy(
        update={
            "database": DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'codec.db'}"),
            "api": base.api.model_copy(update={"cors_origins": [UI_ORIGIN]}),
            "security": TEST_SECURITY.model_copy(
                update={"codec_tokens": SecretStr(f"other,{TOKEN}"), **security}
            ),
        }
    )


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(create_app(_settings(tmp_path))) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


def _unwire(item: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in item.get("metadata", {}).items()},
        data=base64.b64decode(item.get("data", "")),
    )


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"email": "ada@example.com"}).encode())
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}


async def test_codec_server_encode_then_decode_round_trips(api: httpx.AsyncClient) -> None:
    encoded = await api.post("/codec/encode", json={"payloads": [wire_payload(PLAIN)]}, headers=AUTH)
    assert encoded.status_code == 200, encoded.text
    [sealed] = [_unwire(p) for p in encoded.json()["payloads"]]
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"test-1"
    assert b"ada@example.com" not in sealed.data

    decoded = await api.post(
        "/codec/decode", json={"payloads": [wire_payload(sealed), wire_payload(PLAIN)]}, headers=AUTH
    )
    assert decoded.status_code == 200, decoded.text
    assert [_unwire(p) for p in decoded.json()["payloads"]] == [PLAIN, PLAIN]
    empty = await api.post("/codec/decode", json={"payloads": []}, headers=AUTH)
    assert empty.json() == {"payloads": []}


async def test_codec_server_decodes_what_the_worker_encrypted(api: httpx.AsyncClient) -> None:
    codec = codec_from_settings(TEST_SECURITY)
    assert codec is not None
    decoded = await api.post(
        "/codec/decode", json={"payloads": [wire_payload(codec.encrypt(PLAIN))]}, headers=AUTH
    )
    assert _unwire(decoded.json()["payloads"][0]) == PLAIN


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
    ids=["none", "wrong", "scheme", "empty"],
)
async def test_codec_server_refuses_unauthenticated(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for route in ("/codec/encode", "/codec/decode"):
        response = await api.post(route, json={"payloads": [wire_payload(PLAIN)]}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payloads": [{"data": "not base64!!"}]}, "body.payloads.0.data"),
        ({"payloads": [{"metadata": {"encoding": "%%%"}, "data": ""}]}, "body.payloads.0.metadata"),
        ({"payloads": "nope"}, "body.payloads"),
        ({"payloads": [{"metadata": ["x"]}]}, "body.payloads.0.metadata"),
    ],
    ids=["data", "metadata", "list", "metadata-type"],
)
async def test_codec_server_malformed_payloads_are_422(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/codec/decode", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


async def test_codec_server_not_json_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/codec/decode", content=b"{nope", headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_codec_server_unknown_key_or_tampered_is_400(api: httpx.AsyncClient) -> None:
    stranger = codec_from_settings(SecuritySettings(codec_keys=SecretStr(f"elsewhere:{new_key()}")))
    assert stranger is not None
    response = await api.post(
        "/codec/decode", json={"payloads": [wire_payload(stranger.encrypt(PLAIN))]}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "undecodable_payload"
    assert "'elsewhere'" in response.json()["error"]["message"]
    mine = codec_from_settings(TEST_SECURITY)
    assert mine is not None
    tampered = mine.encrypt(PLAIN)
    tampered.data = tampered.data[:-2]
    response = await api.post("/codec/decode", json={"payloads": [wire_payload(tampered)]}, headers=AUTH)
    assert response.status_code == 400


async def test_codec_server_cors_preflight_for_the_web_ui(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        "/codec/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "x-namespace", "content-type"} <= {h.strip() for h in allowed.split(",")}

    actual = await api.post("/codec/decode", json={"payloads": []}, headers={**AUTH, "Origin": UI_ORIGIN})
    assert actual.headers["access-control-allow-origin"] == UI_ORIGIN
    denied = await api.options(
        "/codec/decode",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert denied.status_code == 400
    assert "access-control-allow-origin" not in denied.headers
    # Only the codec routes carry the UI's CORS policy.
    other = await api.get("/healthz", headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in other.headers


async def test_codec_server_anonymous_only_when_allowed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, codec_allow_anonymous=True, codec_tokens=None)
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/codec/encode", json={"payloads": [wire_payload(PLAIN)]})
        assert response.status_code == 200
    closed = _settings(tmp_path, codec_tokens=None)
    async with serve_app(create_app(closed)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/codec/encode", json={"payloads": []}, headers=AUTH)
        assert response.status_code == 401


async def test_codec_server_without_keys_is_503_not_plaintext(tmp_path: Path) -> None:
    settings = _settings(tmp_path, codec_keys=None, codec_active_key_id=None)
    app = create_app(settings)
    # No lifespan here: it would refuse to connect to Temporal without keys; the route must refuse too.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        app.state.rekindle = AppState(settings, None, None, None)  # type: ignore[arg-type]
        response = await http.post("/codec/encode", json={"payloads": [wire_payload(PLAIN)]}, headers=AUTH)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "codec_not_configured"
