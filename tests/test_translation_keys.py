"""Every translation key the code can produce exists, in every language.

The keys are enumerated from the code's own inputs (every direction, register,
unit and energy type a value sensor can be made for, every description, every
device kind), so a key the code can reach but the files lack fails here.
"""

from __future__ import annotations

from itertools import product
import json
from pathlib import Path
import string
from typing import Any

import pytest

from custom_components.fluvius.api import (
    Direction,
    EnergyResponse,
    EnergyType,
    Mandate,
    Register,
    SubHeadpoint,
    SubHeadpointKind,
)
from custom_components.fluvius.api.decoder import parse_energy
from custom_components.fluvius.binary_sensor import FluviusMandateAttentionSensor
from custom_components.fluvius.entity import main_device, submeter_device
from custom_components.fluvius.meters import MeterKind
from custom_components.fluvius.naming import Site
from custom_components.fluvius.sensor import (
    CAPACITY_TARIFF_SENSOR,
    DATA_SENSORS,
    FALLBACK_PRICE_SENSOR,
    LOW_VOLTAGE_PEAK,
    MANDATE_SENSORS,
    PEAK_SENSORS,
    value_translation_key,
)
from custom_components.fluvius.series import UNITS, SeriesKey

PACKAGE = Path(__file__).parent.parent / "custom_components" / "fluvius"
STRINGS = json.loads((PACKAGE / "strings.json").read_text(encoding="utf-8"))
LANGUAGES = ("en", "nl", "fr", "de")
ENERGY_TYPES = (EnergyType.ELECTRICITY, EnergyType.GAS, None)
EAN = "541448820000000015"


def translations(language: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (PACKAGE / "translations" / f"{language}.json").read_text(encoding="utf-8")
    )
    return data


def value_keys() -> set[str]:
    """Every key value_translation_key gives for what a value sensor can be made of."""
    return {
        value_translation_key(period, SeriesKey(EAN, direction.value, register.value, unit), energy)
        for period, direction, register, unit, energy in product(
            ("last_day", "last_interval"), Direction, Register, UNITS, ENERGY_TYPES
        )
    }


def sensor_keys() -> set[str]:
    descriptions = (
        *MANDATE_SENSORS,
        *DATA_SENSORS,
        *PEAK_SENSORS,
        LOW_VOLTAGE_PEAK,
        CAPACITY_TARIFF_SENSOR,
        FALLBACK_PRICE_SENSOR,
    )
    keys = {str(d.translation_key) for d in descriptions}
    return keys | value_keys()


def mandate(energy_type: EnergyType | None) -> Mandate:
    return Mandate(ean=EAN, energy_type=energy_type)


def submeter(kind: SubHeadpointKind | str) -> SubHeadpoint:
    """A submeter as the decoder makes it, of any ``$type``."""
    body = {
        "data": {
            "headpoint": {
                "$type": "metering-on-headpoint",
                "ean": EAN,
                "energyType": "E",
                "subHeadpoints": [{"$type": str(kind), "ean": "541449990000000001", "type": "PV"}],
            }
        }
    }
    response: EnergyResponse = parse_energy(json.dumps(body).encode())
    assert response.headpoint is not None
    return response.headpoint.sub_headpoints[0]


def device_keys() -> dict[str, dict[str, str]]:
    """Translation key -> placeholders of every device the entities can name."""
    infos = [
        main_device(Site(EAN, None, energy == EnergyType.GAS, "…000000"), mandate(energy), kind)
        for energy, kind in product(ENERGY_TYPES, (*MeterKind, None))
    ]
    infos += [
        submeter_device(EAN, submeter(kind)) for kind in (*SubHeadpointKind, "submetering-new")
    ]
    out: dict[str, dict[str, str]] = {}
    for info in infos:
        key = info.get("translation_key")
        assert key is not None, info
        out[key] = dict(info.get("translation_placeholders") or {})
    return out


def test_value_keys_cover_every_combination() -> None:
    keys = value_keys()
    assert "last_day_production_night" in keys
    assert "last_interval_auxiliary_day" in keys
    assert "last_interval_gas_volume" in keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entity_key_exists(language: str) -> None:
    entity = translations(language)["entity"]
    missing = sorted(sensor_keys() - set(entity["sensor"]))
    assert missing == [], f"{language}: missing sensor translation keys {missing}"
    # Home Assistant's cached properties keep a class's _attr_ default under __attr_.
    binary = vars(FluviusMandateAttentionSensor)["__attr_translation_key"]
    assert binary in entity["binary_sensor"]
    for description in (*MANDATE_SENSORS, *DATA_SENSORS):
        states = entity["sensor"][description.translation_key].get("state", {})
        assert set(description.options or ()) <= set(states), description.key


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_device_name_exists_with_its_placeholders(language: str) -> None:
    names = translations(language)["device"]
    for key, placeholders in device_keys().items():
        assert key in names, f"{language}: missing device translation key {key}"
        used = {field for _, field, _, _ in string.Formatter().parse(names[key]["name"]) if field}
        assert used == set(placeholders), (language, key)


def test_english_device_names_stay() -> None:
    names = {key: value["name"] for key, value in STRINGS["device"].items()}
    assert names["electricity"] == "Electricity {short_ean}"
    assert names["gas"] == "Gas {short_ean}"
    assert names["production_submeter"] == "Production submeter {short_ean}"
    assert names["auxiliary_submeter"] == "Auxiliary submeter {short_ean}"
    assert names["offtake_submeter"] == "Offtake submeter {short_ean}"


def test_languages_have_the_same_keys() -> None:
    assert translations("en") == STRINGS

    def keys(tree: Any, prefix: str = "") -> set[str]:
        if not isinstance(tree, dict):
            return {prefix}
        return {k for key, value in tree.items() for k in keys(value, f"{prefix}.{key}")}

    for language in ("nl", "fr", "de"):
        assert keys(translations(language)) == keys(STRINGS), language
