"""Site names: set in the options, they name devices, entities and statistics; ids stay."""

from __future__ import annotations

from typing import Any

from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest

from custom_components.fluvius.const import CONF_SITE_NAMES, DOMAIN
from fluvius_simulator import FluviusSimulator

from .helpers import device_of, make_entry, settle, setup_entry

ELECTRICITY = "541440110000000000"
GAS = "541441010000000000"
# Shares its last digits with ELECTRICITY: the default names need more of them.
AMR = "541450010000000000"


async def _stored(hass: HomeAssistant) -> dict[str, tuple[str | None, list[dict[str, Any]]]]:
    """Every fluvius statistic: its stored name and its rows."""
    instance = get_instance(hass)
    metadata = await instance.async_add_executor_job(
        lambda: get_metadata(hass, statistic_source=DOMAIN)
    )
    rows = await instance.async_add_executor_job(
        statistics_during_period,
        hass,
        dt_util.utc_from_timestamp(0),
        None,
        set(metadata),
        "hour",
        None,
        {"state", "sum", "mean", "min", "max"},
    )
    return {
        statistic_id: (meta["name"], list(rows.get(statistic_id, [])))
        for statistic_id, (_, meta) in metadata.items()
    }


async def _set_names(hass: HomeAssistant, entry_id: str, names: dict[str, str]) -> Any:
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "site_names"}
    )
    assert result["step_id"] == "site_names"
    return await hass.config_entries.options.async_configure(result["flow_id"], names)


def _friendly_names(hass: HomeAssistant, ean: str) -> set[str]:
    registry = er.async_get(hass)
    device = device_of(hass, ean)
    assert device is not None
    return {
        hass.states.get(entity.entity_id).attributes["friendly_name"]
        for entity in er.async_entries_for_device(registry, device.id)
        if hass.states.get(entity.entity_id) is not None
    }


async def test_default_names_are_short_and_unique(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    for ean in (ELECTRICITY, GAS, AMR):
        simulator.add_mandate(ean)
    await setup_entry(hass, simulator)
    names = {ean: device_of(hass, ean).name for ean in (ELECTRICITY, GAS, AMR)}
    # Two electricity EANs end in the same digits: each gets as many as tell them apart.
    assert names == {
        ELECTRICITY: "Electricity …110000000000",
        GAS: "Gas …000000",
        AMR: "Electricity …010000000000",
    }
    assert device_of(hass, ELECTRICITY).serial_number == ELECTRICITY
    stored = await _stored(hass)
    assert stored[f"fluvius:{GAS}_offtake_total_m3"][0] == "Gas …000000 gas (m³)"
    assert stored[f"fluvius:{GAS}_offtake_total_kwh"][0] == "Gas …000000 gas (kWh)"
    assert (
        stored[f"fluvius:{ELECTRICITY}_offtake_total_kwh"][0] == "Electricity …110000000000 offtake"
    )
    assert (
        stored[f"fluvius:{ELECTRICITY}_injection_total_kwh"][0]
        == "Electricity …110000000000 injection"
    )
    assert (
        stored[f"fluvius:{ELECTRICITY}_offtake_power_kw"][0]
        == "Electricity …110000000000 offtake power (kW)"
    )
    assert len({name for name, _ in stored.values()}) == len(stored)


async def test_rename_follows_everywhere_and_ids_stay(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(ELECTRICITY)
    simulator.add_mandate(GAS)
    entry = await setup_entry(hass, simulator)
    before = await _stored(hass)
    result = await _set_names(hass, entry.entry_id, {ELECTRICITY: "  Town hall ", GAS: "town hall"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SITE_NAMES] == {ELECTRICITY: "Town hall", GAS: "town hall"}
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert device_of(hass, ELECTRICITY).name == "Town hall"
    # A building's electricity and gas meters may share its name.
    assert device_of(hass, GAS).name == "town hall"
    assert "Town hall Peak this month" in _friendly_names(hass, ELECTRICITY)
    assert all(name.startswith("town hall ") for name in _friendly_names(hass, GAS))

    after = await _stored(hass)
    assert after.keys() == before.keys()
    assert after[f"fluvius:{ELECTRICITY}_offtake_total_kwh"][0] == "Town hall offtake"
    assert after[f"fluvius:{ELECTRICITY}_injection_total_kwh"][0] == "Town hall injection"
    assert after[f"fluvius:{GAS}_offtake_total_m3"][0] == "town hall gas (m³)"
    # Only the names changed: every row is as it was.
    assert {key: rows for key, (_, rows) in after.items()} == {
        key: rows for key, (_, rows) in before.items()
    }

    # An emptied field goes back to the default name.
    result = await _set_names(hass, entry.entry_id, {ELECTRICITY: "", GAS: "town hall"})
    await settle(hass)
    assert device_of(hass, ELECTRICITY).name == "Electricity …000000"
    again = await _stored(hass)
    assert again[f"fluvius:{ELECTRICITY}_offtake_total_kwh"][0] == "Electricity …000000 offtake"


@pytest.mark.parametrize(
    ("names", "errors"),
    [
        ({ELECTRICITY: "x" * 61}, {ELECTRICITY: "site_name_too_long"}),
        ({ELECTRICITY: "Depot", AMR: "depot"}, {AMR: "duplicate_site_name"}),
    ],
)
async def test_invalid_names_are_refused_on_their_field(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    names: dict[str, str],
    errors: dict[str, str],
) -> None:
    for ean in (ELECTRICITY, GAS, AMR):
        simulator.add_mandate(ean)
    entry = await setup_entry(hass, simulator)
    result = await _set_names(hass, entry.entry_id, names)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert CONF_SITE_NAMES not in entry.options


async def test_site_names_need_a_loaded_entry(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "site_names"}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "not_loaded")


async def test_site_names_need_meters(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    entry = await setup_entry(hass, simulator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "site_names"}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "no_eans")
