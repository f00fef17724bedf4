"""Data update coordinators: mandates (every few hours) and energy (hourly)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import random
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .aggregation import combined_state, unit_id
from .api import (
    EnergyResponse,
    FluviusAuthenticationError,
    FluviusClient,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    Mandate,
    MandateStatus,
    PeriodType,
    Reading,
    Resolution,
    SubHeadpoint,
)
from .const import (
    CONF_CORRECTION_DAYS,
    DEFAULT_CORRECTION_DAYS,
    DOMAIN,
    ENERGY_UPDATE_INTERVAL,
    ENERGY_UPDATE_JITTER,
    INSERT_TIME_OVERLAP,
    LOGGER,
    MANDATES_UPDATE_INTERVAL,
)
from .importer import StatisticsImporter, granularities, local_day, local_midnight
from .ownership import async_claim
from .peak import FINAL_VALIDATION_STATES
from .repairs import async_update_credentials_issue, async_update_forbidden_issues

if TYPE_CHECKING:
    from . import FluviusConfigEntry

# insertTime queries reach at most about six months back.
MAX_INSERT_WINDOW = timedelta(days=180)
TRACKED_STATUSES = frozenset({MandateStatus.APPROVED, MandateStatus.FINISHED})


@dataclass(frozen=True, slots=True)
class MandatesData:
    """All mandates, and the one mandate per EAN whose data we read."""

    mandates: tuple[Mandate, ...]
    by_ean: dict[str, Mandate]
    # EANs another entry owns (EAN -> its entry id): left out of by_ean, never imported.
    foreign: dict[str, str] = field(default_factory=dict)


def pick_mandates(mandates: Iterable[Mandate]) -> dict[str, Mandate]:
    """One mandate per EAN: Approved before Finished, then the latest data period."""
    chosen: dict[str, Mandate] = {}
    for mandate in mandates:
        if mandate.ean is None or mandate.status not in TRACKED_STATUSES:
            continue
        current = chosen.get(mandate.ean)
        if current is None or _rank(mandate) > _rank(current):
            chosen[mandate.ean] = mandate
    return chosen


def _rank(mandate: Mandate) -> tuple[bool, datetime]:
    end = mandate.data_period_to or datetime.max.replace(tzinfo=dt_util.UTC)
    return (mandate.status == MandateStatus.APPROVED, end)


class FluviusMandatesCoordinator(DataUpdateCoordinator[MandatesData]):
    """Polls GET mandates; mandates drive devices, repairs and purges."""

    config_entry: FluviusConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: FluviusConfigEntry, client: FluviusClient
    ) -> None:
        """Poll every few hours: access changes are rare."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} mandates",
            update_interval=MANDATES_UPDATE_INTERVAL,
        )
        self.client = client

    async def _async_update_data(self) -> MandatesData:
        try:
            mandates = await self.client.get_mandates()
        except FluviusAuthenticationError as err:
            async_update_credentials_issue(self.hass, self.config_entry, refused=True)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except FluviusError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        async_update_credentials_issue(self.hass, self.config_entry, refused=False)
        picked = pick_mandates(mandates)
        foreign = await async_claim(self.hass, self.config_entry, picked)
        by_ean = {ean: mandate for ean, mandate in picked.items() if ean not in foreign}
        return MandatesData(tuple(mandates), by_ean, foreign)


@dataclass(frozen=True, slots=True)
class PeriodValue:
    """A value with the period it belongs to (data arrive late: never 'now')."""

    value: float
    start: datetime
    end: datetime
    validation_state: str | None
    gas_conversion_factor: str | None


type ValueKey = tuple[str, str, str, str]
"""(ean or sub-EAN, direction, register, unit id) of a value."""


@dataclass(slots=True)
class EanSnapshot:
    """What the sensors of one EAN show after a poll."""

    last_day: dict[ValueKey, PeriodValue] = field(default_factory=dict)
    last_interval: dict[ValueKey, PeriodValue] = field(default_factory=dict)
    newest_measurement: datetime | None = None
    estimated_share: float | None = None
    submeters: tuple[SubHeadpoint, ...] = ()


