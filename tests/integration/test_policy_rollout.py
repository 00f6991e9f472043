"""The pusher on the real dev server: one batch signal reaches every sleeping workflow behind,
a repeat changes nothing, and a newer rollout takes over from a running older one."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.runtime.rollout import behind_query, fan_out, push_versions
from tests.fakes.rollout_probe import PROBE, RolloutProbeWorkflow, live, start_attributes
from tests.helpers import eventually, new_worker, unique_id

pytestmark = pytest.mark.temporal
# The dev server is shared by the session: versions unique to this test keep job ids apart.
_versions = itertools.count(int(time.time()) % 1_000_000 * 10)


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def _start_probes(client: Client, prefix: str, probes: list[tuple[str, int]]) -> None:
    """One probe workflow per (task queue, policy version), ids ``{prefix}-{i}``."""
    for i, (task_queue, version) in enumerate(probes):
        await client.start_workflow(
            PROBE, live(version), id=f"{prefix}-{i}", task_queue=task_queue,
            search_attributes=start_attributes(version, 0),
        )  # fmt: skip


async def test_rollout_reaches_every_sleeping_workflow_once(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    old, new, model = next(_versions), next(_versions), next(_versions)
    prefix = unique_id("probe")
    async with new_worker(client, workflows=[RolloutProbeWorkflow]) as worker:
        handles = [
            await client.start_workflow(
                PROBE,
                live(old),
                id=f"{prefix}-{i}",
                task_queue=worker.task_queue,
                search_attributes=start_attributes(old, 0),
            )
            for i in range(12)
        ]
        mine = f"WorkflowId STARTS_WITH '{prefix}'"
        await eventually(lambda: _count(client, f"{mine} AND PolicyVersion = {old}"), timeout=30)
        assert await _count(client, f"{mine} AND PolicyVersion = {old}") == 12

        rollout = await push_versions(client, live(new), model, workflow_type=PROBE)
        assert rollout.outcome == "started"
        assert rollout.query == behind_query(new, model, PROBE)

        async def adopted() -> bool:
            return await _count(client, f"{mine} AND PolicyVersion = {new} AND ModelVersion = {model}") == 12

        await eventually(adopted, timeout=60, interval=0.5)
        again = await push_versions(client, live(new), model, workflow_type=PROBE)
        assert again.outcome in ("already_started", "started")  # finished jobs may be re-run: harmless
        stale = await push_versions(client, live(old), 0, workflow_type=PROBE)
        assert stale.outcome in ("started", "already_started")
        await asyncio.sleep(0)
        for handle in handles:
            assert await handle.query("policy_version", result_type=int) == new
            await handle.terminate()


async def test_rollout_fan_out_signals_only_the_workflows_behind(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    old, new = next(_versions), next(_versions)
    prefix = unique_id("fan")
    async with new_worker(client, workflows=[RolloutProbeWorkflow]) as worker:
        await _start_probes(client, prefix, [(worker.task_queue, v) for v in (old, old, new)])
        mine = f"WorkflowId STARTS_WITH '{prefix}'"
        await eventually(lambda: _count(client, mine), timeout=30)

        async def listed() -> bool:
            return await _count(client, mine) == 3

        await eventually(listed, timeout=30)
        query = f"{behind_query(new, 0, PROBE)} AND {mine}"
        assert await _count(client, query) == 2

        async def adopted() -> bool:
            return await _count(client, f"{mine} AND PolicyVersion = {new}") == 3

        signalled = await fan_out(client, live(new), 0, workflow_type=PROBE)
        assert signalled >= 2
        await eventually(adopted, timeout=60, interval=0.5)
        for i in range(3):
            await client.get_workflow_handle(f"{prefix}-{i}").terminate()


async def test_rollout_for_a_task_queue_leaves_other_deployments_alone(dev_env: WorkflowEnvironment) -> None:
    """Two deployments share a namespace: a rollout scoped to one's main queue signals only its
    workflows (the API and the refit scope theirs to ``settings.temporal.task_queue``)."""
    client = dev_env.client
    old, new = next(_versions), next(_versions)
    prefix = unique_id("scoped")
    async with (
        new_worker(client, workflows=[RolloutProbeWorkflow]) as ours,
        new_worker(client, workflows=[RolloutProbeWorkflow]) as theirs,
    ):
        await _start_probes(client, prefix, [(w.task_queue, old) for w in (ours, ours, theirs)])
        mine = f"WorkflowId STARTS_WITH '{prefix}'"

        async def listed() -> bool:
            return await _count(client, f"{mine} AND PolicyVersion = {old}") == 3

        await eventually(listed, timeout=30)
        scoped = behind_query(new, 0, PROBE, ours.task_queue)
        assert await _count(client, f"{scoped} AND {mine}") == 2

        rollout = await push_versions(client, live(new), 0, workflow_type=PROBE, task_queue=ours.task_queue)
        assert rollout.query == scoped

        async def adopted() -> bool:
            return await _count(client, f"{mine} AND PolicyVersion = {new}") == 2

        await eventually(adopted, timeout=60, interval=0.5)
        other = client.get_workflow_handle(f"{prefix}-2")
        assert await other.query("policy_version", result_type=int) == old
        with pytest.raises(ValueError, match="visibility query"):
            behind_query(new, 0, PROBE, "queue' OR 1=1")
        for i in range(3):
            await client.get_workflow_handle(f"{prefix}-{i}").terminate()
