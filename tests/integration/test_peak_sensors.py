"""Capacity-tariff sensors and the new-peak event against the simulator's quarter-hours.

Expected peaks are computed here from ``sim.truth`` with zoneinfo month bounds,
independently of the integration's peak functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import DOMAIN, EVENT_NEW_MONTHLY_PEAK
from fluvius_simulator import FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
AMR_OFFTAKE = "541450010000000000"
AMR_INJECTION = "541450211000000000"
AMR_EANS = {AMR_OFFTAKE, AMR_INJECTION}
BRUSSELS = ZoneInfo("Europe/Brussels")
HISTORY_START = datetime(2026, 1, 31, 23, tzinfo=dt_util.UTC)  # 1 February, local midnight


@dataclass(frozen=True)
class ExpectedPeak:
    month: str
    kw: float
    start: datetime
    present: int
    expected: int
    estimated: int
    complete: bool


def _months(first: datetime, now: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Local calendar months (UTC bounds) from the month of ``first`` to that of ``now``."""
    local = first.astimezone(BRUSSELS).replace(day=1, hour=0, minute=0, second=0)
    while local.astimezone(dt_util.UTC) <= now:
        following = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        yield local.astimezone(dt_util.UTC), following.astimezone(dt_util.UTC)
        local = following


def expected_peaks(
    sim: FluviusSimulator, ean: str, since: datetime = HISTORY_START
) -> dict[str, ExpectedPeak]:
    """Highest quarter-hour offtake kWh x 4 per local month, with the deck's validity rule."""
    now = dt_util.utcnow()
    values: dict[datetime, float] = {}
    final: dict[datetime, bool] = {}
    for record in sim.truth(ean, since, now):
        if record.sub_ean is None and record.direction == "offtake" and record.register == "total":
            values[record.start] = values.get(record.start, 0.0) + record.value
            final[record.start] = final.get(record.start, True) and record.validation_state in (
                "READ",
                "VAL",
            )
    peaks: dict[str, ExpectedPeak] = {}
    for start, end in _months(since, now):
        inside = [moment for moment in values if start <= moment < end]
        if not inside:
            continue
        best = min(inside, key=lambda moment: (-values[moment], moment))
        expected = int((end - start) / timedelta(minutes=15))
        estimated = sum(1 for moment in inside if not final[moment])
        month = start.astimezone(BRUSSELS).strftime("%Y-%m")
        peaks[month] = ExpectedPeak(
            month=month,
            kw=values[best] * 4,
            start=best,
            present=len(inside),
            expected=expected,
            estimated=estimated,
            complete=len(inside) == expected and estimated == 0 and now >= end,
        )
    return peaks


def peak_state(hass: HomeAssistant, ean: str, key: str) -> Any:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{ean}_{key}")
    assert entity_id is not None, f"no {key} sensor for {ean}"
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def assert_month_sensor(hass: HomeAssistant, ean: str, key: str, expected: ExpectedPeak) -> None:
    state = peak_state(hass, ean, key)
    assert float(state.state) == pytest.approx(expected.kw, abs=1e-9)
    assert state.attributes["unit_of_measurement"] == "kW"
    assert state.attributes["device_class"] == "power"
    assert state.attributes["month"] == expected.month
    assert state.attributes["peak_start"] == expected.start.isoformat()
    assert state.attributes["peak_end"] == (expected.start + timedelta(minutes=15)).isoformat()
    assert state.attributes["missing_quarter_hours"] == expected.expected - expected.present
    assert state.attributes["estimated_quarter_hours"] == expected.estimated
    assert state.attributes["complete"] is expected.complete


def assert_averages(hass: HomeAssistant, ean: str, peaks: list[ExpectedPeak]) -> None:
    plain = peak_state(hass, ean, "rolling_average_peak")
    kws = [peak.kw for peak in peaks]
    assert float(plain.state) == pytest.approx(sum(kws) / len(kws), abs=1e-3)
    minimum_id = f"{ean}_rolling_average_peak_minimum"
    if ean in AMR_EANS:
        # The 2.5 kW minimum is a low-voltage rule; AMR meters sit on high voltage.
        assert er.async_get(hass).async_get_entity_id("sensor", DOMAIN, minimum_id) is None
    else:
        floored = peak_state(hass, ean, "rolling_average_peak_minimum")
        assert float(floored.state) == pytest.approx(
            sum(max(kw, 2.5) for kw in kws) / len(kws), abs=1e-3
        )
    assert plain.attributes["months_used"] == [peak.month for peak in peaks]
    assert plain.attributes["incomplete_months"] == [p.month for p in peaks if not p.complete]
    assert len(plain.attributes["missing_months"]) == 12 - len(peaks)


@pytest.fixture
def peak_events(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_NEW_MONTHLY_PEAK, events.append)
    return events


