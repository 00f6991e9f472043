"""Replay: today's workflow code must reproduce every committed history exactly.

Histories are recorded from the scenario tests (``REKINDLE_RECORD_HISTORIES=1 pytest
tests/workflows``) and replayed with the same data converter and the sandbox on. A
behaviour change that fails here needs ``workflow.patched`` (or a new history on purpose).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.temporal import data_converter
from tests.helpers import session_codec
from tests.workflows.incompatible import ReorderedClientWorkflow
from workflows.client import ClientEngagementWorkflow

# The production converter: payloads in the committed histories are encrypted with the test key.
CONVERTER = data_converter(session_codec())
HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_replay_histories_are_committed() -> None:
    assert len(HISTORIES) >= 13


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay_history_is_deterministic(path: Path) -> None:
    replayer = Replayer(workflows=[ClientEngagementWorkflow], data_converter=CONVERTER)
    await replayer.replay_workflow(load(path))


async def test_replay_catches_an_incompatible_change() -> None:
    history = load(next(p for p in HISTORIES if "monthly" in p.name))
    replayer = Replayer(workflows=[ReorderedClientWorkflow], data_converter=CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError)
