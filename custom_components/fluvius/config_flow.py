"""Config flow: credentials, reauthentication, reconfiguration and options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
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
    MandateStatus,
)
from .compat import vol
from .const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CORRECTION_DAYS,
    CONF_ENVIRONMENT,
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DEFAULT_CORRECTION_DAYS,
    DEFAULT_HISTORY_MONTHS,
    DEFAULT_REQUEST_BUDGET,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENTS,
    LOGGER,
    MAX_CORRECTION_DAYS,
    MAX_HISTORY_MONTHS,
    MAX_REQUEST_BUDGET,
    MIN_CORRECTION_DAYS,
    MIN_HISTORY_MONTHS,
    MIN_REQUEST_BUDGET,
    RENEWAL_URL,
)
from .entry_client import client_for_entry

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
        """Hold the first step's input while the custom step asks for URLs."""
        self._pending: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> FluviusOptionsFlow:
        """Options: history depth, reactive energy, correction window."""
        return FluviusOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask the environment and the credentials."""
        if user_input is not None:
            self._pending = dict(user_input)
            if user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
                return await self.async_step_custom()
            self._pending.pop(CONF_BASE_URL, None)
            self._pending.pop(CONF_TOKEN_URL, None)
            return await self._async_finish("user", _credentials_schema(user_input))
        return self.async_show_form(
            step_id="user",
            data_schema=_credentials_schema({}),
            description_placeholders=_placeholders(),
        )

    async def async_step_custom(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask the base and token URLs of a custom environment (simulator, gateway)."""
        defaults: Mapping[str, Any] = self._pending
        if self.source == SOURCE_RECONFIGURE:
            defaults = {**self._get_reconfigure_entry().data, **self._pending}
        if user_input is None:
            return self.async_show_form(step_id="custom", data_schema=_custom_schema(defaults))
        self._pending.update(user_input)
        return await self._async_finish("custom", _custom_schema(user_input))

    async def _async_finish(self, step_id: str, schema: vol.Schema) -> ConfigFlowResult:
        """Validate the pending data, then create or update the entry."""
        data = self._pending
        errors, approved = await _async_validate(self, data)
        if errors:
            return self.async_show_form(
                step_id=step_id,
                data_schema=self.add_suggested_values_to_schema(schema, data),
                errors=errors,
                description_placeholders=_placeholders(),
            )
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data=data, title=_title(data, approved)
            )
        await self.async_set_unique_id(_unique_id(data))
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=_title(data, approved), data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The API refused the credentials (they expire yearly)."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the renewed client secret and, optionally, a new subscription key."""
        entry = self._get_reauth_entry()
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
                vol.Optional(CONF_SUBSCRIPTION_KEY): _PASSWORD,
            }
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **{k: v for k, v in user_input.items() if v}}
            errors, _ = await _async_validate(self, data)
            if not errors:
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={"client_id": entry.data[CONF_CLIENT_ID], **_placeholders()},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change any field; validated like a new entry."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            # Another client id or environment is another account, with its own
            # EANs and claims: that is a new entry, not a reconfiguration.
            await self.async_set_unique_id(_unique_id(user_input))
            self._abort_if_unique_id_mismatch(reason="unique_id_mismatch")
            self._pending = dict(user_input)
            if user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
                return await self.async_step_custom()
            return await self._async_finish("reconfigure", _credentials_schema(user_input))
        return self.async_show_form(
            step_id="reconfigure", data_schema=_credentials_schema(entry.data)
        )


class FluviusOptionsFlow(OptionsFlow):
    """History depth of the first import, reactive energy, days read at start-up, request budget."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_HISTORY_MONTHS: int(user_input[CONF_HISTORY_MONTHS]),
                    CONF_IMPORT_REACTIVE: user_input[CONF_IMPORT_REACTIVE],
                    CONF_CORRECTION_DAYS: int(user_input[CONF_CORRECTION_DAYS]),
                    CONF_REQUEST_BUDGET: int(user_input[CONF_REQUEST_BUDGET]),
                }
            )
        options = self.config_entry.options

        schema = vol.Schema(
            {
                **_number(
                    options,
                    CONF_HISTORY_MONTHS,
                    DEFAULT_HISTORY_MONTHS,
                    (MIN_HISTORY_MONTHS, MAX_HISTORY_MONTHS),
                    "months",
                ),
                vol.Required(
                    CONF_IMPORT_REACTIVE, default=options.get(CONF_IMPORT_REACTIVE, False)
                ): BooleanSelector(),
                **_number(
                    options,
                    CONF_CORRECTION_DAYS,
                    DEFAULT_CORRECTION_DAYS,
                    (MIN_CORRECTION_DAYS, MAX_CORRECTION_DAYS),
                    "days",
                ),
                **_number(
                    options,
                    CONF_REQUEST_BUDGET,
                    DEFAULT_REQUEST_BUDGET,
                    (MIN_REQUEST_BUDGET, MAX_REQUEST_BUDGET),
                    None,
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)


def _number(
    options: Mapping[str, Any], key: str, default: int, bounds: tuple[int, int], unit: str | None
) -> dict[vol.Required, NumberSelector]:
    """A whole-number option field in a box, defaulting to the stored value."""
    config = NumberSelectorConfig(min=bounds[0], max=bounds[1], step=1, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return {vol.Required(key, default=options.get(key, default)): NumberSelector(config)}


async def _async_validate(flow: ConfigFlow, data: Mapping[str, Any]) -> tuple[dict[str, str], int]:
    """Fetch a token and the mandates; return form errors and the approved count."""
    client = client_for_entry(
        async_get_clientsession(flow.hass),
        data,
        max_retries=VALIDATION_RETRIES,
        request_timeout=VALIDATION_TIMEOUT,
    )
    try:
        mandates = await client.get_mandates()
    except FluviusAuthenticationError:
        return {"base": "invalid_auth"}, 0
    except FluviusForbiddenError:
        return {"base": "forbidden"}, 0
    except (FluviusConnectionError, FluviusRateLimitError, FluviusServerError):
        return {"base": "cannot_connect"}, 0
    except FluviusError:
        LOGGER.exception("Unexpected answer from the Fluvius API")
        return {"base": "unknown"}, 0
    approved = sum(1 for m in mandates if m.status == MandateStatus.APPROVED)
    return {}, approved


def _unique_id(data: Mapping[str, Any]) -> str:
    """One entry per environment and client id, e.g. 'live_<client id>'."""
    return f"{data[CONF_ENVIRONMENT]}_{data[CONF_CLIENT_ID]}"


def _title(data: Mapping[str, Any], approved: int) -> str:
    """Environment and number of approved mandates, e.g. 'Fluvius live (3 approved mandates)'."""
    noun = "mandate" if approved == 1 else "mandates"
    return f"Fluvius {data[CONF_ENVIRONMENT]} ({approved} approved {noun})"


def _placeholders() -> dict[str, str]:
    return {"api_management_url": RENEWAL_URL}
