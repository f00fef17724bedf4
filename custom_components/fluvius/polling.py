"""The energy coordinator: every EAN polled once an interval, at its own minute, within a budget.

A poll asks insertTime for what was processed since the last one: one call,
often answered with nothing, since data arrive once a day. readTime is used
only where insertTime cannot do the job: the first poll after a start (the
sensors' recent days), days that insertTime delivered in part (a lone
correction, see ``late_data``), and a gap longer than insertTime reaches.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
import zlib

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    EnergyResponse,
    FluviusAuthenticationError,
    FluviusClient,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    Granularity,
    Mandate,
    PeriodType,
    split_windows,
)
from .const import (
    CONF_CORRECTION_DAYS,
    DEFAULT_CORRECTION_DAYS,
    DOMAIN,
    ENERGY_UPDATE_INTERVAL,
    INSERT_TIME_OVERLAP,
    LOGGER,
    POLL_TICK,
    UNAVAILABLE_AFTER_FAILURES,
)
from .coordinator import FluviusMandatesCoordinator, credentials_refused
from .importer import StatisticsImporter
from .late_data import Block, contiguous, partial_blocks, without_blocks
from .limiter import RequestLimiter
from .queries import complex_types, granularities
from .refusals import PERMANENT_RETRY, RefusedRequests, RequestKind
from .repairs import async_update_forbidden_issues
from .snapshot import EanSnapshot, build_snapshot, merge_snapshots
from .timeutil import local_day, local_midnight

# Home Assistant wakes a coordinator up to a second early: EANs due that soon are due.
WAKE_MARGIN = timedelta(seconds=2)
MIN_WAKE = timedelta(seconds=10)
# insertTime queries reach at most about six months back.
MAX_INSERT_WINDOW = timedelta(days=180)
# Data arrive at most 72 hours late: after a longer gap, readTime starts this much earlier.
MAX_DELAY = timedelta(days=3)


@dataclass(slots=True)
class PollPlan:
    """The calls of one EAN's poll."""

    read_from: datetime | None
    insert_from: datetime | None
    end: datetime

    @property
    def calls(self) -> int:
        """Energy calls the plan makes, before any re-read."""
        reads = 0 if self.read_from is None else len(split_windows(self.read_from, self.end))
        return reads + (self.insert_from is not None)


@dataclass(slots=True)
class Poll:
    """What one EAN's poll brought: the sensors' new values, and the answers to store.

    ``to_store`` is None while the history import still runs: it stores everything.
    """

    snapshot: EanSnapshot
    to_store: list[EnergyResponse] | None


def poll_phase(ean: str) -> float:
    """Seconds into every interval at which an EAN is polled: spread, and stable."""
    return zlib.crc32(ean.encode()) % int(ENERGY_UPDATE_INTERVAL.total_seconds())


def next_poll(phase: float, after: datetime) -> datetime:
    """The first moment after ``after`` that lies ``phase`` seconds into an interval."""
    interval = ENERGY_UPDATE_INTERVAL.total_seconds()
    elapsed = (after.timestamp() - phase) % interval
    return after + timedelta(seconds=interval - elapsed)


