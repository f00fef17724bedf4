"""Long-term statistics: history import, incremental updates, corrections and purges.

Rows are keyed by hour. When any hour changes, every later row's ``sum`` is
recomputed from the stored sum just before the first changed hour, so late
data and corrections never produce negative or doubled bars, and writing the
same data twice changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import inspect
from typing import Any, Literal

from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    get_metadata,
    statistics_during_period,
)
from homeassistant.components.recorder.tasks import SynchronizeTask
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .aggregation import HourlyData, PowerHour, aggregate, cumulate
from .api import EnergyResponse
from .const import DOMAIN
from .naming import Site
from .series import SeriesKey
from .timeutil import ceil_hour

# States closer than this are the same value (floating-point noise of sums).
EPSILON = 1e-6
# How far back to look for the stored sum before a changed hour before scanning everything.
_BASE_LOOKBACK = timedelta(days=3)
_EPOCH = datetime(2000, 1, 1, tzinfo=dt_util.UTC)
# The end of a "from a moment on" range clear: later than any row can start.
_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=dt_util.UTC)

type StatType = Literal["change", "last_reset", "max", "mean", "min", "state", "sum"]


def statistic_metadata(key: SeriesKey, site: Site) -> StatisticMetaData:
    """Complete metadata: external statistic, source fluvius, HA's unit spelling, site name."""
    unit = key.stored_unit
    return StatisticMetaData(
        has_sum=not key.is_power,
        mean_type=StatisticMeanType.ARITHMETIC if key.is_power else StatisticMeanType.NONE,
        name=site.statistic_name(key),
        source=DOMAIN,
        statistic_id=key.statistic_id,
        unit_class=unit.unit_class,
        unit_of_measurement=unit.native,
    )


# The recorder imports a batch of rows in one go on its own thread. Up to HA
# 2026.10 it does so row by row, releasing and retaking the GIL around each
# SQLite call; the event loop loses most of those races and waits for as long as
# the batch takes (up to 80 ms measured with a window's rows in one batch).
# Batches are sized to about this much of the recorder's time.
BATCH_SECONDS = 0.025
MIN_BATCH_ROWS = 24
MAX_BATCH_ROWS = 4096


class ImportPace:
    """Rows per recorder batch: about BATCH_SECONDS of its work, learnt from the last batch."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        """Start small: the recorder's speed differs tenfold between HA versions."""
        self.rows = MIN_BATCH_ROWS

    def learn(self, rows: int, seconds: float) -> None:
        """A batch of ``rows`` took ``seconds``: move halfway towards what fits the budget."""
        fits = rows * BATCH_SECONDS / max(seconds, 1e-4)
        self.rows = int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, (self.rows + fits) / 2)))


@dataclass(slots=True)
class _StoredSeries:
    """Stored rows from some hour on, and the sum just before that hour."""

    base: float
    states: dict[datetime, float] = field(default_factory=dict)
    sums: dict[datetime, float] = field(default_factory=dict)


