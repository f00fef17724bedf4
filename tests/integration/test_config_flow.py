"""Config flow: every error on the step and field it concerns, duplicates, reauth, reconfigure."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.api import (
    FluviusConnectionError,
    FluviusError,
    FluviusResponseError,
    FluviusTokenError,
)
from custom_components.fluvius.config_flow import Problem, token_problem
from custom_components.fluvius.const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DOMAIN,
)
from fluvius_simulator import Fault, FluviusSimulator
from tests.conftest import entry_data

USER_KEYS = (
    CONF_ENVIRONMENT,
    CONF_TENANT_ID,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
)


@pytest.fixture(autouse=True)
def no_setup():
    """Flow tests stop at the entry; setup is tested elsewhere."""
    with patch("custom_components.fluvius.async_setup_entry", return_value=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def one_attempt():
    """Each failure shows at once instead of after the form's one retry."""
    with patch("custom_components.fluvius.config_flow.VALIDATION_RETRIES", 0):
        yield


def _user_input(sim: FluviusSimulator, **overrides: str) -> dict[str, str]:
    data = entry_data(sim)
    return {key: overrides.get(key, data[key]) for key in USER_KEYS}


def _custom_input(sim: FluviusSimulator) -> dict[str, str]:
    return {CONF_BASE_URL: sim.base_url, CONF_TOKEN_URL: sim.token_url}


def _suggested(result: Any) -> dict[str, Any]:
    return {
        key.schema: key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def _start(hass: HomeAssistant, sim: FluviusSimulator, **overrides: str):
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(sim, **overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom"
    return result


async def test_user_flow_creates_entry(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate("541440110000000000")
    simulator.add_mandate("541441010000000000")
    simulator.add_mandate("541450010000000000", status="Requested")
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Fluvius custom (2 approved mandates)"
    assert result["data"] == entry_data(simulator)
    assert result["result"].unique_id == f"custom_{simulator.credentials.client_id}"


# A token refusal is shown on the credentials step, on the field it names, even
# though the URL step was the last one submitted.
@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({CONF_CLIENT_SECRET: "wrong-secret"}, CONF_CLIENT_SECRET, "invalid_client_secret"),
        ({CONF_CLIENT_ID: "someone-else"}, CONF_CLIENT_ID, "invalid_client_id"),
        ({CONF_SCOPE: "api://wrong/.default"}, CONF_SCOPE, "invalid_scope"),
        ({CONF_SUBSCRIPTION_KEY: "wrong-key"}, CONF_SUBSCRIPTION_KEY, "invalid_subscription_key"),
    ],
)
async def test_credential_errors_on_the_credentials_step(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    overrides: dict[str, str],
    field: str,
    error: str,
) -> None:
    simulator.add_mandate("541440110000000000")
    result = await _start(hass, simulator, **overrides)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.FORM
    assert (result["step_id"], result["errors"]) == ("user", {field: error})
    # What was typed is still there, and the URLs already given are not asked again.
    suggested = _suggested(result)
    assert suggested[field] == overrides[field]
    assert suggested[CONF_TENANT_ID] == simulator.credentials.tenant_id
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == entry_data(simulator)


async def test_expired_secret_points_at_the_secret(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.revoke_credentials()
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert (result["step_id"], result["errors"]) == (
        "user",
        {CONF_CLIENT_SECRET: "invalid_client_secret"},
    )


async def test_unknown_tenant_points_at_the_tenant(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    """The token URL holds the tenant; Entra ID's answer names the tenant as unknown."""
    result = await _start(hass, simulator)
    token_url = simulator.token_url.replace(simulator.credentials.tenant_id, "other-tenant")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_URL: simulator.base_url, CONF_TOKEN_URL: token_url}
    )
    assert (result["step_id"], result["errors"]) == ("user", {CONF_TENANT_ID: "invalid_tenant"})


async def test_token_refusal_without_a_known_number_is_a_general_error(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    result = await _start(hass, simulator)
    simulator.faults.add(Fault(kind="status", status=401, path="token"))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert (result["step_id"], result["errors"]) == ("user", {"base": "invalid_auth"})


# A problem with a URL is shown on the URL step, on that URL.
@pytest.mark.parametrize(
    ("urls", "field", "error"),
    [
        ({CONF_BASE_URL: "http://127.0.0.1:9"}, CONF_BASE_URL, "cannot_reach_url"),
        ({CONF_TOKEN_URL: "http://127.0.0.1:9/token"}, CONF_TOKEN_URL, "cannot_reach_url"),
        ({CONF_BASE_URL: "{base}/no-api-here"}, CONF_BASE_URL, "not_fluvius_api"),
        ({CONF_TOKEN_URL: "{base}/no-token-here"}, CONF_TOKEN_URL, "not_token_endpoint"),
    ],
)
async def test_url_errors_on_the_url_step(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    urls: dict[str, str],
    field: str,
    error: str,
) -> None:
    simulator.add_mandate("541440110000000000")
    wrong = {key: value.format(base=simulator.base_url) for key, value in urls.items()}
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**_custom_input(simulator), **wrong}
    )
    assert (result["step_id"], result["errors"]) == ("custom", {field: error})
    assert _suggested(result)[field] == wrong[field]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


