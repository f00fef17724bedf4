"""Long-term statistics at the edges of days, gas days, months and an interrupted import.

Every expectation is computed here from the simulator's raw values (``sim.truth``)
with Europe/Brussels day boundaries worked out independently of the integration:
quarter-hours summed into UTC hours, daily values at their own start, then
accumulated from zero at the first imported hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
import time as time_module
from typing import Any, NamedTuple

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import get_metadata, statistics_during_period
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN
from fluvius_simulator import Fault, FluviusSimulator
from tests.conftest import entry_data

from .helpers import BRUSSELS, local_midnight, settle, setup_entry

HOUR = timedelta(hours=1)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

# Mock EANs (digit 5: 4 digital; 6: 0 electricity / 1 gas; 7: flow; 8: 1 quarter-hour access).
QH_BOTH = "541440110000000000"  # electricity, offtake + injection, quarter-hours
QH_OFFTAKE = "541440010000000000"  # electricity, offtake only, quarter-hours
HOURLY_GAS = "541441010000000000"  # gas, hourly values
DAILY_GAS = "541441000000000000"  # gas, daily access only


def local_six(day: date) -> datetime:
    """UTC instant at which the gas day labelled ``day`` starts (06:00 Brussels)."""
    return datetime.combine(day, time(6), BRUSSELS).astimezone(UTC)


def raw(
    sim: FluviusSimulator,
    ean: str,
    start: datetime,
    end: datetime,
    *,
    unit: str,
    granularity: str,
    direction: str = "offtake",
) -> list[tuple[datetime, float]]:
    """(start, value) of the main meter's total register in one unit."""
    return [
        (record.start, record.value)
        for record in sim.truth(ean, start, end, granularity=granularity)
        if record.sub_ean is None
        and record.direction == direction
        and record.unit.lower() == unit
        and record.register == "total"
    ]


def truth_hours(
    sim: FluviusSimulator,
    ean: str,
    start: datetime,
    *,
    unit: str = "kwh",
    granularity: str = "quarter_hourly",
    direction: str = "offtake",
) -> dict[datetime, float]:
    """Complete UTC hours (four quarter-hours, or one hourly/daily value) since ``start``."""
    need = 4 if granularity == "quarter_hourly" else 1
    groups: dict[datetime, list[float]] = defaultdict(list)
    for moment, value in raw(
        sim,
        ean,
        start,
        dt_util.utcnow(),
        unit=unit,
        granularity=granularity,
        direction=direction,
    ):
        groups[moment.replace(minute=0)].append(value)
    return {hour: sum(values) for hour, values in groups.items() if len(values) == need}


async def stored(
    hass: HomeAssistant, statistic_id: str, types: frozenset[str] = frozenset({"state", "sum"})
) -> dict[datetime, dict[str, Any]]:
    """Every stored hourly row of a statistic, by UTC start."""
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, EPOCH, None, {statistic_id}, "hour", None, set(types)
    )
    return {
        dt_util.utc_from_timestamp(row["start"]): {name: row.get(name) for name in sorted(types)}
        for row in result.get(statistic_id, [])
    }


def assert_series(rows: dict[datetime, dict[str, Any]], expected: dict[datetime, float]) -> None:
    """Same hours as the truth, each state equal to it, sums accumulated from zero."""
    assert expected, "the simulator returned nothing to compare with"
    assert sorted(rows) == sorted(expected)
    running = 0.0
    for hour in sorted(expected):
        running += expected[hour]
        assert rows[hour]["state"] == pytest.approx(expected[hour], abs=1e-6), hour
        assert rows[hour]["sum"] == pytest.approx(running, abs=1e-5), hour


def statistic(ean: str, unit: str = "kwh", direction: str = "offtake") -> str:
    return f"fluvius:{ean}_{direction}_total_{unit}"


# --- a. daylight-saving days ------------------------------------------------------


class DstCase(NamedTuple):
    """Frozen time, first local day imported (history option of one month), DST day."""

    now: str
    history_from: date
    day: date
    hours: int


