"""A worker whose ``run()`` dies takes the process down (non-zero), never idles half-alive."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.helpers import new_worker
from worker.main import WorkerDied, run_workers
from workflows.client import ClientEngagementWorkflow

pytestmark = pytest.mark.temporal


async def test_worker_run_dying_raises_and_drains_the_others(dev_env: WorkflowEnvironment) -> None:
    healthy = new_worker(dev_env.client, workflows=[ClientEngagementWorkflow])
    # A namespace the server does not have: the worker's run() fails its start-up check.
    lost = Client(dev_env.client.service_client, namespace="no-such-namespace")
    dying = new_worker(lost, workflows=[ClientEngagementWorkflow])
    stop = asyncio.Event()  # never set: nobody asked them to stop
    with pytest.raises(WorkerDied, match=dying.task_queue):
        await asyncio.wait_for(run_workers([healthy, dying], stop), timeout=60)
    assert healthy.is_shutdown
