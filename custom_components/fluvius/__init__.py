"""The Fluvius integration: metering data of the Fluvius API for professional grid users."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import Mandate
from .const import CONF_REQUEST_BUDGET, DEFAULT_REQUEST_BUDGET, DOMAIN, MAX_CONCURRENT_REQUESTS
from .coordinator import FluviusMandatesCoordinator
from .devices import async_remove_entry_device, async_root_device, device_ean
from .entry_client import client_for_entry
from .history import HistoryImport
from .import_state import ImportStates, import_state_store
from .importer import StatisticsImporter
from .limiter import RequestLimiter
from .naming import SiteNames, site_names
from .ownership import async_release_entry
from .peak_tracker import PeakTracker, peak_storage
from .polling import FluviusEnergyCoordinator
from .refusals import RefusedRequests
from .repairs import (
    async_clear_data_period_cut,
    async_delete_entry_issues,
    async_update_data_period_cuts,
    async_update_mandate_issues,
)
from .runtime import FluviusConfigEntry, FluviusRuntimeData
from .services import async_setup_services
from .tariffs import SUBENTRY_TARIFF, TariffBook, parse_tariff

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whatever the number of entries."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: FluviusConfigEntry) -> bool:
    """Fetch mandates, start the history import in the background and set up entities."""
    entry.runtime_data = data = await _async_build_runtime(hass, entry)
    await data.mandates.async_config_entry_first_refresh()
    # Purges wait for the recorder, which only commits once Home Assistant has
    # started: applying mandates must never hold up the entry's setup.
    entry.async_create_background_task(
        hass, _async_apply_mandates(hass, entry), "fluvius apply mandates"
    )
    await data.energy.async_config_entry_first_refresh()

    async def _async_on_mandates() -> None:
        await _async_apply_mandates(hass, entry)
        await data.energy.async_request_refresh()

    @callback
    def _on_mandates() -> None:
        entry.async_create_background_task(hass, _async_on_mandates(), "fluvius apply mandates")

    entry.async_on_unload(data.mandates.async_add_listener(_on_mandates))
    # Stored state (import progress, peaks) shows through the energy entities.
    entry.async_on_unload(data.importer.async_add_listener(data.energy.async_update_listeners))
    entry.async_on_unload(data.mandates.async_listen_for_released())
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    # Unload callbacks run last-added first: imports stop before the state is saved.
    entry.async_on_unload(data.importer.async_shutdown)
    entry.async_on_unload(data.history.async_stop_all)
    entry.async_on_unload(data.peaks.async_flush)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_build_runtime(
    hass: HomeAssistant, entry: FluviusConfigEntry
) -> FluviusRuntimeData:
    """Create what the entry owns, each part given what it uses."""
    client = client_for_entry(
        async_get_clientsession(hass), entry.data, run_in_executor=hass.async_add_executor_job
    )
    peaks = PeakTracker(hass, entry.entry_id)
    await peaks.async_load()
    states = ImportStates(hass, entry.entry_id)
    await states.async_load()
    mandates = FluviusMandatesCoordinator(hass, entry, client)
    sites = SiteNames(lambda: entry.options, lambda: mandates.data.by_ean if mandates.data else {})
    importer = StatisticsImporter(hass, entry, states, peaks, sites, tariffs=_entry_tariffs(entry))
    per_hour = int(entry.options.get(CONF_REQUEST_BUDGET, DEFAULT_REQUEST_BUDGET))
    limiter = RequestLimiter(per_hour, hass.loop.time, MAX_CONCURRENT_REQUESTS)
    refusals = RefusedRequests(hass, entry)
    energy = FluviusEnergyCoordinator(
        hass, entry, client, mandates, importer, limiter=limiter, refusals=refusals
    )
    history = HistoryImport(hass, entry, client, importer, limiter=limiter, refusals=refusals)
    return FluviusRuntimeData(
        client, mandates, energy, importer, history, limiter, peaks, site_names(entry.options)
    )


def _entry_tariffs(entry: ConfigEntry) -> TariffBook:
    """The tariffs of the entry's subentries."""
    return TariffBook(
        parse_tariff(subentry.subentry_id, subentry.title, subentry.data)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_TARIFF
    )


