"""The folder layout is the architecture (ARCHITECTURE.md, "Layers and dependency direction"): dependencies point
down only. Each package here may import nothing of the packages listed above it, at any depth, lazily or not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import corridor

SRC = Path(corridor.__file__).parent
ENTRY = {"api", "cli", "bench", "chaos", "web"}
"""The entry points and the HTTP layer: nothing below imports them."""
RAILS = {"transfers", "rtgs", "fx", "cards", "digital"}
FORBIDDEN = {
    "node": ENTRY,
    **{rail: ENTRY | {"node"} for rail in RAILS},
    "trade": ENTRY | {"node"} | RAILS,
    "network": ENTRY | {"node", "trade"} | RAILS,
    "compliance": ENTRY | {"node", "trade", "network"} | RAILS,
    "iso20022": ENTRY | {"node", "trade", "network", "compliance"} | RAILS,
    "ledger": ENTRY | {"node", "trade", "network", "compliance", "iso20022", "scenario"} | RAILS,
}


def corridor_imports(path: Path) -> set[str]:
    """The corridor packages a module imports (the second part of each dotted name)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[1] for name in names if name.startswith("corridor.") and name.count(".") >= 1}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_of_the_layers_above_it(package: str) -> None:
    wrong = {
        f"{path.relative_to(SRC)} imports corridor.{name}"
        for path in sorted((SRC / package).rglob("*.py"))
        for name in corridor_imports(path) & FORBIDDEN[package]
    }
    assert wrong == set()