# The server answered with an error of its own: shown on the step just submitted.
@pytest.mark.parametrize(
    ("fault", "field", "error"),
    [
        (Fault(kind="status", status=403, path="/api/mandate"), "base", "forbidden"),
        (Fault(kind="status", status=503, path="/api/mandate"), "base", "server_error"),
        (Fault(kind="token_down"), "base", "server_error"),
        (Fault(kind="status", status=429, path="/api/mandate"), "base", "rate_limited"),
        (Fault(kind="malformed", path="/api/mandate"), CONF_BASE_URL, "not_fluvius_api"),
    ],
)
async def test_server_errors_then_recovers(
    hass: HomeAssistant, simulator: FluviusSimulator, fault: Fault, field: str, error: str
) -> None:
    simulator.add_mandate("541440110000000000")
    simulator.faults.add(fault)
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert (result["step_id"], result["errors"]) == ("custom", {field: error})
    simulator.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.fixture
def live_is_the_simulator(simulator: FluviusSimulator):
    """The live environment's fixed URLs, pointed at the simulator (no test leaves loopback)."""
    template = f"{simulator.base_url}/{{tenant_id}}/oauth2/v2.0/token"
    with (
        patch("custom_components.fluvius.entry_client.LIVE_BASE_URL", simulator.base_url),
        patch("custom_components.fluvius.api.auth.TOKEN_URL_TEMPLATE", template),
    ):
        yield


async def _start_live(hass: HomeAssistant, sim: FluviusSimulator, **overrides: str):
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(sim, **{CONF_ENVIRONMENT: "live", **overrides})
    )


@pytest.mark.usefixtures("live_is_the_simulator")
async def test_live_environment_has_no_url_step(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate("541440110000000000")
    result = await _start_live(hass, simulator, **{CONF_TENANT_ID: "not-our-tenant"})
    assert (result["step_id"], result["errors"]) == ("user", {CONF_TENANT_ID: "invalid_tenant"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator, **{CONF_ENVIRONMENT: "live"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_BASE_URL not in result["data"]
    assert CONF_TOKEN_URL not in result["data"]
    assert result["title"] == "Fluvius live (1 approved mandate)"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(kind="reset", path="/api/mandate"), "cannot_connect"),
        (Fault(kind="malformed", path="/api/mandate"), "unknown"),
    ],
)
@pytest.mark.usefixtures("live_is_the_simulator")
async def test_live_environment_errors(
    hass: HomeAssistant, simulator: FluviusSimulator, fault: Fault, error: str
) -> None:
    """Fixed URLs: nothing to correct in a URL, so the errors are the step's own."""
    simulator.faults.add(fault)
    result = await _start_live(hass, simulator)
    assert (result["step_id"], result["errors"]) == ("user", {"base": error})


@pytest.mark.parametrize(
    ("error", "custom", "expected"),
    [
        (FluviusConnectionError("x"), False, Problem("base", "cannot_connect")),
        (FluviusConnectionError("x"), True, Problem(CONF_TOKEN_URL, "cannot_reach_url")),
        (FluviusResponseError("x"), False, Problem("base", "unknown")),
        (FluviusResponseError("x"), True, Problem(CONF_TOKEN_URL, "not_token_endpoint")),
        (
            FluviusTokenError("x", oauth_error="invalid_client"),
            True,
            Problem("base", "invalid_auth"),
        ),
    ],
)
def test_token_problems(error: FluviusError, custom: bool, expected: Problem) -> None:
    assert token_problem(error, custom=custom) == expected


async def test_duplicate_aborts(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data=entry_data(simulator),
    ).add_to_hass(hass)
    result = await _start(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_updates_secret(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    data = {**entry_data(simulator), CONF_CLIENT_SECRET: "expired-secret"}
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=f"custom_{simulator.credentials.client_id}", data=data
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: "still-wrong"}
    )
    assert result["errors"] == {CONF_CLIENT_SECRET: "invalid_client_secret"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: simulator.credentials.client_secret}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_CLIENT_SECRET] == simulator.credentials.client_secret


async def test_reauth_error_outside_its_fields_is_general(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    """Reauth asks only the secret and key; a URL that stopped answering shows on the form."""
    data = {**entry_data(simulator), CONF_BASE_URL: "http://127.0.0.1:9"}
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=f"custom_{simulator.credentials.client_id}", data=data
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: simulator.credentials.client_secret}
    )
    assert result["errors"] == {"base": "cannot_reach_url"}


async def test_reconfigure(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data={**entry_data(simulator), CONF_BASE_URL: "http://127.0.0.1:9"},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator)
    )
    assert result["step_id"] == "custom"
    # The URL form starts from the entry's URLs.
    assert result["data_schema"]({})[CONF_BASE_URL] == "http://127.0.0.1:9"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_BASE_URL] == simulator.base_url


async def test_reconfigure_secret_error_then_fixed_on_its_step(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom_{simulator.credentials.client_id}",
        data=entry_data(simulator),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator, **{CONF_CLIENT_SECRET: "typo"})
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _custom_input(simulator)
    )
    assert (result["step_id"], result["errors"]) == (
        "reconfigure",
        {CONF_CLIENT_SECRET: "invalid_client_secret"},
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator)
    )
    assert result["reason"] == "reconfigure_successful"