async def _async_options_updated(hass: HomeAssistant, entry: FluviusConfigEntry) -> None:
    """Options apply without a reload, except site names, which name the devices, and tariffs.

    The request budget is the one option kept in memory. Devices take their names
    from the entities' device info when they are added: a reload renames them, and
    the set-up that follows renames the statistics.
    """
    data = entry.runtime_data
    if (
        site_names(entry.options) != data.site_names
        or _entry_tariffs(entry).fingerprints() != data.importer.tariffs.fingerprints()
    ):
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    per_hour = int(entry.options.get(CONF_REQUEST_BUDGET, DEFAULT_REQUEST_BUDGET))
    data.limiter.budget.set_rate(per_hour)


async def _async_apply_mandates(hass: HomeAssistant, entry: FluviusConfigEntry) -> None:
    """Purge cut-back periods, start history imports, sync repairs and stale devices."""
    data = entry.runtime_data
    by_ean = data.mandates.data.by_ean
    cuts = {}
    for ean, mandate in by_ean.items():
        cut = await data.importer.async_apply_data_period(ean, mandate)
        if cut is not None:
            cuts[ean] = cut
        elif data.importer.states.history_done(ean):
            async_clear_data_period_cut(hass, entry, ean)
        data.history.async_start(ean, mandate)
        _async_reprice_if_changed(entry, ean, mandate)
    async_update_mandate_issues(
        hass, entry, data.mandates.data.mandates, data.mandates.data.foreign
    )
    async_update_data_period_cuts(hass, entry, by_ean, cuts)
    _async_remove_stale_devices(hass, entry, set(by_ean))
    await data.importer.async_sync_names(by_ean)


@callback
def _async_reprice_if_changed(entry: FluviusConfigEntry, ean: str, mandate: Mandate) -> None:
    """A tariff added, changed or removed: price the EAN's history again from its moment on.

    The tariff's "re-price from" day sets that moment; without one, the whole
    history is priced again. An EAN whose import has not started prices as it goes.
    """
    data = entry.runtime_data
    tariff = data.importer.tariffs.of(ean)
    fingerprint = None if tariff is None else tariff.fingerprint
    state = data.importer.states.ensure(ean)
    if state.tariff == fingerprint:
        return
    state.tariff = fingerprint
    data.importer.states.async_schedule_save()
    if tariff is None or state.history_from is None:
        return
    start = tariff.reprice_start or state.history_from
    data.history.async_reprice(ean, mandate, max(start, state.history_from))


@callback
def _async_remove_stale_devices(
    hass: HomeAssistant, entry: FluviusConfigEntry, eans: set[str]
) -> None:
    """Devices of EANs whose mandate disappeared go away (submeters follow their parent)."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        ean = device_ean(async_root_device(hass, device))
        if ean is not None and ean not in eans:
            async_remove_entry_device(hass, entry.entry_id, device)


async def async_unload_entry(hass: HomeAssistant, entry: FluviusConfigEntry) -> bool:
    """Unload platforms; background imports are cancelled with the entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Forget the import state, recent peaks, EAN claims and repairs; the statistics stay.

    Entries waiting for the EANs it owned take them over (see ownership.py).
    """
    await import_state_store(hass, entry.entry_id).async_remove()
    await peak_storage(hass, entry.entry_id).async_remove()
    await async_release_entry(hass, entry.entry_id)
    async_delete_entry_issues(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: FluviusConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing a device only when its EAN (a submeter's: its main EAN) has no mandate."""
    eans = set(entry.runtime_data.mandates.data.by_ean)
    return device_ean(async_root_device(hass, device)) not in eans
