"""Energy polls when one EAN fails transiently, when all do, and which mandate counts per EAN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from custom_components.fluvius.api import Mandate, MandateStatus
from custom_components.fluvius.api.const import LIVE_BASE_URL, SANDBOX_BASE_URL
from custom_components.fluvius.connect import base_url_for
from custom_components.fluvius.coordinator import pick_mandates
from fluvius_simulator import Fault, FluviusSimulator

from .helpers import settle, setup_entry

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
ENERGY = "/api/mandate/energy"


@pytest.fixture(autouse=True)
def frozen_now(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to("2026-03-10T09:17:00+00:00")


async def test_one_failing_ean_keeps_its_last_values_and_the_others_update(
    hass: HomeAssistant, simulator: FluviusSimulator, freezer: FrozenDateTimeFactory
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.add_mandate(DM_GAS)
    # Retries without backoff: the frozen clock would never end a backoff sleep.
    with patch("custom_components.fluvius.connect.RETRY_BACKOFF_BASE", 0):
        entry = await setup_entry(hass, simulator)
    energy = entry.runtime_data.energy
    before = energy.data

    freezer.tick(timedelta(days=1))
    simulator.faults.add(Fault(kind="status", status=503, path=ENERGY, ean=DM_GAS))
    await energy.async_refresh()
    await settle(hass)
    assert energy.last_update_success
    # The failing EAN keeps what it showed; the other moved on by a day.
    assert energy.data[DM_GAS] is before[DM_GAS]
    assert energy.data[DM_ELECTRICITY].newest_measurement is not None
    assert before[DM_ELECTRICITY].newest_measurement is not None
    assert (
        energy.data[DM_ELECTRICITY].newest_measurement > before[DM_ELECTRICITY].newest_measurement
    )
    assert "503" in energy.last_errors[DM_GAS]
    assert DM_GAS not in energy.ean_errors, "a transient error does not make the EAN unavailable"

    # When every EAN fails, the poll as a whole fails (and recovers silently later).
    simulator.faults.add(Fault(kind="status", status=503, path=ENERGY, ean=DM_ELECTRICITY))
    await energy.async_refresh()
    await settle(hass)
    assert not energy.last_update_success

    simulator.faults.clear()
    await energy.async_refresh()
    await settle(hass)
    assert energy.last_update_success


def _mandate(status: MandateStatus, end: datetime | None, ref: str) -> Mandate:
    return Mandate(reference_number=ref, status=status, ean=DM_ELECTRICITY, data_period_to=end)


def test_pick_mandates_prefers_approved_then_the_latest_data_period() -> None:
    old = _mandate(MandateStatus.FINISHED, datetime(2025, 1, 1, tzinfo=UTC), "old")
    newer = _mandate(MandateStatus.FINISHED, datetime(2025, 6, 1, tzinfo=UTC), "newer")
    approved = _mandate(MandateStatus.APPROVED, datetime(2025, 3, 1, tzinfo=UTC), "approved")
    open_ended = _mandate(MandateStatus.APPROVED, None, "open")
    requested = _mandate(MandateStatus.REQUESTED, None, "requested")
    assert pick_mandates([old, newer])[DM_ELECTRICITY].reference_number == "newer"
    assert pick_mandates([newer, approved])[DM_ELECTRICITY].reference_number == "approved"
    assert pick_mandates([approved, open_ended])[DM_ELECTRICITY].reference_number == "open"
    assert pick_mandates([requested]) == {}
    assert pick_mandates([Mandate(status=MandateStatus.APPROVED)]) == {}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("sandbox", SANDBOX_BASE_URL), ("live", LIVE_BASE_URL), ("custom", "http://127.0.0.1:1")],
)
def test_base_url_per_environment(environment: str, expected: str) -> None:
    assert base_url_for({"environment": environment, "base_url": "http://127.0.0.1:1/"}) == expected
