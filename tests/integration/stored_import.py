"""Set up an entry whose import state was persisted by an earlier run (a restart)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import DOMAIN
from fluvius_simulator import FluviusSimulator

from .helpers import make_entry, settle


def import_state(
    *,
    history_from: datetime,
    history_to: datetime | None,
    cursor: datetime | None,
    done: bool,
    last_poll: datetime | None = None,
    data_period_to: datetime | None = None,
    statistic_ids: Iterable[str] = (),
) -> dict[str, Any]:
    """One EAN's import state as the store holds it."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "history_from": iso(history_from),
        "history_to": iso(history_to),
        "cursor": iso(cursor),
        "done": done,
        "last_poll": iso(last_poll),
        "data_period_to": iso(data_period_to),
        "statistic_ids": sorted(statistic_ids),
    }


def finished_import() -> dict[str, Any]:
    """A history import that completed an hour ago; only polls run after set-up."""
    now = dt_util.utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    return import_state(
        history_from=hour - timedelta(days=30),
        history_to=hour,
        cursor=hour,
        done=True,
        last_poll=now - timedelta(hours=1),
    )


async def setup_with_stored_state(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    hass_storage: dict[str, Any],
    states: Mapping[str, dict[str, Any]],
    *,
    options: dict[str, Any] | None = None,
    wait_background: bool = True,
) -> MockConfigEntry:
    """Persist ``states`` (EAN -> import state) for a new entry, then set it up."""
    entry = make_entry(sim, options)
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"eans": dict(states)},
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    if wait_background:
        await settle(hass)
    else:
        await hass.async_block_till_done()
    return entry


async def setup_after_import(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    hass_storage: dict[str, Any],
    eans: list[str],
    *,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Set up an entry whose history import of ``eans`` already finished."""
    return await setup_with_stored_state(
        hass, sim, hass_storage, {ean: finished_import() for ean in eans}, options=options
    )
