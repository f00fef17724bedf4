"""The pre-msgspec aggregation of flat readings (frozen copy, see ``__init__``).

The row types (``SeriesKey``, ``PowerHour``) are the integration's, so rows of
the two aggregations compare equal. ``HourlyData`` is the result as it was then:
the peaks' quarter-hours as one (kWh, state) pair per start, which the
integration now keeps as two dicts (:func:`as_pairs` turns them into this shape).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from custom_components.fluvius.aggregation import PowerHour, QuarterHours, SeriesKey
from custom_components.fluvius.api import FINAL_VALIDATION_STATES

from .models import Direction, Reading, Register, Resolution, Unit

HOUR = timedelta(hours=1)
QUARTER_HOURS_PER_HOUR = 4
_UNIT_IDS: dict[Unit | str, str] = {Unit.KWH: "kwh", Unit.M3: "m3", Unit.KVARH: "kvarh"}
ACTIVE_REGISTERS = frozenset({Register.TOTAL, Register.DAY, Register.NIGHT})
REACTIVE_REGISTERS = frozenset({Register.REACTIVE, Register.INDUCTIVE, Register.CAPACITIVE})


@dataclass(slots=True)
class HourlyData:
    """Energy and power per hour, and the offtake quarter-hours behind each power statistic."""

    energy: dict[SeriesKey, dict[datetime, float]] = field(default_factory=dict)
    power: dict[SeriesKey, dict[datetime, PowerHour]] = field(default_factory=dict)
    quarter_hours: dict[SeriesKey, dict[datetime, tuple[float | None, str | None]]] = field(
        default_factory=dict
    )


def as_pairs(
    quarter_hours: Mapping[SeriesKey, QuarterHours],
) -> dict[SeriesKey, dict[datetime, tuple[float | None, str | None]]]:
    """The integration's quarter-hours in this module's shape: a (kWh, state) pair per start."""
    return {
        key: {start: (kwh, state) for start, kwh, state in quarters.items()}
        for key, quarters in quarter_hours.items()
    }


def unit_id(unit: Unit | str) -> str | None:
    """The lower-case unit part of ids (kwh, m3, kvarh), or None for units not stored."""
    return _UNIT_IDS.get(unit)


def series_key(reading: Reading, *, include_reactive: bool) -> SeriesKey | None:
    """The statistic a reading belongs to, or None when it is not stored."""
    unit = unit_id(reading.unit)
    if unit is None or not isinstance(reading.direction, Direction):
        return None
    register = reading.register
    if register in REACTIVE_REGISTERS:
        if not include_reactive:
            return None
    elif register not in ACTIVE_REGISTERS:
        return None
    return SeriesKey(reading.sub_ean or reading.ean, reading.direction.value, str(register), unit)


def floor_hour(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def aggregate(readings: Iterable[Reading], *, include_reactive: bool = False) -> HourlyData:
    """Aggregate readings into complete hourly rows per statistic.

    A later reading of the same meter and slice replaces an earlier one (newer
    version); different physical meters at the same instant (a meter swap) add up.
    """
    quarter: dict[SeriesKey, dict[datetime, dict[str | None, float | None]]] = defaultdict(dict)
    hourly: dict[SeriesKey, dict[datetime, dict[str | None, float | None]]] = defaultdict(dict)
    daily: dict[SeriesKey, dict[datetime, dict[str | None, float | None]]] = defaultdict(dict)
    quarter_states: dict[SeriesKey, dict[datetime, dict[str | None, str | None]]] = defaultdict(
        dict
    )
    day_ends: dict[datetime, datetime] = {}
    for reading in readings:
        key = series_key(reading, include_reactive=include_reactive)
        if key is None:
            continue
        if reading.resolution is Resolution.QUARTER_HOURLY:
            target = quarter[key]
            if _is_power_source(key):
                state = reading.validation_state
                quarter_states[key].setdefault(reading.start, {})[reading.meter_id] = (
                    None if state is None else str(state)
                )
        elif reading.resolution is Resolution.HOURLY:
            target = hourly[key]
        else:
            target = daily[key]
            day_ends[reading.start] = reading.end
        target.setdefault(reading.start, {})[reading.meter_id] = reading.value

    result = HourlyData()
    for key, slots in quarter.items():
        combined = _combine(slots)
        hours, power = _quarters_to_hours(combined)
        _merge(result.energy, key, hours)
        if _is_power_source(key):
            power_key = SeriesKey.power(key.ean)
            result.power[power_key] = power
            states = quarter_states[key]
            result.quarter_hours[power_key] = {
                start: (value, combined_state(list(states[start].values())))
                for start, value in combined.items()
            }
    for key, slots in hourly.items():
        _merge(result.energy, key, {h: v for h, v in _combine(slots).items() if v is not None})
    for key, slots in daily.items():
        detail = result.energy.get(key, {})
        booked = {
            floor_hour(start): value
            for start, value in _combine(slots).items()
            if value is not None and not _has_detail(detail, start, day_ends[start])
        }
        _merge(result.energy, key, booked)
    _add_totals(result.energy)
    return result


def _is_power_source(key: SeriesKey) -> bool:
    """Offtake kWh in the total register: the quarter-hours that make power and peaks."""
    return (
        key.direction == Direction.OFFTAKE and key.register == Register.TOTAL and key.unit == "kwh"
    )


def combined_state(states: Sequence[str | None]) -> str | None:
    """The state of a sum of values: the first one that is not final, if any."""
    return next((state for state in states if state not in FINAL_VALIDATION_STATES), states[0])


def _combine(slots: dict[datetime, dict[str | None, float | None]]) -> dict[datetime, float | None]:
    """One value per instant: the sum over physical meters (None if any is missing)."""
    combined: dict[datetime, float | None] = {}
    for start, meters in slots.items():
        values = list(meters.values())
        combined[start] = None if None in values else sum(v for v in values if v is not None)
    return combined


def _merge(
    target: dict[SeriesKey, dict[datetime, float]], key: SeriesKey, rows: dict[datetime, float]
) -> None:
    if rows:
        target.setdefault(key, {}).update(rows)


def _quarters_to_hours(
    values: dict[datetime, float | None],
) -> tuple[dict[datetime, float], dict[datetime, PowerHour]]:
    """Sum complete hours; a partial hour (or one with a null value) waits."""
    groups: dict[datetime, list[float | None]] = defaultdict(list)
    for start, value in values.items():
        groups[floor_hour(start)].append(value)
    energy: dict[datetime, float] = {}
    power: dict[datetime, PowerHour] = {}
    for hour, group in groups.items():
        if len(group) != QUARTER_HOURS_PER_HOUR:
            continue
        complete = [value for value in group if value is not None]
        if len(complete) != QUARTER_HOURS_PER_HOUR:
            continue
        total = sum(complete)
        energy[hour] = total
        power[hour] = PowerHour(mean=total, min=min(complete) * 4, max=max(complete) * 4)
    return energy, power


def _has_detail(detail: dict[datetime, float], start: datetime, end: datetime) -> bool:
    """Whether finer rows exist inside [start, end)."""
    hour = floor_hour(start)
    while hour < end:
        if hour in detail:
            return True
        hour += HOUR
    return False


def _add_totals(energy: dict[SeriesKey, dict[datetime, float]]) -> None:
    """Where a meter reports only day and night, add their sum as the total."""
    for key in [k for k in energy if k.register == Register.DAY]:
        night_key = SeriesKey(key.ean, key.direction, Register.NIGHT.value, key.unit)
        total_key = SeriesKey(key.ean, key.direction, Register.TOTAL.value, key.unit)
        night = energy.get(night_key)
        if night is None:
            continue
        day = energy[key]
        existing = energy.get(total_key, {})
        totals = {
            hour: day[hour] + night[hour]
            for hour in day.keys() & night.keys()
            if hour not in existing
        }
        _merge(energy, total_key, totals)
