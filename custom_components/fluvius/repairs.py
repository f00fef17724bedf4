"""Repair issues: mandates, refused EANs, credentials, EANs another entry owns.

Mandate issues: expiring, ended, cut back, daily only. The cut-back one is
informative and only needs acknowledging (a confirm-only fix flow).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .api import DataServiceType, EnergyType, Mandate, MandateStatus, RenewalStatus
from .const import DOMAIN, EXPIRY_WARNING, RENEWAL_URL

ENDED_RENEWAL = frozenset({RenewalStatus.EXPIRED})
# Issue kinds raised and cleared from the mandates (ids are f"{kind}_{entry_id}_{ean}").
MANDATE_KINDS = ("mandate_expiring", "mandate_ended", "no_quarter_hour")


def issue_id(kind: str, entry: ConfigEntry, key: str) -> str:
    """Issue ids are per entry, so two accounts never clear each other's issues."""
    return f"{kind}_{entry.entry_id}_{key}"


type WantedIssues = dict[str, tuple[str, dict[str, str]]]
"""Issue id -> (translation key, placeholders)."""


def mandate_issues(entry: ConfigEntry, mandate: Mandate, now: datetime) -> WantedIssues:
    """The issues one mandate calls for: ended, expiring, daily access only."""
    key = mandate.ean or mandate.reference_number or ""
    if mandate.status in (MandateStatus.REJECTED, MandateStatus.FINISHED):
        return {issue_id("mandate_ended", entry, key): ("mandate_ended", _ended(key, mandate))}
    if mandate.status != MandateStatus.APPROVED:
        return {}
    wanted: WantedIssues = {}
    expiry = mandate.mandate_expiration_date
    if mandate.renewal_status in ENDED_RENEWAL or (expiry is not None and expiry <= now):
        wanted[issue_id("mandate_ended", entry, key)] = ("mandate_ended", _ended(key, mandate))
    elif mandate.renewal_status == RenewalStatus.TO_BE_RENEWED or (
        expiry is not None and expiry - now <= EXPIRY_WARNING
    ):
        date = dt_util.as_local(expiry).date().isoformat() if expiry else "?"
        wanted[issue_id("mandate_expiring", entry, key)] = (
            "mandate_expiring",
            {"ean": key, "date": date, "url": RENEWAL_URL},
        )
    if (
        mandate.energy_type == EnergyType.ELECTRICITY
        and mandate.data_service_type == DataServiceType.DAILY
    ):
        wanted[issue_id("no_quarter_hour", entry, key)] = ("no_quarter_hour", {"ean": key})
    return wanted


def _ended(key: str, mandate: Mandate) -> dict[str, str]:
    status = mandate.status if mandate.status != MandateStatus.APPROVED else None
    return {"ean": key, "status": str(status or mandate.renewal_status or "Expired")}


@callback
def async_update_mandate_issues(
    hass: HomeAssistant,
    entry: ConfigEntry,
    mandates: Iterable[Mandate],
    foreign: Collection[str],
) -> None:
    """Raise and clear the mandate issues after a mandates refresh.

    EANs another entry owns are left out: their repair is the ownership one.
    """
    now = dt_util.utcnow()
    wanted: WantedIssues = {}
    for mandate in mandates:
        key = mandate.ean or mandate.reference_number
        if key is not None and key not in foreign:
            wanted.update(mandate_issues(entry, mandate, now))
    _async_delete_stale(
        hass, tuple(issue_id(kind, entry, "") for kind in MANDATE_KINDS), set(wanted)
    )
    for ident, (kind, placeholders) in wanted.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            ident,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=kind,
            translation_placeholders=placeholders,
            learn_more_url=RENEWAL_URL if kind in ("mandate_expiring", "mandate_ended") else None,
        )


@callback
def async_update_data_period_cuts(
    hass: HomeAssistant, entry: ConfigEntry, read: Collection[str], cuts: dict[str, datetime]
) -> None:
    """One acknowledgeable notice per EAN whose data period was cut back (and still read)."""
    # A cut of an EAN that is no longer read here has nothing left to explain.
    _async_delete_stale(
        hass,
        (issue_id("data_period_cut", entry, ""),),
        {issue_id("data_period_cut", entry, ean) for ean in read},
    )
    for ean, cut in cuts.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id("data_period_cut", entry, ean),
            # Informative: acknowledging it (a confirm-only fix flow) deletes it.
            is_fixable=True,
            is_persistent=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="data_period_cut",
            translation_placeholders={"ean": ean, "date": cut.isoformat()},
        )


