"""Statistics import per EAN: resumable history import, poll updates, purge and clear.

The history import runs in the background, oldest window first, with a cursor
persisted after every window, so a restart resumes without gaps or duplicates
(re-writing a window is harmless: unchanged hours are not rewritten).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .aggregation import HourlyData, SeriesKey
from .api import (
    ComplexEnergyType,
    DataServiceType,
    EnergyResponse,
    EnergyType,
    FluviusAuthenticationError,
    FluviusBadRequestError,
    FluviusClient,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    FluviusResponseError,
    Granularity,
    HeadpointType,
    Mandate,
)
from .budget import RequestBudget
from .const import (
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    DEFAULT_HISTORY_MONTHS,
    DEFAULT_REQUEST_BUDGET,
    LOGGER,
    MAX_CONCURRENT_REQUESTS,
)
from .entity import MeterKind, async_update_meter_model
from .peak_tracker import PeakTracker
from .repairs import async_update_credentials_issue
from .statistics import StatisticsWriter, async_aggregate, storage

if TYPE_CHECKING:
    from . import FluviusConfigEntry

FLUVIUS_TZ = ZoneInfo("Europe/Brussels")
# Local days per history window: 184 local days never exceed the API's 185 x 24 h.
WINDOW_DAYS = 184
# Never ask further back than the API allows (3 years), with a day of margin.
MAX_HISTORY_DAYS = 3 * 365 - 1
# Seconds within which poll cursors are gathered into one write of the store.
STATE_SAVE_DELAY = 10
# A failed window is retried after this long; one the API refuses, only daily.
RETRY_DELAY = timedelta(minutes=15)
PERMANENT_RETRY = timedelta(days=1)
# Errors that repeating the same request cannot mend, once they come twice in a row
# (a single malformed or cut body can be the network's doing).
PERMANENT_ERRORS = (FluviusBadRequestError, FluviusResponseError)
REFUSALS_FOR_GOOD = 2


def local_midnight(day: date) -> datetime:
    """UTC instant of local (Brussels) midnight starting ``day``."""
    return datetime.combine(day, time(), FLUVIUS_TZ).astimezone(dt_util.UTC)


def local_day(moment: datetime) -> date:
    """The Brussels calendar day of an instant."""
    return moment.astimezone(FLUVIUS_TZ).date()


def history_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Local-midnight-aligned windows of at most WINDOW_DAYS local days, oldest first."""
    windows: list[tuple[datetime, datetime]] = []
    day = local_day(start)
    cursor = start
    while cursor < end:
        day += timedelta(days=WINDOW_DAYS)
        window_end = min(local_midnight(day), end)
        windows.append((cursor, window_end))
        cursor = window_end
    return windows


def months_back(moment: datetime, months: int) -> date:
    """The local date ``months`` calendar months before ``moment`` (day clamped)."""
    day = local_day(moment)
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, 1)


def granularities(mandate: Mandate) -> tuple[Granularity, ...]:
    """Daily always, plus quarter-hours/hours where the access allows them.

    Day and night registers only come in daily slices: without them the history
    import and late-data polls would leave those statistics with gaps.
    """
    if mandate.data_service_type == DataServiceType.QUARTER_HOURLY:
        return (Granularity.HOURLY_QUARTERHOURLY, Granularity.DAILY)
    return (Granularity.DAILY,)


# Data at EAN (headpoint) level is what AMR meters deliver; digital meters deliver
# per physical meter. The mixed type keeps headpoint-level data, so it counts as AMR.
METER_KINDS: dict[str, MeterKind] = {
    HeadpointType.METERING_ON_METER: MeterKind.DIGITAL,
    HeadpointType.METERING_ON_HEADPOINT: MeterKind.AMR,
    HeadpointType.METERING_ON_HEADPOINT_AND_METER: MeterKind.AMR,
}


def observed_kind(responses: Sequence[EnergyResponse]) -> MeterKind | None:
    """The meter kind the newest headpoint ``$type`` shows; None when none is known.

    Live EANs are GS1 numbers: only the API's answer tells a digital meter from an AMR one.
    """
    for response in reversed(responses):
        headpoint = response.headpoint
        if headpoint is None:
            continue
        kind = METER_KINDS.get(HeadpointType.parse(str(headpoint.type)))
        if kind is not None:
            return kind
    return None


