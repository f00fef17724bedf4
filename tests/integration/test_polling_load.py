"""Steady-state polling of a large account: calls per EAN per day, spread, freshness.

The history of every EAN is already in; a day of virtual time passes, with
polls on schedule and data arriving as the simulator delivers it (late days,
corrections). Checks the request budget per EAN and day, that requests never
burst, and that every delivery is seen within one poll interval of its
insert time. ``benchmarks/bench_polling.py`` runs this with 300 EANs
and prints the figures it writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import json
import os
from pathlib import Path
import tracemalloc
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.fluvius.const import (
    ENERGY_UPDATE_INTERVAL,
    MAX_CONCURRENT_REQUESTS,
    POLL_TICK,
)
from fluvius_simulator import Fault, FluviusSimulator, RecordedRequest

from .fault_harness import PATH_ENERGY, VirtualClock
from .stored_import import setup_after_import
from .test_load import mock_eans

EANS = int(os.environ.get("FLUVIUS_POLL_EANS", "15"))
HOURS = int(os.environ.get("FLUVIUS_POLL_HOURS", "24"))
LATENCY = float(os.environ.get("FLUVIUS_POLL_LATENCY", "0.02"))
FIGURES = os.environ.get("FLUVIUS_POLL_FIGURES")
TRACE = os.environ.get("FLUVIUS_POLL_TRACE", "1") != "0"
# The target: energy calls per EAN and day in steady state.
CALLS_PER_EAN_DAY = 25

START = datetime(2026, 3, 10, 9, 17, tzinfo=dt_util.UTC)


@pytest.fixture
async def clock(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: FluviusSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> VirtualClock:
    freezer.move_to(START)
    return VirtualClock(hass, freezer, simulator, monkeypatch)


def _moment(text: str) -> datetime:
    parsed = dt_util.parse_datetime(text)
    assert parsed is not None
    return parsed


def _staleness(sim: FluviusSimulator, eans: list[str], requests: list[RecordedRequest]) -> float:
    """Longest wait, in seconds, from a delivery's insert time to the poll that brought it.

    The first poll after a start reads recent days by readTime: that counts too.
    """
    answered: dict[str, list[tuple[datetime, datetime]]] = {}
    for request in requests:
        windows = answered.setdefault(request.query["ean"][0], [])
        windows.append((_moment(request.query["to"][0]), request.time))
    worst = 0.0
    begin = min(request.time for request in requests) + ENERGY_UPDATE_INTERVAL
    for ean in eans:
        deliveries = [
            moment
            for block in sim.blocks(ean, START - timedelta(days=45), dt_util.utcnow())
            for moment in (block.arrival, block.correction_arrival)
            if moment is not None and begin <= moment < dt_util.utcnow() - ENERGY_UPDATE_INTERVAL
        ]
        for delivered in deliveries:
            seen = min(at for to, at in answered.get(ean, []) if to > delivered)
            worst = max(worst, (seen - delivered).total_seconds())
    return worst


async def test_steady_state_polling_fits_the_budget(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    clock: VirtualClock,
    hass_storage: dict[str, Any],
) -> None:
    eans = list(mock_eans(EANS))
    for ean in eans:
        simulator.add_mandate(ean)
    entry = await setup_after_import(hass, simulator, hass_storage, eans)
    # Latency from now on: a frozen clock only moves on in the virtual clock's hands.
    simulator.faults.add(Fault(kind="slow", delay=LATENCY, path=PATH_ENERGY))
    await clock.settle()
    # Steady state: from the moment every EAN had its first (start-up) poll, which
    # the budget spreads over the first ticks of a large account.
    energy_coordinator = entry.runtime_data.energy
    await clock.run_until(lambda: set(energy_coordinator.data) == set(eans))
    await clock.settle()
    all_polled = dt_util.utcnow() - START
    simulator.reset_stats()
    if TRACE:
        tracemalloc.start()
    began = dt_util.utcnow()
    await clock.advance_to(began + timedelta(hours=HOURS))
    await clock.settle()
    peak = tracemalloc.get_traced_memory()[1] if TRACE else 0
    tracemalloc.stop()

    energy = [r for r in simulator.requests if r.path.endswith("energy") and r.status == 200]
    inserts = [r for r in energy if r.query.get("periodType") == ["insertTime"]]
    per_ean_day = len(energy) / len(eans) / (HOURS / 24)
    # Requests spread over the interval: no five-minute tick carries much more than its share.
    per_tick: dict[int, int] = {}
    for request in energy:
        slot = int((request.time - began) / POLL_TICK)
        per_tick[slot] = per_tick.get(slot, 0) + 1
    share = len(energy) / (timedelta(hours=HOURS) / POLL_TICK)
    staleness = _staleness(simulator, eans, energy)
    figures = {
        "eans": EANS,
        "hours": HOURS,
        "energy_calls": len(energy),
        "insert_time_calls": len(inserts),
        "calls_per_ean_day": round(per_ean_day, 2),
        "busiest_tick_calls": max(per_tick.values()),
        "mean_tick_calls": round(share, 1),
        "max_in_flight": simulator.max_concurrent,
        "limit": MAX_CONCURRENT_REQUESTS,
        "worst_staleness_min": round(staleness / 60, 1),
        "all_polled_after_min": round(all_polled.total_seconds() / 60, 1),
        "peak_memory_mb": round(peak / 2**20, 1) if TRACE else None,
        "budget_spent": entry.runtime_data.limiter.budget.spent,
    }
    if FIGURES:
        text = json.dumps(figures, indent=2)
        await hass.async_add_executor_job(Path(FIGURES).write_text, text, "utf-8")

    assert per_ean_day <= CALLS_PER_EAN_DAY, figures
    assert simulator.max_concurrent <= MAX_CONCURRENT_REQUESTS, figures
    assert max(per_tick.values()) <= 3 * share + 3, figures
    # Within one poll interval (plus the answers' latency).
    assert staleness <= (ENERGY_UPDATE_INTERVAL + timedelta(seconds=30)).total_seconds(), figures
