"""The compact month series behind the peak sensors: storage round trip and truncation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.fluvius.peak_tracker import MonthSeries
from custom_components.fluvius.timeutil import month_bounds

QH = timedelta(minutes=15)


def test_dst_months_have_their_own_length() -> None:
    assert len(MonthSeries.empty((2026, 3)).states) == 2972
    assert len(MonthSeries.empty((2026, 10)).states) == 2980
    assert len(MonthSeries.empty((2026, 2)).states) == 2688


def test_round_trip_keeps_values_states_and_gaps() -> None:
    series = MonthSeries.empty((2026, 3))
    start, _ = month_bounds(2026, 3)
    assert series.set(start, 0.5, "READ")
    assert series.set(start + QH, 1.25, "EST")
    assert series.set(start + 2 * QH, 0.0, "nval")
    assert series.set(start + 3 * QH, 2.0, "SOMETHING")
    assert not series.set(start, 0.5, "READ"), "an unchanged value is no change"
    assert series.set(start + 3 * QH, None, None), "a value can go missing again"

    restored = MonthSeries.from_dict(series.as_dict())
    assert restored == series
    got = [(q.start, q.kwh, q.validation_state) for q in restored.quarter_hours()]
    assert got == [(start, 0.5, "READ"), (start + QH, 1.25, "EST"), (start + 2 * QH, 0.0, "NVAL")]
    peak = restored.peak(datetime(2030, 1, 1, tzinfo=UTC))
    assert peak.peak_kw == 5.0
    assert peak.present == 3
    assert peak.estimated == 2
    assert not peak.complete


def test_truncate_forgets_from_a_moment_on() -> None:
    series = MonthSeries.empty((2026, 2))
    start, _ = month_bounds(2026, 2)
    for index in range(8):
        series.set(start + index * QH, float(index), "READ")
    assert series.truncate(start + 5 * QH + timedelta(minutes=1))
    assert [q.kwh for q in series.quarter_hours()] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert not series.truncate(start + 6 * QH)
    assert series.truncate(start - timedelta(days=1))
    assert list(series.quarter_hours()) == []


def test_damaged_months_are_refused() -> None:
    raw = MonthSeries.empty((2026, 2)).as_dict()
    longer = MonthSeries.empty((2026, 3)).as_dict()
    with pytest.raises(ValueError, match="wrong length"):
        MonthSeries.from_dict({**raw, "kwh": longer["kwh"]})
    with pytest.raises(ValueError, match="state codes"):
        MonthSeries.from_dict({**raw, "states": base64.b64encode(b"\x09" * 2688).decode()})
