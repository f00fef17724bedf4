"""Requests the API refuses as malformed: counted per EAN, retried daily, shown as one repair.

A single malformed or cut body can be the network's doing, so one failure is
retried as usual; the same request refused twice in a row cannot be mended by
repeating it. Polls and the history import count separately (they ask
different things) and share the repair issue of the EAN.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .api import FluviusBadRequestError, FluviusError, FluviusResponseError
from .repairs import async_update_refused_request_issues

# Errors that repeating the same request cannot mend, once they come twice in a row.
PERMANENT_ERRORS = (FluviusBadRequestError, FluviusResponseError)
REFUSALS_FOR_GOOD = 2
PERMANENT_RETRY = timedelta(days=1)


class RequestKind(StrEnum):
    """Who asked: the two kinds of energy request an EAN has."""

    POLL = "poll"
    HISTORY = "history"


class RefusedRequests:
    """The consecutive refusals of each EAN's polls and history windows."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Issues are the entry's own."""
        self._hass = hass
        self._entry = entry
        self._counts: dict[tuple[str, RequestKind], int] = {}
        self._errors: dict[tuple[str, RequestKind], str] = {}

    def note_failure(self, ean: str, kind: RequestKind, error: FluviusError) -> bool:
        """Count a failure; True when the request is refused for good (retry daily)."""
        key = (ean, kind)
        count = self._counts.get(key, 0) + 1 if isinstance(error, PERMANENT_ERRORS) else 0
        self._counts[key] = count
        if count < REFUSALS_FOR_GOOD:
            return False
        self._errors[key] = str(error)
        self.async_sync_issues()
        return True

    def note_success(self, ean: str, kind: RequestKind) -> None:
        """A request landed: its refusals are over."""
        self._counts.pop((ean, kind), None)
        if self._errors.pop((ean, kind), None) is not None:
            self.async_sync_issues()

    def forget(self, ean: str, kind: RequestKind) -> None:
        """The EAN is no longer read this way (mandate gone, statistics cleared)."""
        self.note_success(ean, kind)

    def by_ean(self) -> dict[str, str]:
        """EAN -> the error of its refused request (a poll's before a history window's)."""
        ordered = sorted(self._errors.items(), key=lambda item: item[0][1] == RequestKind.POLL)
        return {ean: error for (ean, _), error in ordered}

    @callback
    def async_sync_issues(self) -> None:
        """One repair issue per EAN with a refused request, none for the others."""
        async_update_refused_request_issues(self._hass, self._entry, self.by_ean())
