"""FluviusClient against a scripted fake API: headers, parameters, auth, retries, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date
import logging

import aiohttp
from aiohttp import web
import pytest

from custom_components.fluvius.api import (
    ComplexEnergyType,
    DataServiceType,
    EnergyResponse,
    FluviusAuthenticationError,
    FluviusBadRequestError,
    FluviusClient,
    FluviusConnectionError,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    FluviusRateLimitError,
    FluviusResponseError,
    FluviusServerError,
    FluviusTokenError,
    Granularity,
    MandateStatus,
    MockMandate,
    PeriodType,
)

from .conftest import (
    FAKE_CREDENTIALS,
    FakeApi,
    reset_connection,
    respond,
    respond_raw,
)

MANDATES = "/api/mandate"
ENERGY = "/api/mandate/energy"
MOCK = "/api/mandate/mock"
EAN = "541440110000000000"
JAN = datetime(2025, 1, 1, tzinfo=UTC)

SECRETS = (FAKE_CREDENTIALS.client_secret, FAKE_CREDENTIALS.subscription_key)


def energy_body(start: str, end: str) -> dict[str, object]:
    """A one-slice digital-meter response."""
    return {
        "_meta": {"fetchTime": "2025-01-16T07:00:00Z"},
        "data": {
            "headpoint": {
                "$type": "metering-on-meter",
                "ean": EAN,
                "energyType": "E",
                "physicalMeters": [
                    {
                        "seqNumber": "1",
                        "meterID": "1SAG0000000001",
                        "quarterHourlyEnergy": [
                            {
                                "start": start,
                                "end": end,
                                "measurements": [
                                    {"offtake": {"total": {"value": 0.25, "unit": "kWh"}}}
                                ],
                            }
                        ],
                    }
                ],
            }
        },
    }


# --- what goes over the wire --------------------------------------------------------


async def test_every_request_carries_token_subscription_key_and_accept(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    await client.get_mandates()
    (call,) = fake_api.calls(MANDATES)
    assert call.method == "GET"
    assert call.headers["Authorization"] == "Bearer fake-token-1"
    assert call.headers["Ocp-Apim-Subscription-Key"] == FAKE_CREDENTIALS.subscription_key
    assert call.headers["Accept"] == "application/json"


async def test_token_request_is_a_client_credentials_form_post(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    await client.get_mandates()
    (call,) = fake_api.calls(fake_api.token_path)
    assert call.method == "POST"
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert call.form == {
        "grant_type": "client_credentials",
        "client_id": FAKE_CREDENTIALS.client_id,
        "client_secret": FAKE_CREDENTIALS.client_secret,
        "scope": FAKE_CREDENTIALS.scope,
    }
    assert "Authorization" not in call.headers


async def test_mandate_filters_are_sent_as_camel_case_query_with_repeated_keys(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    brussels = datetime(2025, 3, 1, 1, 0, tzinfo=UTC) + timedelta(hours=0)
    await client.get_mandates(
        reference_number="REF-1",
        status=MandateStatus.APPROVED,
        ean=EAN,
        energy_type="E",
        data_service_types=(DataServiceType.DAILY, DataServiceType.QUARTER_HOURLY),
        mandate_expiration_date=JAN,
        renewal_status="ToBeRenewed",
        last_updated_from=brussels,
        last_updated_to=brussels + timedelta(days=1),
    )
    (call,) = fake_api.calls(MANDATES)
    assert call.query == [
        ("referenceNumber", "REF-1"),
        ("status", "Approved"),
        ("ean", EAN),
        ("energyType", "E"),
        ("dataServiceTypes", "VH_dag"),
        ("dataServiceTypes", "VH_kwartier_uur"),
        ("mandateExpirationDate", "2025-01-01T00:00:00Z"),
        ("renewalStatus", "ToBeRenewed"),
        ("lastUpdatedFrom", "2025-03-01T01:00:00Z"),
        ("lastUpdatedTo", "2025-03-02T01:00:00Z"),
    ]


async def test_energy_query_converts_to_utc_and_repeats_multi_values(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    local = ZoneInfo("Europe/Brussels")
    await client.get_energy(
        EAN,
        start=datetime(2024, 9, 19, tzinfo=local),
        end=datetime(2024, 9, 20, tzinfo=local),
        period_type=PeriodType.INSERT_TIME,
        granularity=(Granularity.DAILY, "hourly_quarterhourly"),
        complex_energy_types=(ComplexEnergyType.ACTIVE, ComplexEnergyType.REACTIVE),
    )
    (call,) = fake_api.calls(ENERGY)
    assert call.query == [
        ("ean", EAN),
        ("periodType", "insertTime"),
        ("from", "2024-09-18T22:00:00Z"),
        ("to", "2024-09-19T22:00:00Z"),
        ("granularity", "daily"),
        ("granularity", "hourly_quarterhourly"),
        ("complexEnergyTypes", "active"),
        ("complexEnergyTypes", "reactive"),
    ]


async def test_a_single_string_granularity_is_one_value(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1), granularity="daily")
    (call,) = fake_api.calls(ENERGY)
    assert ("granularity", "daily") in call.query
    assert len([k for k, _ in call.query if k == "granularity"]) == 1


async def test_naive_datetimes_are_rejected(client: FluviusClient, fake_api: FakeApi) -> None:
    with pytest.raises(ValueError, match="naive"):
        await client.get_energy(EAN, start=datetime(2025, 1, 1), end=datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="naive"):
        await client.get_mandates(last_updated_from=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="after"):
        await client.get_energy(EAN, start=JAN, end=JAN)
    assert fake_api.requests == []


async def test_create_mock_mandate_posts_camel_case_json(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(MOCK, respond({"data": {"status": "Created"}, "_meta": {}}))
    status = await client.create_mock_mandate(
        MockMandate(
            ean="541440000000000001",
            energy_type="E",
            data_service_type=DataServiceType.DAILY,
            data_period_from=datetime(2024, 2, 1, 23, tzinfo=UTC),
            data_period_to=datetime(2025, 2, 1, 23, tzinfo=UTC),
            mandate_expiration_date=datetime(2028, 2, 1, 23, tzinfo=UTC),
            reference_number="REF-123456",
        )
    )
    assert status == "Created"
    (call,) = fake_api.calls(MOCK)
    assert call.method == "POST"
    assert call.headers["Content-Type"] == "application/json"
    import orjson  # noqa: PLC0415

    assert orjson.loads(call.body) == {
        "status": "Approved",
        "ean": "541440000000000001",
        "referenceNumber": "REF-123456",
        "energyType": "E",
        "dataServiceType": "VH_dag",
        "dataPeriodFrom": "2024-02-01T23:00:00Z",
        "dataPeriodTo": "2025-02-01T23:00:00Z",
        "mandateExpirationDate": "2028-02-01T23:00:00Z",
    }


# --- windows --------------------------------------------------------------------------


async def test_get_energy_splits_long_ranges_oldest_first_and_merges(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=400)
    fake_api.script(
        ENERGY,
        respond(energy_body("2024-01-01T00:00:00Z", "2024-01-01T00:15:00Z")),
        respond(energy_body("2024-07-04T00:00:00Z", "2024-07-04T00:15:00Z")),
        respond(energy_body("2025-01-05T00:00:00Z", "2025-01-05T00:15:00Z")),
    )
    response = await client.get_energy(EAN, start=start, end=end)
    windows = [dict(call.query) for call in fake_api.calls(ENERGY)]
    assert [(w["from"], w["to"]) for w in windows] == [
        ("2024-01-01T00:00:00Z", "2024-07-04T00:00:00Z"),
        ("2024-07-04T00:00:00Z", "2025-01-05T00:00:00Z"),
        ("2025-01-05T00:00:00Z", "2025-02-04T00:00:00Z"),
    ]
    assert response.headpoint is not None
    (meter,) = response.headpoint.physical_meters
    assert [s.start.day for s in meter.energy.quarter_hourly] == [1, 4, 5]


async def test_one_window_of_185_days_is_one_call_decoded_as_is(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    fake_api.script(ENERGY, respond(energy_body("2024-01-01T00:00:00Z", "2024-01-01T00:15:00Z")))
    response = await client.get_energy(
        EAN,
        start=start,
        end=start + timedelta(days=185),
        granularity=iter(["hourly_quarterhourly"]),
    )
    (call,) = fake_api.calls(ENERGY)
    assert dict(call.query)["to"] == "2024-07-04T00:00:00Z"
    assert [value for key, value in call.query if key == "granularity"] == ["hourly_quarterhourly"]
    assert response.headpoint is not None
    assert response.headpoint.physical_meters[0].energy.quarter_hourly[0].start == start
    await client.get_energy(EAN, start=start, end=start + timedelta(days=185, seconds=1))
    assert len(fake_api.calls(ENERGY)) == 3


async def test_a_granularity_iterator_reaches_every_window(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    await client.get_energy(
        EAN, start=start, end=start + timedelta(days=200), granularity=iter(["daily"])
    )
    assert [
        [value for key, value in call.query if key == "granularity"]
        for call in fake_api.calls(ENERGY)
    ] == [
        ["daily"],
        ["daily"],
    ]


# --- authentication -------------------------------------------------------------------


async def test_concurrent_calls_share_one_token_request(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.token_delay = 0.05
    await asyncio.gather(*(client.get_mandates() for _ in range(10)))
    assert len(fake_api.calls(fake_api.token_path)) == 1
    assert {c.headers["Authorization"] for c in fake_api.calls(MANDATES)} == {"Bearer fake-token-1"}


async def test_token_is_reused_between_calls(client: FluviusClient, fake_api: FakeApi) -> None:
    await client.get_mandates()
    await client.get_mandates()
    assert len(fake_api.calls(fake_api.token_path)) == 1


async def test_401_refreshes_the_token_once_and_retries(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(MANDATES, respond({"statusCode": 401, "message": "Unauthorized"}, 401))
    assert await client.get_mandates() == []
    calls = fake_api.calls(MANDATES)
    assert [c.headers["Authorization"] for c in calls] == [
        "Bearer fake-token-1",
        "Bearer fake-token-2",
    ]


async def test_persistent_401_raises_authentication_error_after_one_refresh(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    unauthorized = respond({"statusCode": 401, "message": "Unauthorized"}, 401)
    fake_api.script(MANDATES, unauthorized, unauthorized, unauthorized)
    with pytest.raises(FluviusAuthenticationError, match="401"):
        await client.get_mandates()
    assert len(fake_api.calls(MANDATES)) == 2
    assert len(fake_api.calls(fake_api.token_path)) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, "invalid_client"),
        (400, "invalid_scope"),
        (400, "unauthorized_client"),
    ],
)
async def test_token_endpoint_rejection_is_an_authentication_error(
    client: FluviusClient, fake_api: FakeApi, status: int, error: str
) -> None:
    fake_api.script(
        fake_api.token_path,
        respond(
            {
                "error": error,
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215],
            },
            status,
        ),
    )
    with pytest.raises(FluviusAuthenticationError) as caught:
        await client.get_mandates()
    assert error in str(caught.value)
    assert "AADSTS7000215" in str(caught.value)
    assert FAKE_CREDENTIALS.client_secret not in str(caught.value)
    assert fake_api.calls(MANDATES) == []


async def test_token_endpoint_echoing_the_secret_is_redacted(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(
        fake_api.token_path,
        respond(
            {
                "error": "invalid_client",
                "error_description": f"bad {FAKE_CREDENTIALS.client_secret}",
            },
            401,
        ),
    )
    with pytest.raises(FluviusAuthenticationError) as caught:
        await client.get_mandates()
    assert FAKE_CREDENTIALS.client_secret not in str(caught.value)
    assert "***" in str(caught.value)


async def test_token_endpoint_outages_are_retried(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    fake_api.script(
        fake_api.token_path,
        respond({"error": "temporarily_unavailable"}, 503),
        reset_connection,
    )
    assert await client.get_mandates() == []
    assert len(sleeps) == 2
    assert len(fake_api.calls(fake_api.token_path)) == 3


# --- status mapping ---------------------------------------------------------------------


async def test_400_carries_the_validation_messages(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(
        ENERGY,
        respond(
            {
                "Type": "BadRequest",
                "Code": "InvalidParameters",
                "Message": "One or more validation errors occurred.",
                "ValidationErrorMessages": ["'to' must be later than 'from'", "'ean' is invalid"],
            },
            400,
        ),
    )
    with pytest.raises(FluviusBadRequestError) as caught:
        await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert caught.value.validation_messages == (
        "'to' must be later than 'from'",
        "'ean' is invalid",
    )
    assert "'ean' is invalid" in str(caught.value)
    assert "InvalidParameters" in str(caught.value)


async def test_400_with_camel_case_and_problem_details(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(
        MANDATES,
        respond({"code": "X", "message": "m", "validationErrorMessages": ["a"]}, 400),
        respond(
            {"title": "One or more validation errors occurred.", "errors": {"ean": ["bad"]}}, 400
        ),
        respond_raw(b"plain text failure", 400),
    )
    with pytest.raises(FluviusBadRequestError) as first:
        await client.get_mandates()
    assert first.value.validation_messages == ("a",)
    with pytest.raises(FluviusBadRequestError) as second:
        await client.get_mandates()
    assert second.value.validation_messages == ("ean: bad",)
    with pytest.raises(FluviusBadRequestError, match="plain text failure"):
        await client.get_mandates()


async def test_403_mentions_access_rights_and_geoblocking(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(MANDATES, respond({"statusCode": 403, "message": "Forbidden"}, 403))
    with pytest.raises(FluviusForbiddenError) as caught:
        await client.get_mandates()
    message = str(caught.value)
    assert "geoblocking" in message
    assert "EEA" in message
    assert "no access" in message


async def test_404_means_no_valid_access(client: FluviusClient, fake_api: FakeApi) -> None:
    fake_api.script(
        ENERGY,
        respond({"Type": "NotFound", "Code": "NoValidAccess", "Message": "No valid access"}, 404),
    )
    with pytest.raises(FluviusNoAccessError, match="no valid access"):
        await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert len(fake_api.calls(ENERGY)) == 1


async def test_unexpected_status_is_a_fluvius_error(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(MANDATES, respond({"statusCode": 405, "message": "no"}, 405))
    with pytest.raises(FluviusError, match="405"):
        await client.get_mandates()


# --- retries ------------------------------------------------------------------------------


async def test_429_honours_retry_after_seconds(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    fake_api.script(
        MANDATES,
        respond({"statusCode": 429, "message": "Rate limit"}, 429, {"Retry-After": "7"}),
    )
    assert await client.get_mandates() == []
    assert sleeps == [7.0]


async def test_429_honours_retry_after_http_date(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    fake_api.script(
        MANDATES,
        respond({}, 429, {"Retry-After": http_date(when, usegmt=True)}),
    )
    assert await client.get_mandates() == []
    (delay,) = sleeps
    assert 17 <= delay <= 20


async def test_retry_after_is_capped_at_backoff_max(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    fake_api.script(MANDATES, respond({}, 429, {"Retry-After": "3600"}))
    await client.get_mandates()
    assert sleeps == [30.0]


async def test_persistent_429_raises_rate_limit_error_with_retry_after(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    fake_api.script(MANDATES, *[respond({}, 429, {"Retry-After": "2"})] * 4)
    with pytest.raises(FluviusRateLimitError) as caught:
        await client.get_mandates()
    assert caught.value.retry_after == 2.0
    assert len(fake_api.calls(MANDATES)) == 4  # 1 + max_retries
    assert sleeps == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_with_growing_backoff(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float], status: int
) -> None:
    fake_api.script(MANDATES, respond({}, status), respond({}, status))
    assert await client.get_mandates() == []
    assert len(fake_api.calls(MANDATES)) == 3
    first, second = sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


async def test_persistent_server_error_gives_up_after_max_retries(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    fake_api.script(MANDATES, *[respond({"Code": "Boom"}, 503)] * 10)
    with pytest.raises(FluviusServerError) as caught:
        await client.get_mandates()
    assert caught.value.status == 503
    assert len(fake_api.calls(MANDATES)) == 4
    assert len(sleeps) == 3
    assert all(delay <= 30 for delay in sleeps)


async def test_non_retryable_5xx_fails_at_once(client: FluviusClient, fake_api: FakeApi) -> None:
    fake_api.script(MANDATES, respond({}, 501))
    with pytest.raises(FluviusServerError):
        await client.get_mandates()
    assert len(fake_api.calls(MANDATES)) == 1


async def test_connection_reset_is_retried(
    client: FluviusClient, fake_api: FakeApi, sleeps: list[float]
) -> None:
    # aiohttp itself retries once on a reused keep-alive connection, so use a few.
    fake_api.script(MANDATES, *[reset_connection] * 3)
    assert await client.get_mandates() == []
    assert sleeps
    assert fake_api.scripts[MANDATES] == []


async def test_persistent_connection_reset_raises_connection_error(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(MANDATES, *[reset_connection] * 10)
    with pytest.raises(FluviusConnectionError, match="after 4 attempts"):
        await client.get_mandates()


async def test_unreachable_host_raises_connection_error(
    session: aiohttp.ClientSession, fake_api: FakeApi
) -> None:
    async def sleep(_delay: float) -> None:
        return None

    # A port nothing listens on: bind one to learn a free number, then close it.
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FluviusClient(
        session,
        FAKE_CREDENTIALS,
        base_url=f"http://127.0.0.1:{port}",
        token_url=fake_api.token_url,
        max_retries=1,
        sleep=sleep,
    )
    with pytest.raises(FluviusConnectionError):
        await client.get_mandates()


async def test_timeout_is_retried_then_raises_connection_error(
    session: aiohttp.ClientSession, fake_api: FakeApi
) -> None:
    release = asyncio.Event()
    both_answered = asyncio.Event()
    answered: list[None] = []

    async def slow(_request: web.Request) -> web.StreamResponse:
        # Answers only after the client gave up; the test then waits for both handlers,
        # so no request handler outlives it.
        await release.wait()
        answered.append(None)
        if len(answered) == 2:
            both_answered.set()
        return web.Response(status=200)

    fake_api.script(MANDATES, slow, slow)
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    client = FluviusClient(
        session,
        FAKE_CREDENTIALS,
        base_url=fake_api.base_url,
        token_url=fake_api.token_url,
        request_timeout=0.1,
        max_retries=1,
        backoff_base=0,
        sleep=sleep,
    )
    with pytest.raises(FluviusConnectionError, match="TimeoutError"):
        await client.get_mandates()
    assert delays == [0.0]
    release.set()
    async with asyncio.timeout(5):
        await both_answered.wait()


async def test_malformed_200_body_is_a_response_error_and_not_retried(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    fake_api.script(ENERGY, respond_raw(b"<html><body>gateway</body></html>"))
    with pytest.raises(FluviusResponseError, match="not valid JSON"):
        await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert len(fake_api.calls(ENERGY)) == 1


async def test_truncated_200_body_is_a_response_error(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    import orjson  # noqa: PLC0415

    full = orjson.dumps(energy_body("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z"))
    fake_api.script(ENERGY, respond_raw(full[: len(full) // 2]))
    with pytest.raises(FluviusResponseError):
        await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))


async def test_missing_field_error_names_the_field(
    client: FluviusClient, fake_api: FakeApi
) -> None:
    body = energy_body("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z")
    meter = body["data"]["headpoint"]["physicalMeters"][0]  # type: ignore[index]
    del meter["quarterHourlyEnergy"][0]["start"]
    fake_api.script(ENERGY, respond(body))
    with pytest.raises(FluviusResponseError) as caught:
        await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert str(caught.value) == (
        "response body does not match the API's model: Object missing required field `start`"
        " - at `$.data.headpoint.physicalMeters[0].quarterHourlyEnergy[0]`"
    )


# --- secrets --------------------------------------------------------------------------------


async def test_secrets_never_appear_in_errors_or_debug_logs(
    client: FluviusClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_api.script(
        MANDATES,
        respond({}, 429, {"Retry-After": "1"}),
        respond({"statusCode": 401, "message": "Unauthorized"}, 401),
        respond({"Code": "Forbidden", "Message": "Forbidden"}, 403),
        respond({"Code": "NotFound", "Message": f"echo {FAKE_CREDENTIALS.subscription_key}"}, 404),
        respond({"Message": "m", "ValidationErrorMessages": ["fake-token-2 is bad"]}, 400),
        *[respond({}, 500)] * 4,
    )
    errors: list[FluviusError] = []
    for _ in range(5):
        try:
            await client.get_mandates()
        except FluviusError as err:
            errors.append(err)
    fake_api.script(MANDATES, *[reset_connection] * 10)
    with pytest.raises(FluviusConnectionError) as reset:
        await client.get_mandates()
    errors.append(reset.value)
    fake_api.scripts[MANDATES] = [respond_raw(b"not json")]
    with pytest.raises(FluviusResponseError) as malformed:
        await client.get_mandates()
    errors.append(malformed.value)
    fake_api.script(
        fake_api.token_path,
        respond({"error": "invalid_client", "error_description": "AADSTS7000215"}, 401),
    )
    client.token_provider.invalidate()
    try:
        await client.get_mandates()
    except FluviusError as err:
        errors.append(err)

    assert [type(err) for err in errors] == [
        FluviusForbiddenError,
        FluviusNoAccessError,
        FluviusBadRequestError,
        FluviusServerError,
        FluviusConnectionError,
        FluviusResponseError,
        FluviusTokenError,
    ]
    texts = [str(err) for err in errors] + [repr(err) for err in errors]
    texts += [str(getattr(err, "validation_messages", "")) for err in errors]
    texts.append(caplog.text)
    texts.append(repr(client))
    texts.append(repr(client.token_provider))
    texts.append(repr(FAKE_CREDENTIALS))
    for text in texts:
        for secret in (*SECRETS, *fake_api.issued):
            assert secret not in text, (secret, text)
    assert "GET /api/mandate" in caplog.text


async def test_large_energy_bodies_are_parsed_through_the_executor_hook(
    session: aiohttp.ClientSession, fake_api: FakeApi
) -> None:
    jobs: list[int] = []

    async def run_in_executor(
        func: Callable[[bytes], EnergyResponse], body: bytes
    ) -> EnergyResponse:
        jobs.append(len(body))
        return func(body)

    client = FluviusClient(
        session,
        FAKE_CREDENTIALS,
        base_url=fake_api.base_url,
        token_url=fake_api.token_url,
        run_in_executor=run_in_executor,
    )
    small = energy_body("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z")
    large = energy_body("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z")
    meter = large["data"]["headpoint"]["physicalMeters"][0]  # type: ignore[index]
    template = meter["quarterHourlyEnergy"][0]
    meter["quarterHourlyEnergy"] = [
        {**template, "start": f"2025-01-{day:02d}T{hour:02d}:00:00Z"}
        for day in range(1, 29)
        for hour in range(24)
    ] * 8
    fake_api.script(ENERGY, respond(small), respond(large))
    await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert jobs == []
    response = await client.get_energy(EAN, start=JAN, end=JAN + timedelta(days=1))
    assert len(jobs) == 1
    assert jobs[0] >= 256 * 1024
    assert response.headpoint is not None
