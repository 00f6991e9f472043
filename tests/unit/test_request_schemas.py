"""What the OpenAPI document says a request field takes is what the API takes: for each case the
JSON Schema of the request model (as the document carries it) and the model itself agree."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel, ValidationError

from api.order_schemas import OrderBatch, OrderIn
from api.policy_schemas import PolicyIn
from api.schemas import ClientProfileIn
from api.webhook_schemas import EndpointIn, ReplayIn
from core.runtime.webhook_urls import url_form_problem

ORDER = {"order_id": "o-1", "placed_at": "2026-01-05T10:00:00Z", "currency": "USD", "amount": "79.00"}


def _agree(model: type[BaseModel], body: dict[str, Any]) -> bool:
    """Whether the body is valid, after checking the schema and the model say the same."""
    in_schema = jsonschema_rs.validator_for(model.model_json_schema(), validate_formats=True).is_valid(body)
    try:
        model.model_validate(body)
        taken = True
    except ValidationError:
        taken = False
    assert in_schema == taken, f"schema says {in_schema}, the API {taken}: {body}"
    return taken


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"amount": "79.000"}, True),  # trailing zeros within the minor unit
        ({"amount": 79.5}, True),
        ({"amount": "1.001"}, False),  # a tenth of a cent
        ({"amount": 0.35000000000000003}, False),
        ({"amount": ""}, False),
        ({"amount": " 1"}, False),
        ({"amount": "1e2"}, False),
        ({"amount": "+1"}, False),
        ({"amount": "-5"}, False),
        ({"amount": True}, False),
        ({"amount": 100_000_000_000}, False),
        ({"amount": "5", "currency": "JPY"}, True),
        ({"amount": 5.0, "currency": "JPY"}, True),
        ({"amount": "1.5", "currency": "JPY"}, False),
        ({"amount": "1.234", "currency": "BHD"}, True),
        ({"currency": "XYZ"}, False),
        ({"placed_at": 0}, False),  # seconds since 1970 are not the documented date-time
        ({"placed_at": "2026-01-05T10:00:00"}, False),  # no offset
        ({"order_id": " \u3000"}, False),  # white space only
        ({"order_id": "\x1c"}, True),  # not Unicode White_Space: kept as is
    ],
)
def test_order_schema_and_api_agree(change: dict[str, Any], valid: bool) -> None:
    assert _agree(OrderIn, {**ORDER, **change}) is valid


def test_batch_item_may_be_any_value_and_is_answered_for() -> None:
    # The document says an item may be any JSON value: the batch answers `invalid` for it.
    assert _agree(OrderBatch, {"orders": [1, {"client_id": "c-1"}, {**ORDER, "client_id": "c-2"}]})
    assert not _agree(OrderBatch, {"orders": []})


@pytest.mark.parametrize(
    ("policy", "valid"),
    [
        ({"frequency_cap_days": 30.0}, True),  # an integer, as JSON Schema counts it
        ({"frequency_cap_days": False}, False),
        ({"frequency_cap_days": "30"}, False),
        ({"tiers": {"lapsed": {"min_expected_value": False}}}, False),
        ({"tiers": {"lapsed": {"sequence": {"touches": 2, "follow_up_days": [14]}}}}, True),
        ({"tiers": {"lapsed": {"sequence": {"touches": 1, "follow_up_days": [14]}}}}, False),
        ({"tiers": {"lapsed": {"sequence": {"follow_up_days": [14]}}}}, False),
        ({"tiers": {"lapsed": {"sequence": {"touches": 3}}}}, False),
        ({"locales": ["de", "de"]}, False),
        ({"cta_links": ["HTTPS://shop.example.com/a?b=1"]}, True),
        ({"cta_links": ["shop.example.com"]}, False),
        ({"cta_links": ["https://shop.example.com/<b>"]}, False),
    ],
)
def test_policy_schema_and_api_agree(policy: dict[str, Any], valid: bool) -> None:
    assert _agree(PolicyIn, {"policy": policy}) is valid


@pytest.mark.parametrize(
    ("zone", "valid"),
    [
        ("Europe/Stockholm", True),
        ("UTC", True),
        ("Mars/Olympus", False),
        ("Europe/Stockholm ", False),
        ("localtime", False),
    ],
)
def test_profile_time_zone_schema_and_api_agree(zone: str, valid: bool) -> None:
    assert _agree(ClientProfileIn, {"time_zone": zone}) is valid


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://crm.example.com/hooks/rekindle", True),
        ("HTTP://10.0.0.5:8080/a?b#c", True),
        ("https://crm.example.com:65536/", False),
        ("htTp://00*", False),
        ("https://user:pw@crm.example.com/", False),
        ("https://[::1]/", False),
        ("ftp://crm.example.com/", False),
    ],
)
def test_webhook_url_schema_and_registration_agree(url: str, valid: bool) -> None:
    body = {"url": url, "event_types": ["email.sent"]}
    in_schema = jsonschema_rs.validator_for(EndpointIn.model_json_schema()).is_valid(body)
    assert in_schema is valid
    assert (url_form_problem(url) is None) is valid


def test_replay_since_is_a_date_time_string() -> None:
    assert not _agree(ReplayIn, {"since": 0})
    assert _agree(ReplayIn, {"since": "2026-01-05T10:00:00+01:00"})
