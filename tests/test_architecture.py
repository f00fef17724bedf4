"""The import rule of docs/architecture.md: a module imports only its own layer or those above."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "fluvius"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"api"}),
    frozenset(
        {
            "timeutil",
            "series",
            "meters",
            "queries",
            "aggregation",
            "late_data",
            "peak",
            "snapshot",
            "limiter",
            "tariffs",
            "pricing",
            "capacity",
        }
    ),
    frozenset({"const", "compat", "devices", "repairs", "entry_client", "naming", "notifications"}),
    frozenset(
        {
            "statistics",
            "import_state",
            "peak_tracker",
            "refusals",
            "ownership",
            "costs",
            "importer",
        }
    ),
    frozenset({"coordinator", "polling", "history"}),
    frozenset({"runtime"}),
    frozenset(
        {
            "entity",
            "sensor",
            "binary_sensor",
            "diagnostics",
            "services",
            "config_flow",
            "options_flow",
            "tariff_flow",
            "__init__",
        }
    ),
)


def layer_of(module: str) -> int:
    return next(index for index, members in enumerate(LAYERS) if module in members)


def local_imports(path: Path) -> set[str]:
    """The integration's modules ``path`` imports, at any depth (TYPE_CHECKING included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[0])
    return found


def test_every_module_has_a_layer() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")} | {"api"}
    assert modules == set().union(*LAYERS)


def test_modules_import_only_their_layer_or_above() -> None:
    wrong = [
        f"{path.stem} (layer {layer_of(path.stem) + 1}) imports {target} "
        f"(layer {layer_of(target) + 1})"
        for path in sorted(PACKAGE.glob("*.py"))
        for target in sorted(local_imports(path))
        if layer_of(target) > layer_of(path.stem)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_api_package_stands_alone() -> None:
    """The client could be published as is: no Home Assistant, nothing of the integration."""
    for path in sorted((PACKAGE / "api").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} imports from outside api/"
                assert not (node.module or "").startswith("homeassistant"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("homeassistant") for a in node.names), path.name
