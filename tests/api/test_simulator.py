"""FluviusClient against the local Fluvius simulator: every meter kind, windows, faults."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
import itertools
import math
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.fluvius.api import (
    ComplexEnergyType,
    DataServiceType,
    Direction,
    EnergyType,
    FluviusAuthenticationError,
    FluviusClient,
    FluviusConnectionError,
    FluviusNoAccessError,
    FluviusResponseError,
    FluviusTokenError,
    Granularity,
    HeadpointType,
    MandateStatus,
    MockMandate,
    Reading,
    SubHeadpointKind,
    Unit,
    format_datetime,
)
from fluvius_simulator import Fault, FluviusSimulator

BRUSSELS = ZoneInfo("Europe/Brussels")
ENERGY = "/api/mandate/energy"

DM_ELECTRICITY = "541440110000000000"
DM_GAS = "541441010000000000"
AMR_OFFTAKE = "541450010000000000"
AMR_INJECTION_PV = "541450211000000000"
DM_DAILY_ONLY = "541440100000000000"


def local_midnight(days_ago: int, now: datetime) -> datetime:
    day = now.astimezone(BRUSSELS).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)


def comparable(readings: Iterable[Reading]) -> list[tuple[Any, ...]]:
    """Our readings in the simulator's truth shape, sorted."""
    return sorted(
        (
            r.sub_ean or "",
            str(r.direction),
            str(r.register),
            str(r.unit).casefold(),
            r.start,
            r.end,
            r.value,
            str(r.validation_state),
            "" if r.gas_conversion_factor is None else str(r.gas_conversion_factor),
        )
        for r in readings
    )


def truth(sim: FluviusSimulator, ean: str, start: datetime, end: datetime, **kw: Any) -> list[Any]:
    return sorted(
        (record.sub_ean or "", *record[1:3], record.unit.casefold(), *record[4:8], record.gcf or "")
        for record in sim.truth(ean, start, end, **kw)
    )


def energy_calls(sim: FluviusSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.lower() == ENERGY]


