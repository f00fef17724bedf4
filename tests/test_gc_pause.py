"""The collector pause around a window's parse-and-aggregate job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import gc
import threading
from typing import Any

import aiohttp
import pytest

from custom_components.fluvius.aggregation import aggregate
from custom_components.fluvius.api import Granularity, parse_energy
from custom_components.fluvius.connect import create_client
from custom_components.fluvius.gc_pause import collector_paused
from custom_components.fluvius.statistics import _aggregate_body
from fluvius_simulator import FluviusSimulator
from tests.conftest import entry_data

EAN = "541440110000000000"  # digital meter, electricity, offtake + injection


@pytest.fixture
def collections_here() -> Iterator[list[int]]:
    """Generations of the collections this thread starts, with a low young threshold."""
    started: list[int] = []
    ident = threading.get_ident()

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and threading.get_ident() == ident:
            started.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.set_threshold(50, *thresholds[1:])
    gc.callbacks.append(record)
    yield started
    gc.callbacks.remove(record)
    gc.set_threshold(*thresholds)


async def window_body(simulator: FluviusSimulator, days: int) -> bytes:
    """A quarter-hour GET energy body of ``days`` days, as the history import fetches it."""
    simulator.add_mandate(EAN)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7)
    async with aiohttp.ClientSession() as session:
        client = create_client(session, entry_data(simulator))
        return await client.get_energy_body(
            EAN, end - timedelta(days=days), end, granularity=[Granularity.HOURLY_QUARTERHOURLY]
        )


def test_pauses_nest_across_threads_and_the_last_one_resumes() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    with collector_paused():
        assert not gc.isenabled()
        worker.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the worker still holds its pause
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_an_error_resumes_and_a_disabled_collector_stays_disabled() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_only_the_hourly_rows_outlive_the_job(simulator: FluviusSimulator) -> None:
    body = await window_body(simulator, days=20)
    data = _aggregate_body(body, False)
    assert data == aggregate(parse_energy(body).readings())
    assert len(data.power) == 1
    assert len(next(iter(data.power.values()))) == 20 * 24

    # Without collections, the young count is tracked allocations minus frees.
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        parsed = parse_energy(body)
        held_by_parse = gc.get_count()[0] - before
        del parsed
        before = gc.get_count()[0]
        data = _aggregate_body(body, False)
        held_by_job = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert held_by_parse > 20 * 96 * 5
    assert held_by_job * 4 < held_by_parse


async def test_no_collection_runs_during_the_job(
    simulator: FluviusSimulator, collections_here: list[int]
) -> None:
    body = await window_body(simulator, days=5)
    collections_here.clear()
    parse_energy(body)
    assert len(collections_here) > 10, "the low threshold makes an unpaused parse collect"
    collections_here.clear()
    _aggregate_body(body, False)
    # At most the one young collection due when the pause ends, over the compact result.
    assert len(collections_here) <= 1
