"""The energy polls' schedule and budget: spread per EAN, paid from one bucket per entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.fluvius.const import (
    CONF_CORRECTION_DAYS,
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    DEFAULT_REQUEST_BUDGET,
    ENERGY_UPDATE_INTERVAL,
)
from custom_components.fluvius.limiter import RequestBudget
from custom_components.fluvius.polling import next_poll, poll_phase
from fluvius_simulator import FluviusSimulator

from .helpers import make_entry, settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
ENERGY = "/api/mandate/energy"


def test_phases_spread_over_the_interval() -> None:
    phases = [poll_phase(f"entry{index:03d}") for index in range(300)]
    interval = ENERGY_UPDATE_INTERVAL.total_seconds()
    assert all(0 <= phase < interval for phase in phases)
    # Twelve five-minute slots: none holds more than twice its share.
    slots = [int(phase // 300) for phase in phases]
    assert max(slots.count(slot) for slot in range(12)) <= 2 * 300 / 12


def test_next_poll_is_the_next_phase_point() -> None:
    after = datetime(2026, 3, 10, 9, 17, tzinfo=UTC)
    moment = next_poll(600.0, after)
    assert after < moment <= after + ENERGY_UPDATE_INTERVAL
    assert moment.timestamp() % 3600 == 600
    assert next_poll(600.0, moment) == moment + ENERGY_UPDATE_INTERVAL


async def test_a_poll_woken_early_is_due_again_an_hour_later(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    energy = entry.runtime_data.energy
    due = energy.next_polls[DM_ELECTRICITY]
    # Home Assistant wakes a coordinator up to a second early.
    freezer.move_to(due - timedelta(seconds=1))
    simulator.reset_stats()
    await energy.async_refresh()
    await settle(hass)
    assert [r for r in simulator.requests if r.path.endswith("energy")]
    assert energy.next_polls[DM_ELECTRICITY] == due + ENERGY_UPDATE_INTERVAL


async def test_budget_spreads_calls_and_keeps_a_reserve() -> None:
    now = [0.0]
    budget = RequestBudget(720, lambda: now[0])
    assert budget.capacity == 60
    for _ in range(30):
        await budget.async_spend(reserve=30)
    # Half the burst is kept for polls: the history import has to wait now...
    assert budget.available() == pytest.approx(30)
    # ...polls do not.
    await budget.async_spend()
    assert budget.spent == 31
    now[0] += 3600
    assert budget.available() == budget.capacity


async def test_polls_are_spread_and_wait_their_turn(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    entry = await setup_entry(hass, simulator)
    energy = entry.runtime_data.energy
    first = dict(energy.next_polls)
    assert set(first) == {DM_ELECTRICITY, DM_GAS}
    # Each EAN at its own minute, within the next interval.
    assert len(set(first.values())) == 2
    simulator.reset_stats()
    await energy.async_refresh()
    await settle(hass)
    assert not [r for r in simulator.requests if r.path.endswith("energy")], "nothing was due"
    freezer.move_to(min(first.values()))
    await energy.async_refresh()
    await settle(hass)
    polled = {r.query["ean"][0] for r in simulator.requests if r.path.endswith("energy")}
    assert len(polled) == 1
    assert energy.next_polls[polled.pop()] > max(first.values())


async def test_request_budget_applies_without_a_reload(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate("541440110000000000")
    entry = await setup_entry(hass, simulator)
    budget = entry.runtime_data.limiter.budget
    assert budget.per_hour == DEFAULT_REQUEST_BUDGET
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_HISTORY_MONTHS: 1,
            CONF_IMPORT_REACTIVE: False,
            CONF_CORRECTION_DAYS: 4,
            CONF_REQUEST_BUDGET: 120,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.runtime_data.limiter.budget is budget
    assert budget.per_hour == 120
    assert budget.capacity == 10


async def test_a_small_budget_spreads_the_first_polls_instead_of_holding_up_setup(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    eans = [f"541440010000000{index:03d}" for index in range(8)]
    for ean in eans:
        simulator.add_mandate(ean)
    # 60 calls an hour: five in hand. Waiting for more would never end on a frozen
    # clock, so a setup that waited would hang this test.
    entry = make_entry(simulator, {CONF_REQUEST_BUDGET: 60})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    # (The history import waits for tokens in the background all along.)
    await hass.async_block_till_done()
    energy = entry.runtime_data.energy
    first = set(energy.data)
    assert 0 < len(first) < len(eans)
    for _ in range(12):
        if set(energy.data) == set(eans):
            break
        freezer.tick(timedelta(minutes=5))
        await energy.async_refresh()
        await hass.async_block_till_done()
    assert set(energy.data) == set(eans)
    assert entry.runtime_data.limiter.budget.spent <= 60 * (1 + 1)
    # Unloading ends the history import that still waits for tokens.
    assert await hass.config_entries.async_unload(entry.entry_id)
