"""Which days an insertTime answer touched without delivering them whole.

insertTime returns exactly what was processed in the asked period: a corrected
quarter-hour arrives alone, with its day's daily values. Hours are only
written complete, and a daily value is booked as a whole day where no finer
detail came with it, so such a day is read again by readTime (one call per
contiguous range) before anything is written. Days that arrive whole (the
usual, late first delivery) cost nothing more. Pure functions, no Home Assistant.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from msgspec.structs import replace

from .api import EnergyResponse, EnergySeries, Resolution, TimeSlice
from .timeutil import BRUSSELS, GAS_DAY_START_HOUR, HOUR, join_spans, local_midnight

_STEPS = {Resolution.QUARTER_HOURLY: timedelta(minutes=15), Resolution.HOURLY: HOUR}
_LAST = datetime.max.replace(tzinfo=UTC)

type Block = tuple[datetime, datetime]
"""[start, end) of a day as the API delivers it: a local day, or a gas day."""


def _block_of(start: datetime, resolution: Resolution) -> Block:
    """The day a fine slice belongs to when no daily slice came with it."""
    hour = GAS_DAY_START_HOUR if resolution is Resolution.HOURLY else 0
    day = (start.astimezone(BRUSSELS) - timedelta(hours=hour)).date()
    return local_midnight(day, hour), local_midnight(day + timedelta(days=1), hour)


def partial_blocks(response: EnergyResponse, *, fine_access: bool) -> dict[Block, int]:
    """The days of an answer that lack some of their fine slices, with a print of what came.

    The print (a hash of the day's delivered slices) tells a delivery seen again
    in the next, overlapping insertTime window from a new one. With daily access
    only, a daily value is the whole day: nothing is partial.
    """
    headpoint = response.headpoint
    if headpoint is None or not fine_access:
        return {}
    days: dict[Block, list[TimeSlice]] = {}
    fine: dict[Resolution, list[TimeSlice]] = {}
    for _, _, series in headpoint.series():
        for time_slice in series.daily:
            days.setdefault((time_slice.start, time_slice.end), []).append(time_slice)
        for resolution, slices in series.by_resolution():
            if resolution is not Resolution.DAILY:
                fine.setdefault(resolution, []).extend(slices)
    ordered = sorted(days)
    delivered = {day: list(slices) for day, slices in days.items()}
    starts: dict[Block, set[datetime]] = {day: set() for day in days}
    steps: dict[Block, timedelta] = {}
    for resolution, found in fine.items():
        for time_slice in found:
            block = _enclosing(ordered, time_slice.start) or _block_of(time_slice.start, resolution)
            starts.setdefault(block, set()).add(time_slice.start)
            delivered.setdefault(block, []).append(time_slice)
            steps[block] = _STEPS[resolution]
    return {
        block: hash(tuple(delivered[block]))
        for block in sorted(starts)
        if block not in steps or len(starts[block]) < (block[1] - block[0]) // steps[block]
    }


def _enclosing(days: list[Block], moment: datetime) -> Block | None:
    """The delivered day (sorted list) that holds ``moment``, if any."""
    index = bisect_right(days, (moment, _LAST)) - 1
    if index >= 0 and days[index][0] <= moment < days[index][1]:
        return days[index]
    return None


def contiguous(blocks: Iterable[Block]) -> list[Block]:
    """Adjacent or overlapping days joined into ranges: one readTime call each."""
    return join_spans(blocks)


def without_blocks(response: EnergyResponse, blocks: Iterable[Block]) -> EnergyResponse:
    """The answer without the slices of these days: they are read again, or were already."""
    ordered = sorted(blocks)
    headpoint = response.headpoint
    if headpoint is None or not ordered:
        return response

    def keep(slices: tuple[TimeSlice, ...]) -> tuple[TimeSlice, ...]:
        return tuple(s for s in slices if _enclosing(ordered, s.start) is None)

    def trimmed(series: EnergySeries) -> EnergySeries:
        return replace(
            series,
            daily=keep(series.daily),
            hourly=keep(series.hourly),
            quarter_hourly=keep(series.quarter_hourly),
        )

    return replace(
        response,
        headpoint=replace(
            headpoint,
            physical_meters=tuple(
                replace(meter, energy=trimmed(meter.energy)) for meter in headpoint.physical_meters
            ),
            energy=trimmed(headpoint.energy),
            sub_headpoints=tuple(
                replace(sub, energy=trimmed(sub.energy)) for sub in headpoint.sub_headpoints
            ),
        ),
    )
