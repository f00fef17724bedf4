"""Actions: create a sandbox mock mandate, re-import history, clear statistics."""

from __future__ import annotations

from datetime import date, datetime

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType

from .api import DataServiceType, FluviusError, MandateStatus, MockMandate, RenewalStatus
from .compat import vol
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_EAN,
    ATTR_FROM,
    CONF_ENVIRONMENT,
    DOMAIN,
    ENVIRONMENT_LIVE,
    SERVICE_CLEAR_STATISTICS,
    SERVICE_CREATE_MOCK_MANDATE,
    SERVICE_IMPORT_HISTORY,
)
from .runtime import FluviusConfigEntry
from .timeutil import local_midnight

_EAN = vol.All(cv.string, vol.Match(r"^\d{18}$"))

IMPORT_HISTORY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_EAN): _EAN,
        vol.Required(ATTR_FROM): cv.date,
    }
)
CLEAR_STATISTICS_SCHEMA = vol.Schema(
    {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string, vol.Optional(ATTR_EAN): _EAN}
)
CREATE_MOCK_MANDATE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_EAN): _EAN,
        vol.Required("status", default=MandateStatus.APPROVED.value): vol.In(
            [s.value for s in MandateStatus]
        ),
        vol.Optional("reference_number"): cv.string,
        vol.Optional("energy_type"): vol.In(["E", "G"]),
        vol.Optional("data_service_type"): vol.In([d.value for d in DataServiceType]),
        vol.Optional("data_period_from"): cv.datetime,
        vol.Optional("data_period_to"): cv.datetime,
        vol.Optional("mandate_expiration_date"): cv.datetime,
        vol.Optional("renewal_status"): vol.In(
            [RenewalStatus.TO_BE_RENEWED.value, RenewalStatus.RENEWAL_REQUESTED.value]
        ),
    }
)


def _loaded_entry(hass: HomeAssistant, call: ServiceCall) -> FluviusConfigEntry:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry_id": entry_id},
        )
    return entry


def _eans(entry: FluviusConfigEntry, call: ServiceCall) -> list[str]:
    known = entry.runtime_data.mandates.data.by_ean
    if (ean := call.data.get(ATTR_EAN)) is None:
        return sorted(known)
    if ean in entry.runtime_data.mandates.data.foreign:
        # Statistic ids are global: this entry must not touch the owner's statistics.
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="ean_owned_elsewhere",
            translation_placeholders={"ean": ean},
        )
    if ean not in known and ean not in entry.runtime_data.importer.states.by_ean:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_ean",
            translation_placeholders={"ean": ean},
        )
    return [ean]


def _as_utc(value: datetime | None) -> datetime | None:
    return None if value is None else dt_util.as_utc(value)


async def _async_import_history(call: ServiceCall) -> None:
    """Re-import the history of the entry's EANs (or one) from a day on."""
    entry = _loaded_entry(call.hass, call)
    start_day: date = call.data[ATTR_FROM]
    data = entry.runtime_data
    for ean in _eans(entry, call):
        mandate = data.mandates.data.by_ean.get(ean)
        if mandate is None:
            continue
        oldest = data.history.history_start(mandate, dt_util.utcnow())
        data.history.async_start(ean, mandate, start=max(local_midnight(start_day), oldest))


async def _async_clear_statistics(call: ServiceCall) -> ServiceResponse:
    """Stop the EANs' imports and remove their statistics; answer which ids went."""
    entry = _loaded_entry(call.hass, call)
    eans = _eans(entry, call)
    for ean in eans:
        entry.runtime_data.history.async_stop(ean)
    cleared = await entry.runtime_data.importer.async_clear(eans)
    return {"statistic_ids": list[JsonValueType](cleared)}


async def _async_create_mock_mandate(call: ServiceCall) -> ServiceResponse:
    """Ask the sandbox for a mock mandate, then read the mandates again."""
    entry = _loaded_entry(call.hass, call)
    if entry.data[CONF_ENVIRONMENT] == ENVIRONMENT_LIVE:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sandbox_only")
    try:
        status = await entry.runtime_data.client.create_mock_mandate(_mock_mandate(call))
    except FluviusError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="mock_mandate_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    await entry.runtime_data.mandates.async_request_refresh()
    return {"status": status}


def _mock_mandate(call: ServiceCall) -> MockMandate:
    return MockMandate(
        ean=call.data[ATTR_EAN],
        status=call.data["status"],
        reference_number=call.data.get("reference_number"),
        energy_type=call.data.get("energy_type"),
        data_service_type=call.data.get("data_service_type"),
        data_period_from=_as_utc(call.data.get("data_period_from")),
        data_period_to=_as_utc(call.data.get("data_period_to")),
        mandate_expiration_date=_as_utc(call.data.get("mandate_expiration_date")),
        renewal_status=call.data.get("renewal_status"),
    )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_IMPORT_HISTORY, _async_import_history, schema=IMPORT_HISTORY_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CLEAR_STATISTICS,
        _async_clear_statistics,
        schema=CLEAR_STATISTICS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_MOCK_MANDATE,
        _async_create_mock_mandate,
        schema=CREATE_MOCK_MANDATE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
