"""The live policy document: defaults, validation with field and reason, diffs, tolerance."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.contracts.policy import LivePolicy, PolicyFollower
from core.contracts.state import WorkflowConfig
from core.domain.policy_document import Policy, default_policy, diff
from core.runtime.settings import PolicySettings
from core.store.policy_store import policy_from_settings


def _doc(**changes: Any) -> dict[str, Any]:
    doc = default_policy().model_dump(mode="json")
    doc.update(changes)
    return doc


def test_policy_defaults_reproduce_the_workflow_config_and_add_a_lapsed_win_back() -> None:
    config, policy = WorkflowConfig(), policy_from_settings(PolicySettings())
    assert policy.frequency_cap_days == config.frequency_cap_days
    assert (policy.quiet_hours.start, policy.quiet_hours.end) == (
        config.quiet_hours_start,
        config.quiet_hours_end,
    )
    assert policy.approval_expiry_hours == config.approval_expiry_hours
    assert policy.cool_down_days == config.cool_down_days
    at_risk = policy.tiers.at_risk
    assert (at_risk.email, at_risk.auto_approve, at_risk.offer, at_risk.sequence.touches) == (
        True,
        False,
        None,
        1,
    )
    assert not policy.tiers.active.email
    assert not policy.tiers.cooling.email
    lapsed = policy.tiers.lapsed
    assert lapsed.email
    assert lapsed.sequence.touches == 2
    assert lapsed.sequence.follow_up_days == [14.0]


def test_policy_settings_seed_auto_approve_offer_and_links() -> None:
    settings = PolicySettings(
        auto_approve=True, offer="15% off knitwear", cta_links=["https://shop.example.com/"]
    )
    policy = policy_from_settings(settings)
    assert policy.tiers.at_risk.auto_approve
    assert policy.tiers.at_risk.offer == "15% off knitwear"
    assert policy.cta_links == ["https://shop.example.com/"]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"frequency_cap_days": -1}, "frequency_cap_days", "greater than or equal to 0"),
        ({"quiet_hours": {"start": 25, "end": 9}}, "quiet_hours.start", "less than or equal to 23"),
        ({"cta_links": ["javascript:alert(1)"]}, "cta_links", "not an http(s) link"),
        ({"locales": ["en", "xx"]}, "locales.1", "'en', 'fr', 'de', 'es' or 'ja'"),
        ({"locales": []}, "locales", "at least 1 item"),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
        (
            {"tiers": {"lapsed": {"email": True, "sequence": {"touches": 3, "follow_up_days": [7]}}}},
            "tiers.lapsed.sequence",
            "one delay per follow-up: 2 for 3 touches, got 1",
        ),
        (
            {"tiers": {"lapsed": {"sequence": {"touches": 9}}}},
            "tiers.lapsed.sequence.touches",
            "less than or equal",
        ),
        ({"tiers": {"vip": {}}}, "tiers.vip", "Extra inputs are not permitted"),
    ],
)
def test_policy_invalid_document_names_field_and_reason(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate(_doc(**changes))
    errors = {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}
    assert field in errors, errors
    assert reason in errors[field]


def test_policy_diff_lists_each_changed_path() -> None:
    old = default_policy()
    new = Policy.model_validate(
        _doc(frequency_cap_days=14, cta_links=["https://shop.example.com/new"])
        | {"tiers": {**old.tiers.model_dump(mode="json"), "cooling": {"email": True}}}
    )
    changes = {c["path"]: (c["old"], c["new"]) for c in diff(old, new)}
    assert changes == {
        "cta_links": ([], ["https://shop.example.com/new"]),
        "frequency_cap_days": (30, 14),
        "tiers.cooling.email": (False, True),
    }
    assert diff(old, default_policy()) == []
    first = diff(None, old)
    assert {"path": "frequency_cap_days", "old": None, "new": 30} in first
    assert all(c["path"] for c in first)
    assert old.digest() == default_policy().digest() != new.digest()


def test_policy_tolerant_read_ignores_unknown_fields_at_every_level() -> None:
    doc = _doc(future_setting=True)
    doc["tiers"]["lapsed"]["future_tier_setting"] = "x"
    assert Policy.tolerant(doc) == default_policy()


def test_policy_locale_falls_back_to_the_first_listed() -> None:
    policy = Policy.model_validate(_doc(locales=["fr", "en"]))
    assert policy.locale_for("de-DE") == "fr"
    assert policy.locale_for("en_GB") == "en"
    assert policy.locale_for(None) == "fr"


def test_policy_follower_only_moves_forward() -> None:
    doc = default_policy().model_dump(mode="json")
    follower = PolicyFollower(LivePolicy(version=2, document=doc))
    assert not follower.offer(LivePolicy(version=1, document=doc))
    assert follower.offer(LivePolicy(version=3, document=_doc(frequency_cap_days=7)))
    assert follower.version == 3
    assert follower.policy is not None
    assert follower.policy.frequency_cap_days == 7
    assert not follower.offer(LivePolicy(version=3, document=doc))
    assert follower.offer(None, model_version=4)
    assert follower.take_model_change()
    assert not follower.take_model_change()
    assert not follower.offer(None, model_version=4)
