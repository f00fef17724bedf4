"""Slices, arrival times and versions of one mock EAN's metering data.

Data is organised in blocks: one local day (electricity, quarter-hours) or one
gas day (06:00 -> 06:00 local, hours). A block arrives as a whole, at the block end
plus a per-day delay. A few blocks first arrive with some estimated slices, which
are corrected one to two days later: the correction re-delivers only those slices
(and the day's daily values). Tests can schedule more corrections and late
arrivals of any age. Gas kWh values switch from the provisional to the definitive
conversion factor on the 5th of the following month, which re-delivers the whole
block. The "current version" of a block is what a client would see at a given
release moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

from .eans import (
    SUB_ROLE_AUXILIARY,
    SUB_ROLE_OFFTAKE,
    SUB_ROLE_PRODUCTION,
    MockEan,
    stable_hash,
    sub_ean,
    vreg_id,
)
from .profiles import AUX, CAPACITIVE, GEN, INDUCTIVE, LOAD, SUB, day_quantities
from .timeutil import (
    DAY,
    HOUR,
    electricity_day_bounds,
    gas_day_bounds,
    local_date_of_ts,
    local_minutes,
    local_time_ts,
)

DAILY = "daily"
FINE = "hourly_quarterhourly"
GRANULARITIES = (DAILY, FINE)

# Digital-meter day register: weekdays 07:00-22:00 local.
_DAY_REGISTER_FROM = 7 * 60
_DAY_REGISTER_TO = 22 * 60

# How far before a window an insertTime query must look for blocks: 72 h delay,
# 48 h correction, and the GCF switch up to ~36 days after a gas day.
INSERT_LOOKBACK_DAYS = 40


@dataclass(frozen=True, slots=True)
class Channel:
    """One reported value stream: where it sits in the response and what it measures."""

    owner: int  # 0 = main headpoint/meter, n = subHeadpoints[n - 1]
    measurement: int  # index of the measurement object in a slice
    direction: str
    register: str
    unit: str
    gcf: bool = False  # gas kWh: m3 of the same source times the conversion factor
    reactive: bool = False
    index: int = -1  # position in MeterData.channels and Version.values

    @property
    def source(self) -> tuple[int, str, str]:
        """Key of the underlying series (kWh for electricity, m3 for gas)."""
        return (self.owner, self.direction, self.register)


@dataclass(frozen=True, slots=True)
class SubHeadpoint:
    """Static description of an AMR submeter."""

    type: str
    ean: str
    seq_number: str
    vreg_id: str
    installation_type: str


@dataclass(frozen=True, slots=True)
class Correction:
    """Slices that first arrive with other (estimated) values and are corrected later."""

    arrival: int
    first: int
    count: int
    factor: float


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """Identity and timing of a block; cheap, needs no values."""

    day: date
    start: int
    end: int
    step: int
    arrival: int
    corrections: tuple[Correction, ...]
    gcf_definitive_at: int | None

    @property
    def size(self) -> int:
        """Number of fine slices (92 or 100 on DST days)."""
        return (self.end - self.start) // self.step

    def visible(self, release: int) -> bool:
        """Whether anything of this block has arrived by `release`."""
        return self.arrival <= release

    def insert_time(self, release: int) -> int:
        """Insert time of the block's current version (latest arrival not after `release`)."""
        return max(t for t, _ in self.inserts(release))

    def inserts(self, release: int) -> list[tuple[int, range]]:
        """Every delivery up to `release`: its insert time and the fine slices it held.

        The first arrival and a conversion-factor switch deliver the whole block; a
        correction only the slices it corrects. Each delivery carries the day's
        daily values too.
        """
        whole = range(self.size)
        out = [(self.arrival, whole)]
        out += [
            (c.arrival, range(c.first, min(self.size, c.first + c.count)))
            for c in self.corrections
            if self.arrival < c.arrival <= release
        ]
        if self.gcf_definitive_at is not None and self.gcf_definitive_at <= release:
            out.append((max(self.gcf_definitive_at, self.arrival), whole))
        return out

    def pending(self, release: int) -> list[Correction]:
        """Corrections not delivered yet at `release`: their slices still show the old values."""
        return [c for c in self.corrections if release < c.arrival]


