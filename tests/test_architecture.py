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
# core's layers and what each may import of core. Domain code and contracts are pure (the
# workflow sandbox loads them); the store (database) and the runtime (settings, logging,
# Temporal connections, codecs) do I/O and may use each other.
CORE_LAYERS = {
    "domain": {"domain", "contracts"},
    "contracts": {"domain", "contracts"},
    "store": {"domain", "contracts", "store", "runtime"},
    "runtime": {"domain", "contracts", "store", "runtime"},
}
IO_LAYERS = ("core.store", "core.runtime")
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
            if name.startswith(IO_LAYERS) or name.split(".")[0] in IO_LIBRARIES:
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def _module_file(name: str) -> Path | None:
    for path in (ROOT / f"{name.replace('.', '/')}.py", ROOT / name.replace(".", "/") / "__init__.py"):
        if path.exists():
            return path
    return None


def _imports_with_names(path: Path) -> set[str]:
    """Like ``_imports``, plus ``module.name`` for ``from module import name`` (a submodule)."""
    names = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_architecture_workflow_code_is_pure_all_the_way_down() -> None:
    """Everything workflow code imports, and everything that imports in turn (our modules, the
    whole closure), stays off the database, the network and the settings: what the sandbox
    loads for a workflow must be deterministic, not just the workflow modules themselves."""
    closure: dict[str, set[str]] = {}
    pending = [f"workflows.{path.stem}" for path in _files("workflows")]
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in closure or path is None:
            continue
        closure[name] = _imports_with_names(path)
        pending += [i for i in closure[name] if i.split(".")[0] in OURS and i not in closure]
    assert {
        "workflows.client",
        "core.contracts.messages",
        "core.contracts.state",
        "core.domain.policy",
    } <= set(closure)
    violations = sorted(
        f"{module} imports {name}"
        for module, names in closure.items()
        for name in names
        if name.split(".")[0] in IO_LIBRARIES or name.startswith(IO_LAYERS)
    )
    assert violations == []
    assert not [module for module in closure if module.startswith(IO_LAYERS)]


def test_architecture_core_has_four_layers_and_each_imports_only_what_it_may() -> None:
    """Every module of core lives in a layer (no loose modules beside them), and pure layers
    import neither the database nor the network, directly or through another layer."""
    loose = sorted(path.name for path in (ROOT / "core").glob("*.py") if path.name != "__init__.py")
    assert loose == []
    assert sorted(
        p.name for p in (ROOT / "core").iterdir() if p.is_dir() and p.name != "__pycache__"
    ) == sorted(CORE_LAYERS)
    violations = []
    for layer, allowed in CORE_LAYERS.items():
        for path in _files(f"core/{layer}"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "core" and len(parts) > 1 and parts[1] not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} ({layer}) imports {name}")
                if layer in ("domain", "contracts") and parts[0] in IO_LIBRARIES - {"os"}:
                    violations.append(f"{path.relative_to(ROOT)} ({layer}) imports {name}")
    assert violations == []


# The CLI modules that host the API itself (``rekindle api``, ``rekindle up``).
CLI_SERVING_THE_API = {"cli/main.py", "cli/devstack.py"}


def test_architecture_http_stays_in_the_api() -> None:
    """The CLI talks to workflows through ``core.runtime.client_workflow`` (domain errors), never
    through the API's modules and their HTTP statuses."""
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files("cli")
        if str(path.relative_to(ROOT)) not in CLI_SERVING_THE_API
        for name in _imports(path)
        if name.split(".")[0] == "api"
    ]
    assert violations == []


# Calls and keywords that take a client workflow message's name.
_MESSAGE_CALLS = {
    "signal",
    "query",
    "execute_update",
    "start_update",
    "signal_with_start",
    "decide_email",
    "_update",
}
_MESSAGE_KEYWORDS = {"name", "start_signal", "signal", "update", "query"}


def _message_constant(name: str) -> bool:
    return name.startswith(("SIGNAL_", "UPDATE_", "QUERY_")) and not name.startswith("UPDATE_ERROR_")


def test_architecture_client_workflow_message_names_are_spelled_once() -> None:
    """Signal, update and query names live in ``core/contracts/messages.py``; everyone else imports them,
    so a rename cannot leave the API, the dashboard or a bench talking to a name nobody handles."""
    contracts = ast.parse((ROOT / "core" / "contracts" / "messages.py").read_text())
    names = {
        node.value.value
        for node in contracts.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(
            isinstance(t, ast.Name) and t.id.startswith(("SIGNAL_", "UPDATE_", "QUERY_"))
            for t in node.targets
        )
        and not any(isinstance(t, ast.Name) and t.id.startswith("UPDATE_ERROR_") for t in node.targets)
    }
    assert {"order_placed", "approve_email", "state"} <= names
    spelled: list[str] = []
    for package in ("api", "cli", "bench", "workflows", "worker", "core", "activities", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "core" / "contracts" / "messages.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                values = [k.value for k in node.keywords if k.arg in _MESSAGE_KEYWORDS]
                if called in _MESSAGE_CALLS:
                    values += node.args
                spelled += [
                    f"{path.relative_to(ROOT)}:{v.lineno} {v.value!r}"
                    for v in values
                    if isinstance(v, ast.Constant) and v.value in names
                ]
    assert spelled == []