class StatisticsWriter:
    """Writes hourly rows through the recorder, re-basing sums after any change."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Writes are serialised: each is a read-modify-write of the running sum."""
        self._hass = hass
        self._lock = asyncio.Lock()
        self._pace = ImportPace()

    async def async_write(self, data: HourlyData, site: Site) -> set[str]:
        """Write one site's energy and power rows; return the statistic ids that changed."""
        changed: set[str] = set()
        async with self._lock:
            for key, rows in sorted(data.energy.items()):
                if rows and await self._async_write_sum_series(key, rows, site):
                    changed.add(key.statistic_id)
            for key, all_power_rows in sorted(data.power.items()):
                # Every poll re-reads days of hours: rewrite only those that changed.
                power_rows = (
                    await get_instance(self._hass).async_add_executor_job(
                        self._changed_power, key.statistic_id, all_power_rows
                    )
                    if all_power_rows
                    else []
                )
                if not power_rows:
                    continue
                await self._async_import(statistic_metadata(key, site), power_rows)
                changed.add(key.statistic_id)
        return changed

    async def async_write_sums(
        self, series: Mapping[SeriesKey, Mapping[datetime, float]], site: Site
    ) -> set[str]:
        """Write sum statistics other than energy (costs); return the ids that changed."""
        changed: set[str] = set()
        async with self._lock:
            for key, rows in sorted(series.items()):
                if rows and await self._async_write_sum_series(key, rows, site):
                    changed.add(key.statistic_id)
        return changed

    async def _async_write_sum_series(
        self, key: SeriesKey, rows: Mapping[datetime, float], site: Site
    ) -> bool:
        new_rows = await get_instance(self._hass).async_add_executor_job(
            partial(self._rebased_rows, key.statistic_id, rows, key.stored_unit.decimals)
        )
        if not new_rows:
            return False
        await self._async_import(statistic_metadata(key, site), new_rows)
        return True

    async def _async_import(self, metadata: StatisticMetaData, rows: list[StatisticData]) -> None:
        """Hand rows to the recorder batch by batch; return once the last is committed.

        Every row this writer imports goes through here, so a write that returns
        has been committed (each import task commits its own session).
        """
        instance = get_instance(self._hass)
        loop = self._hass.loop
        first = 0
        while first < len(rows):
            batch = rows[first : first + self._pace.rows]
            first += len(batch)
            began = loop.time()
            async_add_external_statistics(self._hass, metadata, batch)
            # Not async_block_till_done: it returns at once when the recorder
            # has taken the batch off its queue, before it has imported it.
            done = loop.create_future()
            instance.queue_task(SynchronizeTask(done))
            await done
            self._pace.learn(len(batch), loop.time() - began)

    def _rebased_rows(
        self, statistic_id: str, rows: Mapping[datetime, float], decimals: int
    ) -> list[StatisticData]:
        """The rows to write, from the first changed hour on, with re-based sums.

        Runs in the recorder's executor: it reads the stored rows, and a history
        window's thousands of hours are no work for the event loop.
        """
        first = min(rows)
        stored = self._read_series(statistic_id, first)
        changed = [
            hour
            for hour, value in rows.items()
            if hour not in stored.states or abs(stored.states[hour] - value) > EPSILON
        ]
        if not changed:
            return []
        first_changed = min(changed)
        merged = {**stored.states, **rows}
        before = [hour for hour in stored.sums if hour < first_changed]
        base = stored.sums[max(before)] if before else stored.base
        new_rows = cumulate(
            base, [(hour, merged[hour]) for hour in sorted(merged) if hour >= first_changed]
        )
        return [
            StatisticData(
                start=row.start, state=round(row.state, decimals), sum=round(row.sum, decimals)
            )
            for row in new_rows
        ]

    def _changed_power(
        self, statistic_id: str, rows: dict[datetime, PowerHour]
    ) -> list[StatisticData]:
        """The power rows that differ from the stored ones (read in the recorder's executor)."""
        stored = {
            dt_util.utc_from_timestamp(row["start"]): row
            for row in self._rows(statistic_id, min(rows), None, {"mean", "min", "max"})
        }
        return [
            StatisticData(start=hour, mean=row.mean, min=row.min, max=row.max)
            for hour, row in sorted(rows.items())
            if (old := stored.get(hour)) is None
            or any(
                old.get(name) is None or abs(old[name] - value) > EPSILON
                for name, value in (("mean", row.mean), ("min", row.min), ("max", row.max))
            )
        ]

    def _read_series(self, statistic_id: str, first: datetime) -> _StoredSeries:
        """Read (in the recorder's executor) the rows from ``first`` on and the sum before."""
        after = self._rows(statistic_id, first, None, {"state", "sum"})
        series = _StoredSeries(base=0.0)
        for row in after:
            start = dt_util.utc_from_timestamp(row["start"])
            series.states[start] = float(row.get("state") or 0.0)
            series.sums[start] = float(row.get("sum") or 0.0)
        if not after:
            last = get_last_statistics(self._hass, 1, statistic_id, False, {"sum"})
            rows = last.get(statistic_id, [])
            if rows and dt_util.utc_from_timestamp(rows[0]["start"]) < first:
                series.base = float(rows[0].get("sum") or 0.0)
                return series
        before = self._rows(statistic_id, first - _BASE_LOOKBACK, first, {"sum"})
        if not before:
            before = self._rows(statistic_id, _EPOCH, first, {"sum"})
        if before:
            series.base = float(before[-1].get("sum") or 0.0)
        return series

    def _rows(
        self,
        statistic_id: str,
        start: datetime,
        end: datetime | None,
        types: set[StatType],
    ) -> list[Any]:
        result = statistics_during_period(
            self._hass, start, end, {statistic_id}, "hour", None, types
        )
        return list(result.get(statistic_id, []))

    async def async_rename(self, sites: Mapping[str, Site]) -> list[str]:
        """Give statistics (id -> its site) the names their sites call for; return those renamed.

        The recorder takes a statistic's metadata from each import, so importing
        its newest row again, unchanged, renames it; ids and rows stay as they are.
        One metadata read covers them all: this runs on every mandates refresh.
        """
        instance = get_instance(self._hass)
        async with self._lock:
            stored = await instance.async_add_executor_job(
                partial(get_metadata, self._hass, statistic_ids=set(sites))
            )
            renamed = []
            for statistic_id, (_, metadata) in sorted(stored.items()):
                key = SeriesKey.from_statistic_id(statistic_id)
                site = sites[statistic_id]
                if key is None or metadata["name"] == site.statistic_name(key):
                    continue
                if await self._async_reimport_last(statistic_metadata(key, site)):
                    renamed.append(statistic_id)
        return renamed

    async def _async_reimport_last(self, metadata: StatisticMetaData) -> bool:
        """Import a statistic's newest row again under ``metadata``; False when it has none."""
        statistic_id = metadata["statistic_id"]
        last = await get_instance(self._hass).async_add_executor_job(
            get_last_statistics,
            self._hass,
            1,
            statistic_id,
            False,
            {"state", "sum", "mean", "min", "max"},
        )
        rows = [_row_to_data(row) for row in last.get(statistic_id, [])]
        if rows:
            await self._async_import(metadata, rows)
        return bool(rows)

    async def async_delete_from(self, statistic_ids: Iterable[str], moment: datetime) -> None:
        """Delete every row at or after ``moment``, keeping the rows before it."""
        instance = get_instance(self._hass)
        async with self._lock:
            if _has_range_clear(instance):
                await _async_clear(self._hass, list(statistic_ids), start=ceil_hour(moment))
                return
            for statistic_id in statistic_ids:
                await self._async_rewrite_before(statistic_id, moment)

    async def _async_rewrite_before(self, statistic_id: str, moment: datetime) -> None:
        """Before HA 2026.11: clear the statistic, then write back the rows before ``moment``."""
        instance = get_instance(self._hass)
        kept = await instance.async_add_executor_job(
            self._rows, statistic_id, _EPOCH, moment, {"state", "sum", "mean", "min", "max"}
        )
        metadata = await instance.async_add_executor_job(_read_metadata, self._hass, statistic_id)
        if metadata is None:
            return
        await _async_clear(self._hass, [statistic_id])
        if kept:
            await self._async_import(metadata, [_row_to_data(row) for row in kept])

    async def async_clear(self, statistic_ids: list[str]) -> None:
        """Remove statistics completely."""
        async with self._lock:
            await _async_clear(self._hass, statistic_ids)


