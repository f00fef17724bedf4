"""Live-style (GS1) EANs: their meter comes from a MeterSpec, never from their digits.

The EANs here are invented: 54144882 and zeros, with a valid GS1 check digit,
outside the mock scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fluvius_simulator import FluviusSimulator, ValidationError
from fluvius_simulator.data import MeterData
from fluvius_simulator.eans import (
    MOCK_EAN_RE,
    EanError,
    MeterSpec,
    live_meter,
    parse_mock_ean,
    sub_ean,
)

from .conftest import Api, flatten, truth_rows

DIGITAL_BOTH = "541448820000000015"
AMR_PV = "541448820000000022"
GAS_DIGITAL = "541448820000000039"
GAS_AMR = "541448820000000046"
WINDOW = ("2025-11-10T23:00:00Z", "2025-11-11T23:00:00Z")

SPECS = {
    DIGITAL_BOTH: MeterSpec(digital=True, flow="both", quarter_hourly=True),
    AMR_PV: MeterSpec(digital=False, flow="injection", submeter="production", model=250),
    GAS_DIGITAL: MeterSpec(digital=True, gas=True),
    GAS_AMR: MeterSpec(digital=False, gas=True, quarter_hourly=False),
}


def row_key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(field) for field in row)


def headpoint_of(reply: Any) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    head: dict[str, Any] = reply.json()["data"]["headpoint"]
    return head


def test_live_eans_are_outside_the_mock_scheme() -> None:
    for ean in SPECS:
        assert not MOCK_EAN_RE.fullmatch(ean)
        with pytest.raises(EanError):
            parse_mock_ean(ean)


def test_live_meter_takes_every_property_from_the_spec() -> None:
    meter = live_meter(AMR_PV, SPECS[AMR_PV])
    assert meter.live
    assert meter.spec == SPECS[AMR_PV]
    assert (meter.digital, meter.gas, meter.flow, meter.submeter) == (
        False,
        False,
        "injection",
        "production",
    )
    assert meter.headpoint_type == "metering-on-headpoint"
    assert meter.reactive
    # Model 250 selects the same installation as for a mock EAN.
    assert meter.installation == parse_mock_ean("541450211000000250").installation
    assert live_meter(GAS_AMR, SPECS[GAS_AMR]).data_service_type == "VH_dag"


def test_live_meter_refuses_what_the_sandbox_refuses() -> None:
    with pytest.raises(EanError) as err:
        live_meter(DIGITAL_BOTH, MeterSpec(digital=True, flow="injection", submeter="other"))
    assert len(err.value.messages) == 2
    with pytest.raises(EanError, match="mock EAN"):
        live_meter("541440110000000000", MeterSpec())
    with pytest.raises(EanError, match="18 digits"):
        live_meter("54144882000000001", MeterSpec())
    with pytest.raises(EanError, match="0-999"):
        live_meter(DIGITAL_BOTH, MeterSpec(model=1000))


def test_spec_from_json() -> None:
    spec = MeterSpec.from_dict({"digital": False, "flow": "injection", "submeter": "production"})
    assert spec == MeterSpec(digital=False, flow="injection", submeter="production")
    with pytest.raises(EanError) as err:
        MeterSpec.from_dict({"digital": "no", "flow": "sideways", "model": True, "colour": 1})
    assert len(err.value.messages) == 4


def test_mock_sub_eans_are_unchanged_and_live_ones_distinct() -> None:
    mock = parse_mock_ean("541450211000000250")
    # 541499, role, 0, digits 5-8 of the main EAN, 000, model: as before live EANs existed.
    assert sub_ean(mock, "1") == "541499105021000250"
    assert sub_ean(mock, "2") == "541499205021000250"
    live = live_meter(AMR_PV, mock.spec)
    subs = {sub_ean(live, role) for role in ("1", "2", "3")}
    assert len(subs) == 3
    assert all(len(s) == 18 and s.isdigit() for s in subs)
    assert not subs & {sub_ean(mock, role) for role in ("1", "2", "3")}
    # Same kind, different EAN: different data, different submeters.
    data, twin = MeterData(live), MeterData(mock)
    assert [s.ean for s in data.subs] != [s.ean for s in twin.subs]
    assert [s.type for s in data.subs] == [s.type for s in twin.subs]


def refusal(call: Callable[[], object]) -> str:
    """The validation messages of a refused add_mandate, joined."""
    with pytest.raises(ValidationError) as err:
        call()
    return "; ".join(err.value.validation or ())


def test_add_mandate_needs_a_spec_for_a_live_ean(sim: FluviusSimulator) -> None:
    assert "not a valid mock EAN" in refusal(lambda: sim.add_mandate(DIGITAL_BOTH))
    wrong_energy = refusal(
        lambda: sim.add_mandate(GAS_DIGITAL, energy_type="E", meter=SPECS[GAS_DIGITAL])
    )
    assert "does not match the meter" in wrong_energy
    mock = refusal(lambda: sim.add_mandate("541440110000000000", meter=MeterSpec()))
    assert "is a mock EAN" in mock


async def test_energy_of_each_live_kind(sim: FluviusSimulator, api: Api) -> None:
    for ean, spec in SPECS.items():
        sim.add_mandate(ean, meter=spec)
    mandates = (await api.get("/api/mandate")).json()["data"]["mandates"]
    assert {m["ean"]: m["energyType"] for m in mandates} == {
        DIGITAL_BOTH: "E",
        AMR_PV: "E",
        GAS_DIGITAL: "G",
        GAS_AMR: "G",
    }

    digital = headpoint_of(await api.energy(DIGITAL_BOTH, *WINDOW))
    assert digital["$type"] == "metering-on-meter"
    assert {r[1] for r in flatten(digital, "quarterHourlyEnergy")} == {
        "offtake",
        "injection",
    }

    amr = headpoint_of(await api.energy(AMR_PV, *WINDOW, complexEnergyTypes="active,reactive"))
    assert amr["$type"] == "metering-on-headpoint"
    assert {s["$type"] for s in amr["subHeadpoints"]} == {
        "submetering-production",
        "submetering-auxiliary",
    }
    registers = {r[2] for r in flatten(amr, "quarterHourlyEnergy") if r[0] is None}
    assert registers == {"total", "inductive", "capacitive"}

    gas = headpoint_of(await api.energy(GAS_DIGITAL, *WINDOW))
    assert gas["$type"] == "metering-on-meter"
    assert {r[3] for r in flatten(gas, "hourlyEnergy")} == {"m3", "kWh"}
    gas_amr = headpoint_of(await api.energy(GAS_AMR, *WINDOW))
    assert gas_amr["$type"] == "metering-on-headpoint"
    assert "hourlyEnergy" not in gas_amr  # daily access only

    # The answers are the simulator's truth.
    start, end = (datetime.fromisoformat(t) for t in WINDOW)
    rows = flatten(amr, "quarterHourlyEnergy")
    truth = sim.truth(AMR_PV, start, end, reactive=True)
    assert sorted(rows, key=row_key) == sorted(truth_rows(truth), key=row_key)


async def test_mock_endpoint_refuses_live_eans(sim: FluviusSimulator, api: Api) -> None:
    body = {"status": "Approved", "ean": AMR_PV, "meter": {"digital": False}}
    reply = await api.post("/api/mandate/mock", body)
    assert reply.status == 400
    assert AMR_PV not in sim.mandates


async def test_control_surface_adds_live_eans(sim: FluviusSimulator, api: Api) -> None:
    body = {
        "status": "Approved",
        "ean": AMR_PV,
        "meter": {"digital": False, "flow": "injection", "submeter": "production"},
    }
    reply = await api.post("/_simulator/mandates", body)
    assert reply.status == 200, reply.body
    assert sim.mandates[AMR_PV].meter == live_meter(
        AMR_PV, MeterSpec(digital=False, flow="injection", submeter="production")
    )
    refused = await api.post("/_simulator/mandates", {**body, "meter": {"flow": "both!"}})
    assert refused.status == 400
    # Without a spec the control surface validates like the mock endpoint.
    assert (
        await api.post("/_simulator/mandates", {"status": "Approved", "ean": GAS_AMR})
    ).status == 400


def test_respecifying_a_live_ean_starts_its_data_afresh(sim: FluviusSimulator) -> None:
    start = datetime(2025, 11, 10, 23, tzinfo=UTC)
    sim.add_mandate(GAS_AMR, meter=SPECS[GAS_AMR])
    gas = sim.truth(GAS_AMR, start, start + timedelta(days=1), granularity="daily")
    sim.add_mandate(GAS_AMR, meter=MeterSpec(digital=False, flow="offtake", quarter_hourly=False))
    power = sim.truth(GAS_AMR, start, start + timedelta(days=1), granularity="daily")
    assert {r.unit for r in gas} == {"kWh"}
    assert {r.unit for r in power} == {"kWh"}
    assert gas != power
