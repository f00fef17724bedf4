"""Options: the import settings page keeps the site names, and the reverse."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.fluvius.const import (
    CONF_CORRECTION_DAYS,
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    CONF_SITE_NAMES,
    DEFAULT_REQUEST_BUDGET,
)
from fluvius_simulator import FluviusSimulator

from .helpers import make_entry


async def test_settings_keep_the_site_names(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    entry = make_entry(simulator, {CONF_SITE_NAMES: {"541440110000000000": "Town hall"}})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert (result["type"], result["step_id"]) == (FlowResultType.MENU, "init")
    assert result["menu_options"] == ["settings", "site_names"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    assert result["step_id"] == "settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_HISTORY_MONTHS: 12, CONF_IMPORT_REACTIVE: True, CONF_CORRECTION_DAYS: 7},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_HISTORY_MONTHS: 12,
        CONF_IMPORT_REACTIVE: True,
        CONF_CORRECTION_DAYS: 7,
        CONF_REQUEST_BUDGET: DEFAULT_REQUEST_BUDGET,
        CONF_SITE_NAMES: {"541440110000000000": "Town hall"},
    }
