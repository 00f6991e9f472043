"""The pusher: tell every running client workflow that a newer policy or model exists.

One Temporal batch operation (``StartBatchOperation``) signals ``policy_changed`` to every
running client workflow whose ``PolicyVersion``/``ModelVersion`` search attributes are behind,
asleep or not. The server walks the visibility query and delivers the signals at its own
bounded rate: no process of ours holds a list of a million workflow ids, and a crash of the
caller loses nothing once the job is accepted.

Idempotent: the job id is made of the two versions, so starting the same rollout twice is
``ALREADY_EXISTS`` (answered as ``"already_started"``). The namespace runs one batch job at a
time by default, so a newer rollout stops an older one of ours first: its query covers every
workflow the older one had still to reach. The signal carries the policy document and the
model version; a workflow keeps only what is newer than what it has, so repeats and
reordering are harmless, and workflows started after the query ran load the current policy
(``load_policy``) when they start.

Scaling: delivery is limited by ``max_operations_per_second`` and by how fast workers finish
the workflow tasks the signals create (see ``bench/policy_rollout.py``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from temporalio.api.batch.v1 import BatchOperationSignal
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import BatchOperationState
from temporalio.api.workflowservice.v1 import (
    ListBatchOperationsRequest,
    StartBatchOperationRequest,
    StopBatchOperationRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.contracts.messages import CLIENT_WORKFLOW
from core.contracts.policy import SIGNAL_POLICY_CHANGED, LivePolicy, PolicyChanged
from core.domain.search_attributes import MODEL_VERSION, POLICY_VERSION

JOB_PREFIX = "rekindle-rollout-"
SAFE_NAME = re.compile(r"[A-Za-z0-9._:/-]{1,255}")
DEFAULT_RPS = 1000.0
START_ATTEMPTS = 6
Outcome = Literal["started", "already_started"]


@dataclass(frozen=True)
class Rollout:
    job_id: str
    outcome: Outcome
    query: str


def behind_query(
    policy_version: int,
    model_version: int,
    workflow_type: str = CLIENT_WORKFLOW,
    task_queue: str | None = None,
) -> str:
    """Running client workflows that have not adopted both versions yet; with ``task_queue``,
    only this deployment's (another Rekindle sharing the namespace keeps its own policy)."""
    p, m = int(policy_version), int(model_version)
    pv, mv = POLICY_VERSION.name, MODEL_VERSION.name
    query = (
        f"WorkflowType = '{_literal(workflow_type)}' AND ExecutionStatus = 'Running' AND "
        f"({pv} IS NULL OR {pv} < {p} OR {mv} IS NULL OR {mv} < {m})"
    )
    return f"{query} AND TaskQueue = '{_literal(task_queue)}'" if task_queue is not None else query


def _literal(text: str) -> str:
    """A name safe inside a visibility query's quotes (queue and type names never need more)."""
    if not SAFE_NAME.fullmatch(text):
        raise ValueError(f"not usable in a visibility query: {text!r}")
    return text


def job_id(policy_version: int, model_version: int, stamp: int = 0) -> str:
    """One job per pair of versions; ``stamp`` (when the policy version was saved) keeps two
    databases that share a namespace (tests, a restored backup) from taking each other's job."""
    suffix = f"-{int(stamp)}" if stamp else ""
    return f"{JOB_PREFIX}p{int(policy_version)}-m{int(model_version)}{suffix}"


async def push_versions(
    client: Client,
    live: LivePolicy,
    model_version: int,
    *,
    rps: float = DEFAULT_RPS,
    workflow_type: str = CLIENT_WORKFLOW,
    stamp: int = 0,
    task_queue: str | None = None,
) -> Rollout:
    """Start the batch signal for these versions (see the module docstring); ``task_queue``
    limits it to the workflows of the deployment whose main queue that is."""
    policy_version = live.version
    query = behind_query(policy_version, model_version, workflow_type, task_queue)
    job = job_id(policy_version, model_version, stamp)
    signal = PolicyChanged(policy=live, model_version=model_version)
    request = StartBatchOperationRequest(
        namespace=client.namespace,
        visibility_query=query,
        job_id=job,
        reason=f"policy v{policy_version}, model v{model_version}",
        max_operations_per_second=rps,
        signal_operation=BatchOperationSignal(
            signal=SIGNAL_POLICY_CHANGED,
            input=Payloads(payloads=await client.data_converter.encode([signal])),
            identity=client.identity,
        ),
    )
    for attempt in range(START_ATTEMPTS):
        try:
            await client.workflow_service.start_batch_operation(request)
            return Rollout(job, "started", query)
        except RPCError as exc:
            if exc.status == RPCStatusCode.ALREADY_EXISTS:
                return Rollout(job, "already_started", query)
            if exc.status != RPCStatusCode.RESOURCE_EXHAUSTED or attempt == START_ATTEMPTS - 1:
                raise
        # A stopped job frees its slot a moment later: stop ours, then try again shortly.
        await stop_older_rollouts(client, keep=job)
        await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def fan_out(
    client: Client,
    live: LivePolicy,
    model_version: int,
    *,
    concurrency: int = 32,
    workflow_type: str = CLIENT_WORKFLOW,
    task_queue: str | None = None,
) -> int:
    """The same signal sent by this process instead of a batch job: list the workflows behind
    and signal each, ``concurrency`` at a time; how many were signalled. For comparison (the
    bench) and for servers without batch operations: a crash midway needs a re-run, which
    reaches only the workflows still behind."""
    signal = PolicyChanged(policy=live, model_version=model_version)
    query = behind_query(live.version, model_version, workflow_type, task_queue)
    slots = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []

    async def send(workflow_id: str) -> None:
        async with slots:
            try:
                await client.get_workflow_handle(workflow_id).signal(SIGNAL_POLICY_CHANGED, signal)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:  # closed meanwhile: nothing to tell
                    raise

    async for execution in client.list_workflows(query, page_size=1000):
        tasks.append(asyncio.create_task(send(execution.id)))
    await asyncio.gather(*tasks)
    return len(tasks)


async def stop_older_rollouts(client: Client, keep: str) -> int:
    """Stop our running rollout jobs other than ``keep``; how many were stopped."""
    listed = await client.workflow_service.list_batch_operations(
        ListBatchOperationsRequest(namespace=client.namespace, page_size=100)
    )
    stopped = 0
    for op in listed.operation_info:
        running = op.state == BatchOperationState.BATCH_OPERATION_STATE_RUNNING
        if running and op.job_id.startswith(JOB_PREFIX) and op.job_id != keep:
            await client.workflow_service.stop_batch_operation(
                StopBatchOperationRequest(
                    namespace=client.namespace,
                    job_id=op.job_id,
                    reason=f"superseded by {keep}",
                    identity=client.identity,
                )
            )
            stopped += 1
    return stopped
