"""A history window's decode and aggregation: the same rows as before, few tracked objects.

The reference is the pre-msgspec parser and aggregation, kept unchanged in
``benchmarks/legacy`` for this comparison and for the parser benchmark.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
import gc
from typing import Any

import aiohttp
import orjson
import pytest

from benchmarks.legacy.aggregation import aggregate as legacy_aggregate, as_pairs
from benchmarks.legacy.parser import parse_energy as legacy_parse_energy
from custom_components.fluvius.aggregation import HourlyData, aggregate
from custom_components.fluvius.api import (
    PATH_ENERGY,
    EnergyResponse,
    FluviusClient,
    Granularity,
    Register,
    RegisterValues,
    parse_energy,
)
from custom_components.fluvius.entry_client import client_for_entry
from custom_components.fluvius.statistics import async_aggregate
from fluvius_simulator import FluviusSimulator
from tests.conftest import entry_data

DM_ELECTRICITY = "541440110000000000"  # digital meter, offtake + injection, quarter-hours
DM_GAS = "541441010000000000"  # digital gas meter, hourly m3 and kWh
AMR_INJECTION_PV = "541450211000000000"  # AMR with reactive energy and PV submeters
DM_DAILY_ONLY = "541440100000000000"  # day and night registers, daily only


async def window_body(simulator: FluviusSimulator, ean: str, days: int, **query: str) -> bytes:
    """A GET energy body of ``days`` days, as the history import fetches it."""
    simulator.add_mandate(ean)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7)
    params = [
        ("ean", ean),
        ("periodType", "readTime"),
        ("from", (end - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("to", end.strftime("%Y-%m-%dT%H:%M:%SZ")),
        *query.items(),
    ]
    async with aiohttp.ClientSession() as session:
        client: FluviusClient = client_for_entry(session, entry_data(simulator))
        return await client._request("GET", PATH_ENERGY, params=params)


def reference(bodies: list[bytes], *, include_reactive: bool = False) -> tuple[Any, ...]:
    """The rows the previous parser and aggregation made of the same bodies."""
    readings = (r for body in bodies for r in legacy_parse_energy(body).readings())
    legacy = legacy_aggregate(readings, include_reactive=include_reactive)
    return legacy.energy, legacy.power, legacy.quarter_hours


def rows_only(data: HourlyData) -> tuple[Any, ...]:
    """The rows the previous aggregation made (it kept no quarter-hours or ends for costs)."""
    return data.energy, data.power, as_pairs(data.quarter_hours)


def decoded(bodies: list[bytes], *, include_reactive: bool = False) -> tuple[Any, ...]:
    data = aggregate(
        [parse_energy(b) for b in bodies], include_reactive=include_reactive, keep_quarters=True
    )
    assert_priced_detail(data)
    return rows_only(data)


def assert_priced_detail(data: HourlyData) -> None:
    """What costs price: the quarter-hours behind each total hour, the end of each daily row."""
    for key, quarters in data.quarters.items():
        assert key.register == "total"
        for hour, energy in data.energy[key].items():
            parts = [quarters.get(hour + timedelta(minutes=15 * k)) for k in range(4)]
            if None not in parts:
                assert sum(p for p in parts if p is not None) == pytest.approx(energy, abs=1e-9)
    for key, ends in data.ends.items():
        assert set(ends) <= set(data.energy[key])
        assert all(end - start >= timedelta(hours=23) for start, end in ends.items())


async def test_daily_rows_carry_their_day_for_pricing(simulator: FluviusSimulator) -> None:
    body = await window_body(simulator, DM_DAILY_ONLY, days=9)
    data = aggregate([parse_energy(body)])
    assert data.ends
    assert not data.quarters
    assert_priced_detail(data)


@pytest.mark.parametrize(
    ("ean", "query", "include_reactive"),
    [
        (DM_ELECTRICITY, {"granularity": Granularity.HOURLY_QUARTERHOURLY.value}, False),
        (DM_ELECTRICITY, {}, False),
        (DM_GAS, {}, False),
        (AMR_INJECTION_PV, {"complexEnergyTypes": "active,reactive"}, True),
        (AMR_INJECTION_PV, {"complexEnergyTypes": "active,reactive"}, False),
        (DM_DAILY_ONLY, {}, False),
    ],
)
async def test_rows_equal_the_previous_aggregation(
    simulator: FluviusSimulator, ean: str, query: dict[str, str], include_reactive: bool
) -> None:
    body = await window_body(simulator, ean, days=9, **query)
    expected = reference([body], include_reactive=include_reactive)
    assert expected[0]
    assert decoded([body], include_reactive=include_reactive) == expected


async def test_the_executor_job_returns_the_reference_rows(
    hass: Any, simulator: FluviusSimulator
) -> None:
    body = await window_body(simulator, DM_ELECTRICITY, days=20)
    data = await async_aggregate(
        hass, [parse_energy(body)], include_reactive=False, keep_quarters=True
    )
    assert_priced_detail(data)
    assert data.quarters
    assert rows_only(data) == reference([body])
    assert len(data.power) == 1
    assert len(next(iter(data.power.values()))) == 20 * 24


def _two_meters(body: bytes, overlap: int) -> bytes:
    """The body with a second physical meter whose slices overlap the first's last ones."""
    document = orjson.loads(body)
    (meter,) = document["data"]["headpoint"]["physicalMeters"]
    second = copy.deepcopy(meter)
    second["meterID"] = "1SAG-SWAPPED"
    second["quarterHourlyEnergy"] = second["quarterHourlyEnergy"][-overlap - 6 :]
    for item in second["quarterHourlyEnergy"][:3]:
        item["measurements"][0]["offtake"]["total"]["value"] = None
    document["data"]["headpoint"]["physicalMeters"].append(second)
    return orjson.dumps(document)


