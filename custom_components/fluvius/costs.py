"""Cost statistics: every energy write is priced with the EAN's tariff and written as costs.

Costs are computed from the same rows as the energy statistics, hour by hour,
and written by the same re-basing writer, so a correction re-prices its hours
and re-bases the cost sums after them, and a cut deletes them with the energy.
Prices come from the recorder: a price entity's states, else its hourly means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
import math
from typing import Any

from homeassistant.components.recorder.history import state_changes_during_period
from homeassistant.components.recorder.statistics import get_metadata, statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util

from .aggregation import HourlyData
from .capacity import capacity_rows, monthly_maxima
from .const import LOGGER
from .import_state import ImportStates
from .meters import MeterKind
from .naming import Site
from .pricing import (
    CostSeries,
    PriceCurve,
    PricedRows,
    cost_series,
    merge_runs,
    price_rows,
    price_unit_factor,
    replace_runs,
)
from .series import SeriesKey
from .statistics import StatisticsWriter
from .tariffs import Price, Tariff, TariffBook, capacity_key
from .timeutil import HOUR, MonthKey, local_month, month_bounds, shift_month

# Prices are read from this long before the first quarter-hour priced.
_START_MARGIN = timedelta(minutes=1)
# The months a monthly peak counts in: its own and the eleven after it.
_AVERAGED_MONTHS = 12


class CostWriter:
    """Prices one entry's energy writes and writes its cost and capacity statistics."""

    def __init__(
        self,
        hass: HomeAssistant,
        writer: StatisticsWriter,
        states: ImportStates,
        tariffs: Callable[[], TariffBook],
    ) -> None:
        """``tariffs`` is read at each write: a changed tariff prices the next one."""
        self._hass = hass
        self._writer = writer
        self._states = states
        self._tariffs = tariffs
        self._warned: set[str] = set()

    async def async_write(
        self, ean: str, data: HourlyData, site: Site, *, peaks_due: bool
    ) -> set[str]:
        """Write the costs of one EAN's energy rows; return the statistic ids written.

        ``peaks_due``: the peaks may have changed, so the capacity cost is worked out again.
        """
        tariff = self._tariffs().of(ean)
        if tariff is None:
            return set()
        day_night = self._states.meter_kind(ean) == MeterKind.DIGITAL
        written: set[str] = set()
        for series in cost_series(ean, tariff, gas=site.gas, day_night=day_night):
            if any(data.energy.get(source.energy) for source in series.sources):
                await self._async_write_series(ean, series, data, site)
                written.add(series.key.statistic_id)
        if (
            peaks_due
            and tariff.capacity_eur_per_kw_year is not None
            and not site.gas
            and data.power.get(SeriesKey.power(ean))
        ):
            await self._async_write_capacity(ean, tariff, data, site)
            written.add(capacity_key(ean).statistic_id)
        return written

    async def _async_write_series(
        self, ean: str, series: CostSeries, data: HourlyData, site: Site
    ) -> None:
        """Price every row of the series' sources and write the sums of each hour."""
        priced = PricedRows()
        for source in series.sources:
            rows = data.energy.get(source.energy)
            if not rows:
                continue
            ends = data.ends.get(source.energy, {})
            last = max(ends.get(hour, hour + HOUR) for hour in rows)
            curve = await self._async_curve(source.price, source.night, min(rows), last)
            price_rows(
                rows,
                curve,
                quarters=data.quarters.get(source.energy),
                ends=ends,
                into=priced,
            )
        await self._writer.async_write_sums({series.key: priced.costs}, site)
        state = self._states.ensure(ean)
        statistic_id = series.key.statistic_id
        state.fallback[statistic_id] = replace_runs(
            state.fallback.get(statistic_id, []), merge_runs(priced.covered), priced.fallback
        )
        if not state.fallback[statistic_id]:
            del state.fallback[statistic_id]
        self._states.async_schedule_save()

    async def _async_curve(
        self, price: Price, night: bool, start: datetime, end: datetime
    ) -> PriceCurve:
        """The price in force over [start, end): fixed, or read from the recorder."""
        if price.entity_id is None:
            fixed = price.night if night and price.night is not None else price.fixed
            return PriceCurve(fallback=fixed)
        curve = PriceCurve(fallback=price.fixed, dynamic=True, adder=price.adder)
        unit = await self._async_price_unit(price.entity_id)
        factor = price_unit_factor(unit, price.unit)
        if factor is None:
            if price.entity_id not in self._warned:
                self._warned.add(price.entity_id)
                LOGGER.warning(
                    "Price entity %s has no usable unit (%s): its costs use the fallback price",
                    price.entity_id,
                    unit,
                )
            return curve
        self._warned.discard(price.entity_id)
        curve.scale = factor * price.multiplier
        curve.times, curve.values, curve.hourly = await get_instance(
            self._hass
        ).async_add_executor_job(_read_prices, self._hass, price.entity_id, start, end)
        return curve

    async def _async_price_unit(self, entity_id: str) -> str | None:
        """The price entity's unit: from its state, else from its recorded statistics.

        Waits for Home Assistant to have started: before, the entity may not
        exist yet, and its costs would be priced with the fallback.
        """
        if not self._hass.is_running:
            started: asyncio.Future[None] = self._hass.loop.create_future()
            async_at_started(self._hass, lambda _hass: _settle(started))
            await started
        state = self._hass.states.get(entity_id)
        unit = None if state is None else state.attributes.get("unit_of_measurement")
        if unit is not None:
            return str(unit)
        stored = await get_instance(self._hass).async_add_executor_job(
            partial(get_metadata, self._hass, statistic_ids={entity_id})
        )
        return stored[entity_id][1]["unit_of_measurement"] if entity_id in stored else None

    async def _async_write_capacity(
        self, ean: str, tariff: Tariff, data: HourlyData, site: Site
    ) -> None:
        """Re-cost the months the write's peaks count in, from the stored hourly maxima."""
        touched = {local_month(hour) for hour in data.power[SeriesKey.power(ean)]}
        await self._async_cost_months(ean, tariff, site, min(touched), max(touched))

    async def async_after_cut(self, ean: str, moment: datetime, site: Site) -> None:
        """Re-cost the month of a data period cut and those after it (their peaks went)."""
        tariff = self._tariffs().of(ean)
        if tariff is not None and tariff.capacity_eur_per_kw_year is not None and not site.gas:
            month = local_month(moment)
            await self._async_cost_months(ean, tariff, site, month, month)

    async def _async_cost_months(
        self, ean: str, tariff: Tariff, site: Site, first: MonthKey, last_touched: MonthKey
    ) -> None:
        """Capacity rows from ``first`` to the last month a touched month counts in."""
        last = min(shift_month(last_touched, _AVERAGED_MONTHS - 1), local_month(dt_util.utcnow()))
        read_from = month_bounds(*shift_month(first, 1 - _AVERAGED_MONTHS))[0]
        maxima = await get_instance(self._hass).async_add_executor_job(
            _read_maxima, self._hass, SeriesKey.power(ean).statistic_id, read_from
        )
        rows = capacity_rows(
            monthly_maxima(maxima), _months(first, last), tariff.capacity_eur_per_kw_year or 0.0
        )
        await self._writer.async_write_sums({capacity_key(ean): rows}, site)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _months(first: MonthKey, last: MonthKey) -> list[MonthKey]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = shift_month(month, 1)
    return months


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _read_prices(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> tuple[list[float], list[float | None], dict[float, float]]:
    """The entity's states over [start, end) (and the one in force at start), its hourly means.

    Runs in the recorder's executor.
    """
    # A state set exactly at the query's start is lost between the start state (set
    # before it, shown at the start) and the changes (after it): start a minute early.
    states = state_changes_during_period(
        hass, start - _START_MARGIN, end, entity_id, no_attributes=True
    ).get(entity_id, [])
    times = [state.last_changed_timestamp for state in states]
    values = [_float(state.state) for state in states]
    rows: list[Any] = statistics_during_period(
        hass, start - HOUR, end, {entity_id}, "hour", None, {"mean"}
    ).get(entity_id, [])
    hourly = {
        float(row["start"]): float(row["mean"]) for row in rows if row.get("mean") is not None
    }
    return times, values, hourly


def _read_maxima(hass: HomeAssistant, statistic_id: str, start: datetime) -> dict[datetime, float]:
    """Hour -> highest quarter-hour power of a power statistic, from ``start`` on."""
    rows: list[Any] = statistics_during_period(
        hass, start, None, {statistic_id}, "hour", None, {"max"}
    ).get(statistic_id, [])
    return {
        dt_util.utc_from_timestamp(row["start"]): float(row["max"])
        for row in rows
        if row.get("max") is not None
    }
