"""Energy rows priced: each quarter-hour's kWh at that quarter-hour's price.

A dynamic price is the price entity's state in force halfway through each
quarter-hour (a sensor that switches a few seconds late still prices its own
quarter-hour); where the states are purged, the entity's hourly mean; where
neither exists, the tariff's fallback price, and that quarter-hour is counted.
A value coarser than a quarter-hour (hourly gas, a daily value) is priced at
the mean of its quarter-hours' prices. Pure functions, no Home Assistant.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .series import SeriesKey
from .tariffs import INJECTION, OFFTAKE, Price, Tariff, cost_key
from .timeutil import join_spans

QUARTER_SECONDS = 900
_HALF_QUARTER = QUARTER_SECONDS / 2
_QUARTERS = tuple(timedelta(seconds=QUARTER_SECONDS * k) for k in range(4))

# Price units a price entity may have, as EUR per kWh (or per m³) for each EUR it shows.
_PER_KWH = {"eur/kwh": 1.0, "€/kwh": 1.0, "eur/mwh": 0.001, "€/mwh": 0.001}
_PER_M3 = {"eur/m³": 1.0, "€/m³": 1.0, "eur/m3": 1.0, "€/m3": 1.0}


def price_unit_factor(unit: str | None, energy_unit: str) -> float | None:
    """EUR per kWh (m³) per unit of the entity's state; None for a unit we cannot use."""
    if unit is None:
        return None
    table = _PER_M3 if energy_unit == "m3" else _PER_KWH
    return table.get(unit.replace(" ", "").casefold())


type Runs = list[tuple[int, int]]
"""Quarter-hours as sorted, disjoint [first, end) runs of quarter-hour numbers (epoch / 900)."""


@dataclass(slots=True)
class PriceCurve:
    """The price in force over time, in EUR per kWh (or m³).

    ``times``/``values`` are the entity's recorded states (None: not a number),
    ``hourly`` its hourly means by hour start; both in the entity's unit, turned
    into EUR by ``scale`` x value + ``adder``. A fixed price has neither.
    """

    fallback: float
    dynamic: bool = False
    times: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    hourly: dict[float, float] = field(default_factory=dict)
    scale: float = 1.0
    adder: float = 0.0

    def at(self, moment: float) -> tuple[float, bool]:
        """The price at an epoch second, and whether it is the fallback."""
        if not self.dynamic:
            return self.fallback, False
        index = bisect_right(self.times, moment) - 1
        raw = self.values[index] if index >= 0 else None
        if raw is None:
            raw = self.hourly.get(moment - moment % 3600)
        if raw is None:
            return self.fallback, True
        return self.scale * raw + self.adder, False


@dataclass(slots=True)
class PricedRows:
    """Cost per hour, the quarter-hours priced, and those priced with the fallback."""

    costs: dict[datetime, float] = field(default_factory=dict)
    covered: list[tuple[int, int]] = field(default_factory=list)
    fallback: list[int] = field(default_factory=list)


def price_rows(
    rows: Mapping[datetime, float],
    curve: PriceCurve,
    *,
    quarters: Mapping[datetime, float | None] | None = None,
    ends: Mapping[datetime, datetime] | None = None,
    into: PricedRows | None = None,
) -> PricedRows:
    """Price hourly rows; ``quarters`` has the quarter-hours behind them, ``ends`` longer spans.

    Costs of several sources (a day and a night register) add up in ``into``.
    """
    priced = PricedRows() if into is None else into
    for hour, energy in rows.items():
        start = hour.timestamp()
        parts = None if quarters is None else _quarter_values(quarters, hour)
        if parts is not None:
            cost = 0.0
            for number, kwh in enumerate(parts):
                quarter = start + number * QUARTER_SECONDS
                price, fell_back = curve.at(quarter + _HALF_QUARTER)
                cost += kwh * price
                if fell_back:
                    priced.fallback.append(int(quarter) // QUARTER_SECONDS)
            count = len(parts)
        else:
            end = None if ends is None else ends.get(hour)
            count = round(
                ((start + 3600 if end is None else end.timestamp()) - start) / QUARTER_SECONDS
            )
            cost = energy * _mean_price(curve, start, count, priced.fallback)
        first = int(start) // QUARTER_SECONDS
        priced.covered.append((first, first + count))
        priced.costs[hour] = priced.costs.get(hour, 0.0) + cost
    return priced


def _quarter_values(
    quarters: Mapping[datetime, float | None], hour: datetime
) -> list[float] | None:
    values = [quarters.get(hour + offset) for offset in _QUARTERS]
    return None if None in values else [value for value in values if value is not None]


def _mean_price(curve: PriceCurve, start: float, count: int, fallback: list[int]) -> float:
    """The mean of the prices of ``count`` quarter-hours from ``start``."""
    if not curve.dynamic:
        return curve.fallback
    total = 0.0
    for number in range(count):
        quarter = start + number * QUARTER_SECONDS
        price, fell_back = curve.at(quarter + _HALF_QUARTER)
        total += price
        if fell_back:
            fallback.append(int(quarter) // QUARTER_SECONDS)
    return total / count


@dataclass(frozen=True, slots=True)
class PriceSource:
    """An energy statistic priced into a cost statistic, at a price (or its night price)."""

    energy: SeriesKey
    price: Price
    night: bool = False


@dataclass(frozen=True, slots=True)
class CostSeries:
    """One cost statistic and the energy it prices."""

    key: SeriesKey
    sources: tuple[PriceSource, ...]


def cost_series(ean: str, tariff: Tariff, *, gas: bool, day_night: bool) -> list[CostSeries]:
    """What a tariff prices for an EAN.

    Gas: the total in the tariff's gas unit. Electricity: offtake and injection
    totals; a fixed price with a night price prices the day and night registers
    instead, on meters that report them (``day_night``).
    """
    if gas:
        price = tariff.gas
        if price is None:
            return []
        energy = SeriesKey(ean, OFFTAKE, "total", price.unit)
        return [CostSeries(cost_key(ean, OFFTAKE), (PriceSource(energy, price),))]
    series = []
    for direction, price in ((OFFTAKE, tariff.offtake), (INJECTION, tariff.injection)):
        if price is None:
            continue
        sources: tuple[PriceSource, ...]
        if price.night is not None and not price.is_dynamic and day_night:
            sources = (
                PriceSource(SeriesKey(ean, direction, "day", "kwh"), price),
                PriceSource(SeriesKey(ean, direction, "night", "kwh"), price, night=True),
            )
        else:
            sources = (PriceSource(SeriesKey(ean, direction, "total", "kwh"), price),)
        series.append(CostSeries(cost_key(ean, direction), sources))
    return series


def merge_runs(spans: Iterable[tuple[int, int]]) -> Runs:
    """Spans joined into sorted, disjoint runs."""
    return join_spans(spans)


def replace_runs(old: Runs, covered: Runs, new: Iterable[int]) -> Runs:
    """``old`` without the ``covered`` quarter-hours, plus the ``new`` ones.

    The fallback quarter-hours of a series: a write re-prices what it covers.
    """
    kept: Runs = []
    for run_first, end in old:
        first = run_first
        for cut_first, cut_end in covered:
            if cut_end <= first or cut_first >= end:
                continue
            if cut_first > first:
                kept.append((first, cut_first))
            first = max(first, cut_end)
            if first >= end:
                break
        if first < end:
            kept.append((first, end))
    return merge_runs([*kept, *((number, number + 1) for number in new)])


def run_length(runs: Runs) -> int:
    """How many quarter-hours the runs hold."""
    return sum(end - first for first, end in runs)
