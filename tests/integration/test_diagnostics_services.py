"""Diagnostics redaction and the integration's actions."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import list_statistic_ids
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.recorder import get_instance
import orjson
import pytest

from custom_components.fluvius.const import DOMAIN
from custom_components.fluvius.diagnostics import async_get_config_entry_diagnostics
from custom_components.fluvius.tariffs import SUBENTRY_TARIFF
from fluvius_simulator import FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def test_diagnostics_redact_secrets(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    tariff = ConfigSubentryData(
        data={"eans": [DM_ELECTRICITY], "offtake": {"price": 0.3}, "capacity_tariff": 50.0},
        subentry_type=SUBENTRY_TARIFF,
        title="Supplier",
        unique_id=None,
    )
    entry = await setup_entry(hass, simulator, subentries=[tariff])
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = orjson.dumps(diagnostics).decode()
    creds = simulator.credentials
    for secret in (creds.client_secret, creds.subscription_key, creds.client_id, creds.tenant_id):
        assert secret not in text
    assert DM_ELECTRICITY not in text
    assert diagnostics["mandates"][0]["ean"].startswith("541440110")
    assert diagnostics["history_import"]
    (peaks,) = diagnostics["monthly_peaks"].values()
    assert sorted(peaks) == ["2026-02", "2026-03"]
    assert peaks["2026-02"]["complete"] is True
    assert peaks["2026-02"]["present"] == peaks["2026-02"]["expected"] == 2688
    energy = diagnostics["coordinators"]["energy"]
    assert energy["request_budget"]["per_hour"] == 720
    assert energy["request_budget"]["spent"] >= 1
    (next_poll,) = energy["next_polls"].values()
    assert next_poll > "2026-03"
    assert energy["failed_polls"] == energy["refused_requests"] == {}
    (priced,) = diagnostics["tariffs"]
    assert priced["prices"]["offtake"]["fixed"] == 0.3
    assert priced["capacity_eur_per_kw_year"] == 50.0
    assert priced["eans"] == {
        diagnostics["mandates"][0]["ean"]: {
            "priced_with_this_tariff": True,
            "fallback_quarter_hours": 0,
        }
    }


async def _statistic_ids(hass: HomeAssistant) -> set[str]:
    found = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    return {s["statistic_id"] for s in found if s["source"] == DOMAIN}


async def test_clear_statistics_and_import_history(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    entry = await setup_entry(hass, simulator)
    ids = await _statistic_ids(hass)
    assert f"fluvius:{DM_GAS}_offtake_total_m3" in ids

    response = await hass.services.async_call(
        DOMAIN,
        "clear_statistics",
        {"config_entry_id": entry.entry_id, "ean": DM_GAS},
        blocking=True,
        return_response=True,
    )
    assert f"fluvius:{DM_GAS}_offtake_total_m3" in response["statistic_ids"]
    await settle(hass)
    ids = await _statistic_ids(hass)
    assert not any(DM_GAS in i for i in ids)
    assert f"fluvius:{DM_ELECTRICITY}_offtake_total_kwh" in ids

    await hass.services.async_call(
        DOMAIN,
        "import_history",
        {"config_entry_id": entry.entry_id, "ean": DM_GAS, "from": "2026-02-15"},
        blocking=True,
    )
    await settle(hass)
    assert f"fluvius:{DM_GAS}_offtake_total_m3" in await _statistic_ids(hass)


async def test_action_errors(hass: HomeAssistant, simulator: FluviusSimulator) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "clear_statistics", {"config_entry_id": "nope"}, blocking=True
        )
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "clear_statistics",
            {"config_entry_id": entry.entry_id, "ean": "541441010000000999"},
            blocking=True,
        )


async def test_create_mock_mandate_adds_device(
    hass: HomeAssistant, simulator: FluviusSimulator
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    entry = await setup_entry(hass, simulator)
    response = await hass.services.async_call(
        DOMAIN,
        "create_mock_mandate",
        {"config_entry_id": entry.entry_id, "ean": DM_GAS, "status": "Approved"},
        blocking=True,
        return_response=True,
    )
    assert response["status"]
    await settle(hass)
    assert DM_GAS in entry.runtime_data.mandates.data.by_ean
