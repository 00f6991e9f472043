"""The dependency rules of STYLE.md, checked on the source so they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"core", "workflows", "activities", "worker", "api", "cli"}

# package -> top-level packages of ours it must never import
FORBIDDEN = {
    "api": {"activities", "worker", "workflows", "cli"},
    "activities": {"api", "worker", "cli"},
    "workflows": {"api", "worker", "cli", "activities"},
    "core": {"api", "worker", "cli", "activities", "workflows"},
}
# modules a workflow may import from core: pure domain code and contracts, no I/O
WORKFLOW_CORE_ALLOWED_IO = {"core.db", "core.settings", "core.models", "core.temporal", "core.logging"}
IO_LIBRARIES = {"sqlalchemy", "httpx", "aiosmtplib", "openai", "smtplib", "requests", "socket", "os"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_architecture_dependency_direction(package: str) -> None:
    violations = []
    for path in _files(package):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def test_architecture_workflows_do_no_io() -> None:
    violations = []
    for path in _files("workflows"):
        for name in _imports(path):
            if name in WORKFLOW_CORE_ALLOWED_IO or name.split(".")[0] in IO_LIBRARIES:
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []
