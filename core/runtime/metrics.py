"""Application metrics (Prometheus): what Rekindle did, by outcome.

Every process exposes the default ``prometheus_client`` registry: the API on
``/metrics``, the worker on its metrics port (``worker/metrics.py``, which also
folds in the Temporal SDK's own metrics). Labels are small closed sets (tiers,
generators, outcomes, route templates), never client ids or addresses.

Who increments what (the activity that does the thing, once it has done it):

- ``ORDERS_ACCEPTED``      API ingest route, after Temporal accepted the signal
- ``ORDERS_RECORDED``      ``record_order``/``record_orders`` activities (``result``: inserted | duplicate)
- ``RESCORES``             ``rescore_client`` activity (``tier``)
- ``DRAFTS``               ``draft_email`` activity (``generator``: llm | template, ...)
- ``APPROVALS``            approval Updates / auto-approve / expiry (``decision``)
- ``SENDS``                ``send_email`` activity (``outcome``: sent | unknown | failed | suppressed)
- ``SUPPRESSIONS``         unsubscribe and bounce handling (``reason``)
- ``LLM_LATENCY``, ``LLM_TOKENS``   the LLM drafter, per call
- ``SMTP_LATENCY``         the SMTP sender, per delivery attempt
- ``HTTP_REQUESTS``, ``HTTP_LATENCY``  the API's access-log middleware
- ``PLAINTEXT_PAYLOADS``   the worker's codec, per unencrypted payload it decoded (a hand-sent signal)
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest

ORDERS_ACCEPTED = Counter(
    "rekindle_orders_accepted", "Orders accepted by the API (signal persisted by Temporal)"
)
ORDERS_RECORDED = Counter(
    "rekindle_orders_recorded", "Orders written to the read model by record_order/record_orders", ["result"]
)
PLAINTEXT_PAYLOADS = Counter(
    "rekindle_plaintext_payloads_decoded",
    "Unencrypted payloads the worker decoded (sent without the codec, e.g. by hand with the CLI)",
)
RESCORES = Counter("rekindle_rescores", "Client rescores, by resulting risk tier", ["tier"])
DRAFTS = Counter("rekindle_drafts", "Email drafts produced, by generator", ["generator"])
APPROVALS = Counter(
    "rekindle_approvals", "Draft decisions: approved, auto_approved, rejected, expired", ["decision"]
)
SENDS = Counter("rekindle_sends", "Send attempts finished, by outcome", ["outcome"])
SUPPRESSIONS = Counter(
    "rekindle_suppressions", "Addresses added to the suppression list, by reason", ["reason"]
)
LLM_LATENCY = Histogram(
    "rekindle_llm_request_seconds",
    "Latency of LLM drafting calls",
    ["outcome"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
LLM_TOKENS = Counter("rekindle_llm_tokens", "LLM tokens used, prompt and completion", ["kind"])
SMTP_LATENCY = Histogram(
    "rekindle_smtp_send_seconds",
    "Latency of SMTP deliveries",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
HTTP_REQUESTS = Counter(
    "rekindle_http_requests", "HTTP requests answered by the API", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "rekindle_http_request_seconds",
    "HTTP request duration in the API",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry in Prometheus text format."""
    return _generate_latest(registry)


ORDERS_UNAVAILABLE = Counter(
    "rekindle_orders_unavailable", "Orders the API could not hand to Temporal (answered 503)"
)
