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

from tests.integration.conftest import Stack

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("schemathesis")
# The file's 30 examples an operation is what `make run` is checked with; CI takes a third of it.
MAX_EXAMPLES = 10


async def test_openapi_schemathesis_every_check_and_phase_passes(stack: Stack, tmp_path: Path) -> None:
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
        cwd=tmp_path,  # its cache and reports stay out of the checkout
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    summary = text[text.rfind("SUMMARY") :] if "SUMMARY" in text else text[-4000:]
    assert process.returncode == 0, text[-20000:]
    assert "Failures:" not in summary, summary
    assert "Errors:" not in summary, summary
