"""Replay: today's workflow code must reproduce every committed history exactly.

The corpus under ``histories/`` is a compatibility contract: one folder per code
version that recorded it (``recording.py``), never rewritten, every folder replayed
here (client and refit workflows) with the production data converter and the
sandbox on. A behaviour change that fails here goes behind ``workflow.patched``
(``docs/versioning.md``); new scenarios add files in a new folder.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cli import replay_pool
from cli.replay import Request, new_replayer, replay_all, run_request
from cli.replay_pool import ReplayPool, helpers_for
from cli.replay_sources import Outcome, SourceError, history_files, read_files
from core.contracts.messages import CLIENT_WORKFLOW
from core.contracts.model import REFIT_WORKFLOW
from core.runtime.codec import new_key
from core.runtime.settings import SecuritySettings, Settings
from core.runtime.temporal import data_converter
from tests.helpers import TEST_CODEC_KEY_ID, TEST_SECURITY, session_codec
from tests.workflows.incompatible import PatchedClientWorkflow, ReorderedClientWorkflow
from tests.workflows.recording import HISTORIES as ROOT
from tests.workflows.recording import version_dir, write_history
from workflows.registered import REPLAYABLE

# The production converter: payloads in the committed histories are encrypted with the test key.
CONVERTER = data_converter(session_codec())
HISTORIES = sorted(ROOT.rglob("*.json"))
FIRST_VERSION = ROOT / "2026-11-29"
WORKFLOW_CODE = Path(__file__).parents[2] / "workflows"


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(path: Path) -> str:
    started = load(path).events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def test_replay_histories_are_committed_in_version_folders() -> None:
    assert all(p.parent.parent == ROOT for p in HISTORIES), "every history lives in a version folder"
    assert len(list(FIRST_VERSION.glob("*.json"))) == 20  # the corpus this contract started with
    types = {workflow_type(p) for p in HISTORIES}
    assert types == {CLIENT_WORKFLOW, REFIT_WORKFLOW}


def patch_ids_in_code() -> set[str]:
    """Every id the workflow code passes to ``workflow.patched``/``deprecate_patch``: a string
    literal, or a module-level constant holding one."""
    ids: set[str] = set()
    for source in WORKFLOW_CODE.glob("*.py"):
        tree = ast.parse(source.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"patched", "deprecate_patch"}
                and node.args
            ):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    ids.add(arg.value)
                elif isinstance(arg, ast.Name):
                    ids.add(constants[arg.id])
    return ids


def patch_ids_recorded() -> set[str]:
    """Patch markers in the committed corpus (written by the SDK's core, never encrypted)."""
    ids: set[str] = set()
    for path in HISTORIES:
        for event in load(path).events:
            if event.HasField("marker_recorded_event_attributes"):
                marker = event.marker_recorded_event_attributes
                for payload in marker.details["patch-data"].payloads:
                    ids.add(json.loads(payload.data)["id"])
    return ids


def test_replay_corpus_takes_every_patched_branch() -> None:
    """A patch whose new branch no committed history takes could be removed (or broken) without
    CI noticing: record a scenario that takes it (docs/versioning.md, section 4)."""
    in_code = patch_ids_in_code()
    assert {"client-facts-on-fresh-run", "record-orders-in-batches"} <= in_code  # the scan works
    assert in_code - patch_ids_recorded() == set()


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_replay_history_is_deterministic(path: Path) -> None:
    replayer = Replayer(workflows=REPLAYABLE, data_converter=CONVERTER)  # every workflow the workers run
    await replayer.replay_workflow(load(path))


async def test_replay_catches_an_incompatible_change() -> None:
    history = load(next(p for p in HISTORIES if "monthly" in p.name))
    replayer = Replayer(workflows=[ReorderedClientWorkflow], data_converter=CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError)


async def _replay_dir(directory: Path, workflows: list[type]) -> list[Outcome]:
    """What ``rekindle replay --dir`` does, with another version of the workflow code."""
    outcomes: list[Outcome] = []
    settings = Settings(_env_file=None, security=TEST_SECURITY)
    items = read_files(history_files(directory))
    await replay_all(items, settings, outcomes.append, replayer=new_replayer(settings, workflows))
    return outcomes


async def test_replay_dir_fails_on_a_new_timer_and_passes_once_it_is_patched(tmp_path: Path) -> None:
    """The worked example of docs/versioning.md: a timer added at the top of ``run``."""
    for path in FIRST_VERSION.glob("*monthly*"):
        shutil.copy(path, tmp_path)

    careless = await _replay_dir(tmp_path, [ReorderedClientWorkflow])
    assert [o.kind for o in careless] == ["nondeterministic"]
    assert careless[0].workflow_id == "test_client_monthly_orders_stay_active_all_year_without_email-0-run0"
    assert "code issued StartTimer" in careless[0].detail
    assert "ActivityTaskScheduled" in careless[0].detail  # the event the old code recorded there

    patched = await _replay_dir(tmp_path, [PatchedClientWorkflow])
    assert [o.kind for o in patched] == ["replayed"]


def test_replay_recorder_never_overwrites_a_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_HISTORY_VERSION", "v-test")
    target = version_dir(tmp_path) / "scenario-0-run0.json"
    history = load(HISTORIES[0])
    write_history(history, target)
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="never rewritten"):
        write_history(history, target)
    assert target.read_bytes() == before
    assert target.parent == tmp_path / "v-test"


