"""Config flow: credentials, reauthentication and reconfiguration.

Each problem is shown on the step and field it concerns: a refused secret on the
credentials step even when the URL step came last, an unreachable URL on that URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .api import (
    FluviusAuthenticationError,
    FluviusConnectionError,
    FluviusError,
    FluviusForbiddenError,
    FluviusRateLimitError,
    FluviusServerError,
    FluviusTokenError,
    MandateStatus,
)
from .compat import vol
from .const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENTS,
    LOGGER,
    RENEWAL_URL,
)
from .entry_client import client_for_entry
from .options_flow import FluviusOptionsFlow
from .tariff_flow import TariffSubentryFlow
from .tariffs import SUBENTRY_TARIFF

# The form answers within seconds: few retries, short timeout.
VALIDATION_RETRIES = 1
VALIDATION_TIMEOUT = 30

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT = TextSelector()
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


def _credentials_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The user/reconfigure form; secrets are never pre-filled."""
    return vol.Schema(
        {
            vol.Required(
                CONF_ENVIRONMENT, default=defaults.get(CONF_ENVIRONMENT, "live")
            ): SelectSelector(
                SelectSelectorConfig(
                    options=list(ENVIRONMENTS),
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key=CONF_ENVIRONMENT,
                )
            ),
            vol.Required(
                CONF_TENANT_ID, default=defaults.get(CONF_TENANT_ID, vol.UNDEFINED)
            ): _TEXT,
            vol.Required(
                CONF_CLIENT_ID, default=defaults.get(CONF_CLIENT_ID, vol.UNDEFINED)
            ): _TEXT,
            vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
            vol.Required(CONF_SCOPE, default=defaults.get(CONF_SCOPE, vol.UNDEFINED)): _TEXT,
            vol.Required(CONF_SUBSCRIPTION_KEY): _PASSWORD,
        }
    )


def _custom_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_BASE_URL, default=defaults.get(CONF_BASE_URL, vol.UNDEFINED)): _URL,
            vol.Required(CONF_TOKEN_URL, default=defaults.get(CONF_TOKEN_URL, vol.UNDEFINED)): _URL,
        }
    )


class FluviusConfigFlow(ConfigFlow, domain=DOMAIN):
    """Collect and validate the credentials Mijn Fluvius shows when the API is activated."""

    VERSION = 1

    def __init__(self) -> None:
        """Hold the credentials while the custom step asks for URLs, and after a problem."""
        self._pending: dict[str, Any] = {}
        self._urls_entered = False

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Tariffs are subentries: each prices the EANs it names."""
        return {SUBENTRY_TARIFF: TariffSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> FluviusOptionsFlow:
        """Options: import settings and site names."""
        return FluviusOptionsFlow()

    @property
    def _credentials_step(self) -> str:
        return "reconfigure" if self.source == SOURCE_RECONFIGURE else "user"

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask the environment and the credentials."""
        if user_input is None:
            return self.async_show_form(
                step_id="user",
                data_schema=_credentials_schema({}),
                description_placeholders=_placeholders(),
            )
        return await self._async_credentials_entered(user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change any field; validated like a new entry."""
        entry = self._get_reconfigure_entry()
        if user_input is None:
            return self.async_show_form(
                step_id="reconfigure",
                data_schema=_credentials_schema(entry.data),
                description_placeholders=_placeholders(),
            )
        # Another client id or environment is another account, with its own
        # EANs and claims: that is a new entry, not a reconfiguration.
        await self.async_set_unique_id(_unique_id(user_input))
        self._abort_if_unique_id_mismatch(reason="unique_id_mismatch")
        if not self._urls_entered:
            self._pending = {key: entry.data[key] for key in URL_FIELDS if key in entry.data}
        return await self._async_credentials_entered(user_input)

    async def _async_credentials_entered(self, user_input: dict[str, Any]) -> ConfigFlowResult:
        """Validate, or first ask the URLs of a custom environment."""
        urls = {key: self._pending[key] for key in URL_FIELDS if key in self._pending}
        self._pending = {**urls, **user_input}
        if user_input[CONF_ENVIRONMENT] != ENVIRONMENT_CUSTOM:
            for key in URL_FIELDS:
                self._pending.pop(key, None)
        elif not self._urls_entered:
            return await self.async_step_custom()
        return await self._async_finish(self._credentials_step)

    async def async_step_custom(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask the base and token URLs of a custom environment (simulator, gateway)."""
        if user_input is None:
            return self.async_show_form(step_id="custom", data_schema=_custom_schema(self._pending))
        self._pending.update(user_input)
        self._urls_entered = True
        return await self._async_finish("custom")

    async def _async_finish(self, submitted: str) -> ConfigFlowResult:
        """Validate the pending data, then create or update the entry."""
        data = self._pending
        problem, approved = await _async_check(self.hass, data)
        if problem is not None:
            return self._async_show_problem(submitted, problem)
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data=data, title=_title(data, approved)
            )
        await self.async_set_unique_id(_unique_id(data))
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=_title(data, approved), data=data)

    @callback
    def _async_show_problem(self, submitted: str, problem: Problem) -> ConfigFlowResult:
        """Show the problem on the step that holds its field, with what was typed."""
        if problem.field in URL_FIELDS:
            step = "custom"
        elif problem.field == "base" and problem.error not in CREDENTIAL_ERRORS:
            step = submitted
        else:
            step = self._credentials_step
        schema = (
            _custom_schema(self._pending)
            if step == "custom"
            else _credentials_schema(self._pending)
        )
        return self.async_show_form(
            step_id=step,
            data_schema=self.add_suggested_values_to_schema(schema, self._pending),
            errors={problem.field: problem.error},
            description_placeholders=_placeholders(),
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The API refused the credentials (they expire yearly)."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the renewed client secret and, optionally, a new subscription key."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **{k: v for k, v in user_input.items() if v}}
            problem, _ = await _async_check(self.hass, data)
            if problem is None:
                return self.async_update_reload_and_abort(entry, data=data)
            field = problem.field if problem.field in REAUTH_FIELDS else "base"
            errors = {field: problem.error}
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
                    vol.Optional(CONF_SUBSCRIPTION_KEY): _PASSWORD,
                }
            ),
            errors=errors,
            description_placeholders={"client_id": entry.data[CONF_CLIENT_ID], **_placeholders()},
        )