@dataclass(slots=True)
class EanImportState:
    """Persisted per-EAN import state."""

    history_from: datetime | None = None
    history_to: datetime | None = None
    cursor: datetime | None = None
    done: bool = False
    last_poll: datetime | None = None
    data_period_to: datetime | None = None
    statistic_ids: set[str] | None = None
    meter_kind: MeterKind | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the store."""
        return {
            "history_from": _iso(self.history_from),
            "history_to": _iso(self.history_to),
            "cursor": _iso(self.cursor),
            "done": self.done,
            "last_poll": _iso(self.last_poll),
            "data_period_to": _iso(self.data_period_to),
            "statistic_ids": sorted(self.statistic_ids or ()),
            "meter_kind": None if self.meter_kind is None else str(self.meter_kind),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EanImportState:
        """Read back what :meth:`as_dict` wrote."""
        return cls(
            history_from=_parse(raw.get("history_from")),
            history_to=_parse(raw.get("history_to")),
            cursor=_parse(raw.get("cursor")),
            done=bool(raw.get("done")),
            last_poll=_parse(raw.get("last_poll")),
            data_period_to=_parse(raw.get("data_period_to")),
            statistic_ids=set(raw.get("statistic_ids") or ()),
            meter_kind=_kind(raw.get("meter_kind")),
        )

    @property
    def progress(self) -> float | None:
        """Share of the history imported, in percent."""
        if self.done:
            return 100.0
        if self.history_from is None or self.history_to is None or self.cursor is None:
            return None
        total = (self.history_to - self.history_from).total_seconds()
        if total <= 0:
            return 100.0
        return round(100 * (self.cursor - self.history_from).total_seconds() / total, 1)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: Any) -> datetime | None:
    return None if not value else dt_util.parse_datetime(str(value))


def _kind(value: Any) -> MeterKind | None:
    try:
        return None if value is None else MeterKind(value)
    except ValueError:
        return None


class StatisticsImporter:
    """Owns the statistics of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: FluviusConfigEntry,
        client: FluviusClient,
        peaks: PeakTracker,
    ) -> None:
        """Set up the store; call :meth:`async_load` before use."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._store = storage(hass, entry.entry_id)
        self.writer = StatisticsWriter(hass)
        self.peaks = peaks
        self.states: dict[str, EanImportState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Shared with the polls: at most this many EANs are fetched at the same time.
        self.request_slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        # History windows hold at most all slots but one, so polls (and the setup's
        # first refresh) never wait behind a long history import.
        self._history_slots = asyncio.Semaphore(max(MAX_CONCURRENT_REQUESTS - 1, 1))
        self._window_slot = asyncio.Lock()
        per_hour = int(entry.options.get(CONF_REQUEST_BUDGET, DEFAULT_REQUEST_BUDGET))
        self.budget = RequestBudget(per_hour, hass.loop.time)
        # EAN -> the error of a history window the API refuses (retried daily).
        self.refused: dict[str, str] = {}
        self.on_refused: Callable[[], None] = lambda: None
        # Called after every imported window and when peaks change, so sensors follow.
        self.on_change: Callable[[], None] = lambda: None

    async def async_load(self) -> None:
        """Load the persisted import state."""
        raw = await self._store.async_load() or {}
        self.states = {
            ean: EanImportState.from_dict(value) for ean, value in raw.get("eans", {}).items()
        }

    async def async_save(self) -> None:
        """Persist the import state now (history cursors: a restart resumes from them)."""
        await self._store.async_save(self._to_store())

    @callback
    def async_schedule_save(self) -> None:
        """Persist soon: hundreds of polls an hour coalesce into one write.

        A poll cursor saved a little late only makes the next insertTime window
        start earlier; writing the same rows twice changes nothing.
        """
        self._store.async_delay_save(self._to_store, STATE_SAVE_DELAY)

    def _to_store(self) -> dict[str, Any]:
        return {"eans": {ean: state.as_dict() for ean, state in self.states.items()}}

    async def async_remove_store(self) -> None:
        """Forget the import state (entry removed)."""
        await self._store.async_remove()

    def state(self, ean: str) -> EanImportState:
        """The import state of an EAN, created on first use."""
        return self.states.setdefault(ean, EanImportState())

    @property
    def include_reactive(self) -> bool:
        """Whether reactive energy is imported (option)."""
        return bool(self._entry.options.get(CONF_IMPORT_REACTIVE, False))

    def complex_types(self, ean: str, mandate: Mandate) -> tuple[ComplexEnergyType, ...]:
        """Ask reactive energy of every electricity EAN when it is wanted.

        The API ignores the parameter for gas and digital meters, so no meter kind
        (unknown before the first answer) is needed to ask it.
        """
        if self.include_reactive and mandate.energy_type == EnergyType.ELECTRICITY:
            return (ComplexEnergyType.ACTIVE, ComplexEnergyType.REACTIVE)
        return ()

    def meter_kind(self, ean: str) -> MeterKind | None:
        """The persisted kind of the EAN's meter; None before its first energy answer."""
        state = self.states.get(ean)
        return None if state is None else state.meter_kind

    async def async_observe(self, ean: str, responses: Sequence[EnergyResponse]) -> bool:
        """Record the meter kind the responses show; True (and soon saved) when it changed."""
        kind = observed_kind(responses)
        state = self.state(ean)
        if kind is None or kind == state.meter_kind:
            return False
        state.meter_kind = kind
        self.async_schedule_save()
        async_update_meter_model(self._hass, self._entry.entry_id, ean, kind)
        return True

    # History import -------------------------------------------------------------

    @callback
    def async_start_history(
        self, ean: str, mandate: Mandate, *, start: datetime | None = None
    ) -> None:
        """Start (or resume) the background history import of an EAN."""
        task = self._tasks.get(ean)
        if task is not None and not task.done():
            if start is None:
                return
            task.cancel()
        state = self.state(ean)
        if start is not None:
            state.history_from = start
            state.cursor = start
            state.history_to = None
            state.done = False
        elif state.done:
            return
        self._tasks[ean] = self._entry.async_create_background_task(
            self._hass, self._async_import_history(ean, mandate), f"fluvius history import {ean}"
        )

    def history_start(self, mandate: Mandate, now: datetime) -> datetime:
        """Oldest hour to import: the mandate, the option and the API's 3 years decide."""
        months = int(self._entry.options.get(CONF_HISTORY_MONTHS, DEFAULT_HISTORY_MONTHS))
        oldest = max(months_back(now, months), local_day(now) - timedelta(days=MAX_HISTORY_DAYS))
        start = local_midnight(oldest)
        if mandate.data_period_from is not None and mandate.data_period_from > start:
            start = local_midnight(local_day(mandate.data_period_from))
            if start < mandate.data_period_from:
                start = local_midnight(local_day(mandate.data_period_from) + timedelta(days=1))
        return start

    def _plan_history(self, state: EanImportState, mandate: Mandate) -> tuple[datetime, datetime]:
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

    async def _async_import_window(
        self, ean: str, mandate: Mandate, window: tuple[datetime, datetime]
    ) -> None:
        """Fetch, aggregate and write one window."""
        # The history import leaves half the budget's burst to the polls.
        await self.budget.async_spend(reserve=self.budget.capacity / 2)
        async with self._history_slots, self.request_slots:
            response = await self._client.get_energy(
                ean,
                start=window[0],
                end=window[1],
                granularity=granularities(mandate),
                complex_energy_types=self.complex_types(ean, mandate),
            )
        # One window at a time, while the recorder is idle: aggregating a window and
        # the recorder's inserts would crowd the event loop out of the GIL. Only the
        # hourly rows outlive the window.
        async with self._window_slot:
            await self.async_write_responses(ean, [response])

    async def _async_import_with_retries(
        self, ean: str, mandate: Mandate, window: tuple[datetime, datetime]
    ) -> bool:
        """Import a window until it lands; False when the import must stop.

        A transient error is retried soon; a request refused twice in a row (400,
        a malformed body) only daily, with a repair issue: repeating it cannot help.
        """
        refusals = 0
        while True:
            try:
                await self._async_import_window(ean, mandate, window)
            except FluviusAuthenticationError:
                LOGGER.warning("History import of EAN %s paused: credentials refused", ean)
                async_update_credentials_issue(self._hass, self._entry, refused=True)
                self._entry.async_start_reauth(self._hass)
                return False
            except (FluviusForbiddenError, FluviusNoAccessError) as err:
                LOGGER.warning("History import of EAN %s stopped: %s", ean, err)
                return False
            except FluviusError as err:
                refusals = refusals + 1 if isinstance(err, PERMANENT_ERRORS) else 0
                permanent = refusals >= REFUSALS_FOR_GOOD
                delay = PERMANENT_RETRY if permanent else RETRY_DELAY
                if permanent:
                    self.refused[ean] = str(err)
                    self.on_refused()
                LOGGER.warning(
                    "History window %s of EAN %s failed (%s); retrying in %s",
                    local_day(window[0]),
                    ean,
                    err,
                    delay,
                )
                await asyncio.sleep(delay.total_seconds())
            else:
                if self.refused.pop(ean, None) is not None:
                    self.on_refused()
                return True

    async def _async_import_history(self, ean: str, mandate: Mandate) -> None:
        state = self.state(ean)
        cursor, history_to = self._plan_history(state, mandate)
        await self.async_save()
        # The progress sensor shows a (re)started import before its first window.
        self.on_change()
        windows = history_windows(cursor, history_to)
        LOGGER.info(
            "Importing history of EAN %s from %s to %s in %d window(s)",
            ean,
            cursor.isoformat(),
            history_to.isoformat(),
            len(windows),
        )
        for window_start, window_end in windows:
            if not await self._async_import_with_retries(ean, mandate, (window_start, window_end)):
                return
            state.cursor = window_end
            await self.async_save()
            self.on_change()
            LOGGER.info(
                "Imported history of EAN %s up to %s (%s%%)",
                ean,
                window_end.isoformat(),
                state.progress,
            )
        state.done = True
        await self.async_save()
        self.on_change()
        LOGGER.info("History import of EAN %s complete", ean)

    # Writing --------------------------------------------------------------------

    async def async_write_responses(
        self, ean: str, responses: Sequence[EnergyResponse]
    ) -> HourlyData:
        """Record the meter kind, aggregate responses (oldest first), update peaks, write rows."""
        await self.async_observe(ean, responses)
        data = await async_aggregate(self._hass, responses, include_reactive=self.include_reactive)
        return await self.async_write_data(ean, data)

    async def async_write_data(self, ean: str, data: HourlyData) -> HourlyData:
        """Update peaks and write aggregated rows."""
        if await self.peaks.async_add(ean, data.quarter_hours.get(SeriesKey.power(ean), {})):
            self.on_change()
        await self.writer.async_write(data)
        ids = {key.statistic_id for key in (*data.energy, *data.power)}
        state = self.state(ean)
        if ids - (state.statistic_ids or set()):
            state.statistic_ids = (state.statistic_ids or set()) | ids
            # (An id lost to a crash comes back with the statistic's next write.)
            self.async_schedule_save()
        return data

    def history_done(self, ean: str) -> bool:
        """Whether polls may write statistics for this EAN."""
        return self.state(ean).done

    # Purge and clear ------------------------------------------------------------

    async def async_apply_data_period(self, ean: str, mandate: Mandate) -> datetime | None:
        """Delete rows after a data period end that moved back; return the cut, if any."""
        state = self.state(ean)
        new_end = mandate.data_period_to
        previous = state.data_period_to
        state.data_period_to = new_end
        cut: datetime | None = None
        if (
            new_end is not None
            and new_end < dt_util.utcnow()
            and (previous is None or new_end < previous)
            # An EAN seen for the first time has nothing imported that could be cut.
            and state.history_from is not None
        ):
            cut = new_end
            if state.statistic_ids:
                LOGGER.warning(
                    "Data period of EAN %s now ends %s: deleting statistics after it",
                    ean,
                    new_end.isoformat(),
                )
                await self.writer.async_delete_from(sorted(state.statistic_ids), new_end)
            await self.peaks.async_delete_from(ean, new_end)
            # The peak sensors follow the cut at once.
            self.on_change()
            if state.history_to is not None and state.history_to > new_end:
                state.history_to = new_end
                if state.cursor is not None and state.cursor > new_end:
                    state.cursor = new_end
        await self.async_save()
        return cut

    async def async_clear(self, eans: Iterable[str]) -> list[str]:
        """Remove the statistics of the EANs and reset their import state."""
        targets = set(eans)
        cleared: list[str] = []
        for ean in targets:
            task = self._tasks.pop(ean, None)
            if task is not None:
                task.cancel()
            state = self.states.pop(ean, None)
            if state is not None and state.statistic_ids:
                cleared.extend(sorted(state.statistic_ids))
            if state is not None and state.meter_kind is not None:
                # The meter stays what it is: its device keeps its model.
                self.states[ean] = EanImportState(meter_kind=state.meter_kind)
        if cleared:
            await self.writer.async_clear(cleared)
        await self.peaks.async_clear(targets)
        await self.async_save()
        # The progress (and peak) sensors of the cleared EANs follow at once.
        self.on_change()
        return cleared

    async def async_shutdown(self) -> None:
        """Stop history tasks and write what a delayed save still holds.

        (The entry's background tasks are also cancelled by HA.) Writing now also
        keeps a late delayed write from overwriting what a reloaded entry stores.
        """
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        await self.async_save()
