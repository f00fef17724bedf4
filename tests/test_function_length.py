"""Functions a reader can hold: none in the integration longer than 50 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "fluvius"
MAX_LINES = 50


def long_functions() -> list[str]:
    """Every function or method over MAX_LINES lines, from its ``def`` to its last line."""
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_fifty_lines() -> None:
    assert not long_functions()
