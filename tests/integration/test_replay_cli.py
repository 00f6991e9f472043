"""``rekindle replay`` against the real dev server: fetch by id and query, save, exit codes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.refit import RefitActivities
from cli.replay import Request, run_request
from cli.replay_sources import Outcome
from core.contracts.model import RefitModelInput
from core.runtime.codec import ENCODING
from core.runtime.settings import Settings
from tests.helpers import TEST_CODEC_KEY_ID, TEST_CODEC_KEYS, free_port, new_worker, unique_id
from workflows.refit import RefitModelWorkflow

pytestmark = [pytest.mark.temporal]
REKINDLE = str(Path(sys.executable).parent / "rekindle")
CORPUS = Path(__file__).parent.parent / "workflows" / "histories" / "2026-11-29"


async def _refit_run(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> str:
    """A finished refit workflow on the dev server (thin data: fit, nothing stored)."""
    acts = RefitActivities(sessions)
    workflow_id = unique_id("refit-replay")
    async with new_worker(
        env.client, workflows=[RefitModelWorkflow], activities=[acts.fit_model, acts.store_model_parameters]
    ) as worker:
        await env.client.execute_workflow(
            RefitModelWorkflow.run, RefitModelInput(), id=workflow_id, task_queue=worker.task_queue
        )
    return workflow_id


def _env(address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_TEMPORAL__ADDRESS": address,
            "REKINDLE_SECURITY__CODEC_KEYS": TEST_CODEC_KEYS,
            "REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID": TEST_CODEC_KEY_ID,
        }
    )
    return env


async def _rekindle(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        REKINDLE, "replay", *args, env=env, cwd=cwd, stdout=PIPE, stderr=PIPE
    )
    out, _err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines()


async def test_replay_fetches_by_id_and_query_and_saves_encrypted_histories(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
) -> None:
    workflow_id = await _refit_run(dev_env, sessions)
    address = dev_env.client.service_client.config.target_host
    settings = settings.model_copy(
        update={"temporal": settings.temporal.model_copy(update={"address": address})}
    )
    outcomes: list[Outcome] = []
    totals: list[int] = []
    saved = tmp_path / "saved"
    by_id = Request(ids=[workflow_id, "no-such-workflow"], save=saved)
    await run_request(settings, by_id, outcomes.append, totals.append)
    by_query = Request(ids=[], query=f"WorkflowId = '{workflow_id}'")
    await run_request(settings, by_query, outcomes.append, totals.append)

    assert totals == [2, 1]
    assert sorted((o.workflow_id, o.kind) for o in outcomes) == [
        ("no-such-workflow", "error"),
        (workflow_id, "replayed"),
        (workflow_id, "replayed"),
    ]
    [file] = list(saved.iterdir())
    assert file.name.startswith(f"{workflow_id}_")
    history = json.loads(file.read_text())
    payload = history["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING

    from_dir: list[Outcome] = []
    await run_request(settings, Request(ids=[], directory=saved), from_dir.append, totals.append)
    assert [(o.workflow_id, o.kind) for o in from_dir] == [(workflow_id, "replayed")]


@pytest.mark.slow
async def test_replay_command_exit_status_and_last_line(
    dev_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    workflow_id = await _refit_run(dev_env, sessions)
    env = _env(dev_env.client.service_client.config.target_host)
    status, lines = await _rekindle(env, tmp_path, workflow_id)
    assert (status, json.loads(lines[-1])) == (0, {"replayed": 1, "nondeterministic": 0, "errors": 0})

    # A history whose first activity has another type than today's code schedules there.
    doctored = tmp_path / "doctored"
    doctored.mkdir()
    source = next(CORPUS.glob("*monthly*"))
    history = json.loads(source.read_text())
    scheduled = next(e for e in history["events"] if "activityTaskScheduledEventAttributes" in e)
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "renamed_activity"
    (doctored / "client-c-7.json").write_text(json.dumps(history))
    (doctored / source.name).write_text(source.read_text())
    status, lines = await _rekindle(env, tmp_path, "--dir", str(doctored))
    assert status == 1
    assert json.loads(lines[-1]) == {"replayed": 1, "nondeterministic": 1, "errors": 0}
    assert lines[0].startswith("nondeterministic: client-c-7 ")
    assert "renamed_activity" in lines[0]

    status, lines = await _rekindle(_env(f"127.0.0.1:{free_port()}"), tmp_path, "--all")
    assert status == 2
    assert json.loads(lines[-1]) == {"replayed": 0, "nondeterministic": 0, "errors": 0}
