"""The resumable history import of each EAN: oldest window first, a cursor after each.

The import runs in the background with its cursor persisted after every
window, so a restart resumes without gaps or duplicates (re-writing a window
is harmless: unchanged hours are not rewritten).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api import (
    FluviusAuthenticationError,
    FluviusClient,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    Mandate,
)
from .const import CONF_HISTORY_MONTHS, DEFAULT_HISTORY_MONTHS, LOGGER
from .coordinator import credentials_refused
from .import_state import EanImportState
from .importer import StatisticsImporter
from .limiter import RequestLimiter
from .notifications import async_notify_history_imported
from .queries import complex_types, granularities
from .refusals import PERMANENT_RETRY, RefusedRequests, RequestKind
from .timeutil import first_of_month_back, local_day, local_midnight

# Local days per history window: 184 local days never exceed the API's 185 x 24 h.
WINDOW_DAYS = 184
# Never ask further back than the API allows (3 years), with a day of margin.
MAX_HISTORY_DAYS = 3 * 365 - 1
# A failed window is retried after this long; one the API refuses, only daily.
RETRY_DELAY = timedelta(minutes=15)

type Window = tuple[datetime, datetime]

# History windows fetched and not yet written, over all EANs of an entry.
WINDOWS_IN_HAND = 2


def history_windows(start: datetime, end: datetime) -> list[Window]:
    """Local-midnight-aligned windows of at most WINDOW_DAYS local days, oldest first."""
    windows: list[Window] = []
    day = local_day(start)
    cursor = start
    while cursor < end:
        day += timedelta(days=WINDOW_DAYS)
        window_end = min(local_midnight(day), end)
        windows.append((cursor, window_end))
        cursor = window_end
    return windows


class HistoryImport:
    """Runs one background import task per EAN and keeps its cursor."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: FluviusClient,
        importer: StatisticsImporter,
        *,
        limiter: RequestLimiter,
        refusals: RefusedRequests,
    ) -> None:
        """Windows are fetched through the entry's limiter and stored by its importer."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._importer = importer
        self._limiter = limiter
        self._refusals = refusals
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # One window is aggregated and written at a time, while the recorder is
        # idle: a window's aggregation and the recorder's inserts would crowd the
        # event loop out of the GIL. Only the hourly rows outlive the window.
        self._write_lock = asyncio.Lock()
        # A decoded window is ~12 MB; EANs that fetched theirs while another is
        # written would each hold one waiting for the lock. At most this many
        # are in hand (fetched, waiting or being written): the next window is
        # fetched while one is written, and memory stays bounded on any account.
        self._windows_in_hand = asyncio.Semaphore(WINDOWS_IN_HAND)
        # EAN -> start of its history, for imports finished since the last notice.
        self._completed: dict[str, datetime] = {}
        # EANs read again for new prices: their end is no news to announce.
        self._repricing: set[str] = set()

    @callback
    def async_start(self, ean: str, mandate: Mandate, *, start: datetime | None = None) -> None:
        """Start (or resume) the EAN's import; ``start`` restarts it from that moment."""
        task = self._tasks.get(ean)
        if task is not None and not task.done():
            if start is None:
                return
            task.cancel()
        state = self._importer.states.ensure(ean)
        if start is not None:
            state.history_from = start
            state.cursor = start
            state.history_to = None
            state.done = False
        elif state.done:
            return
        self._tasks[ean] = self._entry.async_create_background_task(
            self._hass, self._async_run(ean, mandate), f"fluvius history import {ean}"
        )

    @callback
    def async_reprice(self, ean: str, mandate: Mandate, start: datetime) -> None:
        """Read the EAN's history again from ``start`` on, to price it with a new tariff.

        The energy rows come back unchanged and are not rewritten; the costs are.
        Progress shows on the history-import sensor. A running import that has
        not reached ``start`` yet prices what is left as it goes.
        """
        state = self._importer.states.ensure(ean)
        task = self._tasks.get(ean)
        running = task is not None and not task.done()
        if running and state.cursor is not None and state.cursor <= start:
            return
        if task is not None:
            task.cancel()
        state.cursor = start
        state.history_to = None
        state.done = False
        self._repricing.add(ean)
        LOGGER.info("Pricing the history of EAN %s again from %s", ean, start.isoformat())
        self._tasks[ean] = self._entry.async_create_background_task(
            self._hass, self._async_run(ean, mandate), f"fluvius history import {ean}"
        )

    @callback
    def async_stop(self, ean: str) -> None:
        """Cancel the EAN's import (its statistics are being cleared)."""
        task = self._tasks.pop(ean, None)
        if task is not None:
            task.cancel()

    @callback
    def async_stop_all(self) -> None:
        """Cancel every import (the entry unloads; cursors resume on the next load)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def history_start(self, mandate: Mandate, now: datetime) -> datetime:
        """Oldest hour to import: the mandate, the option and the API's 3 years decide."""
        months = int(self._entry.options.get(CONF_HISTORY_MONTHS, DEFAULT_HISTORY_MONTHS))
        oldest = max(
            first_of_month_back(now, months), local_day(now) - timedelta(days=MAX_HISTORY_DAYS)
        )
        start = local_midnight(oldest)
        if mandate.data_period_from is not None and mandate.data_period_from > start:
            start = local_midnight(local_day(mandate.data_period_from))
            if start < mandate.data_period_from:
                start = local_midnight(local_day(mandate.data_period_from) + timedelta(days=1))
        return start

    def _plan(self, state: EanImportState, mandate: Mandate) -> Window:
        """Fix the range of a new import (a resumed one keeps it); returns (cursor, end)."""
        now = dt_util.utcnow()
        if state.history_from is None:
            state.history_from = self.history_start(mandate, now)
        if state.history_to is None:
            end = now.replace(minute=0, second=0, microsecond=0)
            if mandate.data_period_to is not None:
                end = min(end, mandate.data_period_to)
            state.history_to = end
            if state.last_poll is None:
                state.last_poll = now
        if state.cursor is None:
            state.cursor = state.history_from
        return state.cursor, state.history_to

    async def _async_run(self, ean: str, mandate: Mandate) -> None:
        """Import the EAN's windows in order, saving the cursor after each."""
        state = self._importer.states.ensure(ean)
        cursor, history_to = self._plan(state, mandate)
        await self._importer.states.async_save()
        # The progress sensor shows a (re)started import before its first window.
        self._importer.async_notify()
        windows = history_windows(cursor, history_to)
        LOGGER.info(
            "Importing history of EAN %s from %s to %s in %d window(s)",
            ean,
            cursor.isoformat(),
            history_to.isoformat(),
            len(windows),
        )
        for window in windows:
            if not await self._async_import_with_retries(ean, mandate, window):
                return
            await self._async_advance(ean, state, window[1])
        state.done = True
        await self._importer.states.async_save()
        self._importer.async_notify()
        LOGGER.info("History import of EAN %s complete", ean)
        if ean in self._repricing:
            self._repricing.discard(ean)
        else:
            self._completed[ean] = state.history_from or history_to
        others_running = any(
            other != ean and not task.done() for other, task in self._tasks.items()
        )
        if self._completed and not others_running:
            await self._async_announce()

    async def _async_announce(self) -> None:
        """The last running import finished: one notice for what this run imported."""
        completed, self._completed = self._completed, {}
        await async_notify_history_imported(
            self._hass, self._entry, len(completed), min(completed.values())
        )

    async def _async_advance(self, ean: str, state: EanImportState, cursor: datetime) -> None:
        """A window landed: persist the cursor and show the progress."""
        state.cursor = cursor
        await self._importer.states.async_save()
        self._importer.async_notify()
        LOGGER.info(
            "Imported history of EAN %s up to %s (%s%%)", ean, cursor.isoformat(), state.progress
        )

    async def _async_import_with_retries(self, ean: str, mandate: Mandate, window: Window) -> bool:
        """Import a window until it lands; False when the import must stop.

        A transient error is retried soon; a request refused twice in a row (400,
        a malformed body) only daily, with a repair issue: repeating it cannot help.
        """
        while True:
            try:
                await self._async_import_window(ean, mandate, window)
            except FluviusAuthenticationError:
                LOGGER.warning("History import of EAN %s paused: credentials refused", ean)
                # Not raised: a background task; the coordinators' next refresh would.
                credentials_refused(self._hass, self._entry)
                self._entry.async_start_reauth(self._hass)
                return False
            except (FluviusForbiddenError, FluviusNoAccessError) as err:
                LOGGER.warning("History import of EAN %s stopped: %s", ean, err)
                return False
            except FluviusError as err:
                refused = self._refusals.note_failure(ean, RequestKind.HISTORY, err)
                delay = PERMANENT_RETRY if refused else RETRY_DELAY
                LOGGER.warning(
                    "History window %s of EAN %s failed (%s); retrying in %s",
                    local_day(window[0]),
                    ean,
                    err,
                    delay,
                )
                await asyncio.sleep(delay.total_seconds())
            else:
                self._refusals.note_success(ean, RequestKind.HISTORY)
                return True

    async def _async_import_window(self, ean: str, mandate: Mandate, window: Window) -> None:
        """Fetch, aggregate and write one window."""
        async with self._windows_in_hand:
            async with self._limiter.call(background=True):
                response = await self._client.get_energy(
                    ean,
                    start=window[0],
                    end=window[1],
                    granularity=granularities(mandate),
                    complex_energy_types=complex_types(
                        mandate, include_reactive=self._importer.include_reactive
                    ),
                )
            async with self._write_lock:
                await self._importer.async_write_responses(ean, [response])
