"""Reconfigure keeps the account: another client id or environment is a new entry."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DOMAIN,
)
from fluvius_simulator import FluviusSimulator
from tests.conftest import entry_data

USER_KEYS = (
    CONF_ENVIRONMENT,
    CONF_TENANT_ID,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
)


@pytest.fixture(autouse=True)
def no_setup():
    """Flow tests stop at the entry; setup is tested elsewhere."""
    with patch("custom_components.fluvius.async_setup_entry", return_value=True) as mock:
        yield mock


def _entry(hass: HomeAssistant, sim: FluviusSimulator) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{sim.credentials.client_id}",
        data={**entry_data(sim), CONF_BASE_URL: "http://127.0.0.1:9"},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.mark.parametrize(
    "change",
    [{CONF_CLIENT_ID: "another-client"}, {CONF_ENVIRONMENT: "sandbox"}],
    ids=["client_id", "environment"],
)
async def test_reconfigure_onto_another_account_aborts(
    hass: HomeAssistant, simulator: FluviusSimulator, change: dict[str, str]
) -> None:
    entry = _entry(hass, simulator)
    before = dict(entry.data)
    result = await entry.start_reconfigure_flow(hass)
    user_input = {key: entry_data(simulator)[key] for key in USER_KEYS} | change
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    # Nothing was validated against the API, nothing changed.
    assert simulator.requests == []
    assert dict(entry.data) == before
    assert entry.unique_id == f"custom_{simulator.credentials.client_id}"


async def test_reconfigure_of_the_same_account_keeps_its_unique_id(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    entry = _entry(hass, simulator)
    result = await entry.start_reconfigure_flow(hass)
    user_input = {key: entry_data(simulator)[key] for key in USER_KEYS}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["step_id"] == "custom"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_BASE_URL: simulator.base_url, CONF_TOKEN_URL: simulator.token_url},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == f"custom_{simulator.credentials.client_id}"
    assert entry.data[CONF_BASE_URL] == simulator.base_url
