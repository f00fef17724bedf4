"""Shared fixtures: Home Assistant harness settings and the local Fluvius simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
from typing import Any

from homeassistant.util import dt as dt_util
import pytest

from custom_components.fluvius.const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    ENVIRONMENT_CUSTOM,
)
from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator

pytest_plugins = ["pytest_homeassistant_custom_component"]

# The harness turns SQLAlchemy's statement log on (INFO). Records the recorder thread
# emits after a test has ended are not captured, and under pytest-xdist they flood the
# terminal with SQL.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[FluviusSimulator]:
    """A Fluvius simulator on loopback whose clock follows Home Assistant's (and freezer).

    The harness blocks sockets; they are enabled here, still limited to 127.0.0.1.
    """
    sim = FluviusSimulator(credentials=DEFAULT_CREDENTIALS, clock=dt_util.utcnow)
    await sim.start(host="127.0.0.1", port=0)
    yield sim
    await sim.stop()


def entry_data(sim: FluviusSimulator) -> dict[str, Any]:
    """Config-entry data pointing at the simulator (custom environment)."""
    creds = sim.credentials
    return {
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        CONF_TENANT_ID: creds.tenant_id,
        CONF_CLIENT_ID: creds.client_id,
        CONF_CLIENT_SECRET: creds.client_secret,
        CONF_SCOPE: creds.scope,
        CONF_SUBSCRIPTION_KEY: creds.subscription_key,
        CONF_BASE_URL: sim.base_url,
        CONF_TOKEN_URL: sim.token_url,
    }