def value_key(reading: Reading) -> ValueKey | None:
    """Key of a reading for sensors, or None for units we do not show."""
    unit = unit_id(reading.unit)
    if unit is None:
        return None
    return (reading.sub_ean or reading.ean, str(reading.direction), str(reading.register), unit)


def build_snapshot(responses: Iterable[EnergyResponse]) -> EanSnapshot:
    """Summarise the trailing window: last day, last interval, data quality."""
    snapshot = EanSnapshot()
    fine: list[Reading] = []
    for response in responses:
        if response.headpoint is not None and response.headpoint.sub_headpoints:
            snapshot.submeters = response.headpoint.sub_headpoints
        for reading in response.readings():
            key = value_key(reading)
            if key is None or reading.value is None:
                continue
            value = PeriodValue(
                reading.value,
                reading.start,
                reading.end,
                None if reading.validation_state is None else str(reading.validation_state),
                None
                if reading.gas_conversion_factor is None
                else str(reading.gas_conversion_factor),
            )
            target = (
                snapshot.last_day
                if reading.resolution is Resolution.DAILY
                else snapshot.last_interval
            )
            if reading.resolution is not Resolution.DAILY:
                fine.append(reading)
            current = target.get(key)
            if current is None or current.start <= reading.start:
                target[key] = value
            if snapshot.newest_measurement is None or reading.end > snapshot.newest_measurement:
                snapshot.newest_measurement = reading.end
    _add_day_totals(snapshot.last_day)
    snapshot.estimated_share = _estimated_share(snapshot, fine)
    return snapshot


def _add_day_totals(values: dict[ValueKey, PeriodValue]) -> None:
    """Where a day is reported only as day and night registers, add their sum as the total.

    The same rule as the statistics: one value per day for users who do not
    care about the tariff registers.
    """
    for (meter, direction, register, unit), day in list(values.items()):
        if register != "day" or (meter, direction, "total", unit) in values:
            continue
        night = values.get((meter, direction, "night", unit))
        if night is None or night.start != day.start:
            continue
        state = combined_state((day.validation_state, night.validation_state))
        values[(meter, direction, "total", unit)] = PeriodValue(
            day.value + night.value, day.start, day.end, state, None
        )


def _estimated_share(snapshot: EanSnapshot, fine: list[Reading]) -> float | None:
    """Share (percent) of the last day's values that are not READ/VAL.

    The day's quarter-hours (or hours) count where the access has them; with
    daily access only, the day's own values count.
    """
    states: list[str | None]
    if snapshot.last_day:
        day = max(value.start for value in snapshot.last_day.values())
        day_values = [v for v in snapshot.last_day.values() if v.start == day]
        day_end = max(v.end for v in day_values)
        states = [str(r.validation_state) for r in fine if day <= r.start < day_end]
        if not states:
            states = [v.validation_state for v in day_values]
    elif fine:
        day_start = local_midnight(local_day(max(r.start for r in fine)))
        states = [str(r.validation_state) for r in fine if r.start >= day_start]
    else:
        return None
    if not states:
        return None
    estimated = sum(1 for state in states if state not in FINAL_VALIDATION_STATES)
    return round(100 * estimated / len(states), 1)