URL_FIELDS = (CONF_BASE_URL, CONF_TOKEN_URL)
REAUTH_FIELDS = frozenset({CONF_CLIENT_SECRET, CONF_SUBSCRIPTION_KEY})
# Errors about the credentials as a whole: shown on the step that holds them.
CREDENTIAL_ERRORS = frozenset({"invalid_auth"})
# Entra ID error numbers of a token refusal, and the field each points at.
_AADSTS_FIELDS: dict[int, tuple[str, str]] = {
    90002: (CONF_TENANT_ID, "invalid_tenant"),
    700016: (CONF_CLIENT_ID, "invalid_client_id"),
    7000215: (CONF_CLIENT_SECRET, "invalid_client_secret"),
    7000222: (CONF_CLIENT_SECRET, "invalid_client_secret"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """What a form shows: a field key (or ``base``) and the error's translation key."""

    field: str
    error: str


async def _async_check(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[Problem | None, int]:
    """Fetch a token, then the mandates; return the problem and the approved count."""
    client = client_for_entry(
        async_get_clientsession(hass),
        data,
        max_retries=VALIDATION_RETRIES,
        request_timeout=VALIDATION_TIMEOUT,
    )
    custom = data[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM
    try:
        await client.token_provider.token()
    except FluviusError as err:
        return token_problem(err, custom=custom), 0
    try:
        mandates = await client.get_mandates()
    except FluviusError as err:
        return api_problem(err, custom=custom), 0
    return None, sum(1 for m in mandates if m.status == MandateStatus.APPROVED)


def token_problem(err: FluviusError, *, custom: bool) -> Problem:
    """The token endpoint's refusal on the field it names, else what reaching it showed."""
    if isinstance(err, FluviusTokenError):
        if err.oauth_error == "invalid_scope":
            return Problem(CONF_SCOPE, "invalid_scope")
        field, error = _AADSTS_FIELDS.get(err.aadsts or 0, ("base", "invalid_auth"))
        return Problem(field, error)
    return _reach_problem(err, CONF_TOKEN_URL if custom else None, "not_token_endpoint")


def api_problem(err: FluviusError, *, custom: bool) -> Problem:
    """The API's refusal with a fresh token, else what reaching it showed."""
    if isinstance(err, FluviusAuthenticationError):
        # The gateway checks the subscription key; the token was just issued.
        return Problem(CONF_SUBSCRIPTION_KEY, "invalid_subscription_key")
    if isinstance(err, FluviusForbiddenError):
        return Problem("base", "forbidden")
    return _reach_problem(err, CONF_BASE_URL if custom else None, "not_fluvius_api")


def _reach_problem(err: FluviusError, url_field: str | None, wrong_place: str) -> Problem:
    """Nothing answered, the server failed, or (custom URLs) the wrong thing answered."""
    if isinstance(err, FluviusConnectionError):
        return (
            Problem(url_field, "cannot_reach_url")
            if url_field
            else Problem("base", "cannot_connect")
        )
    if isinstance(err, FluviusServerError):
        return Problem("base", "server_error")
    if isinstance(err, FluviusRateLimitError):
        return Problem("base", "rate_limited")
    if url_field is not None:
        return Problem(url_field, wrong_place)
    LOGGER.error("Unexpected answer from the Fluvius API: %s", err)
    return Problem("base", "unknown")


def _unique_id(data: Mapping[str, Any]) -> str:
    """One entry per environment and client id, e.g. 'live_<client id>'."""
    return f"{data[CONF_ENVIRONMENT]}_{data[CONF_CLIENT_ID]}"


def _title(data: Mapping[str, Any], approved: int) -> str:
    """Environment and number of approved mandates, e.g. 'Fluvius live (3 approved mandates)'."""
    noun = "mandate" if approved == 1 else "mandates"
    return f"Fluvius {data[CONF_ENVIRONMENT]} ({approved} approved {noun})"


def _placeholders() -> dict[str, str]:
    return {"api_management_url": RENEWAL_URL}
