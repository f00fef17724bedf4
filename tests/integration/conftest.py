"""Fixtures for tests that run the integration inside Home Assistant."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """Every test gets a real recorder (statistics) and loads custom_components/."""
