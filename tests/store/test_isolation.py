"""Only `store/` knows a storage technology: no other module imports its client libraries."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "eventd"
STORAGE_LIBRARIES = {"redis", "hiredis", "motor", "pymongo", "bson"}


def imported(path: Path) -> set[str]:
    """Return the top-level packages a module imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_outside_store_imports_a_storage_library() -> None:
    outside = [path for path in SRC.rglob("*.py") if path.relative_to(SRC).parts[0] != "store"]
    assert outside
    offenders = {
        str(path.relative_to(SRC)): sorted(imported(path) & STORAGE_LIBRARIES) for path in outside
    }
    assert {path: libs for path, libs in offenders.items() if libs} == {}


def test_the_store_does_import_them() -> None:
    # The check above reads imports as this test does: it would see them.
    found = set().union(*(imported(path) for path in (SRC / "store").rglob("*.py")))
    assert {"redis", "hiredis", "motor", "pymongo"} <= found
