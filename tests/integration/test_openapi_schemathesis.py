"""A property-based run of schemathesis against the app's own OpenAPI schema.

Every operation gets generated requests (valid and invalid), sent over HTTP with an
admin key to the real stack (Temporal dev server, worker, database); no response may
be a 5xx or disagree with the schema (status code, content type, body, headers). A 503 with
Retry-After (overload, documented) is retried twice before it counts.
Bounded: a fixed number of examples per operation, derandomized, no example database.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import Stack

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 20, schemathesis.GenerationMode.NEGATIVE: 10}


def _call(case: schemathesis.Case[Any], base_url: str, headers: dict[str, str]) -> Any:
    """The response, after up to two retries of a 503 with Retry-After: the documented answer
    of a loaded Temporal or database (the session's dev server also runs every other test's
    workflows and batch jobs), which a client retries. A 503 that persists still fails."""
    for attempt in range(3):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code != 503 or "retry-after" not in response.headers or attempt == 2:
            return response
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def _fuzz(raw: dict[str, Any], base_url: str, api_key: str) -> list[str]:
    schema = schemathesis.openapi.from_dict(raw)
    headers = {"authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err has no ok(): a broken schema fails here
        for mode, examples in EXAMPLES.items():

            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def run(case: schemathesis.Case[Any]) -> None:
                response = _call(case, base_url, headers)
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # negative mode: the operation has no input that could be invalid
            except Exception as exc:  # collect every operation's failure, then report all
                # A flaky failure (hypothesis' FlakyFailure) is a group: say what failed first.
                causes = [f"{type(e).__name__}: {e}" for e in getattr(exc, "exceptions", [])]
                failures.append(f"{operation.label} [{mode.value}]: {exc} {causes}".rstrip(" []"))
    return failures


async def test_openapi_schemathesis_finds_no_5xx_or_schema_violation(stack: Stack) -> None:
    raw = (await stack.anon.get("/openapi.json")).json()
    failures = await asyncio.to_thread(_fuzz, raw, stack.base_url, stack.api_key)
    assert failures == [], "\n\n".join(failures)
