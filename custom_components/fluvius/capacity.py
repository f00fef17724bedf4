"""The capacity tariff in euro: a month's share of the yearly rate times the average peak.

The grid fee's capacity component is billed on the average of the last 12
monthly peaks, each at least 2.5 kW, at a yearly rate per kW that differs per
Fluvius region and year (the user enters it). A month pays its share of the
year: its days over the year's days. This estimates that component of the
grid fee, not a bill. Pure functions, no Home Assistant.
"""

from __future__ import annotations

from calendar import isleap, monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .peak import LOW_VOLTAGE_MINIMUM_KW, average_peak
from .timeutil import MonthKey, local_month, month_bounds


@dataclass(frozen=True, slots=True)
class CapacityCost:
    """One month's capacity cost and what it rests on."""

    month: MonthKey
    eur: float | None
    average_kw: float | None
    share: float
    # The months averaged, each with the peak it counted with (at least 2.5 kW).
    peaks_kw: dict[MonthKey, float]


def month_share(month: MonthKey) -> float:
    """The month's days over its year's days."""
    year, number = month
    return monthrange(year, number)[1] / (366 if isleap(year) else 365)


def capacity_cost(
    peaks_kw: Mapping[MonthKey, float | None], month: MonthKey, eur_per_kw_year: float
) -> CapacityCost:
    """The month's share of the yearly rate x the 12-month average peak (2.5 kW floor)."""
    average, used, _ = average_peak(peaks_kw, month, minimum_kw=LOW_VOLTAGE_MINIMUM_KW)
    share = month_share(month)
    eur = None if average is None else share * eur_per_kw_year * average
    return CapacityCost(month, eur, average, share, used)


def monthly_maxima(hour_maxima: Mapping[datetime, float]) -> dict[MonthKey, float]:
    """The highest hourly maximum of each Brussels month (hours in UTC)."""
    peaks: dict[MonthKey, float] = {}
    for hour, value in hour_maxima.items():
        key = local_month(hour)
        if value > peaks.get(key, float("-inf")):
            peaks[key] = value
    return peaks


def capacity_rows(
    peaks_kw: Mapping[MonthKey, float], months: list[MonthKey], eur_per_kw_year: float
) -> dict[datetime, float]:
    """Statistic rows of the months that have a peak: month start -> capacity cost."""
    rows: dict[datetime, float] = {}
    for month in months:
        if month not in peaks_kw:
            continue
        cost = capacity_cost(peaks_kw, month, eur_per_kw_year)
        if cost.eur is not None:
            rows[month_bounds(*month)[0]] = cost.eur
    return rows
