"""GET mandate filters and the mock-mandate endpoint's validation and defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluvius_simulator import FluviusSimulator, ValidationError

from .conftest import START, Api, Clock


async def _mandates(api: Api, params: object = None) -> list[dict[str, str]]:
    await api.fetch_token()  # tests move the clock past token lifetimes
    reply = await api.get("/api/mandate", params=params)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["_meta"] == {"fetchTime": api.sim.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    return list(body["data"]["mandates"])


async def test_mock_mandate_defaults(api: Api) -> None:
    reply = await api.post("/api/mandate/mock", {"status": "Approved", "ean": "541440110000000000"})
    assert reply.status == 200
    assert reply.json()["data"] == {"status": "Created"}
    assert await _mandates(api) == [
        {
            "status": "Approved",
            "ean": "541440110000000000",
            "energyType": "E",
            # Midnight Brussels three years back, expiry three years ahead.
            "dataPeriodFrom": "2022-11-19T23:00:00Z",
            "dataServiceType": "VH_kwartier_uur",
            "mandateExpirationDate": "2028-11-20T12:00:00Z",
        }
    ]


async def test_mock_mandate_full_body_and_replace(api: Api) -> None:
    body = {
        "referenceNumber": "REF-123456",
        "status": "approved",
        "ean": "541440000000000001",
        "energyType": "E",
        "dataServiceType": "VH_dag",
        "dataPeriodFrom": "2024-02-01T23:00:00Z",
        "dataPeriodTo": "2025-02-01T23:00:00Z",
        "mandateExpirationDate": "2028-02-01T23:00:00Z",
        "renewalStatus": "toBeRenewed",
    }
    assert (await api.post("/api/mandate/mock", body)).status == 200
    (mandate,) = await _mandates(api)
    assert mandate == {
        "referenceNumber": "REF-123456",
        "status": "Approved",
        "ean": "541440000000000001",
        "energyType": "E",
        "dataPeriodFrom": "2024-02-01T23:00:00Z",
        "dataPeriodTo": "2025-02-01T23:00:00Z",
        "dataServiceType": "VH_dag",
        "mandateExpirationDate": "2028-02-01T23:00:00Z",
        "renewalStatus": "ToBeRenewed",
    }
    # The same EAN again replaces the mandate.
    await api.post("/api/mandate/mock", {"status": "Finished", "ean": "541440000000000001"})
    (mandate,) = await _mandates(api)
    assert mandate["status"] == "Finished"
    assert "referenceNumber" not in mandate


@pytest.mark.parametrize(
    ("ean", "fragment"),
    [
        ("54144011000000000", "18 digits"),
        ("541440110000000a00", "18 digits"),
        ("541460110000000000", "not a valid mock EAN"),
        ("541440130000000000", "not a valid mock EAN"),
        ("541440110000001000", "not a valid mock EAN"),
        ("541440210000000000", "injection-only"),
        ("541440011000000000", "only exist on AMR"),
        ("541440012000000000", "only exist on AMR"),
        ("541450110000000000", "separate offtake and injection"),
        ("541451011000000000", "production submeter"),
    ],
)
async def test_mock_ean_validation(api: Api, ean: str, fragment: str) -> None:
    reply = await api.post("/api/mandate/mock", {"status": "Approved", "ean": ean})
    assert reply.status == 400
    body = reply.json()
    assert set(body) == {"Type", "Code", "Message", "ValidationErrorMessages"}
    assert any(fragment in m for m in body["ValidationErrorMessages"]), body


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"energyType": "G"}, "energyType"),
        ({"dataServiceType": "VH_dag"}, "dataServiceType"),
        ({"dataServiceType": "VH_maand"}, "dataServiceType"),
        ({"status": "Removed"}, "status"),
        ({"status": None}, "status"),
        ({"dataPeriodFrom": "2024-01-01"}, "dataPeriodFrom"),
        ({"dataPeriodFrom": "2024-01-01T00:00:00+01:00"}, "dataPeriodFrom"),
        (
            {"dataPeriodFrom": "2024-01-01T00:00:00Z", "dataPeriodTo": "2023-01-01T00:00:00Z"},
            "dataPeriodTo",
        ),
    ],
)
async def test_mock_field_validation(api: Api, extra: dict[str, object], fragment: str) -> None:
    body = {"status": "Approved", "ean": "541440110000000000", **extra}
    body = {k: v for k, v in body.items() if v is not None}
    reply = await api.post("/api/mandate/mock", body)
    assert reply.status == 400
    assert any(fragment in m for m in reply.json()["ValidationErrorMessages"])


async def test_mock_requires_auth_and_json(api: Api) -> None:
    headers = {"Ocp-Apim-Subscription-Key": api.sim.credentials.subscription_key}
    reply = await api.post(
        "/api/mandate/mock", {"status": "Approved", "ean": "541440110000000000"}, headers=headers
    )
    assert reply.status == 401
    assert (await api.post("/api/mandate/mock", [1, 2])).status == 400


def test_add_mandate_python_api_validates(sim: FluviusSimulator) -> None:
    with pytest.raises(ValidationError) as err:
        sim.add_mandate("541440210000000000")
    assert err.value.validation
    mandate = sim.add_mandate("541441010000000000", data_service_type="VH_kwartier_uur")
    assert mandate.energy_type == "G"
    with pytest.raises(ValidationError):
        sim.add_mandate("541441010000000000", energy_type="E")


async def test_ean_and_energy_type_only_for_approved_or_finished(
    api: Api, sim: FluviusSimulator
) -> None:
    for status, ean in (
        ("Requested", "541440110000000001"),
        ("Approved", "541440110000000002"),
        ("Rejected", "541440110000000003"),
        ("Finished", "541440110000000004"),
    ):
        sim.add_mandate(ean, status=status)
    shown = {m["status"]: ("ean" in m, "energyType" in m) for m in await _mandates(api)}
    assert shown == {
        "Requested": (False, False),
        "Approved": (True, True),
        "Rejected": (False, False),
        "Finished": (True, True),
    }


async def test_filters(api: Api, sim: FluviusSimulator, clock: Clock) -> None:
    sim.add_mandate("541440110000000000", reference_number="REF-1")
    sim.add_mandate("541441000000000000", status="Requested")
    clock.advance(hours=1)
    sim.add_mandate("541450010000000000", status="Finished")
    sim.add_mandate("541440100000000000")

    async def eans(params: object) -> set[str]:
        reply = await api.get("/api/mandate", params=params)
        assert reply.status == 200, reply.body
        # Requested mandates hide their EAN; match them by reference or status.
        return {m.get("ean", m["status"]) for m in reply.json()["data"]["mandates"]}

    assert await eans({"status": "approved"}) == {"541440110000000000", "541440100000000000"}
    assert await eans({"ean": "541450010000000000"}) == {"541450010000000000"}
    assert await eans({"energyType": "G"}) == {"Requested"}
    assert await eans({"referenceNumber": "REF-1"}) == {"541440110000000000"}
    quarter = {"541440110000000000", "541450010000000000"}
    assert await eans({"dataServiceTypes": "VH_kwartier_uur"}) == quarter
    both = [("dataServiceTypes", "VH_kwartier_uur"), ("dataServiceTypes", "VH_dag")]
    everything = quarter | {"541440100000000000", "Requested"}
    assert await eans(both) == everything
    assert await eans({"dataServiceTypes": "VH_kwartier_uur,VH_dag"}) == everything
    later = {"lastUpdatedFrom": "2025-11-20T12:30:00Z"}
    assert await eans(later) == {"541450010000000000", "541440100000000000"}
    # lastUpdatedTo is exclusive.
    assert await eans({"lastUpdatedTo": "2025-11-20T13:00:00Z"}) == {
        "541440110000000000",
        "Requested",
    }
    assert await eans({"lastUpdatedTo": "2025-11-20T13:00:01Z"}) == everything


@pytest.mark.parametrize(
    "params",
    [
        {"status": "Removed"},
        {"ean": "1234"},
        {"energyType": "X"},
        {"dataServiceTypes": "VH_maand"},
        {"renewalStatus": "Soon"},
        {"lastUpdatedFrom": "yesterday"},
        {"mandateExpirationDate": "2028-01-01"},
    ],
)
async def test_filter_validation(api: Api, params: dict[str, str]) -> None:
    reply = await api.get("/api/mandate", params=params)
    assert reply.status == 400
    assert reply.json()["ValidationErrorMessages"]


async def test_renewal_status_from_clock(api: Api, sim: FluviusSimulator, clock: Clock) -> None:
    sim.add_mandate("541440010000000001", mandate_expiration_date=START + timedelta(days=30))
    sim.add_mandate("541440010000000002", mandate_expiration_date=START + timedelta(days=120))
    sim.add_mandate("541440010000000003", renewal_status="RenewalRequested")
    status = {m["ean"]: m.get("renewalStatus") for m in await _mandates(api)}
    assert status == {
        "541440010000000001": "ToBeRenewed",
        "541440010000000002": None,
        "541440010000000003": "RenewalRequested",
    }
    assert {m["ean"] for m in await _mandates(api, {"renewalStatus": "tobeRenewed"})} == {
        "541440010000000001"
    }
    clock.advance(days=31)
    status = {m["ean"]: m.get("renewalStatus") for m in await _mandates(api)}
    assert status["541440010000000001"] == "Expired"
    assert status["541440010000000002"] == "ToBeRenewed"


async def test_expiration_filter_is_upper_bound(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate("541440010000000001", mandate_expiration_date="2026-01-01T00:00:00Z")
    sim.add_mandate("541440010000000002", mandate_expiration_date="2027-01-01T00:00:00Z")
    found = await _mandates(api, {"mandateExpirationDate": "2026-01-01T00:00:00Z"})
    assert [m["ean"] for m in found] == ["541440010000000001"]


async def test_period_change_and_removal(api: Api, sim: FluviusSimulator, clock: Clock) -> None:
    sim.add_mandate("541440110000000000")
    clock.advance(days=1)
    sim.set_data_period_to("541440110000000000", datetime(2025, 6, 1, 22, tzinfo=UTC))
    found = await _mandates(api)
    assert found[0]["dataPeriodTo"] == "2025-06-01T22:00:00Z"
    reply = await api.get("/api/mandate", params={"lastUpdatedFrom": "2025-11-21T12:00:00Z"})
    assert len(reply.json()["data"]["mandates"]) == 1
    sim.remove_mandate("541440110000000000")
    assert await _mandates(api) == []