class FluviusEnergyCoordinator(DataUpdateCoordinator[dict[str, EanSnapshot]]):
    """Polls the newest energy per EAN and feeds sensors and statistics."""

    config_entry: FluviusConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: FluviusConfigEntry,
        client: FluviusClient,
        mandates: FluviusMandatesCoordinator,
        importer: StatisticsImporter,
    ) -> None:
        """Hourly with a little jitter, so many installations do not poll in step."""
        jitter = random.uniform(0, ENERGY_UPDATE_JITTER.total_seconds())  # noqa: S311
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} energy",
            update_interval=ENERGY_UPDATE_INTERVAL + timedelta(seconds=jitter),
        )
        self.client = client
        self.mandates = mandates
        self.importer = importer
        # The history import holds the same slots: one limit for every energy request.
        self._semaphore = importer.request_slots
        # EAN -> translation key of the error that made it unavailable.
        self.ean_errors: dict[str, str] = {}
        self.last_errors: dict[str, str] = {}

    @property
    def correction_days(self) -> int:
        """Days re-read on every poll so corrections replace old hours."""
        return int(self.config_entry.options.get(CONF_CORRECTION_DAYS, DEFAULT_CORRECTION_DAYS))

    async def _async_update_data(self) -> dict[str, EanSnapshot]:
        mandates = self.mandates.data.by_ean if self.mandates.data else {}
        now = dt_util.utcnow()
        eans = sorted(mandates)
        results = await asyncio.gather(
            *(self._async_poll_ean(ean, mandates[ean], now) for ean in eans),
            return_exceptions=True,
        )
        snapshots: dict[str, EanSnapshot] = {}
        transient: list[tuple[str, BaseException]] = []
        for ean, result in zip(eans, results, strict=True):
            if isinstance(result, FluviusAuthenticationError):
                async_update_credentials_issue(self.hass, self.config_entry, refused=True)
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key="auth_failed"
                ) from result
            if isinstance(result, (FluviusForbiddenError, FluviusNoAccessError)):
                kind = "forbidden" if isinstance(result, FluviusForbiddenError) else "no_access"
                if self.ean_errors.get(ean) != kind:
                    LOGGER.warning("EAN %s is unavailable: %s", ean, result)
                self.ean_errors[ean] = kind
                self.last_errors[ean] = str(result)
                continue
            if isinstance(result, BaseException):
                if not isinstance(result, FluviusError):
                    raise result
                transient.append((ean, result))
                self.last_errors[ean] = str(result)
                if self.data and ean in self.data:
                    snapshots[ean] = self.data[ean]
                continue
            if ean in self.ean_errors:
                LOGGER.info("EAN %s is available again", ean)
                del self.ean_errors[ean]
            snapshots[ean] = result
        if transient and len(transient) == len(eans):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(transient[0][1])},
            )
        async_update_forbidden_issues(
            self.hass,
            self.config_entry,
            {ean for ean, kind in self.ean_errors.items() if kind == "forbidden"},
        )
        # A month that just closed may now count as complete.
        await self.importer.peaks.async_refresh()
        return snapshots

    async def _async_poll_ean(self, ean: str, mandate: Mandate, now: datetime) -> EanSnapshot:
        """Trailing readTime window (every granularity) for sensors and corrections.

        The insertTime window since the last poll catches late data older than that.
        """
        start = local_midnight(local_day(now) - timedelta(days=self.correction_days))
        end = now
        if mandate.data_period_from is not None:
            start = max(start, mandate.data_period_from)
        if mandate.data_period_to is not None:
            end = min(end, mandate.data_period_to)
        state = self.importer.state(ean)
        responses: list[EnergyResponse] = []
        async with self._semaphore:
            if start < end:
                responses.append(
                    await self.client.get_energy(
                        ean,
                        start=start,
                        end=end,
                        complex_energy_types=self.importer.complex_types(ean, mandate),
                    )
                )
            late: list[EnergyResponse] = []
            if state.last_poll is not None and self.importer.history_done(ean):
                insert_from = max(state.last_poll - INSERT_TIME_OVERLAP, now - MAX_INSERT_WINDOW)
                if insert_from < now:
                    late.append(
                        await self.client.get_energy(
                            ean,
                            start=insert_from,
                            end=now,
                            period_type=PeriodType.INSERT_TIME,
                            granularity=granularities(mandate),
                            complex_energy_types=self.importer.complex_types(ean, mandate),
                        )
                    )
        if self.importer.history_done(ean):
            # Late data first, then the trailing window, so the newest versions win.
            self.config_entry.async_create_background_task(
                self.hass,
                self._async_write_statistics(ean, [*late, *responses], now),
                f"fluvius statistics update {ean}",
            )
        return await self.hass.async_add_executor_job(build_snapshot, responses)

    async def _async_write_statistics(
        self, ean: str, responses: list[EnergyResponse], polled_at: datetime
    ) -> None:
        """Write a poll's rows in the background.

        Writes wait for the recorder's commit, which only happens once Home
        Assistant has started, so a poll (and the entry's setup) never waits for
        them. The poll counts as done for insertTime only once its rows are stored.
        """
        await self.importer.async_write_responses(ean, responses)
        self.importer.state(ean).last_poll = polled_at
        await self.importer.async_save()
