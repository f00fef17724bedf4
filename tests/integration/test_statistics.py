"""Long-term statistics against a real recorder, compared with the simulator's truth.

Expected values are computed here, independently of the integration, from the
simulator's raw quarter-hours (``sim.truth``): summed into UTC hours, then
accumulated.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.recorder.tasks import ImportStatisticsTask
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.fluvius.const import DOMAIN
from custom_components.fluvius.statistics import (
    BATCH_SECONDS,
    MAX_BATCH_ROWS,
    MIN_BATCH_ROWS,
    ImportPace,
)
from fluvius_simulator import FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
# History option of one month: the import starts at local midnight of 1 February.
START = datetime(2026, 1, 31, 23, tzinfo=dt_util.UTC)


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def stored(hass: HomeAssistant, statistic_id: str) -> list[dict[str, Any]]:
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        START - timedelta(days=40),
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum", "max", "mean"},
    )
    return list(result.get(statistic_id, []))


def expected_hours(
    sim: FluviusSimulator, ean: str, *, direction: str, unit: str, granularity: str
) -> dict[datetime, float]:
    """Independent aggregation: complete UTC hours of the simulator's values."""
    now = dt_util.utcnow()
    groups: dict[datetime, list[float]] = defaultdict(list)
    for record in sim.truth(ean, START, now, granularity=granularity):
        if (
            record.sub_ean is None
            and record.direction == direction
            and record.unit.lower() == unit
            and record.register == "total"
        ):
            groups[record.start.replace(minute=0)].append(record.value)
    need = 4 if granularity == "quarter_hourly" else 1
    return {hour: sum(values) for hour, values in groups.items() if len(values) == need}


def assert_rows_match(rows: list[dict[str, Any]], hours: dict[datetime, float]) -> None:
    assert rows, "no statistics stored"
    got = {dt_util.utc_from_timestamp(row["start"]): row for row in rows}
    assert sorted(got) == sorted(hours)
    running = 0.0
    for hour in sorted(hours):
        running += hours[hour]
        assert got[hour]["state"] == pytest.approx(hours[hour], abs=1e-6)
        assert got[hour]["sum"] == pytest.approx(running, abs=1e-5)


