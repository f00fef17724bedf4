"""Energy polls when one EAN fails (transiently or for good), when all do, and which mandate counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.fluvius.api import Mandate, MandateStatus
from custom_components.fluvius.api.const import LIVE_BASE_URL, SANDBOX_BASE_URL
from custom_components.fluvius.const import (
    DOMAIN,
    ENERGY_UPDATE_INTERVAL,
    UNAVAILABLE_AFTER_FAILURES,
)
from custom_components.fluvius.coordinator import pick_mandates
from custom_components.fluvius.entry_client import base_url_for
from fluvius_simulator import Fault, FluviusSimulator

from .fault_harness import history_window, on_request, one_fault
from .helpers import make_entry, settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
ENERGY = "/api/mandate/energy"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def _poll(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An interval later every EAN is due again: one scheduled poll of each."""
    freezer.tick(ENERGY_UPDATE_INTERVAL)
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)


def _state(hass: HomeAssistant, ean: str) -> str:
    entity_id = entity_registry.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ean}_history_import"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_one_failing_ean_keeps_its_last_values_then_turns_unavailable(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    # Retries without backoff: the frozen clock would never end a backoff sleep.
    with patch("custom_components.fluvius.entry_client.RETRY_BACKOFF_BASE", 0):
        entry = await setup_entry(hass, simulator)
        energy = entry.runtime_data.energy
        before = energy.data

        freezer.tick(timedelta(days=1))
        simulator.faults.add(Fault(kind="status", status=503, path=ENERGY, ean=DM_GAS))
        caplog.clear()
        await _poll(hass, entry, freezer)
        assert energy.last_update_success
        # The failing EAN keeps what it showed; the other moved on by a day.
        assert energy.data[DM_GAS] is before[DM_GAS]
        newest = energy.data[DM_ELECTRICITY].newest_measurement
        assert newest is not None
        assert before[DM_ELECTRICITY].newest_measurement is not None
        assert newest > before[DM_ELECTRICITY].newest_measurement
        assert "503" in energy.last_errors[DM_GAS]
        assert energy.is_available(DM_GAS), "one failed poll does not make the EAN unavailable"
        assert _state(hass, DM_GAS) != STATE_UNAVAILABLE

        # After a few failed polls in a row its entities say so, logged once.
        for _ in range(UNAVAILABLE_AFTER_FAILURES - 1):
            await _poll(hass, entry, freezer)
        assert not energy.is_available(DM_GAS)
        assert _state(hass, DM_GAS) == STATE_UNAVAILABLE
        assert _state(hass, DM_ELECTRICITY) != STATE_UNAVAILABLE
        await _poll(hass, entry, freezer)
        unavailable = [r for r in caplog.records if f"EAN {DM_GAS} is unavailable" in r.message]
        assert [r.levelname for r in unavailable] == ["INFO"]

        simulator.faults.clear()
        await _poll(hass, entry, freezer)
        assert energy.is_available(DM_GAS)
        assert _state(hass, DM_GAS) != STATE_UNAVAILABLE
        back = [r for r in caplog.records if f"EAN {DM_GAS} is available again" in r.message]
        assert [r.levelname for r in back] == ["INFO"]

        # When every EAN fails, the poll as a whole fails (and recovers silently later).
        simulator.faults.add(Fault(kind="status", status=503, path=ENERGY))
        await _poll(hass, entry, freezer)
        assert not energy.last_update_success
        # Between two scheduled polls nothing is due: the entry stays failed.
        await energy.async_refresh()
        assert not energy.last_update_success
        simulator.faults.clear()
        await _poll(hass, entry, freezer)
        assert energy.last_update_success


