"""Turn decoded Fluvius responses into hourly rows for long-term statistics.

Home Assistant keeps nothing finer than an hour, so quarter-hours are summed
into UTC hours (only complete hours: all four quarter-hours present), hourly
gas is taken as is, and a daily value is booked in the hour its day starts
when no finer detail exists for that day. Pure functions, no Home Assistant state.

The slices are walked as decoded: a 185-day quarter-hour window has 35,000+
values, and an object per value is the cost this module exists to avoid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice, repeat
from operator import add, attrgetter, lt, mul
from typing import cast

from msgspec import Struct
from msgspec.structs import astuple

from .api import (
    FINAL_VALIDATION_STATES,
    Direction,
    EnergyResponse,
    MeasurementValue,
    Register,
    Resolution,
    TimeSlice,
    Unit,
    ValidationState,
)
from .series import SeriesKey, day_night_totals, unit_id
from .timeutil import HOUR, floor_hour

# Later than any slice: no start falls in [_NEVER, _NEVER).
_NEVER = datetime.max.replace(tzinfo=UTC)
_MINUTE, _SECOND, _MICROSECOND = (
    attrgetter("minute"),
    attrgetter("second"),
    attrgetter("microsecond"),
)
QUARTER_HOURS_PER_HOUR = 4

ACTIVE_REGISTERS = frozenset({Register.TOTAL, Register.DAY, Register.NIGHT})
REACTIVE_REGISTERS = frozenset({Register.REACTIVE, Register.INDUCTIVE, Register.CAPACITIVE})


class PowerHour(Struct, frozen=True, gc=False):
    """One hour of quarter-hour power: mean and extremes in kW.

    A Struct, like the API models: a window makes thousands, and untracked
    ones give the garbage collector nothing to scan while they wait to be written.
    """

    mean: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class QuarterHours:
    """Quarter-hour kWh (None when missing) and their validation states, by start.

    Two dicts with the same keys, not a pair per quarter-hour: a window has
    17,000 quarter-hours, and pairing them cost more than summing their hours.
    """

    kwh: Mapping[datetime, float | None] = field(default_factory=dict)
    states: Mapping[datetime, str | None] = field(default_factory=dict)

    def items(self) -> Iterator[tuple[datetime, float | None, str | None]]:
        """(start, kWh, validation state) of every quarter-hour."""
        states = self.states
        for start, kwh in self.kwh.items():
            yield start, kwh, states[start]


@dataclass(slots=True)
class HourlyData:
    """The result of aggregating readings: energy and power per hour.

    ``quarter_hours`` keeps the offtake quarter-hours behind each power
    statistic, with their validation state, for the monthly peak. ``quarters``
    keeps the kWh quarter-hours behind each total, and ``ends`` the end of each
    row booked from a daily value: costs price both.
    """

    energy: dict[SeriesKey, dict[datetime, float]] = field(default_factory=dict)
    power: dict[SeriesKey, dict[datetime, PowerHour]] = field(default_factory=dict)
    quarter_hours: dict[SeriesKey, QuarterHours] = field(default_factory=dict)
    quarters: dict[SeriesKey, dict[datetime, float | None]] = field(default_factory=dict)
    ends: dict[SeriesKey, dict[datetime, datetime]] = field(default_factory=dict)


def aggregate(
    responses: Iterable[EnergyResponse],
    *,
    include_reactive: bool = False,
    keep_quarters: bool = False,
) -> HourlyData:
    """Aggregate responses (oldest first) into complete hourly rows per statistic.

    A later value of the same meter and slice replaces an earlier one (newer
    version); different physical meters at the same instant (a meter swap) add up.
    ``keep_quarters``: keep the quarter-hours behind the totals (a dynamic price needs them).
    """
    collector = _Collector(include_reactive=include_reactive, keep_quarters=keep_quarters)
    for response in responses:
        headpoint = response.headpoint
        if headpoint is None:
            continue
        for sub_ean, meter_id, series in headpoint.series():
            for resolution, slices in series.by_resolution():
                collector.add(
                    slices, _Visit(collector, resolution, sub_ean or headpoint.ean, meter_id)
                )
    return collector.result()


type _Values = dict[datetime, float | None]
type _States = dict[datetime, str | None]
type _Target = tuple[_Values, _States | None] | None
"""Where one visit writes the values (and states) of one statistic; None: not stored."""


class _Slots:
    """One statistic at one resolution: value (and state) per start, per meter.

    While one physical meter reports (the usual case) the values are one flat
    dict; a second meter (a meter swap) turns them into {start: {meter: value}}.
    """

    __slots__ = ("meter", "nested_states", "nested_values", "states", "values")

    def __init__(self, meter: str | None, *, with_states: bool) -> None:
        self.meter = meter
        self.values: _Values = {}
        self.states: _States | None = {} if with_states else None
        self.nested_values: dict[datetime, dict[str | None, float | None]] | None = None
        self.nested_states: dict[datetime, dict[str | None, str | None]] = {}

    def target(self, meter: str | None, pending: list[_Fold]) -> tuple[_Values, _States | None]:
        """The dicts a visit of ``meter`` writes to; other meters' are folded in later."""
        if self.nested_values is None:
            if meter == self.meter:
                return self.values, self.states
            self.nested_values = {start: {self.meter: v} for start, v in self.values.items()}
            if self.states is not None:
                self.nested_states = {start: {self.meter: s} for start, s in self.states.items()}
        values: _Values = {}
        states: _States | None = None if self.states is None else {}
        pending.append(_Fold(self.nested_values, self.nested_states, meter, values, states))
        return values, states

    def combined(self) -> tuple[dict[datetime, float | None], _States]:
        """One value per start: the sum over meters (None if any is missing), and its state."""
        if self.nested_values is None:
            return self.values, self.states or {}
        values: dict[datetime, float | None] = {}
        for start, meters in self.nested_values.items():
            items = list(meters.values())
            values[start] = None if None in items else sum(v for v in items if v is not None)
        states = {
            start: combined_state(list(m.values())) for start, m in self.nested_states.items()
        }
        return values, states


