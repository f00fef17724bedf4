"""What an entry remembers per EAN across restarts: history cursors, poll cursors, ids, kind.

Reading a state never creates one: only the writers (history import, polls,
purges) do, so a sensor that shows progress cannot change what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .meters import MeterKind, parse_kind
from .pricing import Runs, run_length
from .timeutil import isoformat

STORAGE_VERSION = 1
# Seconds within which poll cursors are gathered into one write of the store.
STATE_SAVE_DELAY = 10


@dataclass(slots=True)
class EanImportState:
    """Persisted per-EAN import state."""

    history_from: datetime | None = None
    history_to: datetime | None = None
    cursor: datetime | None = None
    done: bool = False
    last_poll: datetime | None = None
    data_period_to: datetime | None = None
    statistic_ids: set[str] | None = None
    meter_kind: MeterKind | None = None
    # The fingerprint of the tariff the costs were priced with; a new one re-prices.
    tariff: str | None = None
    # Cost statistic id -> the quarter-hours priced with the fallback price.
    fallback: dict[str, Runs] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the store."""
        return {
            "history_from": isoformat(self.history_from),
            "history_to": isoformat(self.history_to),
            "cursor": isoformat(self.cursor),
            "done": self.done,
            "last_poll": isoformat(self.last_poll),
            "data_period_to": isoformat(self.data_period_to),
            "statistic_ids": sorted(self.statistic_ids or ()),
            "meter_kind": None if self.meter_kind is None else str(self.meter_kind),
            "tariff": self.tariff,
            "fallback": {key: [list(run) for run in runs] for key, runs in self.fallback.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EanImportState:
        """Read back what :meth:`as_dict` wrote."""
        return cls(
            history_from=_parse(raw.get("history_from")),
            history_to=_parse(raw.get("history_to")),
            cursor=_parse(raw.get("cursor")),
            done=bool(raw.get("done")),
            last_poll=_parse(raw.get("last_poll")),
            data_period_to=_parse(raw.get("data_period_to")),
            statistic_ids=set(raw.get("statistic_ids") or ()),
            meter_kind=parse_kind(raw.get("meter_kind")),
            tariff=raw.get("tariff"),
            fallback={
                str(key): [(int(first), int(end)) for first, end in runs]
                for key, runs in (raw.get("fallback") or {}).items()
            },
        )

    @property
    def fallback_quarter_hours(self) -> int:
        """Quarter-hours of the stored costs priced with a fallback price."""
        return sum(run_length(runs) for runs in self.fallback.values())

    @property
    def progress(self) -> float | None:
        """Share of the history imported, in percent."""
        if self.done:
            return 100.0
        if self.history_from is None or self.history_to is None or self.cursor is None:
            return None
        total = (self.history_to - self.history_from).total_seconds()
        if total <= 0:
            return 100.0
        return round(100 * (self.cursor - self.history_from).total_seconds() / total, 1)


def _parse(value: Any) -> datetime | None:
    return None if not value else dt_util.parse_datetime(str(value))


def import_state_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's import states (also what removing the entry deletes)."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


class ImportStates:
    """The import states of one entry's EANs, and their store."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Call :meth:`async_load` before use."""
        self._store = import_state_store(hass, entry_id)
        self.by_ean: dict[str, EanImportState] = {}

    async def async_load(self) -> None:
        """Load what the previous run stored."""
        raw = await self._store.async_load() or {}
        self.by_ean = {
            ean: EanImportState.from_dict(value) for ean, value in raw.get("eans", {}).items()
        }

    def get(self, ean: str) -> EanImportState | None:
        """The EAN's state, if anything was ever stored for it."""
        return self.by_ean.get(ean)

    def ensure(self, ean: str) -> EanImportState:
        """The EAN's state to write to, created on first use."""
        return self.by_ean.setdefault(ean, EanImportState())

    def history_done(self, ean: str) -> bool:
        """Whether the EAN's history import has completed (polls may then write statistics)."""
        state = self.by_ean.get(ean)
        return state is not None and state.done

    def progress(self, ean: str) -> float | None:
        """Share of the EAN's history imported, in percent; None before it starts."""
        state = self.by_ean.get(ean)
        return None if state is None else state.progress

    def statistic_ids(self, ean: str) -> set[str]:
        """The statistic ids written for the EAN (its submeters' included)."""
        state = self.by_ean.get(ean)
        return set(state.statistic_ids or ()) if state is not None else set()

    def meter_kind(self, ean: str) -> MeterKind | None:
        """The persisted kind of the EAN's meter; None before its first energy answer."""
        state = self.by_ean.get(ean)
        return None if state is None else state.meter_kind

    async def async_save(self) -> None:
        """Persist now (history cursors: a restart resumes from them)."""
        await self._store.async_save(self._to_store())

    @callback
    def async_schedule_save(self) -> None:
        """Persist soon: hundreds of polls an hour coalesce into one write.

        A poll cursor saved a little late only makes the next insertTime window
        start earlier; writing the same rows twice changes nothing.
        """
        self._store.async_delay_save(self._to_store, STATE_SAVE_DELAY)

    def _to_store(self) -> dict[str, Any]:
        return {"eans": {ean: state.as_dict() for ean, state in self.by_ean.items()}}
