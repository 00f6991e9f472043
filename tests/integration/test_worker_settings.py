"""The worker built from settings, against the real dev server."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from core.db import create_engine, session_factory
from core.settings import Settings
from worker import registry
from worker.main import build_workers

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
