"""Helpers to set up the integration against the simulator in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN
from fluvius_simulator import FluviusSimulator, RecordedRequest
from tests.conftest import entry_data

BRUSSELS = ZoneInfo("Europe/Brussels")


def make_entry(
    sim: FluviusSimulator,
    options: dict[str, Any] | None = None,
    subentries: list[ConfigSubentryData] | None = None,
) -> MockConfigEntry:
    """An entry for the simulator, with one month of history unless the options say more."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Fluvius custom",
        unique_id=f"custom_{sim.credentials.client_id}",
        data=entry_data(sim),
        options={CONF_HISTORY_MONTHS: 1, **(options or {})},
        subentries_data=subentries,
    )


async def setup_entry(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    *,
    options: dict[str, Any] | None = None,
    subentries: list[ConfigSubentryData] | None = None,
) -> MockConfigEntry:
    """Add and set up an entry for the simulator, then let the history import finish."""
    entry = make_entry(sim, options, subentries)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    return entry


async def settle(hass: HomeAssistant) -> None:
    """Wait for background imports and the recorder."""
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)


def local_midnight(day: date) -> datetime:
    """UTC instant at which the Brussels calendar day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(UTC)


def history_requests(sim: FluviusSimulator, ean: str) -> list[RecordedRequest]:
    """readTime requests with an explicit granularity: the history import's windows."""
    return [
        r
        for r in sim.requests
        if r.path.lower().endswith("/energy")
        and r.query.get("ean") == [ean]
        and r.query.get("periodType") == ["readTime"]
        and "granularity" in r.query
    ]


def device_of(hass: HomeAssistant, ean: str) -> dr.DeviceEntry | None:
    """The Fluvius device of an EAN or sub-EAN, looked up per entry as HA 2026.10+ wants."""
    registry = dr.async_get(hass)
    found = [
        device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, ean) in device.identifiers
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def children_of(hass: HomeAssistant, parent: dr.DeviceEntry) -> list[dr.DeviceEntry]:
    """The devices that hang under ``parent`` (via_device_id)."""
    registry = dr.async_get(hass)
    return [
        device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if device.via_device_id == parent.id
    ]


def enable_entities(hass: HomeAssistant, unique_ids: list[str], platform: str = "sensor") -> None:
    """Register entities as enabled before setup, as a user who enabled hidden ones has."""
    registry = er.async_get(hass)
    for unique_id in unique_ids:
        registry.async_get_or_create(platform, DOMAIN, unique_id)