@callback
def async_clear_data_period_cut(hass: HomeAssistant, entry: ConfigEntry, ean: str) -> None:
    """The EAN imported again after its data period was cut: the notice has served."""
    ir.async_delete_issue(hass, DOMAIN, issue_id("data_period_cut", entry, ean))


@callback
def async_update_ownership_issues(
    hass: HomeAssistant, entry: ConfigEntry, owners: dict[str, str]
) -> None:
    """One issue per EAN another entry owns (EAN -> the owner's title)."""
    _async_sync_per_ean(
        hass,
        entry,
        "ean_owned_elsewhere",
        {ean: {"ean": ean, "owner": owner, "title": entry.title} for ean, owner in owners.items()},
        ir.IssueSeverity.WARNING,
    )


@callback
def async_delete_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """A removed entry takes all its issues with it (ids carry the entry id)."""
    registry = ir.async_get(hass)
    for domain, existing in list(registry.issues):
        if domain == DOMAIN and f"_{entry_id}_" in existing:
            ir.async_delete_issue(hass, DOMAIN, existing)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The only fixable issue (a data period cut back) just needs acknowledging."""
    return ConfirmRepairFlow()


@callback
def async_update_forbidden_issues(
    hass: HomeAssistant, entry: ConfigEntry, forbidden: set[str]
) -> None:
    """One issue per EAN the API refuses with 403 (access or geoblocking)."""
    _async_sync_per_ean(hass, entry, "ean_forbidden", {ean: {"ean": ean} for ean in forbidden})


@callback
def async_update_refused_request_issues(
    hass: HomeAssistant, entry: ConfigEntry, refused: dict[str, str]
) -> None:
    """One issue per EAN whose requests the API refuses as malformed (EAN -> the error).

    Such a request is only retried daily; the issue goes once one succeeds.
    """
    _async_sync_per_ean(
        hass,
        entry,
        "request_refused",
        {ean: {"ean": ean, "error": error} for ean, error in refused.items()},
    )


@callback
def _async_sync_per_ean(
    hass: HomeAssistant,
    entry: ConfigEntry,
    kind: str,
    wanted: dict[str, dict[str, str]],
    severity: ir.IssueSeverity = ir.IssueSeverity.ERROR,
) -> None:
    """Exactly one issue of ``kind`` per EAN in ``wanted`` (EAN -> placeholders)."""
    _async_delete_stale(
        hass,
        (issue_id(kind, entry, ""),),
        {issue_id(kind, entry, ean) for ean in wanted},
    )
    for ean, placeholders in wanted.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id(kind, entry, ean),
            is_fixable=False,
            severity=severity,
            translation_key=kind,
            translation_placeholders=placeholders,
        )


@callback
def async_update_credentials_issue(
    hass: HomeAssistant, entry: ConfigEntry, *, refused: bool
) -> None:
    """Say so while the API refuses the entry's credentials (renewed yearly in Mijn Fluvius).

    Home Assistant's re-authentication flow asks for the new secret; the issue
    explains where it comes from and goes away once a request succeeds.
    """
    ident = issue_id("credentials_refused", entry, "")
    if not refused:
        ir.async_delete_issue(hass, DOMAIN, ident)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        ident,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="credentials_refused",
        translation_placeholders={"title": entry.title, "url": RENEWAL_URL},
        learn_more_url=RENEWAL_URL,
    )


@callback
def _async_delete_stale(hass: HomeAssistant, prefixes: tuple[str, ...], keep: set[str]) -> None:
    """Delete this domain's issues whose id starts with a prefix and is not kept."""
    registry = ir.async_get(hass)
    for domain, existing in list(registry.issues):
        if domain == DOMAIN and existing.startswith(prefixes) and existing not in keep:
            ir.async_delete_issue(hass, DOMAIN, existing)