async def test_meter_swaps_and_merged_windows_equal_the_previous_aggregation(
    simulator: FluviusSimulator,
) -> None:
    """Several meters add up per instant, and a later window's value replaces an earlier one."""
    body = await window_body(
        simulator, DM_ELECTRICITY, days=3, granularity=Granularity.HOURLY_QUARTERHOURLY.value
    )
    swapped = _two_meters(body, overlap=9)
    later = orjson.loads(body)
    for item in later["data"]["headpoint"]["physicalMeters"][0]["quarterHourlyEnergy"][::7]:
        item["measurements"][0]["offtake"]["total"]["value"] = 9.75
        item["measurements"][0]["offtake"]["total"]["validationState"] = "est"
    bodies = [swapped, body, orjson.dumps(later), swapped]
    for first in range(len(bodies)):
        assert decoded(bodies[first:]) == reference(bodies[first:])


async def test_gaps_repeats_and_any_order_equal_the_previous_aggregation(
    simulator: FluviusSimulator,
) -> None:
    body = await window_body(
        simulator, DM_ELECTRICITY, days=2, granularity=Granularity.HOURLY_QUARTERHOURLY.value
    )
    document = orjson.loads(body)
    slices = document["data"]["headpoint"]["physicalMeters"][0]["quarterHourlyEnergy"]
    del slices[5]
    slices.append(copy.deepcopy(slices[40]))
    slices[-1]["measurements"][0]["offtake"]["total"]["value"] = 1.5
    slices.reverse()
    changed = orjson.dumps(document)
    assert decoded([changed]) == reference([changed])
    assert decoded([body, changed]) == reference([body, changed])


async def test_a_decoded_window_leaves_few_objects_to_the_collector(
    simulator: FluviusSimulator,
) -> None:
    body = await window_body(
        simulator, DM_ELECTRICITY, days=20, granularity=Granularity.HOURLY_QUARTERHOURLY.value
    )
    slices = 20 * 96
    gc.collect()
    gc.disable()
    try:
        # Without collections, the young count is tracked allocations minus frees.
        before = gc.get_count()[0]
        legacy = legacy_parse_energy(body)
        held_by_legacy = gc.get_count()[0] - before
        del legacy
        before = gc.get_count()[0]
        response = parse_energy(body)
        held_by_decode = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert held_by_legacy > slices * 5
    # One tuple per slice (its measurements) and a few per meter; structs are never tracked.
    assert held_by_decode < slices + 50
    _assert_untracked_after_a_young_collection(response)


def _assert_untracked_after_a_young_collection(response: EnergyResponse) -> None:
    """Tuples of untracked structs leave the collector at its next young collection."""
    assert response.headpoint is not None
    (meter,) = response.headpoint.physical_meters
    quarter_hours = meter.energy.quarter_hourly
    first = quarter_hours[0]
    assert not gc.is_tracked(response)
    assert not gc.is_tracked(first)
    assert not gc.is_tracked(first.measurements[0])
    gc.collect(0)
    assert not gc.is_tracked(quarter_hours)
    assert not any(gc.is_tracked(item.measurements) for item in quarter_hours)


def _hour_with_total_and(register: str) -> bytes:
    """One hour of offtake whose direction objects hold the total and ``register``."""
    hour = datetime(2025, 7, 1, 10, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    slices = [
        {
            "start": (hour + index * quarter).isoformat(),
            "end": (hour + (index + 1) * quarter).isoformat(),
            "measurements": [
                {
                    "offtake": {
                        "total": {"value": 1.0, "unit": "kWh", "validationState": "READ"},
                        register: {"value": 2.0, "unit": "kWh", "validationState": "READ"},
                    }
                }
            ],
        }
        for index in range(4)
    ]
    headpoint = {"$type": "metering-on-headpoint", "ean": DM_ELECTRICITY, "energyType": "E"}
    return orjson.dumps({"data": {"headpoint": {**headpoint, "quarterHourlyEnergy": slices}}})


@pytest.mark.parametrize(
    "register", [name for name in RegisterValues.__struct_fields__ if name != "total"]
)
def test_no_register_beside_the_total_is_skipped(register: str) -> None:
    """The hot loops read a direction holding only its total at once; any other register, new
    ones included, must send it through the loop over registers."""
    response = parse_energy(_hour_with_total_and(register))
    read = {(r.register, r.value) for r in response.readings()}
    assert read == {(Register.TOTAL, 1.0), (Register(register), 2.0)}
    data = aggregate([response], include_reactive=True)
    sums = {key.register: sum(hours.values()) for key, hours in data.energy.items()}
    assert sums == {"total": 4.0, register: 8.0}
