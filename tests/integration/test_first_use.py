"""First use: one notice once the history is in, saying where to look; none on restarts."""

from __future__ import annotations

from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_get_persistent_notifications

from custom_components.fluvius.notifications import notification_id
from fluvius_simulator import FluviusSimulator

from .helpers import settle, setup_entry
from .stored_import import setup_after_import

ELECTRICITY = "541440110000000000"
GAS = "541441010000000000"


async def test_one_notice_when_the_history_is_in(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(ELECTRICITY)
    simulator.add_mandate(GAS)
    entry = await setup_entry(hass, simulator)
    notices = async_get_persistent_notifications(hass)
    assert list(notices) == [notification_id(entry)]
    notice = notices[notification_id(entry)]
    assert notice["title"] == "Fluvius: history imported"
    assert "The history of 2 meter(s) of Fluvius custom is imported" in notice["message"]
    assert "pick **yesterday**" in notice["message"]
    assert "[Energy settings](/config/energy)" in notice["message"]

    # Dismissed, it does not come back when nothing new was imported.
    persistent_notification.async_dismiss(hass, notification_id(entry))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await settle(hass)
    assert async_get_persistent_notifications(hass) == {}


async def test_no_notice_after_a_restart_with_the_history_in(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(ELECTRICITY)
    await setup_after_import(hass, simulator, hass_storage, [ELECTRICITY])
    await settle(hass)
    assert async_get_persistent_notifications(hass) == {}
