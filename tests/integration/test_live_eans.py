"""Live-style EANs (GS1 numbers outside the mock scheme): the meter kind comes from the API.

Every EAN here starts 54144, which the mock scheme's fifth digit would read as a
digital meter, so device model, reactive energy and statistics must follow the
energy answers' headpoint ``$type``. The EANs are invented (54144882 and zeros,
with a valid GS1 check digit). Expected values come from the simulator's truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.fluvius.const import CONF_IMPORT_REACTIVE, DOMAIN
from fluvius_simulator import Fault, FluviusSimulator, MeterSpec

from .fault_harness import expected_from_truth, snapshot, truth_differences
from .helpers import children_of, device_of, setup_entry
from .stored_import import finished_import, setup_with_stored_state
from .test_entities import assert_value_sensor, expected_values, value_unique_ids

DIGITAL_QH = "541448820000000015"
AMR_OFFTAKE = "541448820000000022"
AMR_PV = "541448820000000039"
GAS_DIGITAL = "541448820000000046"
GAS_AMR = "541448820000000053"

SPECS = {
    DIGITAL_QH: MeterSpec(digital=True, flow="both", quarter_hourly=True),
    AMR_OFFTAKE: MeterSpec(digital=False, flow="offtake", quarter_hourly=True),
    AMR_PV: MeterSpec(digital=False, flow="injection", submeter="production", model=1),
    GAS_DIGITAL: MeterSpec(digital=True, gas=True, quarter_hourly=True),
    GAS_AMR: MeterSpec(digital=False, gas=True, quarter_hourly=True),
}
# EAN -> (device name, model, stored kind, fine granularity, reactive option).
CASES = {
    DIGITAL_QH: (
        f"Electricity …{DIGITAL_QH[-6:]}",
        "Digital meter",
        "digital",
        "quarter_hourly",
        False,
    ),
    AMR_OFFTAKE: (f"Electricity …{AMR_OFFTAKE[-6:]}", "AMR meter", "amr", "quarter_hourly", True),
    AMR_PV: (f"Electricity …{AMR_PV[-6:]}", "AMR meter", "amr", "quarter_hourly", False),
    GAS_DIGITAL: (f"Gas …{GAS_DIGITAL[-6:]}", "Digital meter", "digital", "hourly", False),
    GAS_AMR: (f"Gas …{GAS_AMR[-6:]}", "AMR meter", "amr", "hourly", False),
}
NOW = datetime(2026, 3, 10, 9, 17, tzinfo=dt_util.UTC)
# History option of one month: the import starts at local midnight of 1 February.
START = datetime(2026, 1, 31, 23, tzinfo=dt_util.UTC)
ENERGY = "/api/mandate/energy"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)


@pytest.mark.parametrize("ean", list(CASES))
async def test_live_ean_device_entities_and_statistics(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any], ean: str
) -> None:
    name, model, kind, fine, reactive = CASES[ean]
    simulator.add_mandate(ean, meter=SPECS[ean])
    entry = await setup_entry(hass, simulator, options={CONF_IMPORT_REACTIVE: reactive})

    device = device_of(hass, ean)
    assert device is not None
    assert (device.name, device.model, device.serial_number) == (name, model, ean)
    # The kind is persisted once seen.
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["eans"][ean]
    assert stored["meter_kind"] == kind

    expected = expected_values(simulator, ean, reactive=reactive)
    assert value_unique_ids(hass, entry) == set(expected)
    for uid, record in expected.items():
        if record.unit.lower() != "kvarh":  # reactive sensors are disabled by default
            assert_value_sensor(hass, uid, record)

    got = await snapshot(hass)
    reactive_ids = {i for i in got if i.endswith("_kvarh")}
    # Submeters have statistics of their own, under their sub-EANs.
    sub_ids = {i for i in got if not i.startswith(f"fluvius:{ean}_")}
    active = {i: rows for i, rows in got.items() if i not in reactive_ids | sub_ids}
    truth = expected_from_truth(simulator, {ean: fine}, START)
    assert truth_differences(active, truth) == []
    assert f"fluvius:{ean}_{'injection' if ean == AMR_PV else 'offtake'}_total_kwh" in got
    if reactive:
        assert reactive_ids == {
            f"fluvius:{ean}_offtake_inductive_kvarh",
            f"fluvius:{ean}_offtake_capacitive_kvarh",
        }
        asked = {
            tuple(r.query.get("complexEnergyTypes", ()))
            for r in simulator.requests
            if r.path.lower().endswith("/energy")
        }
        assert asked == {("active", "reactive")}
    else:
        assert not reactive_ids
    subs = {(r.sub_ean, r.direction) for r in expected.values() if r.sub_ean is not None}
    assert sub_ids == {f"fluvius:{sub}_{direction}_total_kwh" for sub, direction in subs}
    assert bool(sub_ids) == (ean == AMR_PV)


async def test_live_amr_submeters_are_child_devices(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(AMR_PV, meter=SPECS[AMR_PV])
    await setup_entry(hass, simulator)
    main = device_of(hass, AMR_PV)
    assert main is not None
    children = {child.name: child for child in children_of(hass, main)}
    subs = {
        record.direction: record.sub_ean
        for record in simulator.truth(AMR_PV, START, NOW, granularity="quarter_hourly")
        if record.sub_ean is not None
    }
    assert set(subs) == {"production", "auxiliary"}
    assert set(children) == {
        f"Production submeter …{subs['production'][-6:]}",
        f"Auxiliary submeter …{subs['auxiliary'][-6:]}",
    }
    assert {child.model for child in children.values()} == {
        "Production submeter (PV)",
        "Auxiliary submeter (PV)",
    }


async def test_kind_is_kept_while_the_api_refuses(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    """A restart while the API refuses two EANs keeps the model the last answers showed."""
    for ean in (GAS_AMR, AMR_OFFTAKE, DIGITAL_QH):
        simulator.add_mandate(ean, meter=SPECS[ean])
    for ean in (GAS_AMR, AMR_OFFTAKE):
        simulator.faults.add(Fault(kind="status", status=404, path=ENERGY, ean=ean))
    known = {**finished_import(), "meter_kind": "amr"}
    states = {GAS_AMR: known, AMR_OFFTAKE: finished_import(), DIGITAL_QH: finished_import()}
    await setup_with_stored_state(hass, simulator, hass_storage, states)
    gas = device_of(hass, GAS_AMR)
    assert gas is not None
    assert (gas.name, gas.model) == (f"Gas …{GAS_AMR[-6:]}", "AMR meter")
    # Never answered yet: a neutral model, not a guess from the digits.
    unknown = device_of(hass, AMR_OFFTAKE)
    assert unknown is not None
    assert (unknown.name, unknown.model) == (
        f"Electricity …{AMR_OFFTAKE[-6:]}",
        "Electricity meter",
    )
