"""The tariff subentry flow: add or change a tariff, priced over the EANs it applies to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    DateSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .compat import vol
from .naming import Site
from .pricing import price_unit_factor
from .tariffs import (
    CONF_ADDER,
    CONF_CAPACITY_TARIFF,
    CONF_EANS,
    CONF_GAS_UNIT,
    CONF_MULTIPLIER,
    CONF_NIGHT_PRICE,
    CONF_PRICE,
    CONF_PRICE_ENTITY,
    CONF_REPRICE_FROM,
    GAS,
    GAS_UNITS,
    INJECTION,
    OFFTAKE,
    SECTIONS,
    SUBENTRY_TARIFF,
    parse_price,
)


class TariffSubentryFlow(ConfigSubentryFlow):
    """One tariff: its EANs, prices per energy kind and capacity rate."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a tariff."""
        return await self._async_step_tariff("user", user_input, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a tariff: its costs are priced again from the chosen day."""
        subentry = self._get_reconfigure_subentry()
        return await self._async_step_tariff("reconfigure", user_input, subentry.subentry_id)

    async def _async_step_tariff(
        self, step_id: str, user_input: dict[str, Any] | None, own_id: str | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        data = entry.runtime_data
        by_ean = data.mandates.data.by_ean
        if not by_ean:
            return self.async_abort(reason="no_eans")
        errors: dict[str, str] = {}
        if user_input is not None:
            taken = {
                ean
                for subentry in entry.subentries.values()
                if subentry.subentry_type == SUBENTRY_TARIFF and subentry.subentry_id != own_id
                for ean in subentry.data.get(CONF_EANS) or ()
            }
            errors = self._errors(user_input, taken)
            if not errors:
                title = str(user_input[CONF_NAME]).strip()
                stored = _stored(user_input)
                if own_id is None:
                    return self.async_create_entry(title=title, data=stored)
                return self.async_update_and_abort(
                    entry, self._get_reconfigure_subentry(), title=title, data=stored
                )
        suggested = user_input
        if suggested is None and own_id is not None:
            subentry = entry.subentries[own_id]
            suggested = {CONF_NAME: subentry.title, **subentry.data, CONF_REPRICE_FROM: None}
        options = [
            SelectOptionDict(value=ean, label=_label(data.importer.sites.site(ean)))
            for ean in sorted(by_ean)
        ]
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(_schema(options), suggested),
            errors=errors,
        )

    def _errors(self, user_input: Mapping[str, Any], taken: set[str]) -> dict[str, str]:
        """What keeps the tariff from pricing what it says, on the field or section concerned."""
        errors: dict[str, str] = {}
        if not str(user_input.get(CONF_NAME) or "").strip():
            errors[CONF_NAME] = "name_required"
        eans = user_input.get(CONF_EANS) or []
        if not eans:
            errors[CONF_EANS] = "no_eans_chosen"
        elif taken & set(eans):
            errors[CONF_EANS] = "ean_in_other_tariff"
        priced = user_input.get(CONF_CAPACITY_TARIFF) is not None
        for kind in SECTIONS:
            raw = user_input.get(kind) or {}
            error = self._price_error(kind, raw)
            if error is not None:
                errors["base"] = f"{kind}_{error}"
            priced |= parse_price(raw, gas=kind == GAS) is not None
        if not priced and not errors:
            errors["base"] = "nothing_priced"
        return errors

    def _price_error(self, kind: str, raw: Mapping[str, Any]) -> str | None:
        entity_id = raw.get(CONF_PRICE_ENTITY)
        has_price = raw.get(CONF_PRICE) is not None
        if not entity_id:
            if not has_price and any(
                raw.get(key) is not None for key in (CONF_NIGHT_PRICE, CONF_MULTIPLIER, CONF_ADDER)
            ):
                return "price_required"
            return None
        if not has_price:
            return "fallback_required"
        if raw.get(CONF_NIGHT_PRICE) is not None:
            return "night_price_fixed_only"
        state = self.hass.states.get(entity_id)
        unit = None if state is None else state.attributes.get("unit_of_measurement")
        energy_unit = str(raw.get(CONF_GAS_UNIT) or "kwh") if kind == GAS else "kwh"
        if price_unit_factor(unit, energy_unit) is None:
            return "price_entity_unit"
        return None


def _label(site: Site) -> str:
    """'Town hall, gas (541…)': a building's electricity and gas meters share its name."""
    kind = "gas" if site.gas else "electricity"
    name = f"{site.name}, {kind}" if site.name else site.label
    return f"{name} ({site.ean})"


def _stored(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """What the subentry keeps: the fields entered, without blanks."""
    stored: dict[str, Any] = {
        CONF_EANS: sorted(user_input[CONF_EANS]),
        CONF_CAPACITY_TARIFF: user_input.get(CONF_CAPACITY_TARIFF),
        CONF_REPRICE_FROM: user_input.get(CONF_REPRICE_FROM) or None,
    }
    for kind in SECTIONS:
        raw = user_input.get(kind) or {}
        stored[kind] = {key: value for key, value in raw.items() if value not in (None, "")}
    return stored


def _number(unit: str | None = None) -> NumberSelector:
    config = NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _price_section(kind: str) -> section:
    """Price (fixed, or the fallback of a price entity), night price, entity, formula."""
    # Gas is priced per kWh or per m³, as its unit field says.
    unit = None if kind == GAS else "EUR/kWh"
    fields: dict[Any, Any] = {
        vol.Optional(CONF_PRICE): _number(unit),
    }
    if kind != GAS:
        fields[vol.Optional(CONF_NIGHT_PRICE)] = _number(unit)
    else:
        fields[vol.Optional(CONF_GAS_UNIT, default="kwh")] = SelectSelector(
            SelectSelectorConfig(
                options=list(GAS_UNITS),
                mode=SelectSelectorMode.DROPDOWN,
                translation_key=CONF_GAS_UNIT,
            )
        )
    fields[vol.Optional(CONF_PRICE_ENTITY)] = EntitySelector(
        EntitySelectorConfig(domain=["sensor", "input_number"])
    )
    fields[vol.Optional(CONF_MULTIPLIER)] = _number()
    fields[vol.Optional(CONF_ADDER)] = _number(unit)
    return section(vol.Schema(fields), {"collapsed": kind != OFFTAKE})


def _schema(options: list[SelectOptionDict]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME): TextSelector(),
            # Optional with an empty default: a required list would start with its first EAN ticked.
            vol.Optional(CONF_EANS, default=[]): SelectSelector(
                SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.LIST)
            ),
            vol.Required(OFFTAKE): _price_section(OFFTAKE),
            vol.Required(INJECTION): _price_section(INJECTION),
            vol.Required(GAS): _price_section(GAS),
            vol.Optional(CONF_CAPACITY_TARIFF): _number("EUR/kW/year"),
            vol.Optional(CONF_REPRICE_FROM): DateSelector(),
        }
    )