@pytest.mark.parametrize(
    "case",
    [
        # Last Sunday of March: 02:00 -> 03:00 local, a 23-hour day.
        DstCase("2026-04-10T09:17:00+00:00", date(2026, 3, 1), date(2026, 3, 29), 23),
        # Last Sunday of October: 03:00 -> 02:00 local, a 25-hour day.
        DstCase("2026-11-10T09:17:00+00:00", date(2026, 10, 1), date(2026, 10, 25), 25),
    ],
    ids=["spring_23h", "autumn_25h"],
)
async def test_dst_day_quarter_hours(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    case: DstCase,
) -> None:
    freezer.move_to(case.now)
    simulator.add_mandate(QH_BOTH)
    await setup_entry(hass, simulator)
    day, hours = case.day, case.hours

    start = local_midnight(case.history_from)
    day_start, day_end = local_midnight(day), local_midnight(day + timedelta(days=1))
    assert day_end - day_start == timedelta(hours=hours)
    for direction in ("offtake", "injection"):
        rows = await stored(hass, statistic(QH_BOTH, direction=direction))
        assert_series(rows, truth_hours(simulator, QH_BOTH, start, direction=direction))

        quarters = raw(
            simulator,
            QH_BOTH,
            day_start,
            day_end,
            unit="kwh",
            granularity="quarter_hourly",
            direction=direction,
        )
        assert len(quarters) == 4 * hours
        per_hour: dict[datetime, list[float]] = defaultdict(list)
        for moment, value in quarters:
            per_hour[moment.replace(minute=0)].append(value)

        # Every UTC hour of the local day once, none lost at 02:00, none doubled at 02:00.
        day_hours = sorted(hour for hour in rows if day_start <= hour < day_end)
        assert day_hours == [day_start + k * HOUR for k in range(hours)]
        for hour in day_hours:
            assert len(per_hour[hour]) == 4
            assert rows[hour]["state"] == pytest.approx(sum(per_hour[hour]), abs=1e-6)

        day_total = sum(value for _, value in quarters)
        assert sum(rows[hour]["state"] for hour in day_hours) == pytest.approx(day_total, abs=1e-6)
        before = rows[day_start - HOUR]["sum"]
        assert rows[day_hours[-1]]["sum"] - before == pytest.approx(day_total, abs=1e-5)


# --- b. gas day (06:00 -> 06:00 local) --------------------------------------------