class Version(NamedTuple):
    """One block as a client sees it at some moment.

    `values[channel.index]` holds the fine-slice values; the validation states are
    shared by all channels because a correction re-delivers every channel of its slices.
    """

    meta: BlockMeta
    values: list[list[float]]
    states: list[str]
    gcf: str | None


class DailyValue(NamedTuple):
    """One register of a daily slice."""

    channel: Channel
    register: str  # day/night for digital electricity, else the channel's register
    value: float
    state: str
    gcf: str | None


def gcf_factors(year: int, month: int) -> tuple[float, float]:
    """Provisional and definitive gas conversion factor (kWh per m3) of a month."""
    provisional = 10.8 + stable_hash("gcf-p", year, month) % 801 / 1000
    h = stable_hash("gcf-d", year, month)
    delta = (0.01 + h % 41 / 1000) * (1 if h >> 32 & 1 else -1)
    return provisional, round(provisional + delta, 3)


def gcf_definitive_at(day: date) -> int:
    """Local midnight on the 5th of the month after `day`: when its GCF becomes definitive."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return local_time_ts(date(year, month, 5))


class MeterData:
    """Layout, blocks and versions for one mock EAN."""

    def __init__(self, meter: MockEan) -> None:
        self.meter = meter
        self.subs, self.channels = _layout(meter)
        self.digital_electricity = meter.digital and not meter.gas
        self._final_state = "READ" if meter.digital else "VAL"
        self._estimated_state = "EST" if meter.digital else "NVAL"
        self._corrections: dict[date, tuple[Correction, ...]] = {}
        self._arrivals: dict[date, int] = {}

    @property
    def fine_key(self) -> str:
        """Response key of the fine granularity: hourly for gas, quarter-hourly otherwise."""
        return "hourlyEnergy" if self.meter.gas else "quarterHourlyEnergy"

    def owners(self) -> range:
        """Owner indices: the main meter and every submeter."""
        return range(len(self.subs) + 1)

    def meta(self, day: date) -> BlockMeta:
        """Arrival schedule of one block, from hashes of (EAN, day), plus scheduled changes."""
        meta = _block_meta(self.meter, day)
        arrival = self._arrivals.get(day, meta.arrival)
        extra = self._corrections.get(day, ())
        if arrival == meta.arrival and not extra:
            return meta
        return replace(meta, arrival=arrival, corrections=(*meta.corrections, *extra))

    def block_of(self, ts: int) -> BlockMeta:
        """The block that holds the slice starting at `ts`."""
        for meta in self.blocks_overlapping(ts, ts + 1):
            return meta
        raise ValueError(f"no block holds {ts}")

    def schedule_correction(self, start: int, count: int, factor: float, arrival: int) -> None:
        """Fine slices from `start` on show `value * factor` (estimated) until `arrival`.

        Then the true values arrive alone, as a correction of any age does.
        """
        meta = self.block_of(start)
        first = (start - meta.start) // meta.step
        if count < 1 or first + count > meta.size:
            raise ValueError("a correction stays inside one block")
        if arrival <= meta.arrival:
            raise ValueError("a correction arrives after its block")
        correction = Correction(arrival, first, count, factor)
        self._corrections[meta.day] = (*self._corrections.get(meta.day, ()), correction)

    def schedule_arrival(self, day: date, arrival: int) -> None:
        """The block of `day` arrives (as a whole) at `arrival` instead of its usual delay."""
        if arrival < self.meta(day).end:
            raise ValueError("a block cannot arrive before it ends")
        self._arrivals[day] = arrival

    def blocks_overlapping(self, start: int, end: int) -> Iterator[BlockMeta]:
        """Blocks that overlap [start, end), in time order."""
        day = local_date_of_ts(start) - timedelta(days=1)
        last = local_date_of_ts(end)
        while day <= last:
            meta = self.meta(day)
            if meta.end > start and meta.start < end:
                yield meta
            day += timedelta(days=1)

    def inserted_blocks(self, start: int, end: int) -> Iterator[BlockMeta]:
        """Blocks that may hold a delivery inserted in [start, end), in time order.

        Usual deliveries come at most INSERT_LOOKBACK_DAYS after their block;
        scheduled ones can be of any age.
        """
        seen: set[date] = set()
        lookback = INSERT_LOOKBACK_DAYS * DAY
        for meta in self.blocks_overlapping(start - lookback, end):
            seen.add(meta.day)
            yield meta
        for day in sorted((self._corrections.keys() | self._arrivals.keys()) - seen):
            yield self.meta(day)

    def version(self, meta: BlockMeta, release: int | None) -> Version:
        """The block's values as a client sees them at `release` (None: final version)."""
        base = _true_series(self.meter, meta.day)
        n = meta.size
        states = [self._final_state] * n
        series = base
        pending = [] if release is None else meta.pending(release)
        if pending:
            series = {key: list(original) for key, original in base.items()}
            for corr in pending:
                stop = min(n, corr.first + corr.count)
                for changed in series.values():
                    for i in range(corr.first, stop):
                        changed[i] = round(changed[i] * corr.factor, 3)
                states[corr.first : stop] = [self._estimated_state] * (stop - corr.first)
        gcf_code: str | None = None
        factor = 1.0
        if self.meter.gas:
            provisional, definitive = gcf_factors(meta.day.year, meta.day.month)
            final = release is None or (
                meta.gcf_definitive_at is not None and meta.gcf_definitive_at <= release
            )
            gcf_code, factor = ("D", definitive) if final else ("P", provisional)
        values = [
            [round(v * factor, 3) for v in series[c.source]] if c.gcf else series[c.source]
            for c in self.channels
        ]
        return Version(meta, values, states, gcf_code)

    def daily_values(self, version: Version) -> list[DailyValue]:
        """The block's daily slice: sums of its fine slices, per channel and register."""
        meta, values, states, gcf_code = version
        estimated = self._estimated_state
        final = self._final_state
        out: list[DailyValue] = []
        if self.digital_electricity:
            mask = _day_register_mask(meta.day, meta.start, meta.end, meta.step)
            parts = [
                (register, [i for i, d in enumerate(mask) if d is wanted])
                for register, wanted in (("day", True), ("night", False))
            ]
            for c in self.channels:
                series = values[c.index]
                for register, idx in parts:
                    total = round(sum([series[i] for i in idx], 0.0), 3)
                    state = estimated if any(states[i] == estimated for i in idx) else final
                    out.append(DailyValue(c, register, total, state, None))
            return out
        state = estimated if estimated in states else final
        for c in self.channels:
            total = round(sum(values[c.index], 0.0), 3)
            out.append(DailyValue(c, c.register, total, state, gcf_code if c.gcf else None))
        return out