@dataclass(slots=True)
class _Fold:
    """A visit's values of a statistic with several meters, merged when the visit ends."""

    nested_values: dict[datetime, dict[str | None, float | None]]
    nested_states: dict[datetime, dict[str | None, str | None]]
    meter: str | None
    values: _Values
    states: _States | None

    def apply(self) -> None:
        """Add the visit's values in the order the visit saw them."""
        for start, value in self.values.items():
            self.nested_values.setdefault(start, {})[self.meter] = value
        for start, state in (self.states or {}).items():
            self.nested_states.setdefault(start, {})[self.meter] = state


class _Visit:
    """One meter's (or submeter's) slices of one resolution in one response."""

    __slots__ = ("_collector", "_tables", "day_ends", "ean", "meter_id", "resolution")

    def __init__(
        self, collector: _Collector, resolution: Resolution, ean: str, meter_id: str | None
    ) -> None:
        self._collector = collector
        self.resolution = resolution
        self.ean = ean
        self.meter_id = meter_id
        self.day_ends = collector.day_ends if resolution is Resolution.DAILY else None
        # [direction][register] -> raw unit -> target, filled on first sight.
        self._tables: list[list[dict[str, _Target]]] = [[{} for _ in Register] for _ in Direction]

    def tables(self) -> list[list[dict[str, _Target]]]:
        """The lookup the hot loop consults; :meth:`target` fills it."""
        return self._tables

    def target(self, direction: int, register: int, raw_unit: str) -> _Target:
        """Resolve (and remember) where values of this direction, register and unit go."""
        key = self._collector.key(self.ean, _DIRECTIONS[direction], _REGISTERS[register], raw_unit)
        target = None if key is None else self._collector.target(self, key)
        self._tables[direction][register][raw_unit] = target
        return target


# A measurement's fields are the directions and a direction's the registers, in enum
# order, so ``enumerate(astuple(...))`` gives their index in these.
_DIRECTIONS = tuple(Direction)
_REGISTERS = tuple(Register)


