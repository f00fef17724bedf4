"""Diagnostics: configuration, mandates and coordinator state, with secrets redacted."""

from __future__ import annotations

from dataclasses import asdict as dataclass_fields
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from msgspec.structs import asdict

from .const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
)
from .runtime import FluviusConfigEntry, FluviusRuntimeData
from .timeutil import month_id

# The token URL embeds the tenant id, so it is redacted too.
TO_REDACT = {
    CONF_TOKEN_URL,
    CONF_CLIENT_SECRET,
    CONF_SUBSCRIPTION_KEY,
    CONF_CLIENT_ID,
    CONF_TENANT_ID,
    "access_token",
}


def mask_ean(ean: str | None) -> str | None:
    """Keep the meter-kind digits and the last three, hide the rest of an EAN."""
    if ean is None or len(ean) < 10:
        return ean
    return f"{ean[:9]}{'*' * (len(ean) - 12)}{ean[-3:]}"


def _mask_text(text: str, eans: set[str]) -> str:
    for ean in eans:
        text = text.replace(ean, str(mask_ean(ean)))
    return text


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: FluviusConfigEntry
) -> dict[str, Any]:
    """Everything needed to understand a problem, nothing that grants access."""
    data = entry.runtime_data
    eans = {m.ean for m in data.mandates.data.mandates if m.ean}
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "mandates": [
            {
                **{k: (str(v) if v is not None else None) for k, v in asdict(m).items()},
                "ean": mask_ean(m.ean),
            }
            for m in data.mandates.data.mandates
        ],
        "coordinators": {
            "mandates": {
                "last_update_success": data.mandates.last_update_success,
                "last_exception": _mask_text(repr(data.mandates.last_exception), eans),
            },
            "energy": _energy(data, eans),
        },
        "history_import": _history_import(data),
        "monthly_peaks": _monthly_peaks(data),
        "tariffs": _tariffs(data),
    }


def _energy(data: FluviusRuntimeData, eans: set[str]) -> dict[str, Any]:
    """The energy coordinator: failures, refusals, the poll schedule and the budget."""
    energy = data.energy
    return {
        "last_update_success": energy.last_update_success,
        "last_exception": _mask_text(repr(energy.last_exception), eans),
        "unavailable_eans": {mask_ean(ean): kind for ean, kind in energy.ean_errors.items()},
        "last_errors": {
            mask_ean(ean): _mask_text(text, eans) for ean, text in energy.last_errors.items()
        },
        "failed_polls": {mask_ean(ean): count for ean, count in energy.failures.items()},
        "refused_requests": {
            mask_ean(ean): _mask_text(text, eans) for ean, text in energy.refusals.by_ean().items()
        },
        "next_polls": {
            mask_ean(ean): moment.isoformat() for ean, moment in energy.next_polls.items()
        },
        "request_budget": {
            "per_hour": data.limiter.budget.per_hour,
            "in_hand": round(data.limiter.budget.available(), 1),
            "spent": data.limiter.budget.spent,
        },
        "snapshots": {
            mask_ean(ean): {
                "newest_measurement": str(s.newest_measurement),
                "estimated_share": s.estimated_share,
                "values": len(s.last_day) + len(s.last_interval),
                "submeters": len(s.submeters),
            }
            for ean, s in (energy.data or {}).items()
        },
    }


def _history_import(data: FluviusRuntimeData) -> dict[str | None, Any]:
    """Each EAN's history cursor and how many statistics it wrote."""
    return {
        mask_ean(ean): {
            "progress": state.progress,
            "done": state.done,
            "cursor": str(state.cursor),
            "statistics": len(state.statistic_ids or ()),
        }
        for ean, state in data.importer.states.by_ean.items()
    }


def _tariffs(data: FluviusRuntimeData) -> list[dict[str, Any]]:
    """Each tariff: its prices and rate, its EANs (masked) and their fallback quarter-hours."""
    states = data.importer.states
    return [
        {
            "name": tariff.name,
            "prices": {
                kind: None if price is None else dataclass_fields(price)
                for kind, price in (
                    ("offtake", tariff.offtake),
                    ("injection", tariff.injection),
                    ("gas", tariff.gas),
                )
            },
            "capacity_eur_per_kw_year": tariff.capacity_eur_per_kw_year,
            "reprice_from": None if tariff.reprice_from is None else str(tariff.reprice_from),
            "eans": {
                mask_ean(ean): {
                    "priced_with_this_tariff": (state := states.get(ean)) is not None
                    and state.tariff == tariff.fingerprint,
                    "fallback_quarter_hours": 0 if state is None else state.fallback_quarter_hours,
                }
                for ean in sorted(tariff.eans)
            },
        }
        for tariff in data.importer.tariffs.tariffs
    ]


def _monthly_peaks(data: FluviusRuntimeData) -> dict[str | None, Any]:
    """The peaks kept per EAN and month, with how complete each month is."""
    return {
        mask_ean(ean): {
            month_id(key): {
                "peak_kw": peak.peak_kw,
                "present": peak.present,
                "expected": peak.expected,
                "estimated": peak.estimated,
                "complete": peak.valid,
            }
            for key, peak in data.peaks.peaks(ean).items()
        }
        for ean in sorted(data.peaks.eans)
    }
