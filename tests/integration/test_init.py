"""Setup, devices, entities, unload, retry and reauth against the simulator."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import DOMAIN, RENEWAL_URL
from fluvius_simulator import Fault, FluviusSimulator
from tests.conftest import entry_data

from .helpers import children_of, device_of, settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
AMR_OFFTAKE = "541450010000000000"
AMR_INJECTION_PV = "541450211000000000"
DM_DAILY = "541440100000000000"
ALL_KINDS = (DM_ELECTRICITY, DM_GAS, AMR_OFFTAKE, AMR_INJECTION_PV, DM_DAILY)


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def test_setup_creates_devices_and_entities(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    for ean in ALL_KINDS:
        simulator.add_mandate(ean)
    entry = await setup_entry(hass, simulator)
    assert entry.state is ConfigEntryState.LOADED

    main = device_of(hass, DM_ELECTRICITY)
    assert main is not None
    assert main.model == "Digital meter"
    # Other electricity EANs end in the same six digits: more of them tell it apart.
    assert main.name == "Electricity …110000000000"
    amr = device_of(hass, AMR_INJECTION_PV)
    assert amr is not None
    assert amr.model == "AMR meter"
    children = children_of(hass, amr)
    assert {d.model.split(" ")[0] for d in children if d.model} == {"Production", "Auxiliary"}
    gas = device_of(hass, DM_GAS)
    assert gas is not None
    assert gas.name == "Gas …000000"

    entities = er.async_get(hass)
    status = entities.async_get_entity_id("sensor", DOMAIN, f"{DM_ELECTRICITY}_mandate_status")
    assert status is not None
    assert hass.states.get(status).state == "approved"
    day_offtake = entities.async_get_entity_id(
        "sensor", DOMAIN, f"{DM_ELECTRICITY}_last_day_offtake_day_kwh"
    )
    assert day_offtake is not None
    state = hass.states.get(day_offtake)
    assert state is not None
    assert float(state.state) >= 0
    assert "period_start" in state.attributes
    assert "state_class" not in state.attributes
    # The import finished after the first poll; its sensor follows without another poll.
    for ean in ALL_KINDS:
        progress = entities.async_get_entity_id("sensor", DOMAIN, f"{ean}_history_import")
        assert hass.states.get(progress).state == "100.0"
    gcf = entities.async_get_entity_id("sensor", DOMAIN, f"{DM_GAS}_gas_conversion_factor")
    assert hass.states.get(gcf).state in {"p", "d"}
    attention = entities.async_get_entity_id(
        "binary_sensor", DOMAIN, f"{DM_ELECTRICITY}_mandate_attention"
    )
    assert hass.states.get(attention).state == "off"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_retries_when_api_down(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.faults.add(Fault(kind="status", status=503, path="/api/mandate"))
    entry = MockConfigEntry(domain=DOMAIN, data=entry_data(simulator))
    entry.add_to_hass(hass)
    with patch("custom_components.fluvius.entry_client.RETRY_BACKOFF_BASE", 0):
        assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_revoked_credentials_start_reauth(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    simulator.revoke_credentials()
    freezer.tick(timedelta(hours=5))
    await entry.runtime_data.mandates.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert any(flow["context"]["source"] == "reauth" for flow in flows)
    # A repair explains where renewed credentials come from, until a request succeeds.
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, f"credentials_refused_{entry.entry_id}_")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"title": entry.title, "url": RENEWAL_URL}

    simulator.restore_credentials()
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert issues.async_get_issue(DOMAIN, f"credentials_refused_{entry.entry_id}_") is None


async def test_new_and_removed_mandates(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    simulator.add_mandate(DM_GAS)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert device_of(hass, DM_GAS) is not None
    simulator.remove_mandate(DM_ELECTRICITY)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert device_of(hass, DM_ELECTRICITY) is None
    assert device_of(hass, DM_GAS) is not None
