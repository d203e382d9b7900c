"""trade/ is a rail-level service: it may use corridor.money and the standard library, nothing above or beside it,
so the orchestration that moves money can call into it and never the other way round."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import corridor.trade

ALLOWED = {"corridor.money", "corridor.trade"}


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def test_trade_imports_only_money_and_the_standard_library() -> None:
    package = Path(corridor.trade.__file__).parent
    outside = {
        f"{path.name}: {name}"
        for path in sorted(package.glob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "__future__"
        and not any(name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED)
    }
    assert outside == set()


def test_the_public_surface_is_importable_from_the_package() -> None:
    for name in corridor.trade.__all__:
        assert getattr(corridor.trade, name) is not None
