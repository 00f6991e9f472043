"""The prebuilt start of a client workflow: the same config and attributes as building them per call."""

from __future__ import annotations

from core.runtime.settings import PolicySettings, Settings
from core.runtime.workflow_config import WorkflowStart, initial_search_attributes, workflow_config


def test_workflow_start_matches_per_call_construction() -> None:
    settings = Settings(policy=PolicySettings(holdout_fraction=0.3))
    start = WorkflowStart.from_settings(settings)
    assert start.config == workflow_config(settings.policy, settings.temporal, settings.api.public_base_url)
    assert start.task_queue == settings.temporal.task_queue
    ids = [f"c-{i}" for i in range(500)]
    for client_id in ids:
        assert start.search_attributes(client_id) == initial_search_attributes(client_id, start.config)
    holdout = sum(start.search_attributes(c) is start.holdout_attributes for c in ids)
    assert 100 < holdout < 200  # both sets are in use (about 30% held out)
