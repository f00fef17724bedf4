"""GET energy: choosing the slices a query returns and rendering the headpoint JSON.

The same selection feeds the HTTP response and `FluviusSimulator.truth()`, so
tests compare the API against values computed without HTTP.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from .data import (
    DAILY,
    FINE,
    BlockMeta,
    Channel,
    DailyValue,
    MeterData,
    Version,
)
from .eans import meter_id
from .timeutil import format_ts

PERIOD_TYPES = ("readTime", "insertTime")
COMPLEX_ENERGY_TYPES = ("active", "reactive")
MAX_SPAN = timedelta(days=185)


@dataclass(frozen=True, slots=True)
class Selection:
    """What to select: a window, how to read it, and what the mandate allows."""

    start: int
    end: int
    by_insert_time: bool
    release: int  # data that arrived after this moment is invisible
    clip_from: int | None
    clip_to: int | None
    granularities: Collection[str]
    reactive: bool
    include_unarrived: bool = False  # unarrived blocks in their final version (truth only)
    final: bool = False  # every block in its final version (truth only)


class Chosen(NamedTuple):
    """A block version and which of its slices a query returns."""

    version: Version
    fine: Sequence[int]  # indices of the fine slices, ascending
    daily: bool  # whether the daily slice is included


def _read_time(data: MeterData, sel: Selection) -> Iterator[tuple[BlockMeta, int | None]]:
    """Blocks that overlap the window and the release moment of the version to show."""
    for meta in data.blocks_overlapping(sel.start, sel.end):
        if sel.final:
            yield meta, None
        elif meta.visible(sel.release):
            yield meta, sel.release
        elif sel.include_unarrived:
            yield meta, None


def _inserted(data: MeterData, sel: Selection) -> Iterator[tuple[BlockMeta, list[int], bool]]:
    """Blocks with values whose insert time falls in the window: those slices, and the daily one.

    Each value's insert time is that of the latest delivery that held it: after a
    correction, its slices (and the day's daily values) move to the correction's time.
    """
    for meta in data.inserted_blocks(sel.start, sel.end):
        if not meta.visible(sel.release):
            continue
        latest: dict[int, int] = {}
        for moment, indices in meta.inserts(sel.release):
            for index in indices:
                latest[index] = max(moment, latest.get(index, moment))
        slices = [i for i in sorted(latest) if sel.start <= latest[i] < sel.end]
        daily = sel.start <= meta.insert_time(sel.release) < sel.end
        if slices or daily:
            yield meta, slices, daily


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def select(data: MeterData, sel: Selection) -> list[Chosen]:
    """Blocks in time order with the slices to return.

    readTime selects by slice start; insertTime returns exactly what was
    delivered in the window (a correction: its slices and the day's daily
    values). Both clip to the mandate's data period [clip_from, clip_to).
    """
    found: list[Chosen | None]
    if sel.by_insert_time:
        found = [
            _clip(data, sel, meta, sel.release, indices, upper_start=None, daily=daily)
            for meta, indices, daily in _inserted(data, sel)
        ]
    else:
        found = [
            _clip(data, sel, meta, release, range(meta.size), upper_start=sel.end, daily=True)
            for meta, release in _read_time(data, sel)
        ]
    return [chosen for chosen in found if chosen is not None]


def _clip(
    data: MeterData,
    sel: Selection,
    meta: BlockMeta,
    release: int | None,
    indices: Sequence[int],
    *,
    upper_start: int | None,
    daily: bool,
) -> Chosen | None:
    """The slices of a block that the window (readTime) and the data period let through."""
    lower = sel.clip_from
    if upper_start is not None:
        lower = sel.start if lower is None else max(lower, sel.start)
    step = meta.step
    first = 0 if lower is None else max(0, _ceil_div(lower - meta.start, step))
    stop = meta.size
    if upper_start is not None:
        stop = min(stop, _ceil_div(upper_start - meta.start, step))
    if sel.clip_to is not None:
        stop = min(stop, (sel.clip_to - meta.start) // step)
    daily = (
        daily
        and (lower is None or meta.start >= lower)
        and (upper_start is None or meta.start < upper_start)
        and (sel.clip_to is None or meta.end <= sel.clip_to)
    )
    fine: Sequence[int] = range(first, max(first, stop))
    if not isinstance(indices, range):
        fine = [i for i in indices if first <= i < stop]
    if not fine and not daily:
        return None
    return Chosen(data.version(meta, release), fine, daily)


def _groups(channels: list[Channel]) -> list[list[tuple[str, list[Channel]]]]:
    """Channels grouped per measurement object, then per direction, in layout order."""
    groups: dict[int, dict[str, list[Channel]]] = {}
    for c in channels:
        groups.setdefault(c.measurement, {}).setdefault(c.direction, []).append(c)
    return [list(groups[m].items()) for m in sorted(groups)]


def _render_fine(chosen: list[Chosen], channels: list[Channel]) -> list[dict[str, object]]:
    layout = _groups(channels)
    out: list[dict[str, object]] = []
    for version, fine, _ in chosen:
        meta, values, states, gcf = version
        step = meta.step
        for i in fine:
            state = states[i]
            measurements = []
            for group in layout:
                measurement: dict[str, object] = {}
                for direction, members in group:
                    registers: dict[str, object] = {}
                    for c in members:
                        obj: dict[str, object] = {
                            "value": values[c.index][i],
                            "unit": c.unit,
                            "validationState": state,
                        }
                        if c.gcf:
                            obj["gasConversionFactor"] = gcf
                        registers[c.register] = obj
                    measurement[direction] = registers
                measurements.append(measurement)
            ts = meta.start + i * step
            out.append(
                {"start": format_ts(ts), "end": format_ts(ts + step), "measurements": measurements}
            )
    return out


def _render_daily(
    chosen: list[Chosen], daily: list[list[DailyValue]], channels: list[Channel]
) -> list[dict[str, object]]:
    wanted = {c.index for c in channels}
    out: list[dict[str, object]] = []
    for (version, _, included), block_values in zip(chosen, daily, strict=True):
        if not included:
            continue
        groups: dict[int, dict[str, dict[str, object]]] = {}
        for v in block_values:
            if v.channel.index not in wanted:
                continue
            obj: dict[str, object] = {
                "value": v.value,
                "unit": v.channel.unit,
                "validationState": v.state,
            }
            if v.gcf is not None:
                obj["gasConversionFactor"] = v.gcf
            groups.setdefault(v.channel.measurement, {}).setdefault(v.channel.direction, {})[
                v.register
            ] = obj
        meta = version.meta
        out.append(
            {
                "start": format_ts(meta.start),
                "end": format_ts(meta.end),
                "measurements": [groups[k] for k in sorted(groups)],
            }
        )
    return out


def headpoint(data: MeterData, sel: Selection) -> dict[str, object]:
    """The `data.headpoint` object of a GET energy response."""
    chosen = select(data, sel)
    want_daily = DAILY in sel.granularities
    want_fine = FINE in sel.granularities
    daily = [data.daily_values(c.version) if c.daily else [] for c in chosen] if want_daily else []

    def arrays(owner: int) -> dict[str, object]:
        channels = [
            c for c in data.channels if c.owner == owner and (sel.reactive or not c.reactive)
        ]
        out: dict[str, object] = {}
        if want_daily:
            out["dailyEnergy"] = _render_daily(chosen, daily, channels)
        if want_fine:
            out[data.fine_key] = _render_fine(chosen, channels)
        return out

    meter = data.meter
    head: dict[str, object] = {
        "$type": meter.headpoint_type,
        "ean": meter.ean,
        "energyType": meter.energy_type,
    }
    if meter.digital:
        head["physicalMeters"] = [{"seqNumber": "1", "meterID": meter_id(meter), **arrays(0)}]
        return head
    head.update(arrays(0))
    if data.subs:
        head["subHeadpoints"] = [
            {
                "$type": sub.type,
                "ean": sub.ean,
                "seqNumber": sub.seq_number,
                "vregId": sub.vreg_id,
                "type": sub.installation_type,
                **arrays(index),
            }
            for index, sub in enumerate(data.subs, start=1)
        ]
    return head