class FluviusEnergyCoordinator(DataUpdateCoordinator[dict[str, EanSnapshot]]):
    """Polls the EANs that are due, keeps every EAN's sensors and feeds the statistics."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: FluviusClient,
        mandates: FluviusMandatesCoordinator,
        importer: StatisticsImporter,
        *,
        limiter: RequestLimiter,
        refusals: RefusedRequests,
    ) -> None:
        """Wake when the next EAN is due (at most a tick apart): each once per interval."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} energy",
            update_interval=POLL_TICK,
            always_update=False,
        )
        self.client = client
        self.mandates = mandates
        self.importer = importer
        self.limiter = limiter
        self.refusals = refusals
        # EAN -> why it is unavailable: forbidden, no_access or failing.
        self.ean_errors: dict[str, str] = {}
        self.last_errors: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        self.next_polls: dict[str, datetime] = {}
        # EAN -> the last successful poll: the sensors' insertTime cursor.
        self._polled: dict[str, datetime] = {}
        # EAN -> the days the last insertTime answer delivered in part, with their prints.
        self._partial_seen: dict[str, dict[Block, int]] = {}
        # Entities follow availability even when no value changed (always_update is off).
        self._availability_changed = False

    @property
    def correction_days(self) -> int:
        """Recent days read by readTime at start-up (later corrections come by insertTime)."""
        return int(self.config_entry.options.get(CONF_CORRECTION_DAYS, DEFAULT_CORRECTION_DAYS))

    def is_available(self, ean: str) -> bool:
        """Whether the EAN's entities show values: not refused, not failing for long."""
        return ean not in self.ean_errors

    def due(
        self, mandates: dict[str, Mandate], previous: dict[str, EanSnapshot], now: datetime
    ) -> dict[str, PollPlan]:
        """The EANs to poll now and their plans, oldest due first, as the tokens in hand pay.

        The others stay due for the next tick, so a large account's first polls
        spread out instead of holding up the entry's setup.
        """
        never = datetime.min.replace(tzinfo=dt_util.UTC)
        waiting = sorted(
            (self.next_polls.get(ean, never), ean)
            for ean in mandates
            if self.next_polls.get(ean, never) <= now + WAKE_MARGIN
        )
        room = self.limiter.budget.available()
        chosen: dict[str, PollPlan] = {}
        for _, ean in waiting:
            plan = self.plan(ean, mandates[ean], ean in previous, now)
            room -= plan.calls
            if room < 0 and chosen:
                break
            chosen[ean] = plan
        return chosen

    async def _async_update_data(self) -> dict[str, EanSnapshot]:
        mandates = self.mandates.data.by_ean if self.mandates.data else {}
        now = dt_util.utcnow()
        previous = self.data or {}
        due = self.due(mandates, previous, now)
        results = await asyncio.gather(
            *(self._async_poll_ean(ean, mandates[ean], plan, now) for ean, plan in due.items()),
            return_exceptions=True,
        )
        snapshots = {ean: snapshot for ean, snapshot in previous.items() if ean in mandates}
        for ean, result in zip(due, results, strict=True):
            if self._note_result(ean, result, now) and isinstance(result, Poll):
                snapshots[ean] = merge_snapshots(snapshots.get(ean), result.snapshot)
                # The hand-off: the answers go to the statistics, in the background.
                if result.to_store is not None:
                    self.importer.async_store_poll(ean, result.to_store, now)
        for ean in set(self.next_polls) - set(mandates):
            self._forget(ean)
        self.update_interval = self._until_next(mandates, now)
        async_update_forbidden_issues(
            self.hass,
            self.config_entry,
            {ean for ean, kind in self.ean_errors.items() if kind == "forbidden"},
        )
        self.refusals.async_sync_issues()
        # A month that just closed may now count as complete.
        await self.importer.peaks.async_refresh()
        if self._availability_changed:
            # Runs once this refresh has stored its data (nothing awaits in between).
            self._availability_changed = False
            self.hass.loop.call_soon(self.async_update_listeners)
        if mandates and all(self.failures.get(ean, 0) for ean in mandates):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": self.last_errors.get(min(mandates), "")},
            )
        return snapshots

    def _until_next(self, mandates: dict[str, Mandate], now: datetime) -> timedelta:
        """Wake when the next EAN is due, so each is polled on its minute, hour after hour.

        EANs still waiting for tokens are tried again soon; never longer than a tick.
        """
        never = datetime.min.replace(tzinfo=dt_util.UTC)
        upcoming = min((self.next_polls.get(ean, never) for ean in mandates), default=None)
        if upcoming is None:
            return POLL_TICK
        wait = max(upcoming - now, timedelta(0)) + WAKE_MARGIN
        return min(max(wait, MIN_WAKE), POLL_TICK)

    def _note_result(self, ean: str, result: Poll | BaseException, now: datetime) -> bool:
        """Count a poll's success or failure and schedule the EAN's next poll; True if it landed."""
        # (A poll woken a little early must not count the phase point just ahead.)
        self.next_polls[ean] = next_poll(poll_phase(ean), now + WAKE_MARGIN)
        if isinstance(result, FluviusAuthenticationError):
            raise credentials_refused(self.hass, self.config_entry) from result
        if isinstance(result, BaseException) and not isinstance(result, FluviusError):
            raise result
        if isinstance(result, FluviusError):
            self._note_failure(ean, result, now)
            return False
        self.failures.pop(ean, None)
        self.refusals.note_success(ean, RequestKind.POLL)
        self._polled[ean] = now
        self._set_available(ean, None)
        return True

    def _note_failure(self, ean: str, error: FluviusError, now: datetime) -> None:
        """Refused EANs go unavailable at once; others after a few failed polls."""
        self.last_errors[ean] = str(error)
        self.failures[ean] = self.failures.get(ean, 0) + 1
        if isinstance(error, FluviusForbiddenError):
            self._set_available(ean, "forbidden", error)
        elif isinstance(error, FluviusNoAccessError):
            self._set_available(ean, "no_access", error)
        elif self.failures[ean] >= UNAVAILABLE_AFTER_FAILURES:
            self._set_available(ean, "failing", error)
        if self.refusals.note_failure(ean, RequestKind.POLL, error):
            self.next_polls[ean] = now + PERMANENT_RETRY
            LOGGER.warning(
                "Energy request for EAN %s refused (%s); retrying in %s",
                ean,
                error,
                PERMANENT_RETRY,
            )

    def _set_available(self, ean: str, why: str | None, error: BaseException | None = None) -> None:
        """Log once when an EAN becomes unavailable and once when it is back."""
        was = self.ean_errors.get(ean)
        if why is None:
            if was is not None:
                LOGGER.info("EAN %s is available again", ean)
                del self.ean_errors[ean]
                self._availability_changed = True
            return
        if was is None:
            LOGGER.info("EAN %s is unavailable: %s", ean, error)
            self._availability_changed = True
        self.ean_errors[ean] = why

    def _forget(self, ean: str) -> None:
        """An EAN without mandate: nothing of its polls is kept."""
        for table in (self.failures, self.ean_errors, self.last_errors):
            table.pop(ean, None)
        self.refusals.forget(ean, RequestKind.POLL)
        self.next_polls.pop(ean, None)
        self._polled.pop(ean, None)
        self._partial_seen.pop(ean, None)

    def plan(self, ean: str, mandate: Mandate, seeded: bool, now: datetime) -> PollPlan:
        """What to ask: readTime after a start or a gap, insertTime since the last stored poll."""
        read_from = None
        if not seeded:
            read_from = local_midnight(local_day(now) - timedelta(days=self.correction_days))
        insert_from = None
        # The older of the statistics' cursor and the sensors' last poll.
        state = self.importer.states.get(ean)
        cursors = [None if state is None else state.last_poll, self._polled.get(ean)]
        cursor = min((moment for moment in cursors if moment is not None), default=None)
        if cursor is not None:
            insert_from = cursor - INSERT_TIME_OVERLAP
            if insert_from < now - MAX_INSERT_WINDOW:
                gap_from = local_midnight(local_day(cursor - MAX_DELAY))
                read_from = gap_from if read_from is None else min(read_from, gap_from)
                insert_from = now - MAX_INSERT_WINDOW
        if read_from is not None and not self.importer.states.history_done(ean):
            # The history import stores everything up to its start; the read serves the sensors.
            insert_from = None
        end = now if mandate.data_period_to is None else min(now, mandate.data_period_to)
        if read_from is not None and mandate.data_period_from is not None:
            read_from = max(read_from, mandate.data_period_from)
        if read_from is not None and read_from >= end:
            read_from = None
        return PollPlan(read_from, insert_from, end)

    async def _async_poll_ean(
        self, ean: str, mandate: Mandate, plan: PollPlan, now: datetime
    ) -> Poll:
        """Fetch what the plan says: what the sensors show, and what the statistics store."""
        reads: list[EnergyResponse] = []
        inserted: list[EnergyResponse] = []
        if plan.read_from is not None:
            reads.append(await self._async_fetch(ean, mandate, plan.read_from, plan.end))
        whole: list[EnergyResponse] = []
        if plan.insert_from is not None and plan.insert_from < now:
            answer = await self._async_fetch(
                ean, mandate, plan.insert_from, now, period_type=PeriodType.INSERT_TIME
            )
            inserted.append(answer)
            partial_days, rereads = await self._async_reread(ean, mandate, answer, plan.read_from)
            # Days delivered in part are stored from their re-read only: a lone
            # quarter-hour makes no complete hour, and its day's daily value would
            # be booked as a whole day on top of the stored hours.
            whole.append(without_blocks(answer, partial_days))
            reads += rereads
        responses = [*inserted, *reads]
        await self.importer.async_observe(ean, responses)
        snapshot = await self.hass.async_add_executor_job(build_snapshot, responses)
        # Until the history is in, the history import stores everything.
        to_store = [*whole, *reads] if self.importer.states.history_done(ean) else None
        return Poll(snapshot, to_store)

    async def _async_reread(
        self,
        ean: str,
        mandate: Mandate,
        answer: EnergyResponse,
        read_from: datetime | None,
    ) -> tuple[list[Block], list[EnergyResponse]]:
        """The days insertTime delivered in part, and their re-reads where still needed.

        Only for the statistics, so not before the history is in. A delivery
        that the previous, overlapping window brought already is not read twice.
        """
        if not self.importer.states.history_done(ean):
            return [], []
        fine = Granularity.HOURLY_QUARTERHOURLY in granularities(mandate)
        found = await self.hass.async_add_executor_job(
            partial(partial_blocks, answer, fine_access=fine)
        )
        seen = self._partial_seen.get(ean, {})
        blocks = [
            block
            for block, print_ in found.items()
            if seen.get(block) != print_ and (read_from is None or block[0] < read_from)
        ]
        reads = [
            await self._async_fetch(ean, mandate, start, end) for start, end in contiguous(blocks)
        ]
        self._partial_seen[ean] = found
        return list(found), reads

    async def _async_fetch(
        self,
        ean: str,
        mandate: Mandate,
        start: datetime,
        end: datetime,
        *,
        period_type: PeriodType = PeriodType.READ_TIME,
    ) -> EnergyResponse:
        """One energy query (one call per 185 days), paid from the budget, in a request slot."""
        kwargs: dict[str, Any] = {}
        if period_type is PeriodType.INSERT_TIME:
            kwargs["granularity"] = granularities(mandate)
        async with self.limiter.call(len(split_windows(start, end))):
            return await self.client.get_energy(
                ean,
                start=start,
                end=end,
                period_type=period_type,
                complex_energy_types=complex_types(
                    mandate, include_reactive=self.importer.include_reactive
                ),
                **kwargs,
            )
