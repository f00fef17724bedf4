"""Recent quarter-hour offtake per EAN, kept so monthly peaks survive restarts.

Fluvius does not deliver the monthly peak, and its data arrive late and get
corrected. So the main meter's quarter-hours of the running month and the twelve
before it are kept (one compact array per Brussels month, persisted in a Store),
and every peak is recomputed from them with the pure functions of ``peak.py``.
"""

from __future__ import annotations

from array import array
import asyncio
import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
import math
import sys
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .aggregation import QuarterHours
from .const import DOMAIN, EVENT_NEW_MONTHLY_PEAK, LOGGER
from .peak import QUARTER_HOUR, MonthlyPeak, QuarterHour, is_new_peak, month_peak
from .timeutil import MonthKey, isoformat, local_month, month_bounds, month_id, shift_month

STORAGE_VERSION = 1
# Seconds to gather changes before the store is written.
SAVE_DELAY = 30
# The running month and the twelve before it: what the rolling average needs.
RETAINED_MONTHS = 13
# Validation states by code; 0 means no value, a state not listed is stored as "other".
_STATES: tuple[str | None, ...] = (None, "READ", "VAL", "EST", "NVAL")
_OTHER_STATE = len(_STATES)


def _encode_state(state: str | None) -> int:
    upper = None if state is None else state.upper()
    return _STATES.index(upper) if upper in _STATES[1:] else _OTHER_STATE