async def test_replay_dir_reports_a_history_it_cannot_decode(tmp_path: Path) -> None:
    shutil.copy(next(FIRST_VERSION.glob("*monthly*")), tmp_path)
    wrong_key = SecuritySettings(codec_keys=SecretStr(f"{TEST_CODEC_KEY_ID}:{new_key()}"))
    settings = Settings(_env_file=None, security=wrong_key)
    outcomes: list[Outcome] = []
    await replay_all(read_files(history_files(tmp_path)), settings, outcomes.append)
    assert [(o.kind, o.detail) for o in outcomes] == [
        ("error", f"DecryptionFailed: payload does not authenticate with key '{TEST_CODEC_KEY_ID}'")
    ]


async def test_replay_beside_a_helper_process_reports_every_history_of_the_corpus_once() -> None:
    """``--processes 2``: this process and a helper (its own replayer, the same converter and
    codec) take histories from one queue. Here this process replays with incompatible code, so
    what it took fails and what the helper took replays: both lanes worked, none twice."""
    settings = Settings(_env_file=None, security=TEST_SECURITY)
    outcomes: list[Outcome] = []
    here = new_replayer(settings, [ReorderedClientWorkflow])
    with ReplayPool(settings, 1) as pool:
        await pool.started()
        items = read_files(history_files(ROOT))
        await replay_all(items, settings, outcomes.append, pool=pool, replayer=here)
    assert sorted(o.workflow_id for o in outcomes) == sorted(p.stem for p in HISTORIES)
    kinds = {o.kind for o in outcomes}
    assert "replayed" in kinds, "the helper took none"
    assert kinds - {"replayed"}, "this process took none"


async def test_replay_beside_a_helper_reports_a_broken_source_as_itself() -> None:
    """The source failing mid-way (the server went away) ends the run with that error, as it
    does in one process (the CLI prints it and exits 2), not with a group of one."""
    settings = Settings(_env_file=None, security=TEST_SECURITY)

    async def breaking() -> AsyncIterator[WorkflowHistory | Outcome]:
        yield load(HISTORIES[0])
        raise SourceError("the server went away")

    with ReplayPool(settings, 1) as pool, pytest.raises(SourceError, match="went away"):
        await replay_all(breaking(), settings, lambda _outcome: None, pool=pool)


async def test_replay_request_starts_helpers_once_the_source_holds_enough_histories(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``rekindle replay --dir`` as it comes: the count known, a helper starts on the spare
    core (here for 10 histories or more) and every history is reported once."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(replay_pool, "HISTORIES_PER_HELPER", 10)
    opened: list[int] = []
    enter = replay_pool.ReplayPool.__enter__

    def recording_enter(self: replay_pool.ReplayPool) -> replay_pool.ReplayPool:
        opened.append(self.helpers)
        return enter(self)

    monkeypatch.setattr(replay_pool.ReplayPool, "__enter__", recording_enter)
    settings = Settings(_env_file=None, security=TEST_SECURITY)
    outcomes: list[Outcome] = []
    totals: list[int] = []
    await run_request(settings, Request(ids=[], directory=ROOT), outcomes.append, totals.append)
    assert opened == [1]
    assert totals == [len(HISTORIES)]
    assert sorted(o.workflow_id for o in outcomes) == sorted(p.stem for p in HISTORIES)
    assert {o.kind for o in outcomes} == {"replayed"}


@pytest.mark.parametrize(
    ("total", "processes", "cores", "helpers"),
    [
        (10_000, 3, 8, 2),  # asked for: this process and two helpers, whatever the count
        (5, 2, 1, 1),
        (199, None, 2, 0),  # automatic: a helper's start-up is not worth fewer than 200
        (200, None, 2, 1),
        (10_000, None, 2, 1),  # one per spare core
        (10_000, None, 1, 0),
        (650, None, 8, 3),  # one per 200 histories
    ],
)
def test_helper_processes(
    total: int, processes: int | None, cores: int, helpers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert helpers_for(total, processes) == helpers
