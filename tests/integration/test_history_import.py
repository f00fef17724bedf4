"""The history import: resume, failures and retries, data-period cuts, clearing during an import.

Expected rows are computed from the simulator's quarter-hours (``sim.truth``),
independently of the integration's aggregation.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
import logging
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.fluvius.const import DOMAIN
from fluvius_simulator import Fault, FluviusSimulator

from .helpers import history_requests, local_midnight, settle, setup_entry
from .stored_import import import_state, setup_after_import, setup_with_stored_state

DM_ELECTRICITY = "541440110000000000"
DM_DAILY = "541440100000000000"
NOW = datetime(2026, 3, 10, 9, 17, tzinfo=UTC)
# A failed window is retried after this long (the integration's documented delay).
RETRY_DELAY = timedelta(minutes=15)
OFFTAKE = f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)


@pytest.fixture
def no_backoff() -> Any:
    """Client retries without waiting, so a persistent 5xx fails the window at once."""
    with patch("custom_components.fluvius.entry_client.RETRY_BACKOFF_BASE", 0):
        yield


def api_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def stored_rows(hass: HomeAssistant, statistic_id: str) -> dict[datetime, dict[str, Any]]:
    await settle(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2025, 1, 1, tzinfo=UTC),
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return {dt_util.utc_from_timestamp(r["start"]): dict(r) for r in result.get(statistic_id, [])}


def quarter_hour_rows(
    sim: FluviusSimulator, ean: str, start: datetime, end: datetime
) -> dict[datetime, float]:
    """Complete UTC hours of offtake quarter-hours in [start, end)."""
    groups: dict[datetime, list[float]] = defaultdict(list)
    for record in sim.truth(ean, start, end, granularity="quarter_hourly"):
        if record.sub_ean is None and record.direction == "offtake":
            groups[record.start.replace(minute=0)].append(record.value)
    return {hour: sum(values) for hour, values in groups.items() if len(values) == 4}


def assert_rows(rows: dict[datetime, dict[str, Any]], expected: dict[datetime, float]) -> None:
    assert sorted(rows) == sorted(expected)
    running = 0.0
    for hour in sorted(expected):
        running += expected[hour]
        assert rows[hour]["state"] == pytest.approx(expected[hour], abs=1e-6)
        assert rows[hour]["sum"] == pytest.approx(running, abs=1e-5)


def progress(hass: HomeAssistant, ean: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{ean}_history_import")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


class _Logged(logging.Handler):
    """Sets an event when the integration logs a message containing ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.WARNING)
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def start_import(hass: HomeAssistant, entry: MockConfigEntry, day: str) -> None:
    """Start a history import and return once it waits for a retry (or ended).

    The frozen clock stops the loop's timers, so this waits for the warning
    that announces the retry instead of polling.
    """
    logged = _Logged("retrying in")
    logger = logging.getLogger("custom_components.fluvius")
    logger.addHandler(logged)
    try:
        await hass.services.async_call(
            DOMAIN,
            "import_history",
            {"config_entry_id": entry.entry_id, "ean": DM_ELECTRICITY, "from": day},
            blocking=True,
        )
        task = entry.runtime_data.history._tasks[DM_ELECTRICITY]
        waiting = asyncio.ensure_future(logged.event.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    finally:
        logger.removeHandler(logged)
    await hass.async_block_till_done()


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_resume_from_persisted_cursor(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    """A restart mid-import continues at the cursor: earlier windows are not fetched again."""
    simulator.add_mandate(DM_ELECTRICITY)
    history_to = NOW.replace(minute=0)
    cursor = local_midnight(date(2026, 2, 20))
    entry = await setup_with_stored_state(
        hass,
        simulator,
        hass_storage,
        {
            DM_ELECTRICITY: import_state(
                history_from=local_midnight(date(2026, 2, 1)),
                history_to=history_to,
                cursor=cursor,
                done=False,
                last_poll=NOW - timedelta(hours=2),
            )
        },
    )
    requests = history_requests(simulator, DM_ELECTRICITY)
    assert len(requests) == 1
    assert requests[0].query["from"] == [api_time(cursor)]
    assert requests[0].query["to"] == [api_time(history_to)]
    assert_rows(
        await stored_rows(hass, OFFTAKE),
        quarter_hour_rows(simulator, DM_ELECTRICITY, cursor, history_to),
    )
    assert entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY].done
    assert progress(hass, DM_ELECTRICITY) == "100.0"


@pytest.mark.usefixtures("no_backoff")
async def test_failed_window_is_retried_later(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    importer = entry.runtime_data.importer
    # The API keeps failing through all of the client's own retries.
    simulator.faults.add(
        Fault(kind="status", status=503, path="/api/mandate/energy", ean=DM_ELECTRICITY, count=5)
    )
    start = local_midnight(date(2026, 3, 1))
    caplog.set_level(logging.WARNING)
    await start_import(hass, entry, "2026-03-01")

    failed = history_requests(simulator, DM_ELECTRICITY)
    assert [r.status for r in failed] == [503] * 5
    state = importer.states.by_ean[DM_ELECTRICITY]
    assert not state.done
    assert state.cursor == start
    assert progress(hass, DM_ELECTRICITY) == "0.0"
    assert "retrying in 0:15:00" in caplog.text

    # A mandates refresh meanwhile leaves the waiting import alone.
    await entry.runtime_data.mandates.async_refresh()
    await hass.async_block_till_done()
    await advance(hass, freezer, RETRY_DELAY - timedelta(minutes=1))
    assert len(history_requests(simulator, DM_ELECTRICITY)) == 5

    await advance(hass, freezer, timedelta(minutes=1))
    await settle(hass)
    requests = history_requests(simulator, DM_ELECTRICITY)
    assert len(requests) == 6
    assert requests[-1].status == 200
    assert requests[-1].query["from"] == [api_time(start)]
    assert state.done
    assert progress(hass, DM_ELECTRICITY) == "100.0"
    rows = await stored_rows(hass, OFFTAKE)
    assert min(rows) == start


@pytest.mark.usefixtures("no_backoff")
async def test_manual_import_replaces_a_waiting_one(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    simulator.faults.add(
        Fault(kind="status", status=503, path="/api/mandate/energy", ean=DM_ELECTRICITY, count=5)
    )
    await start_import(hass, entry, "2026-03-01")
    assert not entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY].done

    # No need to wait 15 minutes: a new request starts over at once.
    await start_import(hass, entry, "2026-03-05")
    await settle(hass)
    requests = history_requests(simulator, DM_ELECTRICITY)
    assert requests[-1].status == 200
    assert requests[-1].query["from"] == [api_time(local_midnight(date(2026, 3, 5)))]
    assert entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY].done


@pytest.mark.usefixtures("no_backoff")
async def test_clear_cancels_a_waiting_import(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    simulator.faults.add(
        Fault(kind="status", status=503, path="/api/mandate/energy", ean=DM_ELECTRICITY, count=5)
    )
    await start_import(hass, entry, "2026-03-01")
    await hass.services.async_call(
        DOMAIN,
        "clear_statistics",
        {"config_entry_id": entry.entry_id, "ean": DM_ELECTRICITY},
        blocking=True,
    )
    await advance(hass, freezer, RETRY_DELAY)
    await settle(hass)
    assert len(history_requests(simulator, DM_ELECTRICITY)) == 5
    assert await stored_rows(hass, OFFTAKE) == {}
    assert DM_ELECTRICITY not in entry.runtime_data.importer.states.by_ean or not (
        entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY].done
    )


async def test_refused_window_stops_without_retry(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    simulator.faults.add(
        Fault(kind="status", status=403, path="/api/mandate/energy", ean=DM_ELECTRICITY, count=1)
    )
    caplog.set_level(logging.WARNING)
    await start_import(hass, entry, "2026-03-01")
    await advance(hass, freezer, RETRY_DELAY * 2)
    await settle(hass)
    assert [r.status for r in history_requests(simulator, DM_ELECTRICITY)] == [403]
    assert "stopped" in caplog.text
    state = entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY]
    assert not state.done
    assert state.cursor == local_midnight(date(2026, 3, 1))

    # The next start (here a reload) resumes where it stopped.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await settle(hass)
    requests = history_requests(simulator, DM_ELECTRICITY)
    assert requests[-1].status == 200
    assert requests[-1].query["from"] == [api_time(local_midnight(date(2026, 3, 1)))]
    assert entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY].done


