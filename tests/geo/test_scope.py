"""The one grid-scope rule (geo.scope.within) and that no module types its own."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from geo.scope import within

OFFICE, COMMUNITY, GRID = "410105001", "410105001001", "410105001001003"
SIBLING = "410105001002001"
ROOT = Path(__file__).resolve().parents[2]
# Every top-level package of the repository (the tests aside), so a package added or moved later is scanned too.
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


@pytest.mark.parametrize(("code", "scope", "inside"), [
    (GRID, OFFICE, True),  # a grid is within its office
    (GRID, COMMUNITY, True),  # and its community
    (GRID, GRID, True),  # and itself
    (COMMUNITY, GRID, False),  # a parent is not within its child
    (SIBLING, COMMUNITY, False),  # nor a sibling community's grid
    (GRID, None, True),  # the whole territory holds every grid
    (None, None, True),  # and what has no grid
    (None, OFFICE, False),  # a scoped user never sees what has no grid
])
def test_within_is_a_prefix_of_the_grid_code_tree(code: str | None, scope: str | None, inside: bool) -> None:
    assert within(code, scope) is inside


def _scope_name(node: ast.expr) -> str | None:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return name if name is not None and ("scope" in name or name in ("grid", "office")) else None


def test_no_module_types_its_own_scope_check() -> None:
    """``code.startswith(scope)`` belongs in geo.scope only; the SQL one (autoescape) is its translation."""
    assert {"geo", "dashboard", "alerts"} <= set(PACKAGES)
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "geo" / "scope.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "startswith" and node.args and _scope_name(node.args[0])
                        and not any(k.arg == "autoescape" for k in node.keywords)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], f"use geo.scope.within: {found}"