class _Collector:
    """Values per statistic and resolution, gathered slice by slice."""

    def __init__(self, *, include_reactive: bool, keep_quarters: bool) -> None:
        self._stored = ACTIVE_REGISTERS | (REACTIVE_REGISTERS if include_reactive else set())
        self._keep_quarters = keep_quarters
        self._slots: dict[Resolution, dict[SeriesKey, _Slots]] = {r: {} for r in Resolution}
        self._pending: list[_Fold] = []
        self._state_text: dict[str | None, str | None] = {None: None}
        self.day_ends: dict[datetime, datetime] = {}

    def key(
        self, ean: str, direction: Direction, register: Register, raw_unit: str
    ) -> SeriesKey | None:
        """The statistic a value belongs to, or None when it is not stored."""
        unit = unit_id(Unit.parse(raw_unit))
        if unit is None or register not in self._stored:
            return None
        return SeriesKey(ean, direction.value, register.value, unit)

    def target(self, visit: _Visit, key: SeriesKey) -> _Target:
        by_key = self._slots[visit.resolution]
        slots = by_key.get(key)
        if slots is None:
            with_states = visit.resolution is Resolution.QUARTER_HOURLY and _is_power_source(key)
            slots = by_key[key] = _Slots(visit.meter_id, with_states=with_states)
        return slots.target(visit.meter_id, self._pending)

    def state_text(self, raw: str) -> str:
        """The canonical spelling of a validation state, remembered per raw spelling."""
        text = str(ValidationState.parse(raw))
        self._state_text[raw] = text
        return text

    def add(self, slices: tuple[TimeSlice, ...], visit: _Visit) -> None:
        """Write every stored value of the slices; the hot loop of the import.

        Nearly every direction holds one register, the total: that case is written
        inline here, without a loop over registers. Others go through
        :meth:`_add_registers`, which stores the same way.
        """
        tables = visit.tables()
        day_ends = visit.day_ends
        state_texts = self._state_text
        for time_slice in slices:
            start = time_slice.start
            for measurement in time_slice.raw_measurements or ():
                direction = -1
                for registers in astuple(measurement):
                    direction += 1
                    if registers is None:
                        continue
                    item = registers.total
                    # The registers one by one: cheaper than a tuple of them per value.
                    if (
                        item is None
                        or registers.day is not None
                        or registers.night is not None
                        or registers.reactive is not None
                        or registers.inductive is not None
                        or registers.capacitive is not None
                    ):
                        self._add_registers(visit, direction, astuple(registers), time_slice)
                        continue
                    raw_unit = item.raw_unit
                    try:
                        target = tables[direction][0][raw_unit]
                    except KeyError:
                        target = visit.target(direction, 0, raw_unit)
                    if target is None:
                        continue
                    values, states = target
                    values[start] = item.value
                    if states is not None:
                        raw_state = item.raw_validation_state
                        text = state_texts.get(raw_state)
                        if text is None and raw_state is not None:
                            text = self.state_text(raw_state)
                        states[start] = text
                    if day_ends is not None:
                        day_ends[start] = time_slice.end
        for fold in self._pending:
            fold.apply()
        self._pending.clear()

    def _add_registers(
        self,
        visit: _Visit,
        direction: int,
        values_of: tuple[MeasurementValue | None, ...],
        time_slice: TimeSlice,
    ) -> None:
        """Write a direction's values in several registers (day/night, reactive)."""
        table = visit.tables()[direction]
        start = time_slice.start
        for register, item in enumerate(values_of):
            if item is None:
                continue
            raw_unit = item.raw_unit
            try:
                target = table[register][raw_unit]
            except KeyError:
                target = visit.target(direction, register, raw_unit)
            if target is None:
                continue
            values, states = target
            values[start] = item.value
            if states is not None:
                raw_state = item.raw_validation_state
                text = self._state_text.get(raw_state)
                if text is None and raw_state is not None:
                    text = self.state_text(raw_state)
                states[start] = text
            if visit.day_ends is not None:
                visit.day_ends[start] = time_slice.end

    def result(self) -> HourlyData:
        """Complete hours, power and peaks' quarter-hours; daily values where nothing finer exists."""
        result = HourlyData()
        whole_hours = _WholeHours()
        for key, slots in self._slots[Resolution.QUARTER_HOURLY].items():
            combined, states = slots.combined()
            is_power = _is_power_source(key)
            energy, power = _quarters_to_hours(combined, whole_hours, with_power=is_power)
            _merge(result.energy, key, energy)
            if self._keep_quarters and key.register == Register.TOTAL and key.unit == "kwh":
                result.quarters[key] = combined
            if is_power:
                power_key = SeriesKey.power(key.ean)
                result.power[power_key] = power
                result.quarter_hours[power_key] = QuarterHours(combined, states)
        for key, slots in self._slots[Resolution.HOURLY].items():
            combined, _ = slots.combined()
            _merge(result.energy, key, {h: v for h, v in combined.items() if v is not None})
        for key, slots in self._slots[Resolution.DAILY].items():
            combined, _ = slots.combined()
            detail = result.energy.get(key, {})
            booked = {
                start: value
                for start, value in combined.items()
                if value is not None and not _has_detail(detail, start, self.day_ends[start])
            }
            _merge(result.energy, key, {floor_hour(start): v for start, v in booked.items()})
            if booked:
                ends = result.ends.setdefault(key, {})
                ends.update({floor_hour(start): self.day_ends[start] for start in booked})
        _add_totals(result)
        return result