def _layout(meter: MockEan) -> tuple[tuple[SubHeadpoint, ...], tuple[Channel, ...]]:
    """Submeters and channels that the meter kind reports."""
    channels: list[Channel] = []
    for direction in meter.directions:
        if meter.gas and meter.digital:
            channels.append(Channel(0, 0, direction, "total", "m3"))
            channels.append(Channel(0, 1, direction, "total", "kWh", gcf=True))
        elif meter.gas:
            channels.append(Channel(0, 0, direction, "total", "kWh", gcf=True))
        else:
            channels.append(Channel(0, 0, direction, "total", "kWh"))
            if meter.reactive:
                channels.append(Channel(0, 0, direction, "inductive", "kVArh", reactive=True))
                channels.append(Channel(0, 0, direction, "capacitive", "kVArh", reactive=True))
    subs: list[SubHeadpoint] = []
    installation = meter.installation
    if installation is not None:
        vreg = vreg_id(meter)
        subs.append(
            SubHeadpoint(
                "submetering-production",
                sub_ean(meter, SUB_ROLE_PRODUCTION),
                "1",
                vreg,
                installation.type,
            )
        )
        channels.append(Channel(len(subs), 0, "production", "total", "kWh"))
        if installation.has_auxiliary:
            subs.append(
                SubHeadpoint(
                    "submetering-auxiliary",
                    sub_ean(meter, SUB_ROLE_AUXILIARY),
                    "1",
                    vreg,
                    installation.type,
                )
            )
            channels.append(Channel(len(subs), 0, "auxiliary", "total", "kWh"))
    elif meter.submeter == "other":
        subs.append(
            SubHeadpoint(
                "submetering-offtake", sub_ean(meter, SUB_ROLE_OFFTAKE), "1", vreg_id(meter), "NDGR"
            )
        )
        channels.append(Channel(len(subs), 0, "offtake", "total", "kWh", gcf=meter.gas))
    return tuple(subs), tuple(replace(c, index=i) for i, c in enumerate(channels))


