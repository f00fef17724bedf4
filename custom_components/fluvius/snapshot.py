"""What the sensors of one EAN show: the newest day and interval values, and their quality.

A poll brings only what was inserted since the last one (often nothing), so a
snapshot is merged into the previous one: per value, the newer period wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .aggregation import combined_state
from .api import FINAL_VALIDATION_STATES, EnergyResponse, Reading, Resolution, SubHeadpoint
from .series import SeriesKey, day_night_totals, unit_id
from .timeutil import local_day, local_midnight


@dataclass(frozen=True, slots=True)
class PeriodValue:
    """A value with the period it belongs to (data arrive late: never 'now')."""

    value: float
    start: datetime
    end: datetime
    validation_state: str | None
    gas_conversion_factor: str | None


@dataclass(slots=True)
class EanSnapshot:
    """What the sensors of one EAN show after a poll."""

    last_day: dict[SeriesKey, PeriodValue] = field(default_factory=dict)
    last_interval: dict[SeriesKey, PeriodValue] = field(default_factory=dict)
    newest_measurement: datetime | None = None
    estimated_share: float | None = None
    # The day the estimated share is about: a later poll only replaces it for that day or later.
    share_day: datetime | None = None
    submeters: tuple[SubHeadpoint, ...] = ()


def series_key(reading: Reading) -> SeriesKey | None:
    """The series a reading belongs to, or None for units that are not kept."""
    unit = unit_id(reading.unit)
    if unit is None:
        return None
    return SeriesKey(
        reading.sub_ean or reading.ean, str(reading.direction), str(reading.register), unit
    )


def build_snapshot(responses: Iterable[EnergyResponse]) -> EanSnapshot:
    """Summarise answers: newest day and interval values, data quality of the newest day."""
    snapshot = EanSnapshot()
    # One state per fine value: an insertTime answer and its re-read overlap.
    fine: dict[tuple[SeriesKey, datetime], str] = {}
    for response in responses:
        if response.headpoint is not None and response.headpoint.sub_headpoints:
            snapshot.submeters = response.headpoint.sub_headpoints
        for reading in response.readings():
            key = series_key(reading)
            if key is None or reading.value is None:
                continue
            daily = reading.resolution is Resolution.DAILY
            if not daily:
                fine[(key, reading.start)] = str(reading.validation_state)
            _keep_newer(snapshot.last_day if daily else snapshot.last_interval, key, reading)
            if snapshot.newest_measurement is None or reading.end > snapshot.newest_measurement:
                snapshot.newest_measurement = reading.end
    _add_day_totals(snapshot.last_day)
    snapshot.share_day, snapshot.estimated_share = _estimated_share(snapshot, fine)
    return snapshot


def _keep_newer(values: dict[SeriesKey, PeriodValue], key: SeriesKey, reading: Reading) -> None:
    current = values.get(key)
    if current is None or current.start <= reading.start:
        values[key] = PeriodValue(
            reading.value or 0.0,
            reading.start,
            reading.end,
            None if reading.validation_state is None else str(reading.validation_state),
            None if reading.gas_conversion_factor is None else str(reading.gas_conversion_factor),
        )


def merge_snapshots(previous: EanSnapshot | None, new: EanSnapshot) -> EanSnapshot:
    """The previous snapshot updated by a newer poll: per value, the later period wins."""
    if previous is None:
        return new
    merged = EanSnapshot(
        last_day=dict(previous.last_day),
        last_interval=dict(previous.last_interval),
        newest_measurement=max(
            (m for m in (previous.newest_measurement, new.newest_measurement) if m is not None),
            default=None,
        ),
        estimated_share=previous.estimated_share,
        share_day=previous.share_day,
        submeters=new.submeters or previous.submeters,
    )
    for target, values in (
        (merged.last_day, new.last_day),
        (merged.last_interval, new.last_interval),
    ):
        for key, value in values.items():
            current = target.get(key)
            if current is None or current.start <= value.start:
                target[key] = value
    if new.share_day is not None and (
        previous.share_day is None or new.share_day >= previous.share_day
    ):
        merged.share_day, merged.estimated_share = new.share_day, new.estimated_share
    return merged


def _add_day_totals(values: dict[SeriesKey, PeriodValue]) -> None:
    """Day + night as the total of a day the meter gave no total for."""
    for day_key, night_key, total_key in list(day_night_totals(values)):
        day, night = values[day_key], values[night_key]
        if total_key in values or night.start != day.start:
            continue
        state = combined_state((day.validation_state, night.validation_state))
        values[total_key] = PeriodValue(day.value + night.value, day.start, day.end, state, None)


def _estimated_share(
    snapshot: EanSnapshot, fine: dict[tuple[SeriesKey, datetime], str]
) -> tuple[datetime | None, float | None]:
    """The newest day, and the share (percent) of its values that are not READ/VAL.

    The day's quarter-hours (or hours) count where the access has them; with
    daily access only, the day's own values count.
    """
    states: list[str | None]
    if snapshot.last_day:
        day = max(value.start for value in snapshot.last_day.values())
        day_values = [v for v in snapshot.last_day.values() if v.start == day]
        day_end = max(v.end for v in day_values)
        states = [state for (_, start), state in fine.items() if day <= start < day_end]
        if not states:
            states = [v.validation_state for v in day_values]
    elif fine:
        day = local_midnight(local_day(max(start for _, start in fine)))
        states = [state for (_, start), state in fine.items() if start >= day]
    else:
        return None, None
    if not states:
        return None, None
    estimated = sum(1 for state in states if state not in FINAL_VALIDATION_STATES)
    return day, round(100 * estimated / len(states), 1)