def _is_power_source(key: SeriesKey) -> bool:
    """Offtake kWh in the total register: the quarter-hours that make power and peaks."""
    return (
        key.direction == Direction.OFFTAKE and key.register == Register.TOTAL and key.unit == "kwh"
    )


def combined_state(states: Sequence[str | None]) -> str | None:
    """The state of a sum of values: the first one that is not final, if any."""
    return next((state for state in states if state not in FINAL_VALIDATION_STATES), states[0])


def _merge(
    target: dict[SeriesKey, dict[datetime, float]], key: SeriesKey, rows: dict[datetime, float]
) -> None:
    if rows:
        target.setdefault(key, {}).update(rows)


def _quarters_to_hours(
    values: dict[datetime, float | None], whole_hours: _WholeHours, *, with_power: bool
) -> tuple[dict[datetime, float], dict[datetime, PowerHour]]:
    """Sum complete hours; a partial hour (or one with a null value) waits."""
    hours = whole_hours(list(values))
    if hours is None:
        return _grouped_hours(values, with_power=with_power)
    quarters = list(values.values())
    if None in quarters:
        groups = zip(*[iter(quarters)] * QUARTER_HOURS_PER_HOUR, strict=True)
        complete = [
            (hour, group) for hour, group in zip(hours, groups, strict=True) if None not in group
        ]
        return _hour_rows(
            [hour for hour, _ in complete],
            cast(list[tuple[float, ...]], [group for _, group in complete]),
            with_power=with_power,
        )
    # Whole hours, nothing missing: the n-th quarter-hour of every hour is one slice.
    columns = [quarters[index::QUARTER_HOURS_PER_HOUR] for index in range(QUARTER_HOURS_PER_HOUR)]
    return _column_rows(hours, cast(list[list[float]], columns), with_power=with_power)


class _WholeHours:
    """The hours of quarter-hour starts that come as whole hours in order (as windows do).

    That is: the starts increase, every fourth one begins an hour and the three
    after it fall in that hour. Then the hours are runs of four starts, found
    with C-level passes over the list instead of one step per quarter-hour.
    The statistics of one meter share their starts, so the last answer is kept.
    """

    __slots__ = ("_hours", "_starts")

    def __init__(self) -> None:
        self._starts: list[datetime] = []
        self._hours: list[datetime] | None = None

    def __call__(self, starts: list[datetime]) -> list[datetime] | None:
        """The hour of every fourth start, or None when they are not whole hours in order."""
        # The same datetime objects, mostly: equal by identity, without a comparison each.
        if starts != self._starts:
            self._starts, self._hours = starts, _whole_hours(starts)
        return self._hours


