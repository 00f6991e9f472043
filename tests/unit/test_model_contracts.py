"""The refit's wire models tolerate version skew, as the client workflow's do."""

from __future__ import annotations

from core.contracts.model import RefitModelInput
from core.runtime.temporal import data_converter


def test_refit_input_from_a_newer_sender_keeps_what_it_knows() -> None:
    """A schedule created by a newer deploy may carry a field this worker does not know."""
    converter = data_converter().payload_converter
    newer = converter.to_payloads([{"unit": "weeks", "batch_size": 10, "shards": 4}])
    [decoded] = converter.from_payloads(newer, [RefitModelInput])
    assert decoded == RefitModelInput(unit="weeks", batch_size=10)
