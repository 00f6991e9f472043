"""Every Temporal client the service builds encrypts payloads: checked on the source, so a new
call site cannot quietly connect without the codec."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "workflows", "activities", "worker", "api", "cli")


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def test_encryption_wiring_clients_come_from_core_temporal_connect() -> None:
    violations = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "core" / "runtime" / "temporal.py":
                continue
            for call in _calls(path):
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                name = _name(call)
                if name in {"Client.connect", "Client"} or name.endswith(".Client.connect"):
                    violations.append(
                        f"{where} builds a Temporal client itself; use core.runtime.temporal.connect"
                    )
                if name.split(".")[-1] == "connect" and call.args:
                    first = ast.unparse(call.args[0])
                    if first.endswith(".temporal"):
                        violations.append(f"{where} passes {first}; pass the whole Settings (codec)")
    assert violations == []
