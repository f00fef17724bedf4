"""Load: many EANs under one account, against the simulator with a little latency.

Checks that the integration never has more requests in flight than its limit,
that every EAN ends with statistics (a few spot-checked against the
simulator's raw values) and that memory stays bounded. The simulator answers
every energy request after a short delay, as a real network would; without it
requests would never overlap and the concurrency check would prove nothing.

``benchmarks/bench_load.py`` runs this test with other sizes (environment
variables below) and prints the figures it writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import json
import logging
import os
from pathlib import Path
import time
import tracemalloc

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN, MAX_CONCURRENT_REQUESTS
from custom_components.fluvius.timeutil import local_day, local_midnight
from fluvius_simulator import Fault, FluviusSimulator
from tests.conftest import entry_data

from .fault_harness import (
    PATH_ENERGY,
    VirtualClock,
    expected_from_truth,
    row_count,
    snapshot,
    truth_differences,
)

EANS = int(os.environ.get("FLUVIUS_LOAD_EANS", "50"))
# Days of data period before "now"; the history import reads all of them.
DAYS = int(os.environ.get("FLUVIUS_LOAD_DAYS", "4"))
LATENCY = float(os.environ.get("FLUVIUS_LOAD_LATENCY", "0.02"))
FIGURES = os.environ.get("FLUVIUS_LOAD_FIGURES")
# Tracing memory makes the run about 2.5 times slower; the benchmark can turn it off.
TRACE = os.environ.get("FLUVIUS_LOAD_TRACE", "1") != "0"
# Generous (the measured peak is a tenth of it): a leak per row or per response breaks it.
MEMORY_LIMIT = 64 * 2**20 + EANS * DAYS * 2**20

START = datetime(2026, 3, 10, 9, 17, tzinfo=dt_util.UTC)


@pytest.fixture
async def clock(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: FluviusSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> VirtualClock:
    """Frozen time that only moves when nothing but timers (here: latency) is left."""
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    freezer.move_to(START)
    return VirtualClock(hass, freezer, simulator, monkeypatch)


def _real_seconds() -> float:
    """Wall-clock seconds that freezegun leaves alone (it patches perf_counter and monotonic)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def mock_eans(count: int) -> dict[str, str]:
    """A mix per five EANs: three quarter-hour electricity, one hourly gas, one daily-only."""
    out: dict[str, str] = {}
    for index in range(count):
        model = f"{index:03d}"
        kind = index % 5
        if kind < 3:
            out[f"541440010000000{model}"] = "quarter_hourly"
        elif kind == 3:
            out[f"541441010000000{model}"] = "hourly"
        else:
            out[f"541440000000000{model}"] = "daily"
    return out


async def test_many_eans_stay_within_the_limits(
    hass: HomeAssistant, simulator: FluviusSimulator, clock: VirtualClock
) -> None:
    eans = mock_eans(EANS)
    data_from = local_midnight(local_day(dt_util.utcnow()) - timedelta(days=DAYS))
    for ean in eans:
        simulator.add_mandate(ean, data_period_from=data_from)
    simulator.faults.add(Fault(kind="slow", delay=LATENCY, path=PATH_ENERGY))

    if TRACE:
        tracemalloc.start()
    began = _real_seconds()
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data=entry_data(simulator),
        options={CONF_HISTORY_MONTHS: 1},
    )
    entry.add_to_hass(hass)
    hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await clock.run_until(lambda: entry.state is ConfigEntryState.LOADED)
    loaded_after = dt_util.utcnow() - START
    await clock.run_until(
        lambda: all(entry.runtime_data.importer.states.history_done(ean) for ean in eans)
    )
    imported_after = dt_util.utcnow() - START
    await clock.settle()
    wall = _real_seconds() - began
    peak = tracemalloc.get_traced_memory()[1] if TRACE else 0
    tracemalloc.stop()

    importer = entry.runtime_data.importer
    assert all(importer.states.history_done(ean) for ean in eans)
    rows = await snapshot(hass)
    with_rows = {ean for ean in eans if any(ean in sid and stats for sid, stats in rows.items())}
    energy_calls = sum(1 for request in simulator.requests if request.path.endswith("energy"))
    figures = {
        "eans": EANS,
        "days": DAYS,
        "latency_s": LATENCY,
        "wall_s": round(wall, 2),
        "loaded_after_virtual_s": round(loaded_after.total_seconds(), 2),
        "imported_after_virtual_s": round(imported_after.total_seconds(), 2),
        "calls": len(simulator.requests),
        "energy_calls": energy_calls,
        "max_concurrent": simulator.max_concurrent,
        "limit": MAX_CONCURRENT_REQUESTS,
        "peak_memory_mb": round(peak / 2**20, 1) if TRACE else None,
        "statistics": len(rows),
        "rows": row_count(rows),
    }
    if FIGURES:
        text = json.dumps(figures, indent=2)
        await hass.async_add_executor_job(Path(FIGURES).write_text, text, "utf-8")

    assert simulator.max_concurrent <= MAX_CONCURRENT_REQUESTS, figures
    # Requests did overlap, or the limit above was never put to the test.
    assert simulator.max_concurrent > 1, figures
    assert with_rows == set(eans), sorted(set(eans) - with_rows)
    fine = [ean for ean, granularity in eans.items() if granularity != "daily"]
    for ean in (fine[0], fine[len(fine) // 2], fine[-1]):
        mine = {sid: stats for sid, stats in rows.items() if ean in sid}
        wrong = truth_differences(mine, expected_from_truth(simulator, {ean: eans[ean]}, data_from))
        assert not wrong, (ean, wrong)
    assert peak < MEMORY_LIMIT, figures
