"""The pricing rules on their own: the price in force, fallback runs, what a tariff prices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from custom_components.fluvius.capacity import capacity_cost, month_share, monthly_maxima
from custom_components.fluvius.pricing import (
    PriceCurve,
    cost_series,
    merge_runs,
    price_rows,
    price_unit_factor,
    replace_runs,
    run_length,
)
from custom_components.fluvius.series import SeriesKey
from custom_components.fluvius.tariffs import Price, parse_tariff

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)
EAN = "541440110000000000"


def test_the_price_in_force_halfway_then_the_hourly_mean_then_the_fallback() -> None:
    start = HOUR.timestamp()
    curve = PriceCurve(
        fallback=0.3,
        dynamic=True,
        # A state set 20 s late, one that is not a number, one in force from the third quarter.
        times=[start + 20, start + 900, start + 1800],
        values=[100.0, None, 50.0],
        hourly={start - 3600: 80.0},
        scale=0.001,
        adder=0.01,
    )
    assert curve.at(start + 450) == pytest.approx((0.11, False))
    assert curve.at(start - 1800) == pytest.approx((0.09, False))  # before the states: the mean
    assert curve.at(start + 1350) == (0.3, True)  # not a number, no mean: the fallback
    assert curve.at(start + 2250) == pytest.approx((0.06, False))


def test_hours_are_priced_per_quarter_hour_and_coarser_rows_at_their_mean() -> None:
    quarters = {HOUR + timedelta(minutes=15 * k): kwh for k, kwh in enumerate((1.0, 2.0, 3.0, 4.0))}
    start = HOUR.timestamp()
    curve = PriceCurve(
        fallback=1.0, dynamic=True, times=[start + 900 * k for k in range(4)], values=[1, 2, 3, 4]
    )
    priced = price_rows({HOUR: 10.0}, curve, quarters=quarters)
    assert priced.costs == {HOUR: 1 + 4 + 9 + 16}
    assert priced.fallback == []
    # Without its quarter-hours, the hour is priced at the mean of its quarter-hours' prices.
    assert price_rows({HOUR: 10.0}, curve).costs == {HOUR: 25.0}
    day = {HOUR: 24.0}
    daily = price_rows(
        day, PriceCurve(fallback=0.5, dynamic=True), ends={HOUR: HOUR + timedelta(days=1)}
    )
    assert daily.costs == {HOUR: 12.0}
    assert len(daily.fallback) == 96
    assert daily.covered == [(int(start) // 900, int(start) // 900 + 96)]


def test_fallback_runs_are_replaced_where_a_write_covers_them() -> None:
    old = merge_runs([(0, 10), (20, 30)])
    assert replace_runs(old, [(5, 25)], [7, 8, 40]) == [(0, 5), (7, 9), (25, 30), (40, 41)]
    assert replace_runs(old, [(0, 100)], []) == []
    assert run_length([(0, 5), (7, 9)]) == 7
    assert merge_runs([(3, 4), (0, 2), (2, 3)]) == [(0, 4)]


@pytest.mark.parametrize(
    ("unit", "energy", "factor"),
    [
        ("EUR/kWh", "kwh", 1.0),
        ("€/MWh", "kwh", 0.001),
        ("eur / mwh", "kwh", 0.001),
        ("EUR/m³", "m3", 1.0),
        ("EUR/m³", "kwh", None),
        ("EUR/kWh", "m3", None),
        ("c€/kWh", "kwh", None),
        (None, "kwh", None),
    ],
)
def test_price_units(unit: str | None, energy: str, factor: float | None) -> None:
    assert price_unit_factor(unit, energy) == factor


def test_what_a_tariff_prices() -> None:
    tariff = parse_tariff(
        "t1",
        "Supplier",
        {
            "eans": [EAN],
            "offtake": {"price": 0.3, "night_price": 0.2},
            "injection": {"price": 0.05, "price_entity": "sensor.p", "multiplier": 0.9},
            "gas": {"price": 1.1, "gas_unit": "m3"},
            "capacity_tariff": 50.0,
            "reprice_from": "2026-01-01",
        },
    )
    assert tariff.injection == Price(0.05, entity_id="sensor.p", multiplier=0.9)
    assert tariff.reprice_from == date(2026, 1, 1)
    digital = cost_series(EAN, tariff, gas=False, day_night=True)
    assert [s.key.statistic_id for s in digital] == [
        f"fluvius:{EAN}_offtake_cost_eur",
        f"fluvius:{EAN}_injection_compensation_eur",
    ]
    assert [(s.energy.register, s.night) for s in digital[0].sources] == [
        ("day", False),
        ("night", True),
    ]
    # A meter without day and night registers pays the day price on its total.
    (offtake, _) = cost_series(EAN, tariff, gas=False, day_night=False)
    assert [s.energy.register for s in offtake.sources] == ["total"]
    (gas,) = cost_series(EAN, tariff, gas=True, day_night=False)
    assert gas.sources[0].energy == SeriesKey(EAN, "offtake", "total", "m3")
    assert parse_tariff("t1", "x", {"eans": [EAN], "offtake": {"price": 0.3}}).fingerprint != (
        tariff.fingerprint
    )


def test_capacity_cost_of_a_month() -> None:
    assert month_share((2026, 2)) == pytest.approx(28 / 365)
    assert month_share((2028, 2)) == pytest.approx(29 / 366)
    peaks = {(2025, m): 4.0 for m in range(4, 13)} | {(2026, 1): 1.0, (2026, 3): 6.0}
    cost = capacity_cost(peaks, (2026, 3), 60.0)
    # February has no peak; January counts 2.5 kW.
    assert cost.average_kw == pytest.approx((9 * 4.0 + 2.5 + 6.0) / 11)
    assert cost.eur == pytest.approx(31 / 365 * 60.0 * cost.average_kw)
    assert (2026, 2) not in cost.peaks_kw
    maxima = monthly_maxima(
        {HOUR: 3.0, HOUR + timedelta(hours=1): 5.0, HOUR + timedelta(days=40): 1.0}
    )
    assert maxima == {(2026, 3): 5.0, (2026, 4): 1.0}
