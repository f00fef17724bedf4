"""The tariff subentry flow: what it stores, what it refuses, and on which field."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.fluvius.tariffs import SUBENTRY_TARIFF
from fluvius_simulator import FluviusSimulator

from .helpers import make_entry, settle, setup_entry

DIGITAL = "541440110000000000"
GAS = "541441010000000000"
DAILY = "541440100000000000"
PRICE_ENTITY = "sensor.day_ahead_price"


def form(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Supplier 2026",
        "eans": [DIGITAL],
        "offtake": {"price": 0.29},
        "injection": {},
        "gas": {},
    }
    return {**base, **changes}


async def start(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_TARIFF), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return dict(result)


async def submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.subentries.async_configure(flow_id, data))


async def test_a_tariff_is_stored_without_blanks(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    simulator.add_mandate(GAS)
    simulator.add_mandate(DAILY)
    names = {DIGITAL: "Town hall", GAS: "Town hall"}
    entry = await setup_entry(hass, simulator, options={"site_names": names})
    hass.states.async_set(PRICE_ENTITY, "91.5", {"unit_of_measurement": "€/MWh"})
    result = await start(hass, entry.entry_id)
    labels = [option["label"] for option in result["data_schema"].schema["eans"].config["options"]]
    # A building's meters share its name; the kind tells them apart, as the default does.
    assert labels == [
        f"Electricity …00000000000 ({DAILY})",
        f"Town hall, electricity ({DIGITAL})",
        f"Town hall, gas ({GAS})",
    ]
    result = await submit(
        hass,
        result["flow_id"],
        form(
            eans=[GAS, DIGITAL],
            offtake={
                "price": 0.25,
                "price_entity": PRICE_ENTITY,
                "multiplier": 1.06,
                "adder": 0.01,
            },
            injection={"price": 0.04, "night_price": 0.03},
            gas={"price": 1.1, "gas_unit": "m3"},
            capacity_tariff=53.2,
            reprice_from="2026-01-01",
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = entry.subentries.values()
    assert subentry.title == "Supplier 2026"
    assert dict(subentry.data) == {
        "eans": [DIGITAL, GAS],
        "offtake": {"price": 0.25, "price_entity": PRICE_ENTITY, "multiplier": 1.06, "adder": 0.01},
        "injection": {"price": 0.04, "night_price": 0.03},
        "gas": {"price": 1.1, "gas_unit": "m3"},
        "capacity_tariff": 53.2,
        "reprice_from": "2026-01-01",
    }


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"name": "  "}, {"name": "name_required"}),
        ({"eans": []}, {"eans": "no_eans_chosen"}),
        ({"offtake": {}}, {"base": "nothing_priced"}),
        ({"offtake": {"night_price": 0.2}}, {"base": "offtake_price_required"}),
        ({"offtake": {"price_entity": PRICE_ENTITY}}, {"base": "offtake_fallback_required"}),
        (
            {"injection": {"price": 0.05, "night_price": 0.03, "price_entity": PRICE_ENTITY}},
            {"base": "injection_night_price_fixed_only"},
        ),
        (
            {"offtake": {"price": 0.3, "price_entity": "sensor.temperature"}},
            {"base": "offtake_price_entity_unit"},
        ),
        (
            {"gas": {"price": 1.1, "gas_unit": "kwh", "price_entity": "sensor.gas_price_m3"}},
            {"base": "gas_price_entity_unit"},
        ),
        (
            {"offtake": {"price": 0.3, "price_entity": "sensor.missing"}},
            {"base": "offtake_price_entity_unit"},
        ),
    ],
)
async def test_what_cannot_be_priced_is_refused_on_its_field(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    simulator.add_mandate(DIGITAL)
    entry = await setup_entry(hass, simulator)
    hass.states.async_set(PRICE_ENTITY, "91.5", {"unit_of_measurement": "EUR/MWh"})
    hass.states.async_set("sensor.temperature", "21", {"unit_of_measurement": "°C"})
    hass.states.async_set("sensor.gas_price_m3", "1.2", {"unit_of_measurement": "EUR/m³"})
    result = await start(hass, entry.entry_id)
    result = await submit(hass, result["flow_id"], form(**changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # Corrected, the same form goes through.
    result = await submit(hass, result["flow_id"], form())
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_an_ean_is_in_one_tariff_and_reconfigure_keeps_its_own(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DIGITAL)
    simulator.add_mandate(GAS)
    entry = await setup_entry(hass, simulator)
    result = await start(hass, entry.entry_id)
    await submit(hass, result["flow_id"], form())
    # A new tariff reloads the entry, which then prices the history.
    await settle(hass)
    result = await start(hass, entry.entry_id)
    result = await submit(hass, result["flow_id"], form(name="Second", eans=[DIGITAL, GAS]))
    assert result["errors"] == {"eans": "ean_in_other_tariff"}
    result = await submit(
        hass, result["flow_id"], form(name="Gas", eans=[GAS], offtake={}, gas={"price": 0.09})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await settle(hass)

    entry = hass.config_entries.async_get_entry(entry.entry_id)
    assert entry is not None
    first = next(s for s in entry.subentries.values() if s.title == "Supplier 2026")
    result = dict(await entry.start_subentry_reconfigure_flow(hass, first.subentry_id))
    assert result["step_id"] == "reconfigure"
    # Its own EAN is no conflict; another tariff's is.
    result = await submit(hass, result["flow_id"], form(eans=[DIGITAL, GAS]))
    assert result["errors"] == {"eans": "ean_in_other_tariff"}
    result = await submit(hass, result["flow_id"], form(offtake={"price": 0.31}))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[first.subentry_id].data["offtake"] == {"price": 0.31}


async def test_a_tariff_needs_a_loaded_entry_with_eans(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TARIFF), context={"source": SOURCE_USER}
    )
    assert result["reason"] == "not_loaded"
    entry = await setup_entry(hass, simulator)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TARIFF), context={"source": SOURCE_USER}
    )
    assert result["reason"] == "no_eans"
