"""Entities and devices of every meter kind, checked against the simulator's truth.

Expected values are computed here from ``sim.truth`` (what a readTime query of
the poll's trailing window returns), never from the integration's functions.
Most tests start from a finished history import persisted in storage, as after
a restart, so only the polls run.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius import async_remove_config_entry_device
from custom_components.fluvius.const import CONF_IMPORT_REACTIVE, DOMAIN
from fluvius_simulator import FluviusSimulator, TruthRecord
from fluvius_simulator.eans import parse_mock_ean

from .helpers import children_of, device_of, enable_entities, settle
from .stored_import import setup_after_import

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
AMR_OFFTAKE = "541450010000000000"
AMR_INJECTION_PV = "541450211000000000"
DM_DAILY = "541440100000000000"
DM_OFFTAKE = "541440010000000001"

NOW = datetime(2026, 3, 10, 9, 17, tzinfo=UTC)
BRUSSELS = ZoneInfo("Europe/Brussels")
# The correction window option's default: each poll re-reads this many local days.
CORRECTION_DAYS = 4
# Diagnostic sensors disabled by default; most tests read them, as a user who enabled them.
HIDDEN_DIAGNOSTICS = (
    "renewal_status",
    "data_period_start",
    "data_period_end",
    "access_granularity",
    "newest_measurement",
    "estimated_share",
)
FINAL_STATES = {"READ", "VAL"}
# The validation_state attribute shows translated states, not the API's codes.
SHOWN_VALIDATION_STATES = {
    "READ": "read",
    "EST": "estimated",
    "VAL": "validated",
    "NVAL": "not_validated",
}
UNITS = {"kwh": "kWh", "m3": "m³", "kvarh": "kvarh"}
DEVICE_CLASSES = {"kwh": "energy", "m3": "gas", "kvarh": "reactive_energy"}
RENEWAL_OPTIONS = {
    None: "not_due",
    "ToBeRenewed": "to_be_renewed",
    "RenewalRequested": "renewal_requested",
    "Expired": "expired",
}


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)


def window_start(now: datetime) -> datetime:
    """Local midnight CORRECTION_DAYS days back: where the poll's readTime window starts."""
    day = now.astimezone(BRUSSELS).date() - timedelta(days=CORRECTION_DAYS)
    return datetime.combine(day, time(), BRUSSELS).astimezone(UTC)


def window_truth(
    sim: FluviusSimulator, ean: str, granularity: str, *, reactive: bool = False
) -> list[TruthRecord]:
    now = dt_util.utcnow()
    return sim.truth(ean, window_start(now), now, granularity=granularity, reactive=reactive)


def expected_values(
    sim: FluviusSimulator, ean: str, *, fine: bool = True, reactive: bool = False
) -> dict[str, TruthRecord]:
    """Unique id of each value sensor -> the newest record of its stream."""
    periods = [("last_day", "daily")]
    if fine:
        periods.append(("last_interval", "quarter_hourly"))
    newest: dict[str, TruthRecord] = {}
    for period, granularity in periods:
        for record in window_truth(sim, ean, granularity, reactive=reactive):
            meter = record.sub_ean or ean
            uid = f"{meter}_{period}_{record.direction}_{record.register}_{record.unit.lower()}"
            if uid not in newest or record.start >= newest[uid].start:
                newest[uid] = record
    # A day reported only as day and night registers also gets their sum as the total.
    for uid, day in list(newest.items()):
        if "_last_day_" not in uid or day.register != "day":
            continue
        stem = uid.removesuffix(f"_day_{day.unit.lower()}")
        night = newest.get(f"{stem}_night_{day.unit.lower()}")
        total = f"{stem}_total_{day.unit.lower()}"
        if night is None or night.start != day.start or total in newest:
            continue
        estimated = [
            s for s in (day.validation_state, night.validation_state) if s not in FINAL_STATES
        ]
        newest[total] = day._replace(
            register="total",
            value=day.value + night.value,
            validation_state=(estimated or [day.validation_state])[0],
        )
    return newest