def peak_storage(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The entry's recent quarter-hour offtake, from which peaks are recomputed."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.peaks")


def _parse_month_id(value: str) -> MonthKey:
    year, month = value.split("-")
    return (int(year), int(month))


@dataclass(slots=True)
class MonthSeries:
    """One Brussels month of quarter-hour kWh, indexed by quarter-hour of the month.

    ``states`` holds a state code per quarter-hour, 0 where the value is missing.
    """

    key: MonthKey
    start: datetime
    kwh: array[float]
    states: bytearray

    @classmethod
    def empty(cls, key: MonthKey) -> MonthSeries:
        """A month with every quarter-hour missing (DST months have 4 more or fewer)."""
        start, end = month_bounds(*key)
        count = (end - start) // QUARTER_HOUR
        return cls(key, start, array("d", [0.0]) * count, bytearray(count))

    def set(self, start: datetime, kwh: float | None, state: str | None) -> bool:
        """Store a quarter-hour's newest version; return whether anything changed."""
        index = (start - self.start) // QUARTER_HOUR
        code = 0 if kwh is None or math.isnan(kwh) else _encode_state(state)
        value = 0.0 if code == 0 or kwh is None else kwh
        if self.states[index] == code and self.kwh[index] == value:
            return False
        self.states[index] = code
        self.kwh[index] = value
        return True

    def truncate(self, moment: datetime) -> bool:
        """Forget the quarter-hours from ``moment`` on; return whether any existed."""
        first = max(0, -(-(moment - self.start) // QUARTER_HOUR))
        if not any(self.states[first:]):
            return False
        for index in range(first, len(self.states)):
            self.states[index] = 0
            self.kwh[index] = 0.0
        return True

    def quarter_hours(self) -> Iterator[QuarterHour]:
        """The present quarter-hours, as the peak functions take them."""
        for index, code in enumerate(self.states):
            if code:
                state = _STATES[code] if code < _OTHER_STATE else "OTHER"
                yield QuarterHour(self.start + index * QUARTER_HOUR, self.kwh[index], state)

    def peak(self, now: datetime) -> MonthlyPeak:
        """The month's peak as of ``now`` (a running month is never complete)."""
        return month_peak(self.quarter_hours(), *self.key, now=now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe and compact: little-endian float64 kWh and the state codes, in base64.

        Encoding is a C-level copy of each array, cheap enough for the event loop.
        """
        kwh = array("d", self.kwh)
        if sys.byteorder != "little":
            kwh.byteswap()
        return {
            "month": month_id(self.key),
            "kwh": base64.b64encode(kwh.tobytes()).decode("ascii"),
            "states": base64.b64encode(self.states).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MonthSeries:
        """Read back what :meth:`as_dict` wrote; a damaged month raises ValueError."""
        series = cls.empty(_parse_month_id(str(raw["month"])))
        kwh = array("d")
        kwh.frombytes(base64.b64decode(str(raw["kwh"])))
        if sys.byteorder != "little":
            kwh.byteswap()
        states = bytearray(base64.b64decode(str(raw["states"])))
        if len(kwh) != len(series.kwh) or len(states) != len(series.states):
            raise ValueError(f"stored month {raw['month']} has the wrong length")
        if any(code > _OTHER_STATE for code in states):
            raise ValueError(f"stored month {raw['month']} has unknown state codes")
        series.kwh = kwh
        series.states = states
        return series


class PeakTracker:
    """Monthly peaks of one config entry's EANs, kept current and persisted.

    Merging runs in an executor thread under a lock; the event loop only ever
    reads finished ``MonthlyPeak`` maps, swapped in whole.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Call :meth:`async_load` before use."""
        self._hass = hass
        self._entry_id = entry_id
        self._store = peak_storage(hass, entry_id)
        self._series: dict[str, dict[MonthKey, MonthSeries]] = {}
        self._peaks: dict[str, dict[MonthKey, MonthlyPeak]] = {}
        self._computed_for: dict[str, MonthKey] = {}
        self._lock = asyncio.Lock()
        self._unsaved = False

    @property
    def eans(self) -> set[str]:
        """EANs with quarter-hour offtake in the retained months."""
        return {ean for ean, months in self._series.items() if months}

    def peaks(self, ean: str) -> Mapping[MonthKey, MonthlyPeak]:
        """The EAN's monthly peaks, oldest month first."""
        return self._peaks.get(ean, {})

    async def async_load(self) -> None:
        """Load the stored quarter-hours and recompute every peak from them."""
        raw = await self._store.async_load() or {}
        async with self._lock:
            await self._hass.async_add_executor_job(self._load, raw, dt_util.utcnow())

    def _load(self, raw: dict[str, Any], now: datetime) -> None:
        for ean, months in raw.get("eans", {}).items():
            try:
                series = [MonthSeries.from_dict(month) for month in months.values()]
            except (KeyError, TypeError, ValueError) as err:
                # Peaks come back as data arrive; a damaged store must not stop setup.
                LOGGER.warning("Ignoring stored quarter-hours of EAN %s: %s", ean, err)
                continue
            self._series[ean] = {month.key: month for month in series}
            self._recompute(ean, now, set(self._series[ean]))

    async def async_add(self, ean: str, quarters: QuarterHours) -> bool:
        """Merge new quarter-hours of an EAN; fire the event when this month's peak rose."""
        if not quarters.kwh and ean not in self._series:
            return False
        async with self._lock:
            now = dt_util.utcnow()
            current = local_month(now)
            before = self._peaks.get(ean, {}).get(current)
            changed = await self._hass.async_add_executor_job(self._merge, ean, quarters, now)
            if changed:
                self._schedule_save()
                after = self._peaks.get(ean, {}).get(current)
                if after is not None and is_new_peak(before, after):
                    self._fire_new_peak(ean, after, before)
        return changed

    def _merge(self, ean: str, quarters: QuarterHours, now: datetime) -> bool:
        oldest = shift_month(local_month(now), 1 - RETAINED_MONTHS)
        # A copy, swapped in whole by _recompute: the event loop may be saving the old one.
        months = dict(self._series.get(ean, {}))
        touched: set[MonthKey] = set()
        for start, kwh, state in quarters.items():
            key = local_month(start)
            if key < oldest:
                continue
            series = months.get(key)
            if series is None:
                series = months[key] = MonthSeries.empty(key)
            if series.set(start, kwh, state):
                touched.add(key)
        return self._recompute(ean, now, touched, months)

    def _recompute(
        self,
        ean: str,
        now: datetime,
        touched: set[MonthKey],
        months: dict[MonthKey, MonthSeries] | None = None,
    ) -> bool:
        """Drop months that left the window, recompute the touched ones, swap both in.

        Every month is recomputed when the running month changed since the last
        time: a month that just closed may now be complete.
        """
        current = local_month(now)
        oldest = shift_month(current, 1 - RETAINED_MONTHS)
        months = {
            key: series
            for key, series in (self._series.get(ean, {}) if months is None else months).items()
            if key >= oldest
        }
        expired = len(months) != len(self._series.get(ean, {}))
        if self._computed_for.get(ean) != current:
            touched = set(months)
        if not touched and not expired:
            return False
        peaks = {key: peak for key, peak in self._peaks.get(ean, {}).items() if key in months}
        for key in touched:
            peaks[key] = months[key].peak(now)
        self._series[ean] = months
        self._peaks[ean] = dict(sorted(peaks.items()))
        self._computed_for[ean] = current
        return True

    async def async_refresh(self) -> None:
        """Recompute peaks when a month has closed (called on every poll)."""
        current = local_month(dt_util.utcnow())
        stale = [ean for ean, key in self._computed_for.items() if key != current]
        if not stale:
            return
        async with self._lock:
            now = dt_util.utcnow()
            changed = False
            for ean in stale:
                changed |= await self._hass.async_add_executor_job(self._recompute, ean, now, set())
            if changed:
                self._schedule_save()

    async def async_delete_from(self, ean: str, moment: datetime) -> None:
        """Forget an EAN's quarter-hours from ``moment`` on (data period cut back)."""
        async with self._lock:
            months = self._series.get(ean, {})
            touched = {key for key, series in months.items() if series.truncate(moment)}
            if touched:
                await self._hass.async_add_executor_job(
                    self._recompute, ean, dt_util.utcnow(), touched
                )
                self._schedule_save()

    async def async_clear(self, eans: set[str]) -> None:
        """Forget everything about the EANs (their statistics were cleared)."""
        async with self._lock:
            for ean in eans:
                self._series.pop(ean, None)
                self._peaks.pop(ean, None)
                self._computed_for.pop(ean, None)
            self._schedule_save()

    async def async_flush(self) -> None:
        """Write pending changes now (the entry unloads; a reload loads them back)."""
        if self._unsaved:
            await self._store.async_save(self._data_to_save())

    def _schedule_save(self) -> None:
        self._unsaved = True
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    def _data_to_save(self) -> dict[str, Any]:
        """Runs on the event loop; month dicts are swapped whole, arrays copied in C."""
        self._unsaved = False
        return {
            "eans": {
                ean: {month_id(key): series.as_dict() for key, series in months.items()}
                for ean, months in list(self._series.items())
            }
        }

    def _fire_new_peak(self, ean: str, peak: MonthlyPeak, previous: MonthlyPeak | None) -> None:
        LOGGER.debug("New peak of EAN %s in %s: %s kW", ean, month_id(peak.key), peak.peak_kw)
        self._hass.bus.async_fire(
            EVENT_NEW_MONTHLY_PEAK,
            {
                "config_entry_id": self._entry_id,
                "ean": ean,
                "month": month_id(peak.key),
                "peak_kw": peak.peak_kw,
                "start": isoformat(peak.peak_start),
                "end": isoformat(peak.peak_end),
                "previous_peak_kw": None if previous is None else previous.peak_kw,
            },
        )
