"""Tests for the capacity-tariff peak functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.fluvius.peak import (
    LOW_VOLTAGE_MINIMUM_KW,
    MonthlyPeak,
    QuarterHour,
    expected_quarter_hours,
    is_new_peak,
    month_peak,
    monthly_peaks,
    rolling_average,
)
from custom_components.fluvius.timeutil import local_month, month_bounds

QH = timedelta(minutes=15)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def full_month(
    year: int, month: int, kwh: float = 0.1, state: str | None = "READ"
) -> list[QuarterHour]:
    start, end = month_bounds(year, month)
    readings = []
    moment = start
    while moment < end:
        readings.append(QuarterHour(moment, kwh, state))
        moment += QH
    return readings


def with_value(
    readings: list[QuarterHour], index: int, kwh: float | None, state: str | None = "READ"
) -> list[QuarterHour]:
    changed = list(readings)
    changed[index] = QuarterHour(readings[index].start, kwh, state)
    return changed


def make_peak(year: int, month: int, peak_kw: float | None, *, valid: bool = True) -> MonthlyPeak:
    expected = expected_quarter_hours(year, month)
    start = month_bounds(year, month)[0] if peak_kw is not None else None
    return MonthlyPeak(
        year=year,
        month=month,
        peak_kw=peak_kw,
        peak_start=start,
        peak_end=None if start is None else start + QH,
        present=expected if valid else expected - 1,
        expected=expected,
        missing=0 if valid else 1,
        estimated=0,
        complete=valid,
        valid=valid,
    )


# --- month bounds and quarter-hour counts -------------------------------------------


def test_month_bounds_winter_and_summer() -> None:
    assert month_bounds(2026, 1) == (
        datetime(2025, 12, 31, 23, tzinfo=UTC),
        datetime(2026, 1, 31, 23, tzinfo=UTC),
    )
    assert month_bounds(2026, 3) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    )
    assert month_bounds(2025, 10) == (
        datetime(2025, 9, 30, 22, tzinfo=UTC),
        datetime(2025, 10, 31, 23, tzinfo=UTC),
    )
    assert month_bounds(2025, 12) == (
        datetime(2025, 11, 30, 23, tzinfo=UTC),
        datetime(2025, 12, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2025, 3, 2972),
        (2026, 3, 2972),
        (2025, 10, 2980),
        (2026, 10, 2980),
        (2026, 1, 2976),
        (2026, 2, 2688),
        (2024, 2, 2784),
        (2026, 6, 2880),
    ],
)
def test_expected_quarter_hours(year: int, month: int, expected: int) -> None:
    assert expected_quarter_hours(year, month) == expected


# --- QuarterHour --------------------------------------------------------------------


def test_quarter_hour_normalises_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    reading = QuarterHour(datetime(2026, 2, 1, 0, 15, tzinfo=cet), 0.2, "READ")
    assert reading.start == datetime(2026, 1, 31, 23, 15, tzinfo=UTC)
    assert reading.start.tzinfo is UTC


def test_quarter_hour_rejects_naive_and_off_boundary() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        QuarterHour(datetime(2026, 1, 1), 0.1, "READ")
    with pytest.raises(ValueError, match="quarter-hour boundary"):
        QuarterHour(datetime(2026, 1, 1, 0, 7, tzinfo=UTC), 0.1, "READ")
    with pytest.raises(ValueError, match="quarter-hour boundary"):
        QuarterHour(datetime(2026, 1, 1, 0, 15, 30, tzinfo=UTC), 0.1, "READ")


@pytest.mark.parametrize(
    ("state", "final"),
    [("READ", True), ("VAL", True), ("read", True), ("EST", False), ("NVAL", False), (None, False)],
)
def test_quarter_hour_is_final(state: str | None, final: bool) -> None:
    assert QuarterHour(LATER, 0.1, state).is_final is final


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        monthly_peaks([], now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        month_peak([], 2026, 1, now=datetime(2026, 1, 1))


# --- full months --------------------------------------------------------------------


@pytest.mark.parametrize(("year", "month"), [(2025, 3), (2026, 3), (2025, 10), (2026, 10)])
def test_full_dst_month_is_complete_and_valid(year: int, month: int) -> None:
    readings = with_value(full_month(year, month), 1000, 1.25)
    peak = month_peak(readings, year, month, now=LATER)
    assert peak.expected == len(readings) == expected_quarter_hours(year, month)
    assert peak.present == peak.expected
    assert peak.missing == 0
    assert peak.estimated == 0
    assert peak.peak_kw == 5.0
    assert peak.peak_start == readings[1000].start
    assert peak.peak_end == readings[1000].start + QH
    assert peak.complete
    assert peak.valid
    assert peak.valid
    assert peak.estimated_share == 0.0


def test_monthly_peaks_matches_month_peak() -> None:
    readings = full_month(2026, 3) + with_value(full_month(2026, 4), 7, 0.9)
    peaks = monthly_peaks(readings, now=LATER)
    assert list(peaks) == [(2026, 3), (2026, 4)]
    assert peaks[(2026, 3)] == month_peak(readings, 2026, 3, now=LATER)
    assert peaks[(2026, 4)] == month_peak(readings, 2026, 4, now=LATER)
    assert peaks[(2026, 4)].peak_kw == pytest.approx(3.6)
    assert peaks[(2026, 3)].peak_kw == pytest.approx(0.4)


def test_tie_goes_to_earliest_quarter_hour() -> None:
    readings = with_value(with_value(full_month(2026, 2), 500, 0.75), 200, 0.75)
    # Put the later quarter-hour first in the input, so input order cannot decide.
    readings = [readings[500], *readings[:500], *readings[501:]]
    peak = month_peak(readings, 2026, 2, now=LATER)
    assert peak.peak_start == month_bounds(2026, 2)[0] + 200 * QH
    assert peak.peak_kw == 3.0


# --- completeness and validity ------------------------------------------------------


def test_missing_quarter_hour_is_incomplete() -> None:
    readings = full_month(2026, 2)
    del readings[42]
    peak = month_peak(readings, 2026, 2, now=LATER)
    assert peak.present == 2687
    assert peak.missing == 1
    assert not peak.complete
    assert not peak.valid
    assert peak.peak_kw == pytest.approx(0.4)


def test_none_value_counts_as_missing() -> None:
    readings = with_value(full_month(2026, 2), 42, None, None)
    peak = month_peak(readings, 2026, 2, now=LATER)
    assert peak.present == 2687
    assert peak.missing == 1
    assert not peak.complete


@pytest.mark.parametrize("state", ["EST", "NVAL", None])
def test_non_final_value_is_complete_but_invalid(state: str | None) -> None:
    readings = with_value(full_month(2026, 2), 42, 0.1, state)
    peak = month_peak(readings, 2026, 2, now=LATER)
    assert peak.complete
    assert peak.estimated == 1
    assert not peak.valid
    assert not peak.valid
    assert peak.estimated_share == pytest.approx(1 / 2688)


def test_val_values_are_valid() -> None:
    peak = month_peak(full_month(2026, 2, state="VAL"), 2026, 2, now=LATER)
    assert peak.valid


def test_running_month_is_not_complete() -> None:
    start = month_bounds(2026, 2)[0]
    now = start + timedelta(days=10, minutes=3)
    readings = [r for r in full_month(2026, 2) if r.start + QH <= now]
    peak = month_peak(readings, 2026, 2, now=now)
    assert peak.present == 960
    assert not peak.complete
    assert not peak.valid
    assert peak.peak_kw == pytest.approx(0.4)


def test_month_is_only_complete_once_it_has_ended() -> None:
    readings = full_month(2026, 2)
    end = month_bounds(2026, 2)[1]
    assert not month_peak(readings, 2026, 2, now=end - timedelta(seconds=1)).complete
    assert month_peak(readings, 2026, 2, now=end).complete


def test_late_data_raises_closed_month_peak() -> None:
    readings = full_month(2026, 2)
    del readings[100]
    before = month_peak(readings, 2026, 2, now=LATER)
    late = QuarterHour(month_bounds(2026, 2)[0] + 100 * QH, 0.5, "READ")
    after = month_peak([*readings, late], 2026, 2, now=LATER)
    assert not before.complete
    assert after.valid
    assert after.peak_kw == 2.0
    assert after.peak_start == late.start
    assert is_new_peak(before, after)

    corrected = QuarterHour(month_bounds(2026, 2)[0] + 5 * QH, 0.75, "READ")
    again = month_peak([*readings, late, corrected], 2026, 2, now=LATER)
    assert again.peak_kw == 3.0
    assert is_new_peak(after, again)


def test_duplicate_start_later_version_wins() -> None:
    readings = full_month(2026, 2)
    first = readings[10]
    estimated = QuarterHour(first.start, 0.9, "EST")
    read = QuarterHour(first.start, 0.3, "READ")

    peak = month_peak([*readings, estimated, read], 2026, 2, now=LATER)
    assert peak.present == 2688
    assert peak.estimated == 0
    assert peak.valid
    assert peak.peak_kw == pytest.approx(1.2)

    reverse = month_peak([*readings, read, estimated], 2026, 2, now=LATER)
    assert reverse.estimated == 1
    assert not reverse.valid
    assert reverse.peak_kw == pytest.approx(3.6)

    assert monthly_peaks([*readings, estimated, read], now=LATER)[(2026, 2)] == peak


def test_month_without_data() -> None:
    other = full_month(2026, 1)
    peak = month_peak(other, 2026, 2, now=LATER)
    assert peak.peak_kw is None
    assert peak.peak_start is None
    assert peak.peak_end is None
    assert peak.present == 0
    assert peak.expected == peak.missing == 2688
    assert not peak.complete
    assert not peak.valid
    assert peak.estimated_share == 0.0


def test_month_with_only_missing_values_is_listed() -> None:
    start = month_bounds(2026, 2)[0]
    peaks = monthly_peaks([QuarterHour(start, None, None)], now=LATER)
    assert list(peaks) == [(2026, 2)]
    assert peaks[(2026, 2)].peak_kw is None
    assert peaks[(2026, 2)].present == 0


# --- local month grouping and DST ---------------------------------------------------


def test_grouping_at_local_month_boundary() -> None:
    readings = [
        QuarterHour(datetime(2026, 1, 31, 22, 45, tzinfo=UTC), 0.2, "READ"),
        QuarterHour(datetime(2026, 1, 31, 23, 0, tzinfo=UTC), 0.3, "READ"),
        QuarterHour(datetime(2026, 6, 30, 21, 45, tzinfo=UTC), 0.4, "READ"),
        QuarterHour(datetime(2026, 6, 30, 22, 0, tzinfo=UTC), 0.5, "READ"),
    ]
    peaks = monthly_peaks(readings, now=LATER)
    assert list(peaks) == [(2026, 1), (2026, 2), (2026, 6), (2026, 7)]
    assert peaks[(2026, 1)].peak_start == datetime(2026, 1, 31, 22, 45, tzinfo=UTC)
    assert peaks[(2026, 2)].peak_start == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert peaks[(2026, 2)].peak_kw == pytest.approx(1.2)
    assert peaks[(2026, 7)].peak_kw == 2.0
    assert all(peak.present == 1 for peak in peaks.values())
    assert local_month(datetime(2026, 1, 31, 23, tzinfo=UTC)) == (2026, 2)


def test_year_boundary_grouping() -> None:
    reading = QuarterHour(datetime(2025, 12, 31, 23, tzinfo=UTC), 0.2, "READ")
    assert list(monthly_peaks([reading], now=LATER)) == [(2026, 1)]


def test_peak_in_repeated_autumn_hour() -> None:
    readings = full_month(2025, 10)
    # 00:15Z and 01:15Z are both 02:15 local on 26 October 2025.
    first = datetime(2025, 10, 26, 0, 15, tzinfo=UTC)
    second = datetime(2025, 10, 26, 1, 15, tzinfo=UTC)
    starts = [r.start for r in readings]
    assert first in starts
    assert second in starts
    readings = with_value(readings, starts.index(second), 1.0)
    peak = month_peak(readings, 2025, 10, now=LATER)
    assert peak.valid
    assert peak.peak_start == second
    assert peak.peak_kw == 4.0


def test_spring_forward_skips_an_hour() -> None:
    readings = full_month(2026, 3)
    starts = [r.start for r in readings]
    # 00:45Z is 01:45 CET and 01:00Z is already 03:00 CEST on 29 March 2026.
    index = starts.index(datetime(2026, 3, 29, 0, 45, tzinfo=UTC))
    assert starts[index + 1] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert len(readings) == 31 * 96 - 4
    peak = month_peak(with_value(readings, index + 1, 2.0), 2026, 3, now=LATER)
    assert peak.valid
    assert peak.peak_start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


# --- rolling average ----------------------------------------------------------------


def test_rolling_average_with_fewer_than_twelve_months() -> None:
    peaks = [make_peak(2026, 1, 4.0), make_peak(2026, 2, 6.0), make_peak(2026, 3, 5.0)]
    result = rolling_average(peaks)
    assert result.value_kw == pytest.approx(5.0)
    assert result.months_used == ((2026, 1), (2026, 2), (2026, 3))
    assert result.incomplete_months == ()
    assert len(result.missing_months) == 9
    assert result.missing_months[0] == (2025, 4)
    assert result.missing_months[-1] == (2025, 12)


def test_rolling_average_uses_only_the_last_twelve_months() -> None:
    peaks = [make_peak(2025, month, 100.0) for month in (1, 2)]
    peaks += [make_peak(2025, month, 3.0) for month in range(3, 13)]
    peaks += [make_peak(2026, month, 6.0) for month in (1, 2)]
    result = rolling_average(list(reversed(peaks)))
    assert result.months_used[0] == (2025, 3)
    assert result.months_used[-1] == (2026, 2)
    assert len(result.months_used) == 12
    assert result.missing_months == ()
    assert result.value_kw == pytest.approx((10 * 3.0 + 2 * 6.0) / 12)


def test_rolling_average_with_minimum_floor() -> None:
    peaks = [make_peak(2026, 1, 1.0), make_peak(2026, 2, 4.5)]
    assert rolling_average(peaks).value_kw == pytest.approx(2.75)
    floored = rolling_average(peaks, minimum_kw=LOW_VOLTAGE_MINIMUM_KW)
    assert floored.value_kw == pytest.approx(3.5)
    assert LOW_VOLTAGE_MINIMUM_KW == 2.5


def test_rolling_average_skips_months_without_peak() -> None:
    peaks = [
        make_peak(2025, 11, 3.0),
        make_peak(2025, 12, None, valid=False),
        make_peak(2026, 2, 5.0, valid=False),
    ]
    result = rolling_average(peaks, months=4)
    assert result.value_kw == pytest.approx(4.0)
    assert result.months_used == ((2025, 11), (2026, 2))
    assert result.missing_months == ((2025, 12), (2026, 1))
    assert result.incomplete_months == ((2026, 2),)


def test_rolling_average_without_data() -> None:
    empty = rolling_average([])
    assert empty.value_kw is None
    assert empty.months_used == empty.missing_months == empty.incomplete_months == ()
    only_missing = rolling_average([make_peak(2026, 1, None, valid=False)], months=2)
    assert only_missing.value_kw is None
    assert only_missing.missing_months == ((2025, 12), (2026, 1))


def test_rolling_average_rejects_empty_window() -> None:
    with pytest.raises(ValueError, match="months"):
        rolling_average([make_peak(2026, 1, 3.0)], months=0)


def test_rolling_average_from_computed_peaks() -> None:
    readings = with_value(full_month(2026, 1), 3, 0.5) + full_month(2026, 2, kwh=0.25)
    peaks = monthly_peaks(readings, now=LATER)
    result = rolling_average(list(peaks.values()), minimum_kw=LOW_VOLTAGE_MINIMUM_KW)
    assert result.value_kw == pytest.approx(2.5)
    assert result.months_used == ((2026, 1), (2026, 2))


# --- is_new_peak --------------------------------------------------------------------


def test_is_new_peak() -> None:
    base = make_peak(2026, 2, 3.0)
    assert is_new_peak(None, base)
    assert not is_new_peak(None, make_peak(2026, 2, None, valid=False))
    assert is_new_peak(base, replace(base, peak_kw=3.5))
    assert not is_new_peak(base, replace(base, peak_kw=3.0))
    assert not is_new_peak(base, replace(base, peak_kw=2.0))
    assert not is_new_peak(base, replace(base, peak_kw=None))
    assert is_new_peak(replace(base, peak_kw=None), base)
    assert is_new_peak(base, make_peak(2026, 3, 1.0))
    assert is_new_peak(base, make_peak(2027, 2, 1.0))


# --- property -----------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    values=st.dictionaries(
        keys=st.integers(min_value=0, max_value=2971),
        values=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=200,
    )
)
def test_peak_is_four_times_max_kwh(values: dict[int, float]) -> None:
    start = month_bounds(2026, 3)[0]
    readings = [QuarterHour(start + index * QH, kwh, "READ") for index, kwh in values.items()]
    peak = month_peak(readings, 2026, 3, now=LATER)
    highest = max(values.values())
    assert peak.peak_kw == 4 * highest
    assert peak.peak_start == start + min(i for i, v in values.items() if v == highest) * QH
    assert peak.present == len(values)
    assert monthly_peaks(readings, now=LATER) == {(2026, 3): peak}


def test_rolling_average_until_a_month_without_data() -> None:
    peaks = [make_peak(2026, 1, 4.0), make_peak(2026, 2, 6.0)]
    result = rolling_average(peaks, months=3, until=(2026, 3))
    assert result.value_kw == pytest.approx(5.0)
    assert result.months_used == ((2026, 1), (2026, 2))
    assert result.missing_months == ((2026, 3),)