def value_unique_ids(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    registry = er.async_get(hass)
    return {
        e.unique_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if "_last_day_" in e.unique_id or "_last_interval_" in e.unique_id
    }


def entity_id(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found is not None, unique_id
    return found


def last_day_shown(end: datetime | None) -> str:
    """The data period end sensor: the last day with data (the end is exclusive)."""
    if end is None:
        return "open_ended"
    return (end - timedelta(microseconds=1)).astimezone(BRUSSELS).date().isoformat()


def assert_value_sensor(hass: HomeAssistant, unique_id: str, record: TruthRecord) -> None:
    state = hass.states.get(entity_id(hass, unique_id))
    assert state is not None, unique_id
    assert float(state.state) == pytest.approx(record.value, abs=1e-9), unique_id
    attributes = state.attributes
    assert attributes["period_start"] == record.start.isoformat()
    assert attributes["period_end"] == record.end.isoformat()
    assert attributes["validation_state"] == SHOWN_VALIDATION_STATES[record.validation_state]
    assert attributes.get("gas_conversion_factor") == record.gcf
    unit = record.unit.lower()
    assert attributes["unit_of_measurement"].lower() == UNITS[unit].lower()
    assert attributes["device_class"] == DEVICE_CLASSES[unit]
    # Delayed values: no state class, the history comes from the statistics.
    assert "state_class" not in attributes


def state_of(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    state = hass.states.get(entity_id(hass, unique_id, platform))
    assert state is not None, unique_id
    return state.state


def newest_end(sim: FluviusSimulator, ean: str, *, fine: bool = True) -> datetime:
    records = window_truth(sim, ean, "daily")
    if fine:
        records += window_truth(sim, ean, "quarter_hourly")
    return max(r.end for r in records)


def estimated_share(sim: FluviusSimulator, ean: str, *, fine: bool = True) -> float:
    """Percentage of the newest complete day's values that are not measured (READ/VAL)."""
    days = window_truth(sim, ean, "daily")
    day_start = max(r.start for r in days)
    day_end = max(r.end for r in days if r.start == day_start)
    states = [r.validation_state for r in days if r.start == day_start]
    if fine:
        states = [
            r.validation_state
            for r in window_truth(sim, ean, "quarter_hourly")
            if day_start <= r.start < day_end
        ]
    return round(100 * sum(1 for s in states if s not in FINAL_STATES) / len(states), 1)


@pytest.fixture
def enabled_diagnostics(hass: HomeAssistant) -> None:
    """Register the hidden diagnostic sensors of this module's EANs as enabled (a user's choice)."""
    eans = (DM_ELECTRICITY, DM_GAS, AMR_OFFTAKE, AMR_INJECTION_PV, DM_DAILY, DM_OFFTAKE)
    enable_entities(
        hass,
        [f"{ean}_{key}" for ean in (*eans, "541440010000000003") for key in HIDDEN_DIAGNOSTICS],
    )


async def test_diagnostic_sensors_most_users_skip_are_disabled(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_GAS)
    await setup_after_import(hass, simulator, hass_storage, [DM_GAS])
    registry = er.async_get(hass)
    for key in HIDDEN_DIAGNOSTICS:
        registered = registry.async_get(entity_id(hass, f"{DM_GAS}_{key}"))
        assert registered is not None
        assert registered.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key
        assert registered.entity_category is EntityCategory.DIAGNOSTIC, key
    shown = registry.async_get(entity_id(hass, f"{DM_GAS}_mandate_status"))
    assert shown is not None
    assert shown.disabled_by is None
    gcf = registry.async_get(entity_id(hass, f"{DM_GAS}_gas_conversion_factor"))
    assert gcf is not None
    assert gcf.disabled_by is None
    assert gcf.entity_category is EntityCategory.DIAGNOSTIC


@pytest.mark.usefixtures("enabled_diagnostics")
async def test_digital_electricity_quarter_hour(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])

    device = device_of(hass, DM_ELECTRICITY)
    assert device is not None
    assert (device.name, device.model, device.manufacturer, device.serial_number) == (
        "Electricity …000000",
        "Digital meter",
        "Fluvius",
        DM_ELECTRICITY,
    )

    expected = expected_values(simulator, DM_ELECTRICITY)
    # Offtake and injection, day and night registers per day, totals per quarter-hour.
    assert value_unique_ids(hass, entry) == set(expected)
    assert {
        f"{DM_ELECTRICITY}_last_day_offtake_day_kwh",
        f"{DM_ELECTRICITY}_last_day_injection_night_kwh",
        f"{DM_ELECTRICITY}_last_interval_offtake_total_kwh",
        f"{DM_ELECTRICITY}_last_interval_injection_total_kwh",
    } <= set(expected)
    for uid, record in expected.items():
        assert_value_sensor(hass, uid, record)
    quarter = hass.states.get(entity_id(hass, f"{DM_ELECTRICITY}_last_interval_offtake_total_kwh"))
    assert quarter is not None
    start = datetime.fromisoformat(quarter.attributes["period_start"])
    end = datetime.fromisoformat(quarter.attributes["period_end"])
    assert end - start == timedelta(minutes=15)

    assert state_of(hass, f"{DM_ELECTRICITY}_newest_measurement") == (
        newest_end(simulator, DM_ELECTRICITY).isoformat()
    )
    assert float(state_of(hass, f"{DM_ELECTRICITY}_estimated_share")) == estimated_share(
        simulator, DM_ELECTRICITY
    )
    assert state_of(hass, f"{DM_ELECTRICITY}_access_granularity") == "quarter_hourly"
    assert state_of(hass, f"{DM_ELECTRICITY}_history_import") == "100.0"
    # Gas only.
    assert (
        er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{DM_ELECTRICITY}_gas_conversion_factor"
        )
        is None
    )


@pytest.mark.usefixtures("enabled_diagnostics")
async def test_digital_gas_hourly(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_GAS)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_GAS])

    device = device_of(hass, DM_GAS)
    assert device is not None
    assert device.name == "Gas …000000"

    expected = expected_values(simulator, DM_GAS)
    assert value_unique_ids(hass, entry) == {
        f"{DM_GAS}_{period}_offtake_total_{unit}"
        for period in ("last_day", "last_interval")
        for unit in ("m3", "kwh")
    }
    assert value_unique_ids(hass, entry) == set(expected)
    for uid, record in expected.items():
        assert_value_sensor(hass, uid, record)
    hour = expected[f"{DM_GAS}_last_interval_offtake_total_m3"]
    assert hour.end - hour.start == timedelta(hours=1)
    # Only the kWh values carry a conversion factor.
    assert expected[f"{DM_GAS}_last_interval_offtake_total_kwh"].gcf is not None
    assert expected[f"{DM_GAS}_last_interval_offtake_total_m3"].gcf is None

    fine = [r for r in window_truth(simulator, DM_GAS, "hourly") if r.gcf is not None]
    newest_gcf = max(fine, key=lambda r: r.start).gcf
    assert newest_gcf is not None
    gcf_id = entity_id(hass, f"{DM_GAS}_gas_conversion_factor")
    gcf = hass.states.get(gcf_id)
    assert gcf is not None
    assert gcf.state == newest_gcf.lower()
    assert gcf.attributes["device_class"] == "enum"
    assert set(gcf.attributes["options"]) == {"p", "d", "c"}
    assert state_of(hass, f"{DM_GAS}_newest_measurement") == (
        newest_end(simulator, DM_GAS).isoformat()
    )
    assert float(state_of(hass, f"{DM_GAS}_estimated_share")) == estimated_share(simulator, DM_GAS)


