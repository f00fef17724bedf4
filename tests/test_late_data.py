"""Which days an insertTime answer delivered in part, on hand-made answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from custom_components.fluvius.api.decoder import parse_energy
from custom_components.fluvius.late_data import contiguous, partial_blocks, without_blocks


def _slice(start: datetime, step: timedelta, value: float = 0.25) -> dict[str, Any]:
    return {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + step).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "measurements": [
            {"offtake": {"total": {"value": value, "unit": "kWh", "validationState": "READ"}}}
        ],
    }


def _answer(
    quarter_hours: list[datetime], days: list[datetime], hours: list[datetime] | None = None
) -> bytes:
    meter: dict[str, Any] = {
        "seqNumber": "1",
        "meterID": "1SAG0000000001",
        "quarterHourlyEnergy": [_slice(s, timedelta(minutes=15)) for s in quarter_hours],
        "dailyEnergy": [_slice(s, timedelta(days=1), 24.0) for s in days],
    }
    if hours is not None:
        meter["hourlyEnergy"] = [_slice(s, timedelta(hours=1)) for s in hours]
    body = {
        "_meta": {"fetchTime": "2026-03-10T09:00:00Z"},
        "data": {
            "headpoint": {
                "$type": "metering-on-meter",
                "ean": "541440010000000001",
                "energyType": "E",
                "physicalMeters": [meter],
            }
        },
    }
    return orjson.dumps(body)


# Local midnight of 1 March 2026 (winter time: UTC+1).
DAY = datetime(2026, 2, 28, 23, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def test_a_whole_day_is_not_partial() -> None:
    answer = parse_energy(_answer([DAY + i * QUARTER for i in range(96)], [DAY]))
    assert partial_blocks(answer, fine_access=True) == {}


def test_a_lone_correction_marks_its_day() -> None:
    answer = parse_energy(_answer([DAY + 40 * QUARTER], [DAY]))
    found = partial_blocks(answer, fine_access=True)
    assert list(found) == [(DAY, DAY + timedelta(days=1))]
    # With daily access only, the daily value is the whole day.
    assert partial_blocks(answer, fine_access=False) == {}


def test_fine_slices_without_their_daily_value_mark_the_local_day() -> None:
    answer = parse_energy(_answer([DAY + 5 * QUARTER], []))
    assert list(partial_blocks(answer, fine_access=True)) == [(DAY, DAY + timedelta(days=1))]


def test_gas_hours_without_their_daily_value_mark_the_gas_day() -> None:
    # 05:00 UTC is 06:00 local: the gas day of 1 March starts there.
    gas_day = DAY + timedelta(hours=6)
    answer = parse_energy(_answer([], [], hours=[gas_day + timedelta(hours=3)]))
    assert list(partial_blocks(answer, fine_access=True)) == [
        (gas_day, gas_day + timedelta(days=1))
    ]


def test_the_same_delivery_has_the_same_print() -> None:
    one = partial_blocks(parse_energy(_answer([DAY + 40 * QUARTER], [DAY])), fine_access=True)
    again = partial_blocks(parse_energy(_answer([DAY + 40 * QUARTER], [DAY])), fine_access=True)
    other = partial_blocks(parse_energy(_answer([DAY + 41 * QUARTER], [DAY])), fine_access=True)
    assert one == again
    assert one != other


def test_adjacent_days_make_one_read() -> None:
    day = timedelta(days=1)
    blocks = [(DAY + 2 * day, DAY + 3 * day), (DAY, DAY + day), (DAY + day, DAY + 2 * day)]
    assert contiguous(blocks) == [(DAY, DAY + 3 * day)]
    assert contiguous([(DAY, DAY + day), (DAY + 5 * day, DAY + 6 * day)]) == [
        (DAY, DAY + day),
        (DAY + 5 * day, DAY + 6 * day),
    ]


def test_without_blocks_keeps_the_other_days() -> None:
    next_day = DAY + timedelta(days=1)
    answer = parse_energy(
        _answer([DAY + 40 * QUARTER, *(next_day + i * QUARTER for i in range(96))], [DAY, next_day])
    )
    trimmed = without_blocks(answer, [(DAY, next_day)])
    assert trimmed.headpoint is not None
    (meter,) = trimmed.headpoint.physical_meters
    assert [s.start for s in meter.energy.daily] == [next_day]
    assert len(meter.energy.quarter_hourly) == 96
    assert without_blocks(answer, []) is answer
