"""Pure helpers: window splitting, merging windows, Retry-After and backoff delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.fluvius.api import (
    MAX_WINDOW,
    EnergyResponse,
    EnergySeries,
    Headpoint,
    HeadpointType,
    Measurement,
    MeasurementValue,
    PhysicalMeter,
    RegisterValues,
    SubHeadpoint,
    SubHeadpointKind,
    TimeSlice,
    format_datetime,
    merge_energy_responses,
    split_windows,
)
from custom_components.fluvius.api.transport import RetryPolicy, parse_retry_after

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_split_windows_covers_the_range_in_185_day_steps() -> None:
    windows = split_windows(T0, T0 + timedelta(days=1095))
    assert len(windows) == 6
    assert windows[0][0] == T0
    assert windows[-1][1] == T0 + timedelta(days=1095)
    assert all(b - a <= MAX_WINDOW for a, b in windows)
    assert all(windows[i][1] == windows[i + 1][0] for i in range(5))


def test_split_windows_edge_cases() -> None:
    assert split_windows(T0, T0 + MAX_WINDOW) == [(T0, T0 + MAX_WINDOW)]
    assert len(split_windows(T0, T0 + MAX_WINDOW + timedelta(seconds=1))) == 2
    local = datetime(2024, 3, 31, tzinfo=ZoneInfo("Europe/Brussels"))
    ((start, end),) = split_windows(local, local + timedelta(days=1))
    assert start.tzinfo is UTC
    assert format_datetime(start) == "2024-03-30T23:00:00Z"
    assert end - start == timedelta(hours=23)  # the spring-forward day
    with pytest.raises(ValueError, match="after"):
        split_windows(T0, T0)
    with pytest.raises(ValueError, match="naive"):
        split_windows(datetime(2024, 1, 1), T0)


def _slice(hour: int, value: float) -> TimeSlice:
    start = T0 + timedelta(hours=hour)
    return TimeSlice(
        start,
        start + timedelta(hours=1),
        (Measurement(offtake=RegisterValues(total=MeasurementValue(value=value, raw_unit="kWh"))),),
    )


def _response(
    fetch_hour: int, meters: dict[str, list[TimeSlice]], subs: dict[str, list[TimeSlice]]
) -> EnergyResponse:
    return EnergyResponse(
        fetch_time=T0 + timedelta(hours=fetch_hour),
        headpoint=Headpoint(
            type=HeadpointType.METERING_ON_HEADPOINT_AND_METER,
            ean="541450010000000000",
            energy_type="E",
            physical_meters=tuple(
                PhysicalMeter("1", meter_id, EnergySeries(hourly=tuple(slices)))
                for meter_id, slices in meters.items()
            ),
            energy=EnergySeries(daily=(_slice(0, 1.0),)),
            sub_headpoints=tuple(
                SubHeadpoint(
                    SubHeadpointKind.PRODUCTION, ean, "1", "9", "PV", EnergySeries(hourly=tuple(s))
                )
                for ean, s in subs.items()
            ),
        ),
    )


def test_merge_concatenates_per_meter_and_submeter_sorted_and_deduplicated() -> None:
    first = _response(10, {"A": [_slice(1, 1.0), _slice(0, 0.5)]}, {"S1": [_slice(0, 2.0)]})
    second = _response(
        5,
        {"A": [_slice(1, 9.0), _slice(2, 3.0)], "B": [_slice(2, 4.0)]},
        {"S1": [_slice(1, 2.5)], "S2": [_slice(1, 7.0)]},
    )
    merged = merge_energy_responses([first, second])
    assert merged.fetch_time == T0 + timedelta(hours=10)
    headpoint = merged.headpoint
    assert headpoint is not None
    assert headpoint.ean == "541450010000000000"
    meter_a, meter_b = headpoint.physical_meters
    assert meter_a.meter_id == "A"
    assert [s.start.hour for s in meter_a.energy.hourly] == [0, 1, 2]
    # The later window wins for a repeated slice.
    offtake = meter_a.energy.hourly[1].measurements[0].offtake
    assert offtake is not None
    assert offtake.total is not None
    assert offtake.total.value == 9.0
    assert [s.start.hour for s in meter_b.energy.hourly] == [2]
    assert len(headpoint.energy.daily) == 1
    s1, s2 = headpoint.sub_headpoints
    assert (s1.ean, [s.start.hour for s in s1.energy.hourly]) == ("S1", [0, 1])
    assert (s2.ean, s2.installation_type) == ("S2", "PV")
    assert len(list(merged.readings())) == 3 + 1 + 1 + 2 + 1


def test_merge_of_one_or_no_headpoints() -> None:
    only = _response(1, {"A": [_slice(0, 1.0)]}, {})
    assert merge_energy_responses([only]) is only
    empty = EnergyResponse(fetch_time=None, headpoint=None)
    merged = merge_energy_responses([empty, empty])
    assert merged.headpoint is None
    merged = merge_energy_responses([empty, only])
    assert merged.headpoint is not None
    assert merged.fetch_time == only.fetch_time
    assert merge_energy_responses([]) == EnergyResponse(fetch_time=None, headpoint=None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after(header, now) == expected


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=4, backoff_base=1.0, backoff_max=10.0)
    for attempt, ceiling in enumerate([1, 2, 4, 8, 10, 10]):
        for _ in range(20):
            assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=300.0) == 10.0
    assert RetryPolicy(backoff_base=0).delay(3) == 0.0
