"""The actions import_history, clear_statistics and create_mock_mandate, and their errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.fluvius.const import (
    CONF_ENVIRONMENT,
    DOMAIN,
    ENERGY_UPDATE_INTERVAL,
    ENVIRONMENT_LIVE,
)
from fluvius_simulator import FluviusSimulator

from .helpers import device_of, enable_entities, history_requests, local_midnight, settle
from .stored_import import setup_after_import

BRUSSELS = ZoneInfo("Europe/Brussels")
DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
DM_DAILY = "541440100000000000"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def statistic_ids(hass: HomeAssistant) -> set[str]:
    await settle(hass)
    found = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    return {s["statistic_id"] for s in found if s["source"] == DOMAIN}


async def first_row(hass: HomeAssistant, statistic_id: str) -> datetime:
    await settle(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2025, 1, 1, tzinfo=UTC),
        None,
        {statistic_id},
        "hour",
        None,
        {"state"},
    )
    return dt_util.utc_from_timestamp(min(row["start"] for row in rows[statistic_id]))


def sensor_state(hass: HomeAssistant, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    state = hass.states.get(entity_id)
    assert state is not None, unique_id
    return state.state


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = False
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_import_history_of_all_eans_from_a_date(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    for ean in (DM_ELECTRICITY, DM_DAILY):
        simulator.add_mandate(ean)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY, DM_DAILY])
    # Only the polls' trailing window is stored so far.
    quarter_id = f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh"
    daily_id = f"fluvius:{DM_DAILY}_offtake_day_kwh"
    assert await first_row(hass, quarter_id) > local_midnight(date(2026, 3, 1))
    assert not history_requests(simulator, DM_ELECTRICITY)

    await call(hass, "import_history", {"config_entry_id": entry.entry_id, "from": "2026-02-25"})
    await settle(hass)
    start = local_midnight(date(2026, 2, 25))
    assert await first_row(hass, quarter_id) == start
    # Daily values are booked in the hour their local day starts.
    assert await first_row(hass, daily_id) == start
    for ean in (DM_ELECTRICITY, DM_DAILY):
        requests = history_requests(simulator, ean)
        assert requests
        assert requests[0].query["from"] == [start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert history_requests(simulator, DM_DAILY)[0].query["granularity"] == ["daily"]
    runtime = entry.runtime_data
    assert runtime.importer.states.by_ean[DM_ELECTRICITY].done
    assert runtime.importer.states.by_ean[DM_ELECTRICITY].progress == 100.0


async def test_import_history_never_reaches_past_the_history_option(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_DAILY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_DAILY])
    await call(
        hass,
        "import_history",
        {"config_entry_id": entry.entry_id, "ean": DM_DAILY, "from": "2020-01-01"},
    )
    await settle(hass)
    # One month of history (the option): from the first of last month on.
    assert await first_row(hass, f"fluvius:{DM_DAILY}_offtake_day_kwh") == local_midnight(
        date(2026, 2, 1)
    )


async def test_clear_statistics_of_the_whole_entry(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    for ean in (DM_ELECTRICITY, DM_GAS):
        simulator.add_mandate(ean)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY, DM_GAS])
    before = await statistic_ids(hass)
    assert f"fluvius:{DM_GAS}_offtake_total_m3" in before
    assert f"fluvius:{DM_ELECTRICITY}_offtake_power_kw" in before

    result = await call(
        hass, "clear_statistics", {"config_entry_id": entry.entry_id}, response=True
    )
    assert set(result["statistic_ids"]) == before
    assert await statistic_ids(hass) == set()
    # The import progress is reset and shown at once.
    assert sensor_state(hass, f"{DM_ELECTRICITY}_history_import") == "unknown"

    # The hourly poll does not bring the statistics back.
    simulator.reset_stats()
    freezer.tick(ENERGY_UPDATE_INTERVAL)
    await entry.runtime_data.energy.async_refresh()
    await settle(hass)
    assert [r for r in simulator.requests if r.path.endswith("energy")], "no poll ran"
    assert await statistic_ids(hass) == set()
    # Nothing left to clear.
    again = await call(hass, "clear_statistics", {"config_entry_id": entry.entry_id}, response=True)
    assert again == {"statistic_ids": []}


async def test_statistics_of_an_ended_mandate_can_still_be_cleared(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    for ean in (DM_ELECTRICITY, DM_GAS):
        simulator.add_mandate(ean)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY, DM_GAS])
    simulator.remove_mandate(DM_GAS)
    await entry.runtime_data.mandates.async_refresh()
    await settle(hass)
    assert device_of(hass, DM_GAS) is None

    # Re-importing needs a mandate: nothing is requested for the EAN.
    simulator.reset_stats()
    await call(
        hass,
        "import_history",
        {"config_entry_id": entry.entry_id, "ean": DM_GAS, "from": "2026-03-01"},
    )
    await settle(hass)
    assert not [r for r in simulator.requests if r.query.get("ean") == [DM_GAS]]

    result = await call(
        hass, "clear_statistics", {"config_entry_id": entry.entry_id, "ean": DM_GAS}, response=True
    )
    assert sorted(result["statistic_ids"]) == [
        f"fluvius:{DM_GAS}_offtake_total_kwh",
        f"fluvius:{DM_GAS}_offtake_total_m3",
    ]
    remaining = await statistic_ids(hass)
    assert not any(DM_GAS in i for i in remaining)
    assert f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh" in remaining


async def test_create_mock_mandate_with_every_field(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    enable_entities(hass, [f"{DM_DAILY}_renewal_status", f"{DM_DAILY}_data_period_end"])
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])
    result = await call(
        hass,
        "create_mock_mandate",
        {
            "config_entry_id": entry.entry_id,
            "ean": DM_DAILY,
            "status": "Approved",
            "reference_number": "REF-DAILY",
            "energy_type": "E",
            "data_service_type": "VH_dag",
            "data_period_from": "2026-02-20 00:00:00",
            "data_period_to": "2026-03-05 00:00:00",
            "mandate_expiration_date": "2027-01-01 00:00:00",
            "renewal_status": "RenewalRequested",
        },
        response=True,
    )
    assert result["status"]
    await settle(hass)

    # Naive times are the configured time zone's, sent to the API in UTC.
    zone = dt_util.get_default_time_zone()
    mandate = simulator.mandates[DM_DAILY]
    assert mandate.reference_number == "REF-DAILY"
    assert mandate.data_period_from == datetime(2026, 2, 20, tzinfo=zone).astimezone(UTC)
    assert mandate.data_period_to == datetime(2026, 3, 5, tzinfo=zone).astimezone(UTC)
    assert mandate.mandate_expiration_date == datetime(2027, 1, 1, tzinfo=zone).astimezone(UTC)
    assert mandate.renewal_status == "RenewalRequested"

    assert DM_DAILY in entry.runtime_data.mandates.data.by_ean
    assert sensor_state(hass, f"{DM_DAILY}_renewal_status") == "renewal_requested"
    # The end is exclusive: the sensor shows the last day with data, in Brussels.
    last = (mandate.data_period_to - timedelta(microseconds=1)).astimezone(BRUSSELS)
    assert sensor_state(hass, f"{DM_DAILY}_data_period_end") == last.date().isoformat()
    # The new EAN's history was imported, within its data period.
    state = entry.runtime_data.importer.states.by_ean[DM_DAILY]
    assert state.done
    assert state.history_to == mandate.data_period_to


async def test_action_errors_are_translated(
    hass: HomeAssistant, simulator: FluviusSimulator, hass_storage: dict[str, Any]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_after_import(hass, simulator, hass_storage, [DM_ELECTRICITY])

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "clear_statistics", {"config_entry_id": "nope"})
    assert err.value.translation_key == "entry_not_found"
    assert str(err.value) == "No Fluvius configuration entry with id nope"

    other = MockConfigEntry(domain="sun")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "clear_statistics", {"config_entry_id": other.entry_id})
    assert err.value.translation_key == "entry_not_found"

    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "import_history",
            {"config_entry_id": entry.entry_id, "ean": DM_GAS, "from": "2026-03-01"},
        )
    assert err.value.translation_key == "unknown_ean"
    assert str(err.value) == f"EAN {DM_GAS} has no mandate in this configuration entry"

    for data in (
        {"config_entry_id": entry.entry_id, "from": "2026-02-30"},
        {"config_entry_id": entry.entry_id, "from": "yesterday"},
        {"config_entry_id": entry.entry_id, "ean": "5414", "from": "2026-03-01"},
        {"config_entry_id": entry.entry_id},
    ):
        with pytest.raises(vol.Invalid):
            await call(hass, "import_history", data)

    # The API refuses a data period that ends before it starts.
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            hass,
            "create_mock_mandate",
            {
                "config_entry_id": entry.entry_id,
                "ean": DM_GAS,
                "data_period_from": "2026-03-01 00:00:00",
                "data_period_to": "2026-02-01 00:00:00",
            },
        )
    assert failed.value.translation_key == "mock_mandate_failed"
    assert str(failed.value).startswith("Creating the mock mandate failed:")
    assert "dataPeriodTo" in str(failed.value)
    assert DM_GAS not in simulator.mandates
    # An EAN outside the sandbox's mock scheme.
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            hass,
            "create_mock_mandate",
            {"config_entry_id": entry.entry_id, "ean": "541448000000000000"},
        )
    assert failed.value.translation_key == "mock_mandate_failed"

    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_ENVIRONMENT: ENVIRONMENT_LIVE}
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "create_mock_mandate", {"config_entry_id": entry.entry_id, "ean": DM_GAS})
    assert err.value.translation_key == "sandbox_only"
    assert DM_GAS not in simulator.mandates

    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    for service, data in (
        ("clear_statistics", {"config_entry_id": entry.entry_id}),
        ("import_history", {"config_entry_id": entry.entry_id, "from": "2026-03-01"}),
        ("create_mock_mandate", {"config_entry_id": entry.entry_id, "ean": DM_GAS}),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, service, data)
        assert err.value.translation_key == "entry_not_loaded"
        assert str(err.value) == (f"The Fluvius configuration entry {entry.entry_id} is not loaded")
