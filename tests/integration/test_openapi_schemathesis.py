"""Schemathesis run as an API client would: its CLI, every check and every phase (examples,
coverage, fuzzing, stateful), over HTTP with an admin key against the real stack (Temporal dev
server, worker, database), with the repository's own ``schemathesis.toml``.

That file says why each exception to a check is there (opaque cursors, a pause's future time,
per-item batch results). No request may be answered with a 5xx, disagree with the document
(status, content type, body, headers, ``Allow`` on a 405), be refused although the document
allows it, or be taken although the document forbids it. Seeded and bounded: the same cases
every run.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode

from tests.integration.conftest import Stack

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("schemathesis")
# The file's 30 examples an operation is what `make run` is checked with; CI takes a third of it.
MAX_EXAMPLES = 10


async def test_openapi_schemathesis_every_check_and_phase_passes(stack: Stack, tmp_path: Path) -> None:
    # The cases are seeded, so a defect in the API or its document fails every run. A failure
    # that a second run does not repeat came from the shared machine's load (once in about ten
    # runs here, not reproduced since): the first run's output is printed, the second decides.
    text = await _run(stack, tmp_path / "first")
    if _failed(text):
        sys.stdout.write(f"first run failed, running again:\n{text[-20000:]}\n")
        text = await _run(stack, tmp_path / "second")
    summary = text[text.rfind("SUMMARY") :] if "SUMMARY" in text else text[-4000:]
    assert not _failed(text), text[-20000:]
    assert "Failures:" not in summary, summary


def _failed(text: str) -> bool:
    summary = text[text.rfind("SUMMARY") :] if "SUMMARY" in text else ""
    return not summary or "Failures:" in summary or "Errors:" in summary


async def _run(stack: Stack, folder: Path) -> str:
    await asyncio.to_thread(folder.mkdir)
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "--no-color",
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{stack.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {stack.api_key}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        cwd=folder,  # its cache and reports stay out of the checkout
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    finally:
        await _end_workflows_started(stack)
    text = output.decode(errors="replace")
    return text if process.returncode == 0 else f"{text}\n(exit status {process.returncode})\nSUMMARY Errors:"


async def _end_workflows_started(stack: Stack) -> None:
    """Terminate the run's workflows. The generated ids ("0", "c-1001") repeat across runs on the
    session's one dev server: a client's workflow left running on this stack's task queue, whose
    worker is gone once the test ends, would make the next run's updates to it wait (503)."""
    temporal = stack.settings.temporal
    queues = ", ".join(f"'{q}'" for q in (temporal.task_queue, stack.settings.webhooks.task_queue))
    query = f"TaskQueue IN ({queues}) AND ExecutionStatus = 'Running'"
    async for execution in stack.temporal.list_workflows(query):
        handle = stack.temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.terminate("the schemathesis run is over")
        except RPCError as exc:  # it completed between the listing and now
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
