"""Secrets never leak: not in logs at DEBUG, diagnostics, repairs or exception texts.

The run covers setup, the history import, a refused (401) poll after the
credentials were revoked, the reauth flow with a renewed secret and the reload
that follows. Every access token the simulator issued is collected from the
simulator itself, so the check covers tokens the integration never logged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import orjson
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (  # type: ignore[import-untyped]
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator  # type: ignore[import-untyped]

from custom_components.fluvius.api import FluviusAuthenticationError, FluviusError
from custom_components.fluvius.const import CONF_CLIENT_SECRET, CONF_SUBSCRIPTION_KEY, DOMAIN
from fluvius_simulator import Fault, FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
REFUSED = "541440010000000007"  # answered 403: raises the forbidden repair issue
RENEWED_SECRET = "renewed-secret-6b0c2f91"


class _IssuedTokens(dict[str, Any]):
    """The simulator's token table, remembering every token it ever held."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []

    def __setitem__(self, token: str, expiry: Any) -> None:
        self.issued.append(token)
        super().__setitem__(token, expiry)


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


def _texts_of(error: BaseException) -> list[str]:
    """str() and repr() of an exception and of everything it was raised from."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out.extend((str(current), repr(current)))
        current = current.__cause__ or current.__context__
    return out


async def test_no_secret_in_logs_diagnostics_repairs_or_errors(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    hass_client: ClientSessionGenerator,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="custom_components.fluvius")
    tokens = _IssuedTokens()
    simulator._tokens = tokens
    original = simulator.credentials
    simulator.add_mandate(DM_ELECTRICITY, renewal_status="ToBeRenewed")
    simulator.add_mandate(DM_GAS)
    simulator.add_mandate(REFUSED)
    simulator.faults.add(Fault(kind="status", status=403, ean=REFUSED))
    errors: list[BaseException] = []

    # Setup and history import.
    entry = await setup_entry(hass, simulator)
    assert entry.runtime_data.importer.states.history_done(DM_ELECTRICITY)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"ean_forbidden_{entry.entry_id}_{REFUSED}")

    # The credentials are revoked: the next poll is refused and reauth starts.
    simulator.revoke_credentials()
    mandates = entry.runtime_data.mandates
    await mandates.async_refresh()
    await settle(hass)
    assert mandates.last_exception is not None
    errors.append(mandates.last_exception)
    try:
        await entry.runtime_data.client.get_mandates()
    except FluviusAuthenticationError as err:
        errors.append(err)
    flows = [
        flow
        for flow in hass.config_entries.flow.async_progress()
        if flow["handler"] == DOMAIN and flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert flows
    diagnostics_refused = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    # Fluvius hands out a renewed secret; the reauth flow takes it and the entry reloads.
    simulator.set_credentials(replace(original, client_secret=RENEWED_SECRET))
    simulator.restore_credentials()
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_CLIENT_SECRET: RENEWED_SECRET}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_CLIENT_SECRET] == RENEWED_SECRET
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    errors.extend(
        error
        for error in (
            entry.runtime_data.mandates.last_exception,
            entry.runtime_data.energy.last_exception,
        )
        if error is not None
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    # An error the client raises on its own (403).
    now = dt_util.utcnow()
    try:
        await entry.runtime_data.client.get_energy(REFUSED, start=now - timedelta(hours=2), end=now)
    except FluviusError as err:
        errors.append(err)
    errors.extend(
        record.exc_info[1]
        for record in caplog.records
        if record.exc_info and record.exc_info[1] is not None
    )

    secrets = {
        "client secret": original.client_secret,
        "renewed client secret": RENEWED_SECRET,
        "subscription key": original.subscription_key,
        **{f"access token {i + 1}": token for i, token in enumerate(tokens.issued)},
    }
    # At least the first token, the one after the reload and the one for the last poll.
    assert len(tokens.issued) >= 2
    assert entry.data[CONF_SUBSCRIPTION_KEY] == original.subscription_key
    # Debug logging was really on for the integration and its client.
    assert any(r.name.startswith("custom_components.fluvius.api") for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)

    issues = [issue for (domain, _), issue in ir.async_get(hass).issues.items() if domain == DOMAIN]
    assert issues
    places: dict[str, str] = {
        "logs": caplog.text,
        "diagnostics after the 401": orjson.dumps(diagnostics_refused).decode(),
        "diagnostics": orjson.dumps(diagnostics).decode(),
        "repair issues": orjson.dumps(
            [
                {
                    "id": issue.issue_id,
                    "placeholders": issue.translation_placeholders,
                    "url": issue.learn_more_url,
                }
                for issue in issues
            ]
        ).decode(),
        "exceptions": "\n".join(text for error in errors for text in _texts_of(error)),
    }
    assert errors
    leaks = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, text in places.items()
        if secret in text
    ]
    assert not leaks, leaks
