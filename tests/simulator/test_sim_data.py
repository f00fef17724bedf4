"""The data layer without HTTP: mock-EAN parsing, value generation and speed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fluvius_simulator import FluviusSimulator
from fluvius_simulator.data import MeterData
from fluvius_simulator.eans import EanError, parse_mock_ean, sub_ean
from fluvius_simulator.timeutil import history_limit, local_minutes, local_time_ts


def test_parse_mock_ean() -> None:
    meter = parse_mock_ean("541450211000000250")
    assert (meter.digital, meter.gas, meter.flow, meter.quarter_hourly) == (
        False,
        False,
        "injection",
        True,
    )
    assert meter.submeter == "production"
    assert meter.installation is not None
    assert (meter.installation.type, meter.installation.has_auxiliary) == ("WTR", True)
    assert meter.data_service_type == "VH_kwartier_uur"
    assert parse_mock_ean("541441000000000999").energy_type == "G"
    assert parse_mock_ean("541440100000000000").data_service_type == "VH_dag"
    with pytest.raises(EanError) as err:
        parse_mock_ean("541440211000000000")
    assert len(err.value.messages) == 2  # injection-only digital meter, with a submeter


def test_sub_eans_are_distinct_across_main_eans() -> None:
    seen: set[str] = set()
    for ean in ("541450211000000001", "541450011000000001", "541450201000000001"):
        meter = parse_mock_ean(ean)
        for role in ("1", "2"):
            sub = sub_ean(meter, role)
            assert len(sub) == 18
            assert sub not in seen
            seen.add(sub)


def test_local_minutes_on_dst_days() -> None:
    spring = local_minutes(*_bounds(date(2025, 3, 30)), 900)
    assert len(spring) == 92
    assert 120 not in spring  # 02:00-03:00 does not exist
    autumn = local_minutes(*_bounds(date(2025, 10, 26)), 900)
    assert len(autumn) == 100
    assert autumn.count(120) == 2  # 02:00 happens twice


def _bounds(day: date) -> tuple[int, int]:
    return local_time_ts(day), local_time_ts(day + timedelta(days=1))


def test_history_limit_is_local_midnight() -> None:
    now = datetime(2025, 7, 1, 12, tzinfo=UTC)
    assert history_limit(now) == datetime(2022, 6, 30, 22, tzinfo=UTC)
    leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert history_limit(leap) == datetime(2025, 2, 27, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    "ean",
    [
        "541440110000000000",
        "541441010000000000",
        "541450211000000000",
        "541450211000000777",
        "541450012000000000",
        "541451210000000000",
    ],
)
def test_values_are_plausible(ean: str) -> None:
    now = datetime(2025, 11, 20, 12, tzinfo=UTC)
    sim = FluviusSimulator(clock=lambda: now)
    granularity = "hourly" if ean[5] == "1" else "quarter_hourly"
    records = sim.truth(
        ean,
        datetime(2025, 4, 1, tzinfo=UTC),
        datetime(2025, 4, 15, tzinfo=UTC),
        granularity=granularity,
        final=True,
        reactive=True,
    )
    assert records
    assert all(r.value >= 0 for r in records)
    assert all(round(r.value, 3) == r.value for r in records)
    totals: dict[tuple[str | None, str, str], float] = {}
    for r in records:
        key = (r.sub_ean, r.direction, r.register)
        totals[key] = totals.get(key, 0.0) + r.value
    assert all(total > 0 for total in totals.values()), totals


def test_electricity_has_a_business_profile() -> None:
    now = datetime(2025, 11, 20, 12, tzinfo=UTC)
    sim = FluviusSimulator(clock=lambda: now)
    # Tuesday 4 Feb 2025 vs Sunday 9 Feb 2025, AMR offtake without production.
    ean = "541450010000000005"

    def mean(day: int, hour_utc: int) -> float:
        start = datetime(2025, 2, day, hour_utc, tzinfo=UTC)
        rows = sim.truth(ean, start, start + timedelta(hours=1), final=True)
        return sum(r.value for r in rows) / len(rows)

    assert mean(4, 10) > 1.5 * mean(4, 2)  # working hours vs night
    assert mean(4, 10) > 1.5 * mean(9, 10)  # weekday vs Sunday


def test_final_value_helper() -> None:
    now = datetime(2025, 11, 20, 12, tzinfo=UTC)
    sim = FluviusSimulator(clock=lambda: now)
    start = datetime(2025, 3, 1, 23, tzinfo=UTC)
    end = start + timedelta(days=1)
    quarter_sum = sim.final_value("541440110000000000", start, end, direction="injection")
    day = sim.final_value(
        "541440110000000000", start, end, granularity="daily", direction="injection", register="day"
    )
    night = sim.final_value(
        "541440110000000000",
        start,
        end,
        granularity="daily",
        direction="injection",
        register="night",
    )
    assert day + night == pytest.approx(quarter_sum, abs=1e-6)


def test_three_years_of_quarter_hours_are_all_there() -> None:
    data = MeterData(parse_mock_ean("541440110000000123"))
    start = local_time_ts(date(2022, 11, 20))
    end = local_time_ts(date(2025, 11, 20))
    count = 0
    for meta in data.blocks_overlapping(start, end):
        version = data.version(meta, end)
        count += len(version.values[0])
    assert count == 3 * 365 * 96 + 96  # includes one leap day (2024)


def test_values_do_not_depend_on_the_instance() -> None:
    now = datetime(2025, 11, 20, 12, tzinfo=UTC)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    a = FluviusSimulator(clock=lambda: now).truth(
        "541450211000000000", start, start + timedelta(days=2)
    )
    b = FluviusSimulator(clock=lambda: now).truth(
        "541450211000000000", start, start + timedelta(days=2)
    )
    assert a == b