async def test_refused_credentials_pause_the_import(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    simulator.revoke_credentials()
    await start_import(hass, entry, "2026-03-01")
    await settle(hass)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert any(flow["context"]["source"] == "reauth" for flow in flows)
    state = entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY]
    assert not state.done
    assert state.cursor == local_midnight(date(2026, 3, 1))


async def test_cut_while_stopped_ends_the_resumed_import_at_the_cut(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    """The data period moved back while Home Assistant was off, before any window was written."""
    start = local_midnight(date(2026, 2, 20))
    cut = local_midnight(date(2026, 2, 25))
    simulator.add_mandate(DM_ELECTRICITY, data_period_to=cut)
    entry = await setup_with_stored_state(
        hass,
        simulator,
        hass_storage,
        {
            DM_ELECTRICITY: import_state(
                history_from=start,
                history_to=NOW.replace(minute=0),
                cursor=start,
                done=False,
                last_poll=NOW - timedelta(hours=2),
            )
        },
    )
    state = entry.runtime_data.importer.states.by_ean[DM_ELECTRICITY]
    assert state.history_to == cut
    assert state.done
    requests = history_requests(simulator, DM_ELECTRICITY)
    assert [(r.query["from"], r.query["to"]) for r in requests] == [
        ([api_time(start)], [api_time(cut)])
    ]
    assert_rows(
        await stored_rows(hass, OFFTAKE), quarter_hour_rows(simulator, DM_ELECTRICITY, start, cut)
    )
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"data_period_cut_{entry.entry_id}_{DM_ELECTRICITY}")


async def test_data_period_bounds_the_first_import(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    """A new mandate with an ended data period: import within it, nothing was cut."""
    period_from = datetime(2026, 2, 10, 10, tzinfo=UTC)
    period_to = local_midnight(date(2026, 2, 25))
    simulator.add_mandate(DM_DAILY, data_period_from=period_from, data_period_to=period_to)
    entry = await setup_entry(hass, simulator)

    # The first whole local day of the data period starts the import.
    first_day = local_midnight(date(2026, 2, 11))
    state = entry.runtime_data.importer.states.by_ean[DM_DAILY]
    assert state.history_from == first_day
    assert state.history_to == period_to
    assert state.done
    rows = await stored_rows(hass, f"fluvius:{DM_DAILY}_offtake_day_kwh")
    expected = {
        r.start: r.value
        for r in simulator.truth(DM_DAILY, first_day, period_to, granularity="daily")
        if r.direction == "offtake" and r.register == "day"
    }
    assert len(expected) == 14
    assert {hour: row["state"] for hour, row in rows.items()} == pytest.approx(expected)
    issues = ir.async_get(hass)
    assert not issues.async_get_issue(DOMAIN, f"data_period_cut_{entry.entry_id}_{DM_DAILY}")