async def test_peak_sensors_equal_truth(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    peak_events: list[Event],
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    for ean in (DM_ELECTRICITY, AMR_OFFTAKE, AMR_INJECTION):
        simulator.add_mandate(ean)
    # Earlier versions created the low-voltage average for AMR meters too: it goes.
    er.async_get(hass).async_get_or_create(
        "sensor", DOMAIN, f"{AMR_OFFTAKE}_rolling_average_peak_minimum"
    )
    entry = await setup_entry(hass, simulator)

    for ean in (DM_ELECTRICITY, AMR_OFFTAKE):
        expected = expected_peaks(simulator, ean)
        assert sorted(expected) == ["2026-02", "2026-03"]
        assert_month_sensor(hass, ean, "current_month_peak", expected["2026-03"])
        assert_month_sensor(hass, ean, "previous_month_peak", expected["2026-02"])
        assert_averages(hass, ean, [expected["2026-02"], expected["2026-03"]])
        # The first import of the running month is its first peak.
        (event,) = [e for e in peak_events if e.data["ean"] == ean]
        assert event.data == {
            "config_entry_id": entry.entry_id,
            "ean": ean,
            "month": "2026-03",
            "peak_kw": pytest.approx(expected["2026-03"].kw),
            "start": expected["2026-03"].start.isoformat(),
            "end": (expected["2026-03"].start + timedelta(minutes=15)).isoformat(),
            "previous_peak_kw": None,
        }
    # February is closed, fully present and final: its peak counts.
    assert expected_peaks(simulator, DM_ELECTRICITY)["2026-02"].complete

    # An AMR injection EAN has no offtake, so no peak.
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"{AMR_INJECTION}_current_month_peak")
        is None
    )


async def test_late_data_updates_peaks_and_fires_events(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    peak_events: list[Event],
) -> None:
    # Early on 1 March: the end of February has not arrived, March has no data yet.
    freezer.move_to("2026-03-01T03:00:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    before = expected_peaks(simulator, DM_ELECTRICITY)
    assert sorted(before) == ["2026-02"]
    assert not before["2026-02"].complete
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", before["2026-02"])
    assert peak_state(hass, DM_ELECTRICITY, "current_month_peak").state == "unknown"
    assert not peak_events

    # A week of polls later: February is complete, March's peak has risen.
    for _ in range(7 * 4):
        freezer.tick(timedelta(hours=6))
        await entry.runtime_data.energy.async_refresh()
        await settle(hass)
    after = expected_peaks(simulator, DM_ELECTRICITY)
    assert after["2026-02"].complete
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", after["2026-02"])
    assert_month_sensor(hass, DM_ELECTRICITY, "current_month_peak", after["2026-03"])
    assert_averages(hass, DM_ELECTRICITY, [after["2026-02"], after["2026-03"]])

    # One event per rise, each carrying the peak it replaced.
    assert len(peak_events) >= 2, "the peak never rose"
    previous = None
    for event in peak_events:
        assert event.data["ean"] == DM_ELECTRICITY
        assert event.data["month"] == "2026-03"
        assert event.data["previous_peak_kw"] == previous
        assert previous is None or event.data["peak_kw"] > previous
        previous = event.data["peak_kw"]
    assert previous == pytest.approx(after["2026-03"].kw)
    assert peak_events[-1].data["start"] == after["2026-03"].start.isoformat()


async def test_month_change_closes_the_previous_month(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-02-27T09:17:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    # The one-month history option reaches back to 1 January.
    since = datetime(2025, 12, 31, 23, tzinfo=dt_util.UTC)
    before = expected_peaks(simulator, DM_ELECTRICITY, since)
    assert sorted(before) == ["2026-01", "2026-02"]
    assert_month_sensor(hass, DM_ELECTRICITY, "current_month_peak", before["2026-02"])
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", before["2026-01"])

    for _ in range(6):
        freezer.tick(timedelta(days=1))
        await entry.runtime_data.energy.async_refresh()
        await settle(hass)
    after = expected_peaks(simulator, DM_ELECTRICITY, since)
    assert after["2026-02"].complete
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", after["2026-02"])
    assert_month_sensor(hass, DM_ELECTRICITY, "current_month_peak", after["2026-03"])
    assert_averages(hass, DM_ELECTRICITY, [after["2026-01"], after["2026-02"], after["2026-03"]])


async def test_peaks_survive_a_restart(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    entry: MockConfigEntry = await setup_entry(hass, simulator)
    expected = expected_peaks(simulator, DM_ELECTRICITY)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    simulator.requests.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    # After the restart only the last days were fetched: February comes from the store.
    energy = [r for r in simulator.requests if r.path.endswith("/energy")]
    assert energy
    assert all(r.query["from"][0] >= "2026-03-0" for r in energy), energy
    assert_month_sensor(hass, DM_ELECTRICITY, "current_month_peak", expected["2026-03"])
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", expected["2026-02"])


async def test_backdated_data_period_removes_later_quarter_hours(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    cut = datetime(2026, 2, 14, 23, tzinfo=dt_util.UTC)
    simulator.set_data_period_to(DM_ELECTRICITY, cut)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)

    expected = expected_peaks(simulator, DM_ELECTRICITY)
    assert sorted(expected) == ["2026-02"]
    assert_month_sensor(hass, DM_ELECTRICITY, "previous_month_peak", expected["2026-02"])
    assert peak_state(hass, DM_ELECTRICITY, "current_month_peak").state == "unknown"