async def test_history_matches_truth_quarter_hour(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    await setup_entry(hass, simulator)
    for direction in ("offtake", "injection"):
        rows = await stored(hass, f"fluvius:{DM_ELECTRICITY}_{direction}_total_kwh")
        expected = expected_hours(
            simulator, DM_ELECTRICITY, direction=direction, unit="kwh", granularity="quarter_hourly"
        )
        assert_rows_match(rows, expected)

    # The power statistic: max is the highest quarter-hour x 4.
    power = await stored(hass, f"fluvius:{DM_ELECTRICITY}_offtake_power_kw")
    quarters: dict[datetime, list[float]] = defaultdict(list)
    for record in simulator.truth(DM_ELECTRICITY, START, dt_util.utcnow()):
        if record.sub_ean is None and record.direction == "offtake":
            quarters[record.start.replace(minute=0)].append(record.value)
    assert power
    for row in power:
        values = quarters[dt_util.utc_from_timestamp(row["start"])]
        assert row["max"] == pytest.approx(max(values) * 4, abs=1e-6)
        assert row["mean"] == pytest.approx(sum(values), abs=1e-6)


async def test_gas_hourly_m3_and_kwh(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate(DM_GAS)
    await setup_entry(hass, simulator)
    for unit in ("m3", "kwh"):
        rows = await stored(hass, f"fluvius:{DM_GAS}_offtake_total_{unit}")
        expected = expected_hours(
            simulator, DM_GAS, direction="offtake", unit=unit, granularity="hourly"
        )
        assert_rows_match(rows, expected)


async def test_import_twice_changes_nothing_and_late_data_rebases(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    statistic_id = f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh"
    before = await stored(hass, statistic_id)

    # A second poll at the same moment writes nothing new.
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    assert await stored(hass, statistic_id) == before

    # Three days later: late data and corrections arrived; every sum is re-based.
    freezer.tick(timedelta(days=3))
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    expected = expected_hours(
        simulator, DM_ELECTRICITY, direction="offtake", unit="kwh", granularity="quarter_hourly"
    )
    assert_rows_match(await stored(hass, statistic_id), expected)


async def test_backdated_data_period_deletes_rows_after_it(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    statistic_id = f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh"
    rows = await stored(hass, statistic_id)
    cut = datetime(2026, 2, 20, 23, tzinfo=dt_util.UTC)
    kept_before = [row for row in rows if row["start"] < cut.timestamp()]
    assert len(kept_before) < len(rows)

    simulator.set_data_period_to(DM_ELECTRICITY, cut)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    after = await stored(hass, statistic_id)
    assert after == kept_before

    from homeassistant.helpers import issue_registry as ir  # noqa: PLC0415

    issues = [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN]
    assert any(i.startswith("data_period_cut_") for i in issues)


async def test_stored_rows_are_exact(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    """The database neither rounds states and sums nor moves hours.

    Runs on SQLite here and, through scripts/test-databases, on MariaDB and
    PostgreSQL: every state and sum equals the truth rounded to six decimals (the
    integration's rounding) to the last bit, and every start is a whole UTC hour.
    """
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    await setup_entry(hass, simulator)
    for ean, unit, granularity in (
        (DM_ELECTRICITY, "kwh", "quarter_hourly"),
        (DM_GAS, "m3", "hourly"),
    ):
        rows = await stored(hass, f"fluvius:{ean}_offtake_total_{unit}")
        expected = expected_hours(
            simulator, ean, direction="offtake", unit=unit, granularity=granularity
        )
        got = {dt_util.utc_from_timestamp(row["start"]): row for row in rows}
        assert sorted(got) == sorted(expected)
        running = 0.0
        for hour in sorted(expected):
            running += expected[hour]
            assert got[hour]["start"] % 3600 == 0, hour
            assert (got[hour]["state"], got[hour]["sum"]) == (
                round(expected[hour], 6),
                round(running, 6),
            ), hour


async def test_rows_reach_the_recorder_in_paced_batches(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    """A window's rows go in batches, each imported before the next is queued.

    The recorder imports a batch in one go on its own thread; the pace keeps each
    one short, so the event loop never waits long for the GIL (bench_import.py).
    """
    instance = get_instance(hass)
    queue_task = instance.queue_task
    run = ImportStatisticsTask.run
    batches: dict[str, list[int]] = defaultdict(list)
    first_batch: list[int] = []
    waiting = 0
    most_waiting = 0

    def queued(task: Any) -> None:
        nonlocal waiting, most_waiting
        if isinstance(task, ImportStatisticsTask) and task.metadata["source"] == DOMAIN:
            size = len(list(task.statistics))
            batches[task.metadata["statistic_id"]].append(size)
            if not first_batch:
                first_batch.append(size)
            waiting += 1
            most_waiting = max(most_waiting, waiting)
        queue_task(task)

    def imported(task: ImportStatisticsTask, recorder: Any) -> None:
        nonlocal waiting
        run(task, recorder)
        if task.metadata["source"] == DOMAIN:
            waiting -= 1

    simulator.add_mandate(DM_ELECTRICITY)
    with (
        patch.object(instance, "queue_task", queued),
        patch.object(ImportStatisticsTask, "run", imported),
    ):
        await setup_entry(hass, simulator)
        statistic_id = f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh"
        rows = await stored(hass, statistic_id)
    expected = expected_hours(
        simulator, DM_ELECTRICITY, direction="offtake", unit="kwh", granularity="quarter_hourly"
    )
    assert_rows_match(rows, expected)
    assert most_waiting == 1
    sizes = [size for sizes in batches.values() for size in sizes]
    # The writer starts small, and some statistic's rows needed several batches.
    assert first_batch == [MIN_BATCH_ROWS]
    assert len(sizes) > len(batches)
    assert max(sizes) <= MAX_BATCH_ROWS


def test_the_pace_learns_how_many_rows_fit_the_budget() -> None:
    pace = ImportPace()
    assert pace.rows == MIN_BATCH_ROWS
    # A recorder that imports 10,000 rows a second: 250 fit in 25 ms.
    fits = round(10_000 * BATCH_SECONDS)
    for _ in range(12):
        pace.learn(pace.rows, pace.rows / 10_000)
    assert abs(pace.rows - fits) <= 1
    # A slow batch (the recorder was busy with something else) halves the way back.
    before = pace.rows
    pace.learn(before, 1.0)
    assert pace.rows == int((before + before * BATCH_SECONDS) / 2)
    for _ in range(20):
        pace.learn(pace.rows, 5.0)
    assert pace.rows == MIN_BATCH_ROWS
    for _ in range(40):
        pace.learn(pace.rows, 0.0)
    assert pace.rows == MAX_BATCH_ROWS
