"""GET energy: choosing the slices a query returns and rendering the headpoint JSON.

The same selection feeds the HTTP response and `FluviusSimulator.truth()`, so
tests compare the API against values computed without HTTP.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from .data import (
    DAILY,
    FINE,
    INSERT_LOOKBACK_DAYS,
    BlockMeta,
    Channel,
    DailyValue,
    MeterData,
    Version,
)
from .eans import meter_id
from .timeutil import DAY, format_ts

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
    fine: range  # indices of the fine slices
    daily: bool  # whether the daily slice is included


def _blocks(data: MeterData, sel: Selection) -> Iterator[tuple[BlockMeta, int | None]]:
    """Blocks to report and the release moment of the version to show (None = final)."""
    if sel.by_insert_time:
        lookback = INSERT_LOOKBACK_DAYS * DAY
        for meta in data.blocks_overlapping(sel.start - lookback, sel.end):
            if meta.visible(sel.release) and sel.start <= meta.insert_time(sel.release) < sel.end:
                yield meta, sel.release
        return
    for meta in data.blocks_overlapping(sel.start, sel.end):
        if sel.final:
            yield meta, None
        elif meta.visible(sel.release):
            yield meta, sel.release
        elif sel.include_unarrived:
            yield meta, None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def select(data: MeterData, sel: Selection) -> list[Chosen]:
    """Blocks in time order with the slices to return.

    readTime selects by slice start; both period types clip to the mandate's data
    period [clip_from, clip_to).
    """
    lower = sel.clip_from
    upper_start = None if sel.by_insert_time else sel.end
    if not sel.by_insert_time:
        lower = sel.start if lower is None else max(lower, sel.start)
    out = []
    for meta, release in _blocks(data, sel):
        step = meta.step
        n = (meta.end - meta.start) // step
        first = 0 if lower is None else max(0, _ceil_div(lower - meta.start, step))
        stop = n
        if upper_start is not None:
            stop = min(stop, _ceil_div(upper_start - meta.start, step))
        if sel.clip_to is not None:
            stop = min(stop, (sel.clip_to - meta.start) // step)
        daily = (
            (lower is None or meta.start >= lower)
            and (upper_start is None or meta.start < upper_start)
            and (sel.clip_to is None or meta.end <= sel.clip_to)
        )
        if first < stop or daily:
            out.append(Chosen(data.version(meta, release), range(first, max(first, stop)), daily))
    return out


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