async def test_amr_reactive_energy_disabled_by_default(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(AMR_OFFTAKE)
    entry = await setup_after_import(
        hass, simulator, hass_storage, [AMR_OFFTAKE], options={CONF_IMPORT_REACTIVE: True}
    )
    device = device_of(hass, AMR_OFFTAKE)
    assert device is not None
    assert device.model == "AMR meter"

    expected = expected_values(simulator, AMR_OFFTAKE, reactive=True)
    assert value_unique_ids(hass, entry) == set(expected)
    reactive = {uid for uid in expected if uid.endswith("_kvarh")}
    assert reactive == {
        f"{AMR_OFFTAKE}_{period}_offtake_{register}_kvarh"
        for period in ("last_day", "last_interval")
        for register in ("inductive", "capacitive")
    }
    registry = er.async_get(hass)
    for uid in reactive:
        registered = registry.async_get(entity_id(hass, uid))
        assert registered is not None
        assert registered.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(registered.entity_id) is None
    for uid in set(expected) - reactive:
        assert_value_sensor(hass, uid, expected[uid])

    for uid in reactive:
        registry.async_update_entity(entity_id(hass, uid), disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await settle(hass)
    for uid in reactive:
        assert_value_sensor(hass, uid, expected[uid])
    assert expected[f"{AMR_OFFTAKE}_last_day_offtake_inductive_kvarh"].value > 0


async def test_amr_reactive_needs_the_option(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(AMR_OFFTAKE)
    entry = await setup_after_import(hass, simulator, hass_storage, [AMR_OFFTAKE])
    assert value_unique_ids(hass, entry) == set(expected_values(simulator, AMR_OFFTAKE))
    assert not any(uid.endswith("_kvarh") for uid in value_unique_ids(hass, entry))


@pytest.mark.usefixtures("enabled_diagnostics")
async def test_amr_submeters_are_child_devices(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(AMR_INJECTION_PV)
    entry = await setup_after_import(hass, simulator, hass_storage, [AMR_INJECTION_PV])
    entities = er.async_get(hass)
    main = device_of(hass, AMR_INJECTION_PV)
    assert main is not None

    expected = expected_values(simulator, AMR_INJECTION_PV)
    assert value_unique_ids(hass, entry) == set(expected)
    for uid, record in expected.items():
        assert_value_sensor(hass, uid, record)

    installation = parse_mock_ean(AMR_INJECTION_PV).installation
    assert installation is not None
    subs = {r.direction: r.sub_ean for r in expected.values() if r.sub_ean is not None}
    assert set(subs) == {"production", "auxiliary"}
    for direction, sub_ean in subs.items():
        assert sub_ean is not None
        kind = direction.capitalize()
        child = device_of(hass, sub_ean)
        assert child is not None
        assert child.via_device_id == main.id
        assert child.name == f"{kind} submeter …{sub_ean[-6:]}"
        assert child.model == f"{kind} submeter ({installation.type})"
        for period in ("last_day", "last_interval"):
            uid = f"{sub_ean}_{period}_{direction}_total_kwh"
            registered = entities.async_get(entity_id(hass, uid))
            assert registered is not None
            assert registered.device_id == child.id
    # The main EAN's own values stay on the main device.
    own = entities.async_get(entity_id(hass, f"{AMR_INJECTION_PV}_last_day_injection_total_kwh"))
    assert own is not None
    assert own.device_id == main.id
    # The estimated share covers every quarter-hour value of the last day.
    assert float(state_of(hass, f"{AMR_INJECTION_PV}_estimated_share")) == estimated_share(
        simulator, AMR_INJECTION_PV
    )


@pytest.mark.usefixtures("enabled_diagnostics")
async def test_daily_only_ean(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_DAILY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_DAILY])

    expected = expected_values(simulator, DM_DAILY, fine=False)
    assert expected
    assert value_unique_ids(hass, entry) == set(expected)
    assert not any("_last_interval_" in uid for uid in value_unique_ids(hass, entry))
    for uid, record in expected.items():
        assert_value_sensor(hass, uid, record)
        assert record.end - record.start == timedelta(days=1)
    assert state_of(hass, f"{DM_DAILY}_access_granularity") == "daily"
    assert state_of(hass, f"{DM_DAILY}_newest_measurement") == (
        newest_end(simulator, DM_DAILY, fine=False).isoformat()
    )
    assert float(state_of(hass, f"{DM_DAILY}_estimated_share")) == estimated_share(
        simulator, DM_DAILY, fine=False
    )
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"no_quarter_hour_{entry.entry_id}_{DM_DAILY}")


@pytest.mark.usefixtures("enabled_diagnostics")
async def test_mandate_diagnostics_and_attention(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    now = dt_util.utcnow()
    expiring = DM_OFFTAKE
    finished = "541440010000000003"
    period_end = datetime(2026, 6, 30, 22, tzinfo=UTC)
    simulator.add_mandate(DM_ELECTRICITY, data_period_to=period_end)
    simulator.add_mandate(expiring, mandate_expiration_date=now + timedelta(days=2))
    simulator.add_mandate(DM_GAS, renewal_status="RenewalRequested")
    simulator.add_mandate(finished, "Finished")
    simulator.add_mandate("541440010000000004", "Rejected", reference_number="REF-4")
    tracked = [DM_ELECTRICITY, expiring, DM_GAS, finished]
    entry = await setup_after_import(hass, simulator, hass_storage, tracked)

    for ean in tracked:
        mandate = simulator.mandates[ean]
        renewal = mandate.effective_renewal_status(now)
        assert state_of(hass, f"{ean}_mandate_status") == mandate.status.lower()
        assert state_of(hass, f"{ean}_renewal_status") == RENEWAL_OPTIONS[renewal]
        assert state_of(hass, f"{ean}_mandate_expiration") == (
            mandate.mandate_expiration_date.isoformat()
        )
        assert state_of(hass, f"{ean}_data_period_start") == mandate.data_period_from.isoformat()
        end = mandate.data_period_to
        assert state_of(hass, f"{ean}_data_period_end") == last_day_shown(end)
        attention = hass.states.get(entity_id(hass, f"{ean}_mandate_attention", "binary_sensor"))
        assert attention is not None
        assert attention.state == ("on" if renewal is not None else "off"), ean
        assert attention.attributes["status"] == mandate.status
        assert attention.attributes["renewal_status"] == renewal
    assert state_of(hass, f"{DM_ELECTRICITY}_data_period_end") == last_day_shown(period_end)
    assert state_of(hass, f"{expiring}_renewal_status") == "to_be_renewed"
    assert state_of(hass, f"{DM_GAS}_renewal_status") == "renewal_requested"
    assert state_of(hass, f"{finished}_mandate_status") == "finished"
    # A rejected mandate carries no EAN: no device, only a repair issue.
    assert device_of(hass, "541440010000000004") is None

    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"mandate_expiring_{entry.entry_id}_{expiring}")
    assert issues.async_get_issue(DOMAIN, f"mandate_ended_{entry.entry_id}_{finished}")
    assert issues.async_get_issue(DOMAIN, f"mandate_ended_{entry.entry_id}_REF-4")
    assert not issues.async_get_issue(DOMAIN, f"mandate_expiring_{entry.entry_id}_{DM_ELECTRICITY}")

    # The expiry passes: the mandate reads Expired and the expiring issue becomes "ended".
    freezer.tick(timedelta(days=3))
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert state_of(hass, f"{expiring}_renewal_status") == "expired"
    assert state_of(hass, f"{expiring}_mandate_attention", "binary_sensor") == "on"
    assert issues.async_get_issue(DOMAIN, f"mandate_ended_{entry.entry_id}_{expiring}")
    assert not issues.async_get_issue(DOMAIN, f"mandate_expiring_{entry.entry_id}_{expiring}")

    # Renewal requested for the first EAN: its sensors follow the mandates refresh.
    simulator.update_mandate(DM_ELECTRICITY, renewal_status="RenewalRequested")
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert state_of(hass, f"{DM_ELECTRICITY}_renewal_status") == "renewal_requested"
    assert state_of(hass, f"{DM_ELECTRICITY}_mandate_attention", "binary_sensor") == "on"


async def test_mandates_added_and_removed_without_reload(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(
        hass, simulator, hass_storage, [DM_ELECTRICITY, AMR_INJECTION_PV]
    )
    runtime = entry.runtime_data
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    assert device_of(hass, AMR_INJECTION_PV) is None

    simulator.add_mandate(AMR_INJECTION_PV)
    await runtime.mandates.async_refresh()
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is runtime
    main = device_of(hass, AMR_INJECTION_PV)
    assert main is not None
    children = children_of(hass, main)
    assert len(children) == 2
    expected = expected_values(simulator, AMR_INJECTION_PV)
    for uid, record in expected.items():
        assert_value_sensor(hass, uid, record)
    assert state_of(hass, f"{AMR_INJECTION_PV}_mandate_status") == "approved"
    assert state_of(hass, f"{AMR_INJECTION_PV}_mandate_attention", "binary_sensor") == "off"

    # Devices of an EAN that still has a mandate cannot be removed by hand, submeters included.
    for device in (main, *children):
        assert not await async_remove_config_entry_device(hass, entry, device)

    simulator.remove_mandate(AMR_INJECTION_PV)
    await runtime.mandates.async_refresh()
    await settle(hass)
    for device in (main, *children):
        assert devices.async_get(device.id) is None
    for uid in expected:
        assert entities.async_get_entity_id("sensor", DOMAIN, uid) is None
    assert (
        entities.async_get_entity_id("sensor", DOMAIN, f"{AMR_INJECTION_PV}_mandate_status") is None
    )
    kept = device_of(hass, DM_ELECTRICITY)
    assert kept is not None
    assert not await async_remove_config_entry_device(hass, entry, kept)
    # A device left behind by a vanished mandate may go.
    assert await async_remove_config_entry_device(hass, entry, main)
    assert state_of(hass, f"{DM_ELECTRICITY}_mandate_status") == "approved"
