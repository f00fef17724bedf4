"""The one notification of a first use: the history is in, and where to look at it.

With data arriving 1 to 72 hours late, the Energy dashboard opens on an empty
today; the notice says to pick yesterday and links to the Energy settings.
Home Assistant has no translation category for notifications: the texts live
with the integration's other translated messages, under ``exceptions``.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN
from .timeutil import local_day

_KEYS = ("history_imported_title", "history_imported")


def notification_id(entry: ConfigEntry) -> str:
    """One notice per entry: a later import replaces it instead of adding one."""
    return f"{DOMAIN}_{entry.entry_id}_history_imported"


async def async_notify_history_imported(
    hass: HomeAssistant, entry: ConfigEntry, meters: int, since: datetime
) -> None:
    """Say how many meters' history was imported, from when, and where to see it."""
    strings = await async_get_translations(hass, hass.config.language, "exceptions", {DOMAIN})
    title, message = (
        strings.get(f"component.{DOMAIN}.exceptions.{key}.message", key) for key in _KEYS
    )
    placeholders = {
        "meters": str(meters),
        "since": local_day(since).isoformat(),
        "energy_settings": "/config/energy",
        "entry": entry.title,
    }
    persistent_notification.async_create(
        hass,
        message.format(**placeholders),
        title=title.format(**placeholders),
        notification_id=notification_id(entry),
    )