async def test_refused_request_is_retried_daily_with_a_repair_issue(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    entry = await setup_entry(hass, simulator)
    issue = f"request_refused_{entry.entry_id}_{DM_GAS}"
    simulator.faults.add(Fault(kind="status", status=400, path=ENERGY, ean=DM_GAS))
    simulator.reset_stats()
    # Once refused may be the network's doing: the next hourly poll tries again.
    await _poll(hass, entry, freezer)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None
    await _poll(hass, entry, freezer)
    found = ir.async_get(hass).async_get_issue(DOMAIN, issue)
    assert found is not None
    assert found.translation_placeholders is not None
    assert found.translation_placeholders["ean"] == DM_GAS
    assert "400" in found.translation_placeholders["error"]

    # Hourly polls go on for the other EAN; the refused one waits a day.
    for _ in range(5):
        await _poll(hass, entry, freezer)
    gas_calls = [r for r in simulator.requests if r.query.get("ean") == [DM_GAS]]
    other_calls = [r for r in simulator.requests if r.query.get("ean") == [DM_ELECTRICITY]]
    assert len(gas_calls) == 2
    assert len(other_calls) >= 7

    simulator.faults.clear()
    freezer.tick(timedelta(days=1))
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None


def _mandate(status: MandateStatus, end: datetime | None, ref: str) -> Mandate:
    return Mandate(reference_number=ref, status=status, ean=DM_ELECTRICITY, data_period_to=end)


def test_pick_mandates_prefers_approved_then_the_latest_data_period() -> None:
    old = _mandate(MandateStatus.FINISHED, datetime(2025, 1, 1, tzinfo=UTC), "old")
    newer = _mandate(MandateStatus.FINISHED, datetime(2025, 6, 1, tzinfo=UTC), "newer")
    approved = _mandate(MandateStatus.APPROVED, datetime(2025, 3, 1, tzinfo=UTC), "approved")
    open_ended = _mandate(MandateStatus.APPROVED, None, "open")
    requested = _mandate(MandateStatus.REQUESTED, None, "requested")
    assert pick_mandates([old, newer])[DM_ELECTRICITY].reference_number == "newer"
    assert pick_mandates([newer, approved])[DM_ELECTRICITY].reference_number == "approved"
    assert pick_mandates([approved, open_ended])[DM_ELECTRICITY].reference_number == "open"
    assert pick_mandates([requested]) == {}
    assert pick_mandates([Mandate(status=MandateStatus.APPROVED)]) == {}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("sandbox", SANDBOX_BASE_URL), ("live", LIVE_BASE_URL), ("custom", "http://127.0.0.1:1")],
)
def test_base_url_per_environment(environment: str, expected: str) -> None:
    assert base_url_for({"environment": environment, "base_url": "http://127.0.0.1:1/"}) == expected


async def test_refused_history_window_backs_off_to_a_daily_retry(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_GAS)
    refused = on_request(
        simulator,
        history_window(DM_GAS),
        one_fault(simulator, Fault(kind="status", status=400)),
        times=3,
    )
    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    importer = entry.runtime_data.importer
    issue = f"request_refused_{entry.entry_id}_{DM_GAS}"

    async def wait(delta: timedelta, attempts: int | None = None) -> None:
        """Move time on; with ``attempts``, until that many windows were tried."""
        freezer.tick(delta)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        for _ in range(500 if attempts is not None else 20):
            if attempts is not None and len(refused) >= attempts:
                break
            # Background work (the retry's request) runs on real time.
            await hass.async_add_executor_job(time.sleep, 0.01)
        await hass.async_block_till_done()

    # Once refused: retried after the usual 15 minutes, no issue yet.
    assert len(refused) == 1
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None
    await wait(timedelta(minutes=16), attempts=2)
    # Twice: a daily retry and an issue naming the EAN and the error.
    assert len(refused) == 2
    found = ir.async_get(hass).async_get_issue(DOMAIN, issue)
    assert found is not None
    assert found.translation_placeholders is not None
    assert "400" in found.translation_placeholders["error"]
    await wait(timedelta(hours=6))
    assert len(refused) == 2
    await wait(timedelta(hours=18, minutes=1), attempts=3)
    assert len(refused) == 3
    # The third refusal is the last fault: the next daily retry lands.
    await wait(timedelta(days=1, minutes=1))
    for _ in range(500):
        if importer.states.history_done(DM_GAS):
            break
        await hass.async_add_executor_job(time.sleep, 0.01)
    assert importer.states.history_done(DM_GAS)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None


async def test_peak_sensors_follow_an_ean_that_keeps_failing(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    with patch("custom_components.fluvius.entry_client.RETRY_BACKOFF_BASE", 0):
        entry = await setup_entry(hass, simulator)
        peak = entity_registry.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{DM_ELECTRICITY}_current_month_peak"
        )
        assert peak is not None
        assert hass.states.get(peak).state != STATE_UNAVAILABLE
        simulator.faults.add(Fault(kind="status", status=503, path=ENERGY, ean=DM_ELECTRICITY))
        # One failed poll leaves the stored peaks on show...
        await _poll(hass, entry, freezer)
        assert hass.states.get(peak).state != STATE_UNAVAILABLE
        # ...a few in a row hide them with the EAN's other entities.
        for _ in range(UNAVAILABLE_AFTER_FAILURES - 1):
            await _poll(hass, entry, freezer)
        assert hass.states.get(peak).state == STATE_UNAVAILABLE
        simulator.faults.clear()
        await _poll(hass, entry, freezer)
        assert hass.states.get(peak).state != STATE_UNAVAILABLE
