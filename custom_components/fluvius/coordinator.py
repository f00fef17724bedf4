"""The mandates coordinator: which EANs this entry reads, refreshed every few hours.

The energy polls live in ``polling``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    FluviusAuthenticationError,
    FluviusClient,
    FluviusError,
    Mandate,
    MandateStatus,
)
from .const import DOMAIN, LOGGER, MANDATES_UPDATE_INTERVAL
from .ownership import SIGNAL_RELEASED, async_claim
from .repairs import async_update_credentials_issue


@callback
def credentials_refused(hass: HomeAssistant, entry: ConfigEntry) -> ConfigEntryAuthFailed:
    """Show the credentials issue; the returned error, raised, makes HA start reauthentication.

    Every request of the entry (mandates, polls, history windows) ends up here
    when the token endpoint refuses the credentials.
    """
    async_update_credentials_issue(hass, entry, refused=True)
    return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed")


TRACKED_STATUSES = frozenset({MandateStatus.APPROVED, MandateStatus.FINISHED})


@dataclass(frozen=True, slots=True)
class MandatesData:
    """All mandates, and the one mandate per EAN whose data we read."""

    mandates: tuple[Mandate, ...]
    by_ean: dict[str, Mandate]
    # EANs another entry owns (EAN -> its entry id): left out of by_ean, never imported.
    foreign: dict[str, str] = field(default_factory=dict)


def pick_mandates(mandates: Iterable[Mandate]) -> dict[str, Mandate]:
    """One mandate per EAN: Approved before Finished, then the latest data period."""
    chosen: dict[str, Mandate] = {}
    for mandate in mandates:
        if mandate.ean is None or mandate.status not in TRACKED_STATUSES:
            continue
        current = chosen.get(mandate.ean)
        if current is None or _rank(mandate) > _rank(current):
            chosen[mandate.ean] = mandate
    return chosen


def _rank(mandate: Mandate) -> tuple[bool, datetime]:
    end = mandate.data_period_to or datetime.max.replace(tzinfo=dt_util.UTC)
    return (mandate.status == MandateStatus.APPROVED, end)


class FluviusMandatesCoordinator(DataUpdateCoordinator[MandatesData]):
    """Polls GET mandates; mandates drive devices, repairs and purges."""

    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client: FluviusClient) -> None:
        """Poll every few hours: access changes are rare."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} mandates",
            update_interval=MANDATES_UPDATE_INTERVAL,
        )
        self.client = client

    async def _async_update_data(self) -> MandatesData:
        try:
            mandates = await self.client.get_mandates()
        except FluviusAuthenticationError as err:
            raise credentials_refused(self.hass, self.config_entry) from err
        except FluviusError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        async_update_credentials_issue(self.hass, self.config_entry, refused=False)
        picked = pick_mandates(mandates)
        foreign = await async_claim(self.hass, self.config_entry, picked)
        by_ean = {ean: mandate for ean, mandate in picked.items() if ean not in foreign}
        return MandatesData(tuple(mandates), by_ean, foreign)

    @callback
    def async_listen_for_released(self) -> CALLBACK_TYPE:
        """Read mandates again when another entry frees an EAN this one waits for."""

        @callback
        def _on_released(eans: frozenset[str], released_by: str) -> None:
            if released_by == self.config_entry.entry_id or self.data is None:
                return
            if eans & self.data.foreign.keys():
                self.config_entry.async_create_background_task(
                    self.hass, self.async_request_refresh(), "fluvius take over EANs"
                )

        return async_dispatcher_connect(self.hass, SIGNAL_RELEASED, _on_released)