async def test_gas_day_boundary(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-04-10T09:17:00+00:00")
    simulator.add_mandate(DAILY_GAS)
    simulator.add_mandate(HOURLY_GAS)
    await setup_entry(hass, simulator)
    start = local_midnight(date(2026, 3, 1))
    now = dt_util.utcnow()

    # Daily-only gas: each gas day is one row at the hour the gas day starts.
    for unit in ("m3", "kwh"):
        days = raw(simulator, DAILY_GAS, start, now, unit=unit, granularity="daily")
        assert len(days) > 25
        expected = dict(days)
        assert len(expected) == len(days)
        for moment in expected:
            assert moment == local_six(moment.astimezone(BRUSSELS).date())
        rows = await stored(hass, statistic(DAILY_GAS, unit))
        assert_series(rows, expected)
        # 06:00 local is 05:00 UTC before 29 March and 04:00 UTC from then on.
        assert local_six(date(2026, 3, 28)) == datetime(2026, 3, 28, 5, tzinfo=UTC)
        assert local_six(date(2026, 3, 29)) == datetime(2026, 3, 29, 4, tzinfo=UTC)
        assert local_six(date(2026, 3, 28)) in rows
        assert local_six(date(2026, 3, 29)) in rows
        assert {hour.hour for hour in rows} == {4, 5}

    # Hourly gas: sums run on across every 06:00 local boundary.
    daily_truth = dict(raw(simulator, HOURLY_GAS, start, now, unit="m3", granularity="daily"))
    for unit in ("m3", "kwh"):
        expected = truth_hours(simulator, HOURLY_GAS, start, unit=unit, granularity="hourly")
        rows = await stored(hass, statistic(HOURLY_GAS, unit))
        assert_series(rows, expected)
        checked = 0
        day = date(2026, 3, 2)
        while local_six(day) < now:
            boundary = local_six(day)
            if boundary in expected and boundary - HOUR in expected:
                assert rows[boundary]["sum"] == pytest.approx(
                    rows[boundary - HOUR]["sum"] + expected[boundary], abs=1e-5
                )
                checked += 1
            day += timedelta(days=1)
        assert checked > 25

    # The 23-hour gas day 28 -> 29 March: its hours add up to the API's daily value.
    gas_day_start, gas_day_end = local_six(date(2026, 3, 28)), local_six(date(2026, 3, 29))
    assert gas_day_end - gas_day_start == timedelta(hours=23)
    rows = await stored(hass, statistic(HOURLY_GAS, "m3"))
    hours = [hour for hour in rows if gas_day_start <= hour < gas_day_end]
    assert len(hours) == 23
    assert sum(rows[hour]["state"] for hour in hours) == pytest.approx(
        daily_truth[gas_day_start], abs=1e-6
    )


# --- c. month boundary ------------------------------------------------------------


async def test_month_boundary(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    simulator.add_mandate(QH_BOTH)
    simulator.add_mandate(HOURLY_GAS)
    await setup_entry(hass, simulator, options={CONF_HISTORY_MONTHS: 2})
    start = local_midnight(date(2026, 1, 1))
    february, march = local_midnight(date(2026, 2, 1)), local_midnight(date(2026, 3, 1))
    assert february == datetime(2026, 1, 31, 23, tzinfo=UTC)

    rows = await stored(hass, statistic(QH_BOTH))
    assert_series(rows, truth_hours(simulator, QH_BOTH, start))
    for boundary in (february, march):
        assert boundary - HOUR in rows
        assert boundary in rows
        assert rows[boundary]["sum"] == pytest.approx(
            rows[boundary - HOUR]["sum"] + rows[boundary]["state"], abs=1e-5
        )
    # Month totals read from the sums, as the energy dashboard does.
    january_total = sum(
        value
        for _, value in raw(
            simulator, QH_BOTH, start, february, unit="kwh", granularity="quarter_hourly"
        )
    )
    february_total = sum(
        value
        for _, value in raw(
            simulator, QH_BOTH, february, march, unit="kwh", granularity="quarter_hourly"
        )
    )
    assert rows[start]["sum"] == pytest.approx(rows[start]["state"], abs=1e-6)
    assert rows[february - HOUR]["sum"] == pytest.approx(january_total, abs=1e-5)
    assert rows[march - HOUR]["sum"] - rows[february - HOUR]["sum"] == pytest.approx(
        february_total, abs=1e-5
    )

    # The gas day 31 January 06:00 -> 1 February 06:00 straddles the month boundary.
    for unit in ("m3", "kwh"):
        gas = await stored(hass, statistic(HOURLY_GAS, unit))
        assert_series(
            gas, truth_hours(simulator, HOURLY_GAS, start, unit=unit, granularity="hourly")
        )
        assert february - HOUR in gas
        assert february in gas


# --- d. restart in the middle of the history import ------------------------------

# Seven months back from 10 March 2026: from 1 August 2025, two windows of at most
# 184 local days, split at local midnight of 1 February 2026.
RESTART_NOW = "2026-03-10T09:17:00+00:00"
RESTART_FROM = datetime(2025, 7, 31, 22, tzinfo=UTC)
RESTART_SPLIT = datetime(2026, 1, 31, 23, tzinfo=UTC)
ALL_TYPES = frozenset({"state", "sum", "mean", "min", "max"})


def new_entry(hass: HomeAssistant, sim: FluviusSimulator) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Fluvius custom",
        unique_id=f"custom_{sim.credentials.client_id}",
        data=entry_data(sim),
        options={CONF_HISTORY_MONTHS: 7},
    )
    entry.add_to_hass(hass)
    return entry


async def snapshot(hass: HomeAssistant) -> dict[str, dict[datetime, dict[str, Any]]]:
    """Every stored row of every Fluvius statistic, all columns."""
    await async_wait_recording_done(hass)
    metadata = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_source=DOMAIN)
    )
    return {statistic_id: await stored(hass, statistic_id, ALL_TYPES) for statistic_id in metadata}


