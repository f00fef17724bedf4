"""Where every energy answer is stored: meter kind, hourly statistics, monthly peaks.

Polls and the history import hand their answers here; purges (a data period
cut back) and clears (an action) remove what was stored. Entities that show
stored state (import progress, peaks) listen here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .aggregation import HourlyData, QuarterHours
from .api import EnergyResponse, Mandate
from .const import CONF_IMPORT_REACTIVE, LOGGER
from .costs import CostWriter
from .devices import async_update_meter_model
from .import_state import EanImportState, ImportStates
from .meters import observed_kind
from .naming import SiteNames
from .peak_tracker import PeakTracker
from .repairs import async_clear_data_period_cut
from .series import SeriesKey
from .statistics import StatisticsWriter, async_aggregate
from .tariffs import TariffBook


class StatisticsImporter:
    """Owns the statistics, peaks and import states of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        states: ImportStates,
        peaks: PeakTracker,
        sites: SiteNames,
        *,
        tariffs: TariffBook,
    ) -> None:
        """``states`` and ``peaks`` come loaded; ``sites`` names what is written."""
        self._hass = hass
        self._entry = entry
        self.states = states
        self.peaks = peaks
        self.sites = sites
        self.tariffs = tariffs
        self.writer = StatisticsWriter(hass)
        self.costs = CostWriter(hass, self.writer, states, lambda: self.tariffs)
        self._listeners: list[Callable[[], None]] = []

    @callback
    def async_add_listener(self, update: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``update`` when stored state changes (a window, a peak, a purge)."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    @callback
    def async_notify(self) -> None:
        """Stored state changed: entities that show it follow."""
        for update in list(self._listeners):
            update()

    @property
    def include_reactive(self) -> bool:
        """Whether reactive energy is imported (option)."""
        return bool(self._entry.options.get(CONF_IMPORT_REACTIVE, False))

    async def async_observe(self, ean: str, responses: Sequence[EnergyResponse]) -> bool:
        """Record the meter kind the responses show; True (and soon saved) when it changed."""
        kind = observed_kind(responses)
        if kind is None or kind == self.states.meter_kind(ean):
            return False
        self.states.ensure(ean).meter_kind = kind
        self.states.async_schedule_save()
        async_update_meter_model(self._hass, self._entry.entry_id, ean, kind)
        return True

    # Writing --------------------------------------------------------------------

    @callback
    def async_store_poll(
        self, ean: str, responses: Sequence[EnergyResponse], polled_at: datetime
    ) -> None:
        """Store a poll's answers in the background.

        Writes wait for the recorder's commit, which only happens once Home
        Assistant has started, so a poll (and the entry's setup) never waits for
        them. The poll counts as done for insertTime only once its rows are stored.
        """
        self._entry.async_create_background_task(
            self._hass,
            self._async_store_poll(ean, responses, polled_at),
            f"fluvius statistics update {ean}",
        )

    async def _async_store_poll(
        self, ean: str, responses: Sequence[EnergyResponse], polled_at: datetime
    ) -> None:
        await self.async_write_responses(ean, responses)
        self.states.ensure(ean).last_poll = polled_at
        self.states.async_schedule_save()
        # A data period cut back earlier: the notice has served once data flow again.
        async_clear_data_period_cut(self._hass, self._entry, ean)

    async def async_write_responses(
        self, ean: str, responses: Sequence[EnergyResponse]
    ) -> HourlyData:
        """Record the meter kind, aggregate responses (oldest first), update peaks, write rows."""
        await self.async_observe(ean, responses)
        tariff = self.tariffs.of(ean)
        data = await async_aggregate(
            self._hass,
            responses,
            include_reactive=self.include_reactive,
            # Only a dynamic price needs the quarter-hours: a fixed one prices the hour.
            keep_quarters=tariff is not None and tariff.is_dynamic,
        )
        return await self.async_write_data(ean, data)

    async def async_write_data(self, ean: str, data: HourlyData) -> HourlyData:
        """Update peaks and write aggregated rows."""
        quarters = data.quarter_hours.get(SeriesKey.power(ean), QuarterHours())
        if await self.peaks.async_add(ean, quarters):
            self.async_notify()
        site = self.sites.site(ean)
        changed = await self.writer.async_write(data, site)
        ids = {key.statistic_id for key in (*data.energy, *data.power)}
        # The capacity cost follows the peaks: new power rows, or a re-pricing read.
        peaks_due = SeriesKey.power(ean).statistic_id in changed or not self.states.history_done(
            ean
        )
        ids |= await self.costs.async_write(ean, data, site, peaks_due=peaks_due)
        state = self.states.ensure(ean)
        if ids - (state.statistic_ids or set()):
            state.statistic_ids = (state.statistic_ids or set()) | ids
            # (An id lost to a crash comes back with the statistic's next write.)
            self.states.async_schedule_save()
        return data

    async def async_sync_names(self, eans: Iterable[str]) -> None:
        """Rename the stored statistics of the EANs after their sites (ids stay)."""
        sites = {
            statistic_id: site
            for site in map(self.sites.site, eans)
            for statistic_id in self.states.statistic_ids(site.ean)
        }
        if sites:
            renamed = await self.writer.async_rename(sites)
            if renamed:
                LOGGER.debug("Renamed %d statistics after their sites", len(renamed))

    # Purge and clear ------------------------------------------------------------

    async def async_apply_data_period(self, ean: str, mandate: Mandate) -> datetime | None:
        """Delete rows after a data period end that moved back; return the cut, if any."""
        state = self.states.ensure(ean)
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
                await self.costs.async_after_cut(ean, new_end, self.sites.site(ean))
            await self.peaks.async_delete_from(ean, new_end)
            # The peak sensors follow the cut at once.
            self.async_notify()
            if state.history_to is not None and state.history_to > new_end:
                state.history_to = new_end
                if state.cursor is not None and state.cursor > new_end:
                    state.cursor = new_end
        await self.states.async_save()
        return cut

    async def async_clear(self, eans: Iterable[str]) -> list[str]:
        """Remove the statistics of the EANs and reset their import state."""
        targets = set(eans)
        cleared: list[str] = []
        for ean in targets:
            state = self.states.by_ean.pop(ean, None)
            if state is not None and state.statistic_ids:
                cleared.extend(sorted(state.statistic_ids))
            if state is not None and (state.meter_kind is not None or state.tariff is not None):
                # The meter stays what it is (its device keeps its model), and the
                # import that follows prices with the tariff it has.
                self.states.by_ean[ean] = EanImportState(
                    meter_kind=state.meter_kind, tariff=state.tariff
                )
        if cleared:
            await self.writer.async_clear(cleared)
        await self.peaks.async_clear(targets)
        await self.states.async_save()
        # The progress (and peak) sensors of the cleared EANs follow at once.
        self.async_notify()
        return cleared

    async def async_shutdown(self) -> None:
        """Write what a delayed save still holds.

        Writing now also keeps a late delayed write from overwriting what a
        reloaded entry stores.
        """
        await self.states.async_save()
