"""Config flow: user and custom steps, errors, duplicates, reauth, reconfigure, options."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CORRECTION_DAYS,
    CONF_ENVIRONMENT,
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DEFAULT_REQUEST_BUDGET,
    DOMAIN,
)
from fluvius_simulator import Fault, FluviusSimulator
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


def _user_input(sim: FluviusSimulator, **overrides: str) -> dict[str, str]:
    data = entry_data(sim)
    return {key: overrides.get(key, data[key]) for key in USER_KEYS}


def _custom_input(sim: FluviusSimulator) -> dict[str, str]:
    return {CONF_BASE_URL: sim.base_url, CONF_TOKEN_URL: sim.token_url}


async def _start(hass: HomeAssistant, sim: FluviusSimulator, **overrides: str):
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(sim, **overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom"
    return result


async def test_user_flow_creates_entry(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate("541440110000000000")
    simulator.add_mandate("541441010000000000")
    simulator.add_mandate("541450010000000000", status="Requested")
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Fluvius custom (2 approved mandates)"
    assert result["data"] == entry_data(simulator)
    assert result["result"].unique_id == f"custom_{simulator.credentials.client_id}"


@pytest.mark.parametrize(
    ("fault", "overrides", "error"),
    [
        (None, {CONF_CLIENT_SECRET: "wrong-secret"}, "invalid_auth"),
        (Fault(kind="status", status=403, path="/api/mandate"), {}, "forbidden"),
        (Fault(kind="status", status=503, path="/api/mandate"), {}, "cannot_connect"),
        (Fault(kind="malformed", path="/api/mandate"), {}, "unknown"),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    fault: Fault | None,
    overrides: dict[str, str],
    error: str,
) -> None:
    simulator.add_mandate("541440110000000000")
    if fault is not None:
        simulator.faults.add(fault)
    with patch("custom_components.fluvius.config_flow.VALIDATION_RETRIES", 0):
        result = await _start(hass, simulator, **overrides)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _custom_input(simulator)
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    simulator.faults.clear()
    # The user fixes the input: the flow goes back to the start.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_cannot_connect_when_nothing_listens(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    result = await _start(hass, simulator)
    with patch("custom_components.fluvius.config_flow.VALIDATION_RETRIES", 0):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_BASE_URL: "http://127.0.0.1:9", CONF_TOKEN_URL: "http://127.0.0.1:9/token"},
        )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_duplicate_aborts(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data=entry_data(simulator),
    ).add_to_hass(hass)
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_updates_secret(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    data = {**entry_data(simulator), CONF_CLIENT_SECRET: "expired-secret"}
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=f"custom_{simulator.credentials.client_id}", data=data
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: simulator.credentials.client_secret}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_CLIENT_SECRET] == simulator.credentials.client_secret


async def test_reconfigure(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data={**entry_data(simulator), CONF_BASE_URL: "http://127.0.0.1:9"},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator)
    )
    assert result["step_id"] == "custom"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_BASE_URL] == simulator.base_url


async def test_options(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data=entry_data(simulator))
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_HISTORY_MONTHS: 12, CONF_IMPORT_REACTIVE: True, CONF_CORRECTION_DAYS: 7},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_HISTORY_MONTHS: 12,
        CONF_IMPORT_REACTIVE: True,
        CONF_CORRECTION_DAYS: 7,
        CONF_REQUEST_BUDGET: DEFAULT_REQUEST_BUDGET,
    }
