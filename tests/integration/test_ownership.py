"""One owner per EAN: two real entries that can both read an EAN, against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN
from custom_components.fluvius.ownership import STORAGE_KEY
from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator
from tests.conftest import entry_data

from .helpers import history_requests, settle

SHARED = "541440110000000000"
OWN_GAS = "541441010000000000"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


@pytest.fixture
async def other_simulator(socket_enabled: None) -> AsyncIterator[FluviusSimulator]:
    """A second account's API (its own mandates), on loopback too."""
    sim = FluviusSimulator(credentials=DEFAULT_CREDENTIALS, clock=dt_util.utcnow)
    await sim.start(host="127.0.0.1", port=0)
    yield sim
    await sim.stop()


async def _add(hass: HomeAssistant, sim: FluviusSimulator, title: str) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=f"custom_{title}",
        data=entry_data(sim),
        options={CONF_HISTORY_MONTHS: 1},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    return entry


def _energy_requests(sim: FluviusSimulator, ean: str) -> int:
    return sum(
        1
        for r in sim.requests
        if r.path.lower().endswith("/energy") and r.query.get("ean") == [ean]
    )


def _devices(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    registry = dr.async_get(hass)
    return {
        ident
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        for domain, ident in device.identifiers
        if domain == DOMAIN
    }


def _entity_eans(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    registry = er.async_get(hass)
    return {e.unique_id[:18] for e in er.async_entries_for_config_entry(registry, entry.entry_id)}


def _owned_issue(hass: HomeAssistant, entry: MockConfigEntry, ean: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"ean_owned_elsewhere_{entry.entry_id}_{ean}")


async def test_second_entry_leaves_the_ean_until_the_owner_is_removed(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(SHARED)
    first = await _add(hass, simulator, "Fluvius first")
    assert hass_storage[STORAGE_KEY]["data"]["owners"] == {SHARED: first.entry_id}
    before = _energy_requests(simulator, SHARED)

    second = await _add(hass, simulator, "Fluvius second")
    data = second.runtime_data
    assert data.mandates.data.foreign == {SHARED: first.entry_id}
    assert SHARED not in data.mandates.data.by_ean
    # Neither imports nor polls nor shows the EAN.
    assert _energy_requests(simulator, SHARED) == before
    assert SHARED not in data.importer.states.by_ean
    assert _devices(hass, second) == set()
    assert _entity_eans(hass, second) == set()
    assert _devices(hass, first) == {SHARED}
    issue = _owned_issue(hass, second, SHARED)
    assert issue is not None
    assert issue.translation_placeholders == {
        "ean": SHARED,
        "owner": "Fluvius first",
        "title": "Fluvius second",
    }
    assert _owned_issue(hass, first, SHARED) is None
    # Its actions leave the owner's statistics alone.
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "clear_statistics",
            {"config_entry_id": second.entry_id, "ean": SHARED},
            blocking=True,
            return_response=True,
        )

    imports_before = len(history_requests(simulator, SHARED))
    assert await hass.config_entries.async_remove(first.entry_id)
    await settle(hass)

    # The second entry took over without a restart: entities, import, no issue.
    assert SHARED in data.mandates.data.by_ean
    assert data.mandates.data.foreign == {}
    assert _devices(hass, second) == {SHARED}
    assert SHARED in _entity_eans(hass, second)
    status = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{SHARED}_mandate_status")
    assert status is not None
    assert hass.states.get(status).state == "approved"
    assert len(history_requests(simulator, SHARED)) > imports_before
    assert data.importer.states.history_done(SHARED)
    assert _owned_issue(hass, second, SHARED) is None
    assert hass_storage[STORAGE_KEY]["data"]["owners"] == {SHARED: second.entry_id}


async def test_owner_losing_the_mandate_hands_the_ean_over(
    hass: HomeAssistant, simulator: FluviusSimulator, other_simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(SHARED)
    other_simulator.add_mandate(SHARED)
    other_simulator.add_mandate(OWN_GAS)
    first = await _add(hass, simulator, "Fluvius first")
    second = await _add(hass, other_simulator, "Fluvius second")
    assert set(second.runtime_data.mandates.data.by_ean) == {OWN_GAS}
    assert _owned_issue(hass, second, SHARED) is not None

    simulator.remove_mandate(SHARED)
    await first.runtime_data.mandates.async_refresh()
    await settle(hass)

    # Only the owner refreshed; the waiting entry was asked to read its mandates again.
    assert _devices(hass, first) == set()
    assert set(second.runtime_data.mandates.data.by_ean) == {OWN_GAS, SHARED}
    assert _devices(hass, second) == {OWN_GAS, SHARED}
    assert second.runtime_data.importer.states.history_done(SHARED)
    assert _owned_issue(hass, second, SHARED) is None

    # The former owner sees the mandate again: now it is the one that waits.
    simulator.add_mandate(SHARED)
    await first.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert first.runtime_data.mandates.data.foreign == {SHARED: second.entry_id}
    assert _devices(hass, first) == set()
    assert _owned_issue(hass, first, SHARED) is not None


async def test_an_owner_that_is_not_loaded_keeps_its_eans(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    """Unloaded, disabled or failing entries still own: no import moves back and forth."""
    simulator.add_mandate(SHARED)
    first = await _add(hass, simulator, "Fluvius first")
    assert await hass.config_entries.async_unload(first.entry_id)
    await settle(hass)
    assert first.state is ConfigEntryState.NOT_LOADED

    second = await _add(hass, simulator, "Fluvius second")
    assert second.runtime_data.mandates.data.foreign == {SHARED: first.entry_id}
    assert _devices(hass, second) == set()


async def test_a_claim_of_a_vanished_entry_is_free(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    """An entry removed while the claim could not be released owns nothing."""
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {"owners": {SHARED: "01JREMOVEDENTRY0000000000"}},
    }
    simulator.add_mandate(SHARED)
    entry = await _add(hass, simulator, "Fluvius first")
    assert SHARED in entry.runtime_data.mandates.data.by_ean
    assert _owned_issue(hass, entry, SHARED) is None
    assert hass_storage[STORAGE_KEY]["data"]["owners"] == {SHARED: entry.entry_id}
