"""No deprecation report from this integration during setup, import, polls, reload and unload.

Home Assistant's frame helper logs "Detected that custom integration 'fluvius' ... This
will stop working in Home Assistant X" once per process and call site; its memory of
what it already reported is emptied here so an earlier test cannot hide a report.
"""

from __future__ import annotations

from datetime import timedelta
import logging
import warnings

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
import pytest

from fluvius_simulator import FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
AMR_INJECTION_PV = "541450211000000000"  # with production and auxiliary submeters
DM_DAILY = "541440100000000000"
MARKERS = ("will stop working", "deprecated", "custom integration 'fluvius'")


def reports(caplog: pytest.LogCaptureFixture, caught: list[warnings.WarningMessage]) -> list[str]:
    """Deprecation reports in the log, and Python warnings raised from our code."""
    found = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and any(marker in record.getMessage() for marker in MARKERS)
    ]
    found += [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and "custom_components/fluvius" in w.filename
    ]
    return found


async def test_no_deprecation_reports(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")
    monkeypatch.setattr(frame, "_REPORTED_INTEGRATIONS", set())
    caplog.set_level(logging.WARNING)
    for ean in (DM_ELECTRICITY, DM_GAS, AMR_INJECTION_PV, DM_DAILY):
        simulator.add_mandate(ean)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entry = await setup_entry(hass, simulator)  # setup and the history import
        assert entry.state is ConfigEntryState.LOADED
        for _ in range(2):  # polls, with a new mandate and a removed one in between
            freezer.tick(timedelta(hours=5))
            await entry.runtime_data.mandates.async_refresh()
            await entry.runtime_data.energy.async_refresh()
            await settle(hass)
            simulator.remove_mandate(DM_DAILY)
        assert await hass.config_entries.async_reload(entry.entry_id)
        await settle(hass)
        assert entry.state is ConfigEntryState.LOADED
        assert await hass.config_entries.async_unload(entry.entry_id)
        await settle(hass)
    assert reports(caplog, caught) == []