def _bounds(meter: MockEan, day: date) -> tuple[int, int, int]:
    """Start, end and fine step of the block that `day` labels."""
    if meter.gas:
        return (*gas_day_bounds(day), HOUR)
    return (*electricity_day_bounds(day), 900)


@lru_cache(maxsize=16384)
def _block_meta(meter: MockEan, day: date) -> BlockMeta:
    start, end, step = _bounds(meter, day)
    ordinal = day.toordinal()
    u = stable_hash("arrival", meter.ean, ordinal) / 2**64
    delay = 3600 + int(71 * 3600 * u**2.5)
    arrival = end + delay - delay % 60
    corrections: tuple[Correction, ...] = ()
    h = stable_hash("correction", meter.ean, ordinal)
    if h % 1000 < 50:
        n = (end - start) // step
        second = 86400 + (h >> 10) % 86400
        magnitude = 0.03 + (h >> 50) % 71 / 1000
        corrections = (
            Correction(
                arrival=arrival + second - second % 60,
                first=(h >> 20) % n,
                count=4 + (h >> 40) % 13,
                factor=1 + magnitude if h >> 62 & 1 else 1 - magnitude,
            ),
        )
    return BlockMeta(
        day=day,
        start=start,
        end=end,
        step=step,
        arrival=arrival,
        corrections=corrections,
        gcf_definitive_at=gcf_definitive_at(day) if meter.gas else None,
    )


@lru_cache(maxsize=2048)
def _true_series(meter: MockEan, day: date) -> dict[tuple[int, str, str], list[float]]:
    """Final values per source of one block, rounded to 3 decimals (kWh, or m3 for gas)."""
    start, end, step = _bounds(meter, day)
    q = day_quantities(meter, day, start, end, step)
    load = q[LOAD]
    gen = q.get(GEN)
    aux = q.get(AUX)
    consumption = [a + b for a, b in zip(load, aux, strict=True)] if aux is not None else load
    net = [c - g for c, g in zip(consumption, gen, strict=True)] if gen is not None else consumption
    out: dict[tuple[int, str, str], list[float]] = {}
    for direction in meter.directions:
        if direction == "offtake":
            active = [v if v > 0 else 0.0 for v in net]
        else:
            active = [-v if v < 0 else 0.0 for v in net]
        out[(0, direction, "total")] = [round(v, 3) for v in active]
        if meter.reactive:
            out[(0, direction, "inductive")] = [
                round(v * r, 3) for v, r in zip(active, q[INDUCTIVE], strict=True)
            ]
            out[(0, direction, "capacitive")] = [
                round(v * r, 3) for v, r in zip(active, q[CAPACITIVE], strict=True)
            ]
    owner = 0
    installation = meter.installation
    if installation is not None and gen is not None and aux is not None:
        owner += 1
        out[(owner, "production", "total")] = [round(v, 3) for v in gen]
        if installation.has_auxiliary:
            owner += 1
            out[(owner, "auxiliary", "total")] = [round(v, 3) for v in aux]
    elif SUB in q:
        owner += 1
        out[(owner, "offtake", "total")] = [round(v, 3) for v in q[SUB]]
    return out


@lru_cache(maxsize=4096)
def _day_register_mask(day: date, start: int, end: int, step: int) -> tuple[bool, ...]:
    """True for slices in the digital meter's day register (weekdays 07:00-22:00 local)."""
    if day.weekday() >= 5:
        return tuple(False for _ in range(start, end, step))
    return tuple(
        _DAY_REGISTER_FROM <= m < _DAY_REGISTER_TO for m in local_minutes(start, end, step)
    )
