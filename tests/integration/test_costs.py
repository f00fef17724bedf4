"""Cost statistics against an independent calculation, to a micro-euro.

Expected costs are computed here from the simulator's raw quarter-hours (and
daily registers) and the test's own price series: each quarter-hour's kWh x
the price in force halfway through it, summed per UTC hour, then accumulated.
Prices come from a price entity's recorded states, its imported hourly means,
or the tariff's fallback, as the test arranges them.
"""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    async_import_statistics,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.fluvius.tariffs import SUBENTRY_TARIFF
from fluvius_simulator import FluviusSimulator

from .helpers import BRUSSELS, local_midnight, settle, setup_entry

DIGITAL = "541440110000000000"  # offtake and injection, quarter-hours
GAS = "541441010000000000"  # hourly gas
PRICE_ENTITY = "sensor.day_ahead_price"
QUARTER = timedelta(minutes=15)
TOLERANCE = 1e-6
# One month of history: the import starts at local midnight of 1 March.
START = local_midnight(date(2026, 3, 1))

type PriceAt = Callable[[datetime], tuple[float, bool]]
"""The price at a moment, and whether it is the fallback."""


def tariff(data: dict[str, Any], title: str = "Test tariff") -> ConfigSubentryData:
    return ConfigSubentryData(data=data, subentry_type=SUBENTRY_TARIFF, title=title, unique_id=None)


async def stored(hass: HomeAssistant, statistic_id: str) -> dict[datetime, dict[str, Any]]:
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2020, 1, 1, tzinfo=dt_util.UTC),
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return {dt_util.utc_from_timestamp(row["start"]): row for row in result.get(statistic_id, [])}


def truth_quarters(
    sim: FluviusSimulator, ean: str, direction: str, *, granularity: str = "quarter_hourly"
) -> dict[datetime, float]:
    """The main meter's total kWh per fine slice, as the simulator serves it now."""
    return {
        record.start: record.value
        for record in sim.truth(ean, START, dt_util.utcnow(), granularity=granularity)
        if record.sub_ean is None
        and record.direction == direction
        and record.register == "total"
        and record.unit.lower() == "kwh"
    }


def expected_costs(
    quarters: dict[datetime, float], price_at: PriceAt
) -> tuple[dict[datetime, float], int]:
    """Cost per complete UTC hour, and the quarter-hours priced with the fallback."""
    by_hour: dict[datetime, list[tuple[float, float, bool]]] = defaultdict(list)
    for start, kwh in quarters.items():
        price, fallback = price_at(start + QUARTER / 2)
        by_hour[start.replace(minute=0)].append((kwh, price, fallback))
    costs = {}
    fallbacks = 0
    for hour, parts in by_hour.items():
        if len(parts) == 4:
            costs[hour] = sum(kwh * price for kwh, price, _ in parts)
            fallbacks += sum(fallback for _, _, fallback in parts)
    return costs, fallbacks


def assert_costs(rows: dict[datetime, dict[str, Any]], expected: dict[datetime, float]) -> None:
    """Every row equals the calculation, and every sum its running total."""
    assert rows, "no cost statistics stored"
    assert sorted(rows) == sorted(expected)
    running = 0.0
    for hour in sorted(expected):
        running += expected[hour]
        assert rows[hour]["state"] == pytest.approx(expected[hour], abs=TOLERANCE), hour
        assert rows[hour]["sum"] == pytest.approx(running, abs=TOLERANCE), hour


def fixed(price: float) -> PriceAt:
    return lambda _moment: (price, False)


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    # One month of history reaches back over the DST change of 29 March.
    freezer.move_to("2026-04-02T09:17:00+00:00")