async def test_dm_electricity_quarter_hours_offtake_and_injection(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    now = simulator.now()
    start, end = local_midnight(12, now), local_midnight(9, now)
    response = await sim_client.get_energy(
        DM_ELECTRICITY, start=start, end=end, granularity=[Granularity.HOURLY_QUARTERHOURLY]
    )
    headpoint = response.headpoint
    assert headpoint is not None
    assert headpoint.type is HeadpointType.METERING_ON_METER
    assert headpoint.energy_type is EnergyType.ELECTRICITY
    (meter,) = headpoint.physical_meters
    assert len(meter.energy.quarter_hourly) in {3 * 96 - 4, 3 * 96, 3 * 96 + 4}  # DST days
    readings = list(response.readings())
    assert {r.direction for r in readings} == {Direction.OFFTAKE, Direction.INJECTION}
    assert comparable(readings) == truth(simulator, DM_ELECTRICITY, start, end)

    daily = await sim_client.get_energy(DM_ELECTRICITY, start=start, end=end, granularity=["daily"])
    assert comparable(daily.readings()) == truth(
        simulator, DM_ELECTRICITY, start, end, granularity="daily"
    )


async def test_dm_gas_hourly_m3_and_kwh_with_conversion_factor(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(DM_GAS)
    now = simulator.now()
    start, end = local_midnight(8, now), local_midnight(5, now)
    response = await sim_client.get_energy(
        DM_GAS, start=start, end=end, granularity=[Granularity.HOURLY_QUARTERHOURLY]
    )
    assert response.headpoint is not None
    assert response.headpoint.energy_type is EnergyType.GAS
    readings = list(response.readings())
    assert readings
    assert {r.unit for r in readings} == {Unit.M3, Unit.KWH}
    assert all(r.gas_conversion_factor is not None for r in readings if r.unit is Unit.KWH)
    assert all(r.gas_conversion_factor is None for r in readings if r.unit is Unit.M3)
    assert comparable(readings) == truth(simulator, DM_GAS, start, end)


async def test_amr_offtake_with_reactive_energy(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(AMR_OFFTAKE)
    now = simulator.now()
    start, end = local_midnight(10, now), local_midnight(8, now)
    response = await sim_client.get_energy(
        AMR_OFFTAKE,
        start=start,
        end=end,
        granularity=[Granularity.HOURLY_QUARTERHOURLY],
        complex_energy_types=[ComplexEnergyType.ACTIVE, ComplexEnergyType.REACTIVE],
    )
    assert response.headpoint is not None
    assert response.headpoint.type is HeadpointType.METERING_ON_HEADPOINT
    assert comparable(response.readings()) == truth(
        simulator, AMR_OFFTAKE, start, end, reactive=True
    )


async def test_amr_injection_with_pv_production_and_auxiliary_submeters(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(AMR_INJECTION_PV)
    now = simulator.now()
    start, end = local_midnight(10, now), local_midnight(8, now)
    response = await sim_client.get_energy(
        AMR_INJECTION_PV,
        start=start,
        end=end,
        granularity=[Granularity.HOURLY_QUARTERHOURLY],
        complex_energy_types=[ComplexEnergyType.ACTIVE, ComplexEnergyType.REACTIVE],
    )
    headpoint = response.headpoint
    assert headpoint is not None
    kinds = {sub.kind for sub in headpoint.sub_headpoints}
    assert kinds == {SubHeadpointKind.PRODUCTION, SubHeadpointKind.AUXILIARY}
    readings = list(response.readings())
    assert {r.direction for r in readings if r.sub_ean is None} == {Direction.INJECTION}
    assert {r.direction for r in readings if r.sub_ean is not None} >= {Direction.PRODUCTION}
    assert comparable(readings) == truth(simulator, AMR_INJECTION_PV, start, end, reactive=True)


async def test_daily_only_mandate_refuses_quarter_hours(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(DM_DAILY_ONLY)
    now = simulator.now()
    start, end = local_midnight(10, now), local_midnight(5, now)
    with pytest.raises(FluviusNoAccessError):
        await sim_client.get_energy(
            DM_DAILY_ONLY, start=start, end=end, granularity=[Granularity.HOURLY_QUARTERHOURLY]
        )
    response = await sim_client.get_energy(DM_DAILY_ONLY, start=start, end=end)
    assert comparable(response.readings()) == truth(
        simulator, DM_DAILY_ONLY, start, end, granularity="daily"
    )


async def test_three_years_arrive_in_185_day_windows_and_merge_to_the_truth(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    now = simulator.now()
    end = local_midnight(0, now)
    start = end - timedelta(days=1095)
    simulator.reset_stats()
    response = await sim_client.get_energy(
        DM_ELECTRICITY, start=start, end=end, granularity=["daily"]
    )
    calls = energy_calls(simulator)
    assert len(calls) == math.ceil(1095 / 185) == 6
    assert all(call.status == 200 for call in calls)
    bounds = [(call.query["from"][0], call.query["to"][0]) for call in calls]
    assert bounds[0][0] == format_datetime(start)
    assert bounds[-1][1] == format_datetime(end)
    for (_, previous_to), (next_from, _) in itertools.pairwise(bounds):
        assert previous_to == next_from
    readings = list(response.readings())
    starts = [
        r.start for r in readings if str(r.direction) == "offtake" and str(r.register) == "day"
    ]
    assert starts == sorted(set(starts))
    assert comparable(readings) == truth(simulator, DM_ELECTRICITY, start, end, granularity="daily")


async def test_mandates_and_mock_mandate(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.add_mandate(DM_ELECTRICITY, data_service_type="VH_kwartier_uur")
    status = await sim_client.create_mock_mandate(
        MockMandate(ean=DM_GAS, energy_type="G", data_service_type=DataServiceType.QUARTER_HOURLY)
    )
    assert status
    mandates = {m.ean: m for m in await sim_client.get_mandates()}
    assert set(mandates) == {DM_ELECTRICITY, DM_GAS}
    assert mandates[DM_GAS].status is MandateStatus.APPROVED
    assert mandates[DM_GAS].energy_type is EnergyType.GAS
    assert mandates[DM_ELECTRICITY].data_service_type is DataServiceType.QUARTER_HOURLY
    (only,) = await sim_client.get_mandates(ean=DM_GAS)
    assert only.ean == DM_GAS


# --- faults ------------------------------------------------------------------------------


async def test_rate_limit_fault_is_waited_out(
    simulator: FluviusSimulator, sim_client: FluviusClient, sleeps: list[float]
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.faults.add(Fault(kind="status", status=429, retry_after="1", path=ENERGY, count=2))
    now = simulator.now()
    response = await sim_client.get_energy(
        DM_ELECTRICITY, start=local_midnight(6, now), end=local_midnight(5, now)
    )
    assert response.headpoint is not None
    assert sleeps == [1.0, 1.0]
    assert [c.status for c in energy_calls(simulator)] == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_fault_is_retried(
    simulator: FluviusSimulator, sim_client: FluviusClient, sleeps: list[float], status: int
) -> None:
    simulator.faults.add(Fault(kind="status", status=status, count=2))
    assert await sim_client.get_mandates() == []
    assert len(sleeps) == 2


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
async def test_broken_bodies_are_response_errors(
    simulator: FluviusSimulator, sim_client: FluviusClient, kind: str
) -> None:
    simulator.add_mandate(DM_ELECTRICITY)
    simulator.faults.add(Fault(kind=kind, path=ENERGY, count=1))  # type: ignore[arg-type]
    now = simulator.now()
    with pytest.raises(FluviusResponseError):
        await sim_client.get_energy(
            DM_ELECTRICITY, start=local_midnight(6, now), end=local_midnight(5, now)
        )


async def test_connection_reset_fault_is_retried(
    simulator: FluviusSimulator, sim_client: FluviusClient, sleeps: list[float]
) -> None:
    simulator.faults.add(Fault(kind="reset", count=3))
    assert await sim_client.get_mandates() == []
    assert sleeps


async def test_persistent_reset_gives_a_connection_error(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    simulator.faults.add(Fault(kind="reset"))
    with pytest.raises(FluviusConnectionError):
        await sim_client.get_mandates()


async def test_token_endpoint_outage_is_retried(
    simulator: FluviusSimulator, sim_client: FluviusClient, sleeps: list[float]
) -> None:
    simulator.faults.add(Fault(kind="token_down", count=2))
    assert await sim_client.get_mandates() == []
    assert len(sleeps) == 2


async def test_revoked_credentials_are_an_authentication_error(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    assert await sim_client.get_mandates() == []
    simulator.revoke_credentials()
    with pytest.raises(FluviusAuthenticationError, match="invalid_client") as caught:
        await sim_client.get_mandates()
    assert simulator.credentials.client_secret not in str(caught.value)
    # What the endpoint said is kept, so a form can point at the secret.
    assert isinstance(caught.value, FluviusTokenError)
    assert (caught.value.oauth_error, caught.value.aadsts) == ("invalid_client", 7000222)


async def test_expired_tokens_are_refreshed_transparently(
    simulator: FluviusSimulator, sim_client: FluviusClient
) -> None:
    assert await sim_client.get_mandates() == []
    simulator.invalidate_tokens()
    assert await sim_client.get_mandates() == []
    token_calls = [r for r in simulator.requests if r.path.endswith("/token")]
    assert len(token_calls) == 2
