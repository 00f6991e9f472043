"""Custom search attributes ops filter by in the Temporal Web UI. No personal data here:
search attributes are not encrypted by the payload codec."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

RISK_TIER = SearchAttributeKey.for_keyword("RiskTier")
ENGAGEMENT_SCORE = SearchAttributeKey.for_float("EngagementScore")
LAST_ORDER_AT = SearchAttributeKey.for_datetime("LastOrderAt")
AWAITING_APPROVAL = SearchAttributeKey.for_bool("AwaitingApproval")
HOLDOUT_GROUP = SearchAttributeKey.for_bool("HoldoutGroup")
# An activity keeps failing for this client: the workflow runs on and retries, ops look.
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
# The live policy and model versions a workflow has adopted: ops watch a rollout with
# `PolicyVersion < N`, and the pusher (core/runtime/rollout.py) signals only the workflows behind.
POLICY_VERSION = SearchAttributeKey.for_int("PolicyVersion")
MODEL_VERSION = SearchAttributeKey.for_int("ModelVersion")

ALL = (
    RISK_TIER,
    ENGAGEMENT_SCORE,
    LAST_ORDER_AT,
    AWAITING_APPROVAL,
    HOLDOUT_GROUP,
    NEEDS_ATTENTION,
    POLICY_VERSION,
    MODEL_VERSION,
)

# Names and types for `temporal server start-dev --search-attribute NAME=TYPE`.
DEV_SERVER_FLAGS = {
    "RiskTier": "Keyword",
    "EngagementScore": "Double",
    "LastOrderAt": "Datetime",
    "AwaitingApproval": "Bool",
    "HoldoutGroup": "Bool",
    "NeedsAttention": "Bool",
    "PolicyVersion": "Int",
    "ModelVersion": "Int",
}