async def test_fixed_prices_for_offtake_injection_and_gas(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    simulator.add_mandate(GAS)
    await setup_entry(
        hass,
        simulator,
        subentries=[
            tariff(
                {
                    "eans": [DIGITAL, GAS],
                    "offtake": {"price": 0.2875},
                    "injection": {"price": 0.0415},
                    "gas": {"price": 1.137, "gas_unit": "m3"},
                }
            )
        ],
    )
    for direction, statistic, price in (
        ("offtake", "offtake_cost", 0.2875),
        ("injection", "injection_compensation", 0.0415),
    ):
        expected, _ = expected_costs(truth_quarters(simulator, DIGITAL, direction), fixed(price))
        assert_costs(await stored(hass, f"fluvius:{DIGITAL}_{statistic}_eur"), expected)

    gas_hours = {
        record.start: record.value
        for record in simulator.truth(GAS, START, dt_util.utcnow(), granularity="hourly")
        if record.sub_ean is None and record.unit.lower() == "m3"
    }
    assert_costs(
        await stored(hass, f"fluvius:{GAS}_offtake_cost_eur"),
        {hour: m3 * 1.137 for hour, m3 in gas_hours.items()},
    )


def hour_peaks(quarters: dict[datetime, float], until: datetime) -> dict[datetime, float]:
    """Per complete hour before ``until``, its highest quarter-hour power (kW)."""
    by_hour: dict[datetime, list[float]] = defaultdict(list)
    for moment, kwh in quarters.items():
        if moment < until:
            by_hour[moment.replace(minute=0)].append(kwh)
    return {hour: max(values) * 4 for hour, values in by_hour.items() if len(values) == 4}


async def test_a_data_period_cut_back_deletes_the_costs_after_it(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    entry = await setup_entry(
        hass,
        simulator,
        subentries=[tariff({"eans": [DIGITAL], "offtake": {"price": 0.3}, "capacity_tariff": 50})],
    )
    march = hour_peaks(
        truth_quarters(simulator, DIGITAL, "offtake"), local_midnight(date(2026, 4, 1))
    )
    # Cut on the day of March's peak: March is then costed on a lower peak.
    cut = local_midnight(max(march, key=march.__getitem__).astimezone(BRUSSELS).date())
    assert cut > START
    cost_id = f"fluvius:{DIGITAL}_offtake_cost_eur"
    capacity_id = f"fluvius:{DIGITAL}_offtake_capacity_eur"
    rows = await stored(hass, cost_id)
    kept = {hour: row for hour, row in rows.items() if hour < cut}
    assert len(kept) < len(rows)
    assert len(await stored(hass, capacity_id)) == 2

    simulator.set_data_period_to(DIGITAL, cut)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert await stored(hass, cost_id) == kept
    # April's row went with the cut; March is costed again on its peak before the cut.
    (march_row,) = (await stored(hass, capacity_id)).values()
    before_cut = max(kw for hour, kw in march.items() if hour < cut)
    assert before_cut < max(march.values())
    assert march_row["state"] == pytest.approx(31 / 365 * 50 * before_cut, abs=TOLERANCE)


async def test_day_and_night_prices_price_the_daily_registers(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    await setup_entry(
        hass,
        simulator,
        subentries=[tariff({"eans": [DIGITAL], "offtake": {"price": 0.31, "night_price": 0.23}})],
    )
    days: dict[datetime, float] = defaultdict(float)
    for record in simulator.truth(DIGITAL, START, dt_util.utcnow(), granularity="daily"):
        if record.sub_ean is None and record.direction == "offtake":
            price = {"day": 0.31, "night": 0.23}.get(record.register)
            if price is not None:
                days[record.start] += record.value * price
    rows = await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur")
    assert_costs(rows, dict(days))
    # The DST day (23 hours) is priced as the day it is, booked at its local midnight.
    dst_day = local_midnight(date(2026, 3, 29))
    assert dst_day in rows
    assert local_midnight(date(2026, 3, 30)) - dst_day == timedelta(hours=23)


def record_prices(
    hass: HomeAssistant, prices: dict[datetime, float], *, unit: str = "EUR/MWh"
) -> None:
    """The price entity's states, each set at its own (past) moment."""
    for moment, value in sorted(prices.items()):
        hass.states.async_set(
            PRICE_ENTITY,
            f"{value:.2f}",
            {"unit_of_measurement": unit, "state_class": "measurement"},
            timestamp=moment.timestamp(),
        )


def import_means(hass: HomeAssistant, means: dict[datetime, float], unit: str = "EUR/MWh") -> None:
    """Hourly means for hours whose states are purged, as the recorder keeps them."""
    async_import_statistics(
        hass,
        {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": PRICE_ENTITY,
            "unit_class": None,
            "unit_of_measurement": unit,
        },
        [
            {"start": hour, "mean": value, "min": value, "max": value}
            for hour, value in sorted(means.items())
        ],
    )


def market_price(quarter: datetime) -> float:
    """EUR/MWh of a quarter-hour: a daily shape, negative at some sunny quarter-hours."""
    number = int(quarter.timestamp()) // 900
    value = 85.0 + 40.0 * ((number % 96) / 96) - 11.0 * (number % 7)
    return -12.5 if number % 53 == 0 else round(value, 2)


class PriceHistory:
    """The test's price series: states from one moment, hourly means before, nothing earlier."""

    def __init__(self, states_from: datetime, means_from: datetime, until: datetime) -> None:
        self.states_from = states_from
        self.means_from = means_from
        self.states = {}
        moment = states_from
        while moment < until:
            self.states[moment] = market_price(moment)
            moment += QUARTER
        self.means = {}
        hour = means_from
        while hour < states_from:
            self.means[hour] = sum(market_price(hour + QUARTER * k) for k in range(4)) / 4 + 0.75
            hour += timedelta(hours=1)

    def price_at(self, multiplier: float, adder: float, fallback: float) -> PriceAt:
        def at(moment: datetime) -> tuple[float, bool]:
            if moment >= self.states_from:
                quarter = moment - timedelta(minutes=moment.minute % 15, seconds=moment.second)
                raw = round(self.states[quarter], 2)
            elif moment >= self.means_from:
                raw = self.means[moment.replace(minute=0, second=0)]
            else:
                return fallback, True
            return multiplier * raw / 1000 + adder, False

        return at

    def write(self, hass: HomeAssistant) -> None:
        record_prices(hass, self.states)
        import_means(hass, self.means)


def dynamic_tariff(fallback: float, adder: float, **sections: dict[str, Any]) -> ConfigSubentryData:
    """The Town hall's offtake at the price entity's price x 1.06 + ``adder``."""
    offtake = {
        "price": fallback,
        "price_entity": PRICE_ENTITY,
        "multiplier": 1.06,
        "adder": adder,
    }
    return tariff({"eans": [DIGITAL], "offtake": offtake, **sections})


async def setup_dynamic(
    hass: HomeAssistant, simulator: FluviusSimulator, history: PriceHistory, *, gone: bool = False
) -> Any:
    """``gone``: the price entity no longer exists (its unit comes from its statistics)."""
    simulator.add_mandate(DIGITAL)
    history.write(hass)
    await async_wait_recording_done(hass)
    if gone:
        hass.states.async_remove(PRICE_ENTITY)
        await async_wait_recording_done(hass)
    return await setup_entry(
        hass,
        simulator,
        subentries=[dynamic_tariff(0.25, 0.0125, injection={"price": 0.04})],
    )


async def test_dynamic_price_from_states_then_means_then_fallback(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    now = dt_util.utcnow()
    # States for the last 6 days (over the DST change), hourly means for 8 days before.
    history = PriceHistory(
        local_midnight(date(2026, 3, 27)), local_midnight(date(2026, 3, 19)), now
    )
    await setup_dynamic(hass, simulator, history)
    expected, fallbacks = expected_costs(
        truth_quarters(simulator, DIGITAL, "offtake"), history.price_at(1.06, 0.0125, 0.25)
    )
    assert_costs(await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur"), expected)
    assert fallbacks > 0
    state = hass.states.get("sensor.electricity_000000_quarter_hours_at_fallback_price")
    assert state is not None
    assert int(state.state) == fallbacks


async def test_a_correction_reprices_its_quarter_hour_and_rebases_the_sums(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    now = dt_util.utcnow()
    corrected = local_midnight(date(2026, 3, 26)) + timedelta(hours=11, minutes=15)
    simulator.schedule_correction(
        DIGITAL, corrected, count=3, factor=1.7, arrival=now + timedelta(hours=2)
    )
    history = PriceHistory(
        local_midnight(date(2026, 3, 25)), local_midnight(date(2026, 3, 20)), now
    )
    entry = await setup_dynamic(hass, simulator, history, gone=True)
    price_at = history.price_at(1.06, 0.0125, 0.25)
    before = await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur")

    freezer.tick(timedelta(hours=3))
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    after = await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur")
    expected, _ = expected_costs(truth_quarters(simulator, DIGITAL, "offtake"), price_at)
    assert_costs(after, expected)
    hour = corrected.replace(minute=0)
    assert after[hour]["state"] != pytest.approx(before[hour]["state"], abs=TOLERANCE)
    later = max(before)
    assert after[later]["sum"] != pytest.approx(before[later]["sum"], abs=TOLERANCE)


async def test_a_tariff_change_reprices_from_the_chosen_day(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    entry = await setup_entry(
        hass, simulator, subentries=[tariff({"eans": [DIGITAL], "offtake": {"price": 0.30}})]
    )
    (subentry,) = entry.subentries.values()
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Supplier 2026",
            "eans": [DIGITAL],
            "offtake": {"price": 0.355},
            "injection": {},
            "gas": {},
            "reprice_from": "2026-03-20",
        },
    )
    assert result["type"] == "abort"
    assert result["reason"] == "reconfigure_successful"
    await settle(hass)

    switch = local_midnight(date(2026, 3, 20))
    quarters = truth_quarters(simulator, DIGITAL, "offtake")
    expected, _ = expected_costs(
        quarters, lambda moment: (0.355 if moment >= switch else 0.30, False)
    )
    assert_costs(await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur"), expected)
    entry = hass.config_entries.async_get_entry(entry.entry_id)
    assert entry is not None
    assert entry.runtime_data.importer.states.history_done(DIGITAL)


async def test_capacity_tariff_equals_an_independent_calculation(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """13 months: two summer months below 2.5 kW, and the running month incomplete."""
    freezer.move_to("2026-03-10T09:17:00+00:00")
    rate = 53.2556
    for month in (7, 8):
        day = date(2025, month, 1)
        while day.month == month:
            # Shown at 2 % until long after the test: a low month, as measured.
            simulator.schedule_correction(
                DIGITAL,
                local_midnight(day),
                count=96,
                factor=0.02,
                arrival=datetime(2027, 1, 1, tzinfo=dt_util.UTC),
            )
            day += timedelta(days=1)
    simulator.add_mandate(DIGITAL)
    await setup_entry(
        hass,
        simulator,
        options={"history_months": 12},
        subentries=[
            tariff({"eans": [DIGITAL], "offtake": {"price": 0.3}, "capacity_tariff": rate})
        ],
    )
    start = local_midnight(date(2025, 3, 1))
    quarters = {
        record.start: record.value
        for record in simulator.truth(DIGITAL, start, dt_util.utcnow())
        if record.sub_ean is None and record.direction == "offtake"
    }
    month_of = lambda moment: (  # noqa: E731
        moment.astimezone(BRUSSELS).year,
        moment.astimezone(BRUSSELS).month,
    )
    peaks: dict[tuple[int, int], float] = defaultdict(float)
    for moment, kwh in quarters.items():
        peaks[month_of(moment)] = max(peaks[month_of(moment)], kwh * 4)
    assert len(peaks) == 13
    assert peaks[(2025, 7)] < 2.5
    assert peaks[(2025, 8)] < 2.5
    window = [(2025, m) for m in range(4, 13)] + [(2026, m) for m in (1, 2, 3)]
    floored = {month: max(peaks[month], 2.5) for month in window}
    expected = 31 / 365 * rate * sum(floored.values()) / 12

    state = hass.states.get("sensor.electricity_000000_capacity_tariff_this_month")
    assert state is not None
    assert float(state.state) == pytest.approx(expected, abs=TOLERANCE)
    assert state.attributes["months_used"] == {
        f"{y:04d}-{m:02d}": round(kw, 3) for (y, m), kw in floored.items()
    }

    # The monthly statistic: each month costed on the months before it that have data.
    hourly_peaks: dict[tuple[int, int], float] = defaultdict(float)
    for hour, kw in hour_peaks(quarters, dt_util.utcnow()).items():
        hourly_peaks[month_of(hour)] = max(hourly_peaks[month_of(hour)], kw)
    months = sorted(hourly_peaks)
    rows = {}
    for index, month in enumerate(months):
        used = [max(hourly_peaks[m], 2.5) for m in months[max(0, index - 11) : index + 1]]
        year_days = 366 if month[0] % 4 == 0 else 365
        rows[local_midnight(date(*month, 1))] = (
            monthrange(*month)[1] / year_days * rate * sum(used) / len(used)
        )
    assert_costs(await stored(hass, f"fluvius:{DIGITAL}_offtake_capacity_eur"), rows)


README = Path(__file__).parent.parent.parent / "README.md"
# The worked example's day-ahead prices (EUR/MWh) per local hour of Monday 16 November 2026.
EXAMPLE_DAY = date(2026, 11, 16)


def readme_example() -> tuple[list[tuple[int, float, float, float, float]], float]:
    """The README's worked-example rows (hour, kWh, EUR/MWh, EUR/kWh, EUR) and total."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- worked-example -->")[1]
    rows = []
    total = None
    for line in block.splitlines():
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d\d:00", cells[0]):
            hour, *numbers = cells
            rows.append((int(hour[:2]), *map(float, numbers)))
        elif len(cells) == 5 and cells[0] == "Day":
            total = float(cells[4])
    assert total is not None
    return rows, total


async def test_the_readme_worked_example_matches_the_statistic(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to("2026-11-18T09:17:00+00:00")
    rows, total = readme_example()
    assert [row[0] for row in rows] == list(range(24))
    simulator.add_mandate(DIGITAL)
    day_start = local_midnight(EXAMPLE_DAY)
    record_prices(hass, {day_start + timedelta(hours=hour): mwh for hour, _, mwh, _, _ in rows})
    await async_wait_recording_done(hass)
    await setup_entry(hass, simulator, subentries=[dynamic_tariff(0.30, 0.012)])
    energy = await stored(hass, f"fluvius:{DIGITAL}_offtake_total_kwh")
    costs = await stored(hass, f"fluvius:{DIGITAL}_offtake_cost_eur")
    for hour, kwh, mwh, price, cost in rows:
        start = day_start + timedelta(hours=hour)
        assert round(energy[start]["state"], 3) == kwh, hour
        assert round(1.06 * mwh / 1000 + 0.012, 5) == price, hour
        assert round(costs[start]["state"], 4) == cost, hour
        assert round(kwh * price, 4) == pytest.approx(cost, abs=1.5e-4), hour
    before = costs[day_start - timedelta(hours=1)]["sum"]
    after = costs[day_start + timedelta(hours=23)]["sum"]
    assert round(after - before, 2) == total