def _whole_hours(starts: list[datetime]) -> list[datetime] | None:
    """:class:`_WholeHours` without the memory: every fourth start, or None."""
    if not starts or len(starts) % QUARTER_HOURS_PER_HOUR:
        return None
    firsts = starts[::QUARTER_HOURS_PER_HOUR]
    # Every fourth start is an hour when none has minutes, seconds or microseconds.
    if any(map(_MINUTE, firsts)) or any(map(_SECOND, firsts)) or any(map(_MICROSECOND, firsts)):
        return None
    if not all(map(lt, starts, islice(starts, 1, None))):
        return None
    hour_ends = map(add, firsts, repeat(HOUR))
    if not all(map(lt, starts[QUARTER_HOURS_PER_HOUR - 1 :: QUARTER_HOURS_PER_HOUR], hour_ends)):
        return None
    return firsts


def _hour_rows(
    hours: list[datetime], groups: list[tuple[float, ...]], *, with_power: bool
) -> tuple[dict[datetime, float], dict[datetime, PowerHour]]:
    """Energy (and power) rows of complete hours, each group its four quarter-hours."""
    columns = [list(column) for column in zip(*groups, strict=True)] if groups else [[]] * 4
    return _column_rows(hours, columns, with_power=with_power)


def _column_rows(
    hours: list[datetime], columns: list[list[float]], *, with_power: bool
) -> tuple[dict[datetime, float], dict[datetime, PowerHour]]:
    """Energy (and power) rows of complete hours; ``columns[n]`` holds each hour's n-th quarter.

    These are C-level passes over four lists; the one tuple per hour that ``sum``
    takes (for its compensated float sum) is freed at once.
    """
    first, second, third, fourth = columns
    totals = list(map(sum, zip(first, second, third, fourth, strict=True)))
    energy = dict(zip(hours, totals, strict=True))
    if not with_power:
        return energy, {}
    lows = map(mul, map(min, first, second, third, fourth), repeat(4))
    highs = map(mul, map(max, first, second, third, fourth), repeat(4))
    return energy, dict(zip(hours, map(PowerHour, totals, lows, highs), strict=True))


def _grouped_hours(
    values: dict[datetime, float | None], *, with_power: bool
) -> tuple[dict[datetime, float], dict[datetime, PowerHour]]:
    """:func:`_quarters_to_hours` for quarter-hours in any order, with gaps or repeats."""
    groups: dict[datetime, list[float | None]] = {}
    hour = hour_end = _NEVER
    group: list[float | None] = []
    for start, value in values.items():
        # Quarter-hours mostly come in order: stay in the current hour while they do.
        if not hour <= start < hour_end:
            hour = floor_hour(start)
            hour_end = hour + HOUR
            group = groups.setdefault(hour, [])
        group.append(value)
    complete = [
        (start_hour, tuple(quarters))
        for start_hour, quarters in groups.items()
        if len(quarters) == QUARTER_HOURS_PER_HOUR and None not in quarters
    ]
    return _hour_rows(
        [hour for hour, _ in complete],
        cast(list[tuple[float, ...]], [group for _, group in complete]),
        with_power=with_power,
    )


def _has_detail(detail: dict[datetime, float], start: datetime, end: datetime) -> bool:
    """Whether finer rows exist inside [start, end)."""
    hour = floor_hour(start)
    while hour < end:
        if hour in detail:
            return True
        hour += HOUR
    return False


def _add_totals(result: HourlyData) -> None:
    """Day + night as the total, in the hours the meter gave no total of its own."""
    energy = result.energy
    for day_key, night_key, total_key in list(day_night_totals(energy)):
        day, night = energy[day_key], energy[night_key]
        existing = energy.get(total_key, {})
        totals = {
            hour: day[hour] + night[hour]
            for hour in day.keys() & night.keys()
            if hour not in existing
        }
        _merge(energy, total_key, totals)
        day_ends = result.ends.get(day_key, {})
        if ends := {hour: day_ends[hour] for hour in totals if hour in day_ends}:
            result.ends.setdefault(total_key, {}).update(ends)


@dataclass(frozen=True, slots=True)
class SumRow:
    """One statistic row: the hour, its own value (state) and the running sum."""

    start: datetime
    state: float
    sum: float


def cumulate(base: float, rows: Sequence[tuple[datetime, float]]) -> list[SumRow]:
    """Running sums from the stored sum just before the first row (rows sorted by hour)."""
    out: list[SumRow] = []
    running = base
    for start, value in rows:
        running += value
        out.append(SumRow(start, value, running))
    return out
