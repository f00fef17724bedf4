"""Repairs go when their cause goes, and entities come back with their mandate."""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN, ENERGY_UPDATE_INTERVAL
from fluvius_simulator import FluviusSimulator
from tests.conftest import entry_data

from .helpers import device_of, settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
DM_DAILY = "541440100000000000"
CUT = datetime(2026, 2, 20, 23, tzinfo=dt_util.UTC)


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


def _issues(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    """The entry's issue kinds with their key, e.g. 'data_period_cut/<ean>'."""
    found = set()
    for domain, ident in ir.async_get(hass).issues:
        if domain == DOMAIN and f"_{entry.entry_id}_" in ident:
            kind, key = ident.split(f"_{entry.entry_id}_")
            found.add(f"{kind}/{key}")
    return found


async def _cut(hass: HomeAssistant, sim: FluviusSimulator, entry: MockConfigEntry) -> str:
    sim.set_data_period_to(DM_ELECTRICITY, CUT)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    ident = f"data_period_cut_{entry.entry_id}_{DM_ELECTRICITY}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ident)
    assert issue is not None
    assert issue.is_fixable
    return ident


async def test_data_period_cut_is_dismissed_by_its_fix_flow(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    ident = await _cut(hass, simulator, entry)

    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": ident})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "ean": DM_ELECTRICITY,
        "date": CUT.isoformat(),
    }
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert ir.async_get(hass).async_get_issue(DOMAIN, ident) is None


async def test_data_period_cut_clears_after_the_next_import(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    await _cut(hass, simulator, entry)
    assert entry.runtime_data.importer.states.history_done(DM_ELECTRICITY)

    # The next mandates refresh finds the import done and nothing new cut.
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert _issues(hass, entry) == set()


async def test_data_period_cut_clears_after_the_next_poll_that_stores_data(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    ident = await _cut(hass, simulator, entry)
    freezer.tick(ENERGY_UPDATE_INTERVAL)
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, ident) is None


async def test_data_period_cut_goes_with_the_mandate(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    entry = await setup_entry(hass, simulator)
    await _cut(hass, simulator, entry)
    simulator.remove_mandate(DM_ELECTRICITY)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert _issues(hass, entry) == set()


async def test_removing_an_entry_deletes_its_issues(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_DAILY)
    owner = await setup_entry(hass, simulator)
    await _cut(hass, simulator, owner)
    waiting = MockConfigEntry(
        domain=DOMAIN,
        title="Fluvius second",
        unique_id="custom_second",
        data=entry_data(simulator),
        options={CONF_HISTORY_MONTHS: 1},
    )
    waiting.add_to_hass(hass)
    assert await hass.config_entries.async_setup(waiting.entry_id)
    await settle(hass)
    assert _issues(hass, owner) == {
        f"data_period_cut/{DM_ELECTRICITY}",
        f"no_quarter_hour/{DM_DAILY}",
    }
    assert _issues(hass, waiting) == {
        f"ean_owned_elsewhere/{DM_ELECTRICITY}",
        f"ean_owned_elsewhere/{DM_DAILY}",
    }

    assert await hass.config_entries.async_remove(waiting.entry_id)
    await settle(hass)
    assert _issues(hass, waiting) == set()
    assert len(_issues(hass, owner)) == 2

    assert await hass.config_entries.async_remove(owner.entry_id)
    await settle(hass)
    assert [i for (domain, i) in ir.async_get(hass).issues if domain == DOMAIN] == []


async def test_entities_come_back_with_their_mandate(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """No reload: the device goes with the mandate and its entities return with it."""
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    entry = await setup_entry(hass, simulator)
    entities = er.async_get(hass)
    ids = {
        ("sensor", f"{DM_ELECTRICITY}_mandate_status"),
        ("sensor", f"{DM_ELECTRICITY}_last_day_offtake_day_kwh"),
        ("binary_sensor", f"{DM_ELECTRICITY}_mandate_attention"),
    }
    assert all(entities.async_get_entity_id(p, DOMAIN, u) for p, u in ids)

    simulator.remove_mandate(DM_ELECTRICITY)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert device_of(hass, DM_ELECTRICITY) is None
    assert not any(entities.async_get_entity_id(p, DOMAIN, u) for p, u in ids)

    simulator.add_mandate(DM_ELECTRICITY)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    # The energy refresh the mandates asked for runs after its debounce.
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await settle(hass)
    assert device_of(hass, DM_ELECTRICITY) is not None
    for platform, unique_id in ids:
        entity_id = entities.async_get_entity_id(platform, DOMAIN, unique_id)
        assert entity_id is not None, unique_id
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state != "unavailable", entity_id
