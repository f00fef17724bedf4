"""Options: what the import fetches and how fast, and the name of each site."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)

from .compat import vol
from .const import (
    CONF_CORRECTION_DAYS,
    CONF_HISTORY_MONTHS,
    CONF_IMPORT_REACTIVE,
    CONF_REQUEST_BUDGET,
    CONF_SITE_NAMES,
    DEFAULT_CORRECTION_DAYS,
    DEFAULT_HISTORY_MONTHS,
    DEFAULT_REQUEST_BUDGET,
    MAX_CORRECTION_DAYS,
    MAX_HISTORY_MONTHS,
    MAX_REQUEST_BUDGET,
    MIN_CORRECTION_DAYS,
    MIN_HISTORY_MONTHS,
    MIN_REQUEST_BUDGET,
)
from .naming import MAX_SITE_NAME_LENGTH, short_ean, site_names


class FluviusOptionsFlow(OptionsFlow):
    """A menu: the import settings, or the site names."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer both option pages."""
        return self.async_show_menu(step_id="init", menu_options=["settings", "site_names"])

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """History depth, reactive energy, days read at start-up, request budget."""
        options = self.config_entry.options
        if user_input is not None:
            return self.async_create_entry(
                data={
                    **options,
                    CONF_HISTORY_MONTHS: int(user_input[CONF_HISTORY_MONTHS]),
                    CONF_IMPORT_REACTIVE: user_input[CONF_IMPORT_REACTIVE],
                    CONF_CORRECTION_DAYS: int(user_input[CONF_CORRECTION_DAYS]),
                    CONF_REQUEST_BUDGET: int(user_input[CONF_REQUEST_BUDGET]),
                }
            )
        return self.async_show_form(step_id="settings", data_schema=_settings_schema(options))

    async def async_step_site_names(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One name per main EAN; an empty field keeps the default name."""
        if self.config_entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        by_ean = self.config_entry.runtime_data.mandates.data.by_ean
        eans = sorted(by_ean)
        if not eans:
            return self.async_abort(reason="no_eans")
        current = site_names(self.config_entry.options)
        errors: dict[str, str] = {}
        if user_input is not None:
            names = {ean: str(user_input.get(ean) or "").strip() for ean in eans}
            errors = _name_errors(names, {ean: str(by_ean[ean].energy_type) for ean in eans})
            if not errors:
                kept = {ean: name for ean, name in names.items() if name}
                return self.async_create_entry(
                    data={**self.config_entry.options, CONF_SITE_NAMES: kept}
                )
            current = names
        schema = vol.Schema(
            {
                vol.Optional(ean, description={"suggested_value": current.get(ean)}): TextSelector()
                for ean in eans
            }
        )
        return self.async_show_form(
            step_id="site_names",
            data_schema=schema,
            errors=errors,
            description_placeholders={"example": short_ean(eans[0])},
        )


def _name_errors(names: Mapping[str, str], kinds: Mapping[str, str]) -> dict[str, str]:
    """Too long, or another meter's name of the same kind (case aside): on the field concerned.

    A building's electricity and gas meters may share its name: their statistics
    still differ ("Town hall offtake", "Town hall gas (m³)").
    """
    errors: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for ean, name in names.items():
        if not name:
            continue
        key = (kinds[ean], name.casefold())
        if len(name) > MAX_SITE_NAME_LENGTH:
            errors[ean] = "site_name_too_long"
        elif key in seen:
            errors[ean] = "duplicate_site_name"
        seen.add(key)
    return errors


def _settings_schema(options: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
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


def _number(
    options: Mapping[str, Any], key: str, default: int, bounds: tuple[int, int], unit: str | None
) -> dict[vol.Required, NumberSelector]:
    """A whole-number option field in a box, defaulting to the stored value."""
    config = NumberSelectorConfig(min=bounds[0], max=bounds[1], step=1, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return {vol.Required(key, default=options.get(key, default)): NumberSelector(config)}
