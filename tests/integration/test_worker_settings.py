"""The worker built from settings, against the real dev server."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from core.contracts.model import RefitModelInput
from core.runtime.settings import Settings
from core.store.db import create_engine, session_factory
from tests.helpers import unique_id
from worker import registry
from worker.main import build_workers
from workflows.refit import RefitModelWorkflow

pytestmark = pytest.mark.temporal


async def test_worker_cache_size_follows_settings(dev_env: WorkflowEnvironment, settings: Settings) -> None:
    """The main worker keeps as many client workflows in memory as the settings say."""
    worker = settings.worker.model_copy(update={"max_cached_workflows": 5000})
    sized = settings.model_copy(update={"worker": worker})
    engine = create_engine(sized.database)
    try:
        deps = registry.Dependencies(settings=sized, sessions=session_factory(engine))
        main, *_ = build_workers(dev_env.client, deps)
        assert main.config()["max_cached_workflows"] == 5000
    finally:
        await engine.dispose()


async def test_worker_build_id_is_stamped_on_each_workflow_task(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """REKINDLE_WORKER__BUILD_ID names the code that completed each workflow task (unversioned)."""
    worker_settings = settings.worker.model_copy(update={"build_id": "abc1234"})
    built = settings.model_copy(update={"worker": worker_settings})
    engine = create_engine(built.database)
    workflow_id = unique_id("refit-build")
    try:
        deps = registry.Dependencies(settings=built, sessions=session_factory(engine))
        main, *_ = build_workers(dev_env.client, deps)
        async with main:
            await dev_env.client.execute_workflow(
                RefitModelWorkflow.run, RefitModelInput(), id=workflow_id, task_queue=main.task_queue
            )
    finally:
        await engine.dispose()
    history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
    stamps = {
        (attrs.worker_deployment_name, attrs.worker_version.build_id)
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
        for attrs in [e.workflow_task_completed_event_attributes]
    }
    assert stamps == {("rekindle", "abc1234")}