def energy_windows(sim: FluviusSimulator) -> list[tuple[str, int]]:
    """(from, status) of the history requests (readTime naming a granularity)."""
    return [
        (request.query["from"][0], request.status)
        for request in sim.requests
        if request.path == "/api/mandate/energy"
        and "granularity" in request.query
        and request.query.get("periodType") == ["readTime"]
    ]


async def wait_for(hass: HomeAssistant, condition: Callable[[], bool], what: str) -> None:
    """Let the background import run until ``condition()`` holds.

    The loop clock is frozen with the wall clock, so the pause is a real sleep in
    an executor thread rather than a loop timer.
    """
    for _ in range(3000):
        if condition():
            return
        await hass.async_add_executor_job(time_module.sleep, 0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_restart_mid_import_gives_the_same_rows(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    freezer.move_to(RESTART_NOW)
    simulator.add_mandate(QH_OFFTAKE)

    # Uninterrupted import, checked against the truth.
    entry = new_entry(hass, simulator)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    assert [window for window, _ in energy_windows(simulator)] == [
        "2025-07-31T22:00:00Z",
        "2026-01-31T23:00:00Z",
    ]
    reference = await snapshot(hass)
    assert set(reference) == {
        statistic(QH_OFFTAKE),
        f"fluvius:{QH_OFFTAKE}_offtake_day_kwh",
        f"fluvius:{QH_OFFTAKE}_offtake_night_kwh",
        f"fluvius:{QH_OFFTAKE}_offtake_power_kw",
    }
    total = reference[statistic(QH_OFFTAKE)]
    assert_series(total, truth_hours(simulator, QH_OFFTAKE, RESTART_FROM))
    assert min(total) == RESTART_FROM
    assert len(reference[f"fluvius:{QH_OFFTAKE}_offtake_power_kw"]) == len(total)

    # Start again from nothing: entry, import state and statistics gone.
    assert await hass.config_entries.async_remove(entry.entry_id)
    await settle(hass)
    get_instance(hass).async_clear_statistics(sorted(reference))
    assert await snapshot(hass) == {}
    simulator.requests.clear()

    # The first window and the first poll go through; then the API fails, and Home
    # Assistant stops while the import is retrying the second window.
    simulator.faults.add(
        Fault("slow", delay=0, path="/api/mandate/energy", ean=QH_OFFTAKE, count=2),
        Fault("status", status=503, retry_after="0", path="/api/mandate/energy", ean=QH_OFFTAKE),
    )
    entry = new_entry(hass, simulator)
    assert await hass.config_entries.async_setup(entry.entry_id)
    importer = entry.runtime_data.importer
    await wait_for(
        hass,
        lambda: any(status == 503 for _, status in energy_windows(simulator)),
        "the second window to fail",
    )
    assert importer.states.by_ean[QH_OFFTAKE].cursor == RESTART_SPLIT
    assert not importer.states.by_ean[QH_OFFTAKE].done
    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    persisted = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["eans"][QH_OFFTAKE]
    assert persisted["cursor"] == RESTART_SPLIT.isoformat()
    assert persisted["done"] is False
    before_split = await snapshot(hass)
    assert set(before_split) == set(reference)
    for statistic_id, rows in before_split.items():
        assert rows
        assert max(rows) < RESTART_SPLIT
        assert rows == {
            hour: row for hour, row in reference[statistic_id].items() if hour < RESTART_SPLIT
        }

    # Restart: the persisted cursor resumes at the second window.
    simulator.faults.clear()
    simulator.requests.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    assert energy_windows(simulator) == [("2026-01-31T23:00:00Z", 200)]
    assert entry.runtime_data.importer.states.by_ean[QH_OFFTAKE].done
    assert await snapshot(hass) == reference

    # A stop after the second window's rows were written but before its cursor was
    # saved: the window is imported again over its own rows.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    assert entry.state is ConfigEntryState.NOT_LOADED
    saved = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["eans"][QH_OFFTAKE]
    saved["cursor"] = RESTART_SPLIT.isoformat()
    saved["done"] = False
    simulator.requests.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    assert energy_windows(simulator) == [("2026-01-31T23:00:00Z", 200)]
    assert await snapshot(hass) == reference
