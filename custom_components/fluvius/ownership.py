"""One owner per EAN across the domain's config entries.

Statistic ids are global (``fluvius:{ean}_…``), so two entries that can both read
an EAN (a second account, related companies) would write the same statistics.
The first entry to claim an EAN owns it; the others leave it alone and show a
repair naming the owner. The owner keeps the EAN until its own mandates no
longer include it or the entry is removed. An owner that exists but is not
loaded (disabled, failed or retrying setup) keeps its EANs: handing them over
on every outage would move the import back and forth between entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .repairs import async_update_ownership_issues

# Sent with (the released EANs, the entry id that released them).
SIGNAL_RELEASED = f"{DOMAIN}_eans_released"
STORAGE_KEY = f"{DOMAIN}.owners"
STORAGE_VERSION = 1
DATA_OWNERS: HassKey[EanOwners] = HassKey(STORAGE_KEY)


class EanOwners:
    """EAN -> entry id of the entry that imports it, persisted for the whole domain."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Empty until loaded; several entries may ask for it at once while they set up."""
        self._hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._lock = asyncio.Lock()
        self._loaded = False
        self.owners: dict[str, str] = {}

    async def async_load(self) -> None:
        """Read the store once, however many entries wait for it."""
        async with self._lock:
            if self._loaded:
                return
            raw = await self._store.async_load() or {}
            self.owners = {str(k): str(v) for k, v in dict(raw.get("owners", {})).items()}
            self._loaded = True

    async def async_assign(
        self, entry_id: str, eans: Iterable[str]
    ) -> tuple[dict[str, str], set[str]]:
        """Claim the free ``eans`` for the entry and release its claims on the others.

        Returns the EANs another existing entry owns (EAN -> owner id) and the EANs
        this entry released.
        """
        await self.async_load()
        wanted = set(eans)
        released = {e for e, owner in self.owners.items() if owner == entry_id and e not in wanted}
        foreign: dict[str, str] = {}
        changed = bool(released)
        for ean in released:
            del self.owners[ean]
        for ean in sorted(wanted):
            owner = self.owners.get(ean)
            if owner == entry_id:
                continue
            if owner is not None and self._exists(owner):
                foreign[ean] = owner
                continue
            # Free, or claimed by an entry that no longer exists.
            self.owners[ean] = entry_id
            changed = True
        if changed:
            await self._async_save()
        return foreign, released

    async def async_release_entry(self, entry_id: str) -> set[str]:
        """Drop every claim of a removed entry; return the EANs it owned."""
        await self.async_load()
        released = {ean for ean, owner in self.owners.items() if owner == entry_id}
        for ean in released:
            del self.owners[ean]
        if released:
            await self._async_save()
        return released

    def _exists(self, entry_id: str) -> bool:
        return self._hass.config_entries.async_get_entry(entry_id) is not None

    async def _async_save(self) -> None:
        await self._store.async_save({"owners": dict(sorted(self.owners.items()))})


@callback
def async_owners(hass: HomeAssistant) -> EanOwners:
    """The domain's registry, created on first use (loaded lazily by its methods)."""
    if (owners := hass.data.get(DATA_OWNERS)) is None:
        owners = hass.data[DATA_OWNERS] = EanOwners(hass)
    return owners


async def async_claim(
    hass: HomeAssistant, entry: ConfigEntry, eans: Iterable[str]
) -> dict[str, str]:
    """Claim an entry's picked EANs; return those another entry owns (EAN -> owner id).

    Released EANs are offered to the entries waiting for them at once, and the
    entry's ownership repairs follow the result.
    """
    foreign, released = await async_owners(hass).async_assign(entry.entry_id, eans)
    if released:
        async_request_takeover(hass, released, exclude=entry.entry_id)
    async_update_ownership_issues(
        hass, entry, {ean: _title(hass, owner) for ean, owner in foreign.items()}
    )
    return foreign


async def async_release_entry(hass: HomeAssistant, entry_id: str) -> None:
    """A removed entry frees its EANs; the entries waiting for them take over."""
    released = await async_owners(hass).async_release_entry(entry_id)
    if released:
        async_request_takeover(hass, released, exclude=entry_id)


@callback
def async_request_takeover(hass: HomeAssistant, eans: set[str], *, exclude: str) -> None:
    """Tell the loaded entries that ``eans`` are free: those waiting for one read mandates again."""
    async_dispatcher_send(hass, SIGNAL_RELEASED, frozenset(eans), exclude)


def _title(hass: HomeAssistant, entry_id: str) -> str:
    owner = hass.config_entries.async_get_entry(entry_id)
    return entry_id if owner is None else owner.title
