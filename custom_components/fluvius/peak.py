"""Monthly peak power and the Flemish capacity tariff, computed from quarter-hour offtake.

The Flemish capacity tariff bases part of the grid fee on the monthly peak: the highest
quarter-hour average offtake power of the calendar month (kWh x 4 = kW). Low-voltage
customers pay on the average of the last 12 monthly peaks with a 2.5 kW minimum; the
Fluvius API does not expose the peak, so it is derived here from the main meter's readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math

from .api import FINAL_VALIDATION_STATES
from .timeutil import MonthKey, local_month, month_bounds, require_aware, shift_month

QUARTER_HOUR = timedelta(minutes=15)
LOW_VOLTAGE_MINIMUM_KW = 2.5


@dataclass(frozen=True, slots=True)
class QuarterHour:
    """One quarter-hour offtake reading of an EAN's main meter.

    ``start`` is stored in UTC; ``kwh`` None means the value is missing.
    """

    start: datetime
    kwh: float | None
    validation_state: str | None

    def __post_init__(self) -> None:
        """Normalise ``start`` to UTC and make sure it is a quarter-hour boundary."""
        require_aware(self.start, "start")
        start = self.start.astimezone(UTC)
        if start.minute % 15 or start.second or start.microsecond:
            raise ValueError(f"start must be on a quarter-hour boundary, got {self.start!r}")
        object.__setattr__(self, "start", start)

    @property
    def is_final(self) -> bool:
        """Whether the value is READ or VAL, the only states the peak rule accepts."""
        state = self.validation_state
        return state is not None and state.upper() in FINAL_VALIDATION_STATES


@dataclass(frozen=True, slots=True)
class MonthlyPeak:
    """The peak of one Brussels calendar month and how trustworthy it is.

    Per Fluvius, a peak is valid only when every quarter-hour of the month is present
    and READ or VAL; ``complete`` ignores the states, ``valid`` does not.
    """

    year: int
    month: int
    peak_kw: float | None
    peak_start: datetime | None
    peak_end: datetime | None
    present: int
    expected: int
    missing: int
    estimated: int
    complete: bool
    valid: bool

    @property
    def key(self) -> MonthKey:
        """The ``(year, month)`` this peak belongs to."""
        return (self.year, self.month)

    @property
    def estimated_share(self) -> float:
        """Fraction of present values that are not final yet (0 when none present)."""
        return self.estimated / self.present if self.present else 0.0


@dataclass(frozen=True, slots=True)
class RollingAverage:
    """Average of the monthly peaks over the capacity-tariff window."""

    value_kw: float | None
    months_used: tuple[MonthKey, ...]
    incomplete_months: tuple[MonthKey, ...]
    missing_months: tuple[MonthKey, ...]


def expected_quarter_hours(year: int, month: int) -> int:
    """Return how many quarter-hours the local month has (DST makes March and October odd)."""
    start, end = month_bounds(year, month)
    return (end - start) // QUARTER_HOUR


def _summarise(
    year: int, month: int, readings: Iterable[QuarterHour], now: datetime
) -> MonthlyPeak:
    """Build the peak of one month from its de-duplicated readings."""
    start, end = month_bounds(year, month)
    expected = (end - start) // QUARTER_HOUR
    present = 0
    estimated = 0
    peak: QuarterHour | None = None
    peak_kwh = 0.0
    for reading in readings:
        kwh = reading.kwh
        if kwh is None or math.isnan(kwh):
            continue
        present += 1
        if not reading.is_final:
            estimated += 1
        if peak is None or kwh > peak_kwh or (kwh == peak_kwh and reading.start < peak.start):
            peak, peak_kwh = reading, kwh
    complete = present == expected and now >= end
    return MonthlyPeak(
        year=year,
        month=month,
        peak_kw=None if peak is None else peak_kwh * 4,
        peak_start=None if peak is None else peak.start,
        peak_end=None if peak is None else peak.start + QUARTER_HOUR,
        present=present,
        expected=expected,
        missing=expected - present,
        estimated=estimated,
        complete=complete,
        valid=complete and estimated == 0,
    )


def monthly_peaks(readings: Iterable[QuarterHour], *, now: datetime) -> dict[MonthKey, MonthlyPeak]:
    """Group readings by Brussels month and compute each month's peak, oldest month first.

    A later reading for the same start replaces an earlier one, since Fluvius sends
    newer versions of a value (e.g. EST corrected to READ). ``now`` decides whether a
    month has ended, because a running month can still get a higher peak.
    """
    require_aware(now, "now")
    by_month: dict[MonthKey, dict[datetime, QuarterHour]] = {}
    for reading in readings:
        by_month.setdefault(local_month(reading.start), {})[reading.start] = reading
    return {
        key: _summarise(key[0], key[1], by_month[key].values(), now) for key in sorted(by_month)
    }


def month_peak(
    readings: Iterable[QuarterHour], year: int, month: int, *, now: datetime
) -> MonthlyPeak:
    """Compute the peak of one month, ignoring readings outside it."""
    require_aware(now, "now")
    start, end = month_bounds(year, month)
    latest: dict[datetime, QuarterHour] = {}
    for reading in readings:
        if start <= reading.start < end:
            latest[reading.start] = reading
    return _summarise(year, month, latest.values(), now)


def average_peak(
    peaks_kw: Mapping[MonthKey, float | None],
    until: MonthKey,
    *,
    months: int = 12,
    minimum_kw: float | None = None,
) -> tuple[float | None, dict[MonthKey, float], tuple[MonthKey, ...]]:
    """The capacity tariff's average of the last ``months`` monthly peaks up to ``until``.

    Returns the average, the peak each month counted with (raised to
    ``minimum_kw`` first: the low-voltage 2.5 kW minimum applies per month), and
    the months without a peak, which are skipped so a new connection averages
    what exists.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    used: dict[MonthKey, float] = {}
    missing: list[MonthKey] = []
    for offset in range(1 - months, 1):
        key = shift_month(until, offset)
        value = peaks_kw.get(key)
        if value is None:
            missing.append(key)
            continue
        used[key] = value if minimum_kw is None else max(value, minimum_kw)
    average = sum(used.values()) / len(used) if used else None
    return average, used, tuple(missing)


def rolling_average(
    peaks: Sequence[MonthlyPeak],
    *,
    months: int = 12,
    minimum_kw: float | None = None,
    until: MonthKey | None = None,
) -> RollingAverage:
    """:func:`average_peak` of monthly peaks, with the months whose peak is not valid yet.

    ``until`` defaults to the latest month given.
    """
    by_key = {peak.key: peak for peak in peaks}
    if not by_key:
        return RollingAverage(None, (), (), ())
    latest = max(by_key) if until is None else until
    average, used, missing = average_peak(
        {key: peak.peak_kw for key, peak in by_key.items()},
        latest,
        months=months,
        minimum_kw=minimum_kw,
    )
    return RollingAverage(
        value_kw=average,
        months_used=tuple(used),
        incomplete_months=tuple(key for key in used if not by_key[key].valid),
        missing_months=missing,
    )


def is_new_peak(previous: MonthlyPeak | None, current: MonthlyPeak) -> bool:
    """Tell whether ``current`` sets a new peak compared with the last known state.

    True for the first peak of a month and when the same month's peak rose, so an
    event fires once per increase rather than on every refresh.
    """
    if current.peak_kw is None:
        return False
    if previous is None or previous.key != current.key or previous.peak_kw is None:
        return True
    return current.peak_kw > previous.peak_kw
