"""The peak-threshold blueprint: valid for Home Assistant's loader, and it fires on a crossing."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

BLUEPRINT = (
    Path(__file__).parents[2] / "blueprints" / "automation" / "fluvius" / "peak_threshold.yaml"
)
SENSOR = "sensor.electricity_541440110000000000_peak_this_month"


@pytest.fixture
async def blueprint_installed(hass: HomeAssistant) -> None:
    target = Path(hass.config.path("blueprints", "automation", "fluvius"))
    await hass.async_add_executor_job(lambda: target.mkdir(parents=True, exist_ok=True))
    await hass.async_add_executor_job(shutil.copy, BLUEPRINT, target / BLUEPRINT.name)


async def test_blueprint_loads_with_home_assistants_loader(
    hass: HomeAssistant, blueprint_installed: None
) -> None:
    assert await async_setup_component(hass, "automation", {})
    blueprint = await async_get_blueprints(hass).async_get_blueprint("fluvius/peak_threshold.yaml")
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"peak_sensor", "threshold", "actions"}


def _peak(hass: HomeAssistant, kw: float) -> None:
    hass.states.async_set(
        SENSOR,
        str(kw),
        {
            "unit_of_measurement": "kW",
            "peak_start": "2026-03-03T07:15:00+00:00",
            "peak_end": "2026-03-03T07:30:00+00:00",
            "friendly_name": "Electricity 541440110000000000 Peak this month",
        },
    )


async def test_runs_once_when_the_peak_crosses_the_threshold(
    hass: HomeAssistant, blueprint_installed: None
) -> None:
    notes = async_mock_service(hass, "persistent_notification", "create")
    custom: list[ServiceCall] = async_mock_service(hass, "test", "lower_charger")
    _peak(hass, 8.0)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "use_blueprint": {
                        "path": "fluvius/peak_threshold.yaml",
                        "input": {"peak_sensor": SENSOR, "threshold": 10},
                    }
                },
                {
                    "use_blueprint": {
                        "path": "fluvius/peak_threshold.yaml",
                        "input": {
                            "peak_sensor": SENSOR,
                            "threshold": 12.5,
                            "actions": [
                                {
                                    "action": "test.lower_charger",
                                    "data": {"peak": "{{ peak_kw }}", "over": "{{ threshold }}"},
                                }
                            ],
                        },
                    }
                },
            ]
        },
    )
    await hass.async_block_till_done()

    _peak(hass, 9.5)
    await hass.async_block_till_done()
    assert notes == []

    _peak(hass, 11.0)
    await hass.async_block_till_done()
    assert len(notes) == 1
    assert notes[0].data["title"] == "Monthly peak above 10 kW"
    assert "11.0 kW" in notes[0].data["message"]
    assert "2026-03-03T07:15:00+00:00" in notes[0].data["message"]
    assert custom == []

    # Rising further above the threshold is no new crossing; the second one is.
    _peak(hass, 13.0)
    await hass.async_block_till_done()
    assert len(notes) == 1
    assert len(custom) == 1
    assert custom[0].data == {"peak": 13.0, "over": 12.5}
