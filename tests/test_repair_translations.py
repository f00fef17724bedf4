"""Every language has the repair and abort texts, with the placeholders the code fills in."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent / "custom_components" / "fluvius"
LANGUAGES = ("en", "nl", "fr", "de")
# Dotted key -> the placeholders the code passes for it.
KEYS = {
    "config.abort.unique_id_mismatch": set[str](),
    "issues.ean_owned_elsewhere.title": {"ean", "owner"},
    "issues.ean_owned_elsewhere.description": {"ean", "owner", "title"},
    "issues.data_period_cut.title": {"ean"},
    "issues.data_period_cut.fix_flow.step.confirm.title": {"ean"},
    "issues.data_period_cut.fix_flow.step.confirm.description": {"ean", "date"},
}


def _lookup(tree: dict[str, Any], dotted: str) -> str:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    assert isinstance(node, str)
    return node


@pytest.mark.parametrize("language", LANGUAGES)
def test_repair_texts_and_placeholders(language: str) -> None:
    tree = json.loads((ROOT / "translations" / f"{language}.json").read_text(encoding="utf-8"))
    for key, placeholders in KEYS.items():
        text = _lookup(tree, key)
        assert set(re.findall(r"\{(\w+)\}", text)) == placeholders, (language, key)
    # A fixable issue has its text in the fix flow, not a description (hassfest).
    assert "description" not in tree["issues"]["data_period_cut"]
