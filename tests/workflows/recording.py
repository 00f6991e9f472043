"""Recording histories for the replay tests: the corpus is a compatibility contract.

``REKINDLE_RECORD_HISTORIES=1`` makes the scenario tests write their histories (SQLite
runs only) into ``tests/workflows/histories/<version>/``: the version is
``REKINDLE_HISTORY_VERSION`` or today's UTC date. Committed histories are never
rewritten: a file that exists already is refused, so recording again on the same
day needs a new version name. Every folder is replayed by ``test_replay.py``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client, WorkflowHistory

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("REKINDLE_RECORD_HISTORIES") == "1"


def version_dir(root: Path = HISTORIES) -> Path:
    version = os.environ.get("REKINDLE_HISTORY_VERSION") or datetime.now(UTC).date().isoformat()
    return root / version


def write_history(history: WorkflowHistory, path: Path) -> None:
    """Write one history as compact JSON; refuse to replace a recorded one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compact = json.dumps(history.to_json_dict(), separators=(",", ":"))
    try:
        with path.open("x") as file:
            file.write(compact + "\n")
    except FileExistsError:
        raise FileExistsError(
            f"{path} is part of the committed corpus and is never rewritten: record into a new "
            "version folder (REKINDLE_HISTORY_VERSION=...)"
        ) from None


async def record_chain(client: Client, workflow_id: str, first_run_id: str | None, stem: str) -> None:
    """Every run of one workflow from ``first_run_id`` (None: the latest), as ``<stem>-run<i>.json``."""
    runs = [await client.get_workflow_handle(workflow_id, run_id=first_run_id).fetch_history()]
    while (run_id := _continued_as(runs[-1])) is not None:
        runs.append(await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history())
    directory = version_dir()
    for i, history in enumerate(runs):
        if not any(e.HasField("workflow_task_completed_event_attributes") for e in history.events):
            continue  # a run that has only just started: nothing to replay yet
        write_history(history, directory / f"{stem}-run{i}.json")


def _continued_as(history: WorkflowHistory) -> str | None:
    last = history.events[-1]
    if last.HasField("workflow_execution_continued_as_new_event_attributes"):
        run: str = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        return run
    return None
