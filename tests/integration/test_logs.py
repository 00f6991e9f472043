"""Logs of a full scenario at DEBUG never contain a client's email address or an API key."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from core.contracts.consent import ProfileUpdated
from core.contracts.messages import SIGNAL_PROFILE_UPDATED
from core.runtime.client_workflow import signal_with_start
from core.runtime.logging import configure_logging, get_logger
from core.runtime.settings import LoggingSettings, Settings
from core.runtime.workflow_config import WorkflowStart
from tests.helpers import eventually, order_body, orders_recorded, session_codec, unique_id, wire_payload
from tests.integration.conftest import Stack

pytestmark = pytest.mark.temporal

EMAIL = "grace.hopper.logs@example.com"
API_KEY = "rk_live_" + "Q7" * 16
NOISY = ("uvicorn.access", "httpx", "aiosqlite", "sqlalchemy.engine", "mail.log", "alembic")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """This test's settings with the API key the ops use on the codec endpoints."""
    security = settings.security.model_copy(update={"codec_tokens": SecretStr(API_KEY)})
    return settings.model_copy(update={"security": security})


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The production logging setup at DEBUG, rendered as JSON into a buffer, restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in NOISY}
    buffer = io.StringIO()
    configure_logging(LoggingSettings(level="DEBUG", format="json"), stream=buffer)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        root.handlers[:], level, noisy = saved
        root.setLevel(level)
        for name, value in noisy.items():
            logging.getLogger(name).setLevel(value)


async def test_logs_of_a_scenario_hold_no_email_or_api_key(stack: Stack, captured_logs: io.StringIO) -> None:
    cid = unique_id("logs")
    key = stack.api_key  # a real admin key: it authenticates the API and the codec endpoints
    auth = {"Authorization": f"Bearer {key}", "X-API-Key": key}
    accepted = await stack.http.post(
        f"/v1/clients/{cid}/orders", params={"api_key": key}, json=order_body("o-1"), headers=auth
    )
    assert accepted.status_code == 202, accepted.text
    profile = ProfileUpdated(email=EMAIL, first_name="Grace", style_notes=f"write to {EMAIL}")
    await signal_with_start(
        stack.temporal, WorkflowStart.from_settings(stack.settings), cid, SIGNAL_PROFILE_UPDATED, profile
    )
    await eventually(lambda: orders_recorded(stack.temporal, cid, 1))
    bad = await stack.http.post(
        f"/v1/clients/{cid}/orders", content=f'{{"email": "{EMAIL}"'.encode(), headers=auth
    )
    assert bad.status_code == 422
    detail = await stack.http.get(f"/v1/clients/{cid}", params={"token": key}, headers=auth)
    assert detail.status_code == 200
    sealed = session_codec().encrypt(
        stack.temporal.data_converter.payload_converter.to_payloads([profile])[0]
    )
    decoded = await stack.http.post("/codec/decode", json={"payloads": [wire_payload(sealed)]}, headers=auth)
    assert decoded.status_code == 200
    assert EMAIL.encode() in base64.b64decode(decoded.json()["payloads"][0]["data"])
    refused = await stack.http.post(
        "/codec/decode", json={"payloads": []}, headers={"Authorization": "Bearer x"}
    )
    assert refused.status_code == 401

    # Code that forgets itself is caught too: personal fields, secrets, free text, tracebacks.
    log = get_logger("rekindle.test")
    log.info(
        f"profile of {EMAIL}", email=EMAIL, api_key=API_KEY, headers={"authorization": f"Bearer {API_KEY}"}
    )
    try:
        raise ValueError(f"cannot deliver to {EMAIL} with Bearer {API_KEY}")
    except ValueError:
        log.exception("delivery failed")
    logging.getLogger("rekindle.stdlib").debug("stdlib says %s uses %s", EMAIL, f"Bearer {API_KEY}")

    text = captured_logs.getvalue()
    assert EMAIL not in text
    assert API_KEY not in text
    assert key not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    routes = {(r["method"], r["route"], r["status"]) for r in requests}
    assert ("POST", "/v1/clients/{client_id}/orders", 202) in routes
    assert ("POST", "/v1/clients/{client_id}/orders", 422) in routes
    assert ("GET", "/v1/clients/{client_id}", 200) in routes
    assert ("POST", "/codec/decode", 401) in routes
    assert all(cid not in json.dumps(r) for r in requests)  # route templates, not raw paths
    assert any(line.get("level") == "debug" for line in lines)
    assert any("[email]" in json.dumps(line) for line in lines)