def _has_range_clear(instance: Recorder) -> bool:
    """HA 2026.11 added ``start_time``/``end_time`` to ``Recorder.async_clear_statistics``."""
    return "start_time" in inspect.signature(instance.async_clear_statistics).parameters


async def _async_clear(
    hass: HomeAssistant, statistic_ids: list[str], *, start: datetime | None = None
) -> None:
    """Clear whole statistics, or (HA 2026.11+) only their rows from ``start`` on."""
    instance = get_instance(hass)
    done = asyncio.Event()

    def _on_done() -> None:
        """Runs in the recorder's thread: wake the event loop safely."""
        hass.loop.call_soon_threadsafe(done.set)

    if start is None:
        instance.async_clear_statistics(statistic_ids, on_done=_on_done)
    else:
        clear_range: Any = instance.async_clear_statistics  # typed without the range before 2026.11
        clear_range(statistic_ids, start_time=start, end_time=_FAR_FUTURE, on_done=_on_done)
    await done.wait()
    await instance.async_block_till_done()


def _read_metadata(hass: HomeAssistant, statistic_id: str) -> StatisticMetaData | None:
    found = get_metadata(hass, statistic_ids={statistic_id})
    if statistic_id not in found:
        return None
    return found[statistic_id][1]


def _row_to_data(row: Any) -> StatisticData:
    data = StatisticData(start=dt_util.utc_from_timestamp(row["start"]))
    for name in ("state", "sum", "mean", "min", "max"):
        if row.get(name) is not None:
            data[name] = row[name]
    return data


async def async_aggregate(
    hass: HomeAssistant,
    responses: Sequence[EnergyResponse],
    *,
    include_reactive: bool,
    keep_quarters: bool = False,
) -> HourlyData:
    """Aggregate in an executor thread: a 185-day window has tens of thousands of values."""
    return await hass.async_add_executor_job(
        partial(
            aggregate, responses, include_reactive=include_reactive, keep_quarters=keep_quarters
        )
    )
