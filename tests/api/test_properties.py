"""Property tests: parsing, error mapping and aggregation on generated inputs.

Every expectation is computed here from the generated document or values, not
from the code under test. Examples are few and derandomized, so the file runs
in seconds and the same inputs are tried on every run.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
import math
import random
from types import TracebackType
from typing import Any, cast

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import orjson
import pytest

from custom_components.fluvius.aggregation import aggregate, cumulate
from custom_components.fluvius.api import (
    Credentials,
    Direction,
    EnergyResponse,
    EnergySeries,
    EnergyType,
    FluviusAuthenticationError,
    FluviusBadRequestError,
    FluviusClient,
    FluviusError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    FluviusRateLimitError,
    FluviusResponseError,
    FluviusServerError,
    Headpoint,
    HeadpointType,
    Measurement,
    MeasurementValue,
    PhysicalMeter,
    Reading,
    Register,
    RegisterValues,
    TimeSlice,
    parse_energy,
    parse_mandates,
    parse_mock_mandate,
    parse_token,
)

FEW = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- well-typed documents -----------------------------------------------------------

_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=2))])
_moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=_ZONES
).map(lambda moment: moment.replace(microsecond=0))


def _stamp(moment: datetime) -> str:
    """The API's ``...Z`` form for UTC, ISO 8601 with an offset otherwise."""
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


_words = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)


def _known_or_raw(*known: str) -> st.SearchStrategy[str]:
    """Documented values in any casing, and now and then one the API may add later."""
    return st.sampled_from(known).flatmap(
        lambda value: st.sampled_from([value, value.upper(), value.lower()])
    ) | _words.map(lambda word: f"x{word}")


_numbers = st.none() | st.integers(-(10**9), 10**9) | st.floats(-1e9, 1e9, allow_nan=False)
_values = st.fixed_dictionaries(
    {"value": _numbers, "unit": _known_or_raw("kWh", "m3", "kVArh", "kW", "kVA")},
    optional={
        "validationState": st.none() | _known_or_raw("READ", "EST", "VAL", "NVAL"),
        "gasConversionFactor": st.none() | _known_or_raw("P", "D", "C"),
    },
)


def _one_spelling(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keep one key per case-insensitive name: the API never sends two spellings at once."""
    seen: dict[str, str] = {}
    for key in mapping:
        seen.setdefault(key.casefold(), key)
    return {key: mapping[key] for key in seen.values()}


_measurement = st.dictionaries(
    _known_or_raw("offtake", "injection", "production", "auxiliary"),
    st.none()
    | st.dictionaries(
        _known_or_raw("total", "day", "night", "inductive", "capacitive"),
        st.none() | _values,
        max_size=3,
    ).map(_one_spelling),
    max_size=2,
).map(_one_spelling)
_slice = st.builds(
    lambda start, length, measurements: {
        "start": _stamp(start),
        "end": _stamp(start + length),
        **({} if measurements is None else {"measurements": measurements}),
    },
    _moments,
    st.sampled_from([timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)]),
    st.none() | st.lists(_measurement, max_size=2),
)
_series = st.fixed_dictionaries(
    {},
    optional={
        key: st.none() | st.lists(_slice, max_size=3)
        for key in ("dailyEnergy", "hourlyEnergy", "quarterHourlyEnergy")
    },
)
_ean = st.text("0123456789", min_size=18, max_size=18)
_identifier = st.none() | _words | st.integers(0, 10**6)


def _with(series: st.SearchStrategy[dict[str, Any]], **fields: Any) -> Any:
    return st.tuples(series, st.fixed_dictionaries(fields)).map(lambda pair: {**pair[1], **pair[0]})


_meter = _with(_series, seqNumber=_identifier, meterID=_identifier)
_sub = _with(
    _series,
    **{
        "$type": _known_or_raw(
            "submetering-production", "submetering-auxiliary", "submetering-offtake"
        ),
        "ean": st.none() | _ean,
        "seqNumber": _identifier,
        "vregId": _identifier,
        "type": st.none() | _known_or_raw("PV", "WKKA", "?"),
    },
)
_headpoint = _with(
    _series,
    **{
        "$type": _known_or_raw(
            "metering-on-meter", "metering-on-headpoint", "metering-on-headpoint-and-meter"
        ),
        "ean": _ean,
        "energyType": st.none() | _known_or_raw("E", "G"),
        "physicalMeters": st.none() | st.lists(_meter, max_size=2),
        "subHeadpoints": st.none() | st.lists(_sub, max_size=2),
    },
)
_energy_documents = st.fixed_dictionaries(
    {"data": st.fixed_dictionaries({"headpoint": st.none() | _headpoint})},
    optional={"_meta": st.fixed_dictionaries({"fetchTime": _moments.map(_stamp)})},
)


def _expected_readings(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The flat values of a document, in document order, read straight from the JSON."""
    headpoint = document["data"]["headpoint"]
    if headpoint is None:
        return []
    owners: list[tuple[str | None, str | None, dict[str, Any]]] = [
        (None, None if meter.get("meterID") is None else str(meter["meterID"]), meter)
        for meter in headpoint.get("physicalMeters") or []
    ]
    owners.append((None, None, headpoint))
    owners.extend((sub.get("ean"), None, sub) for sub in headpoint.get("subHeadpoints") or [])
    out = []
    for sub_ean, meter_id, owner in owners:
        for key, resolution in (
            ("dailyEnergy", "daily"),
            ("hourlyEnergy", "hourly"),
            ("quarterHourlyEnergy", "quarter_hourly"),
        ):
            for item in owner.get(key) or []:
                start = datetime.fromisoformat(item["start"]).astimezone(UTC)
                for measurement in item.get("measurements") or []:
                    out.extend(_expected_values(sub_ean, meter_id, resolution, start, measurement))
    return out


def _expected_values(
    sub_ean: str | None,
    meter_id: str | None,
    resolution: str,
    start: datetime,
    measurement: dict[str, Any],
) -> list[tuple[Any, ...]]:
    """A measurement's values: documented keys only (others are ignored), in enum order."""
    out = []
    for direction in Direction:
        registers = measurement.get(direction.value) or {}
        for register in Register:
            value = registers.get(register.value)
            if value is None:
                continue
            number = value["value"]
            out.append(
                (
                    sub_ean,
                    meter_id,
                    resolution,
                    direction.value,
                    register.value,
                    value["unit"].casefold(),
                    start,
                    None if number is None else float(number),
                )
            )
    return out


def _flat(reading: Reading) -> tuple[Any, ...]:
    return (
        reading.sub_ean,
        reading.meter_id,
        str(reading.resolution),
        str(reading.direction).casefold(),
        str(reading.register).casefold(),
        str(reading.unit).casefold(),
        reading.start,
        reading.value,
    )


@FEW
@given(_energy_documents)
def test_well_typed_energy_parses_to_exactly_its_values(document: dict[str, Any]) -> None:
    response = parse_energy(orjson.dumps(document))
    assert [_flat(reading) for reading in response.readings()] == _expected_readings(document)
    headpoint = document["data"]["headpoint"]
    if headpoint is None:
        assert response.headpoint is None
    else:
        assert response.headpoint is not None
        assert response.headpoint.ean == headpoint["ean"]


_mandates = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "referenceNumber": st.none() | _words,
            "status": _known_or_raw("Requested", "Approved", "Rejected", "Finished"),
            "ean": _ean,
            "energyType": _known_or_raw("E", "G"),
            "dataPeriodFrom": _moments.map(_stamp),
            "dataPeriodTo": st.none() | _moments.map(_stamp),
            "dataServiceType": _known_or_raw("VH_dag", "VH_kwartier_uur"),
            "mandateExpirationDate": _moments.map(_stamp),
            "renewalStatus": _known_or_raw("ToBeRenewed", "RenewalRequested", "Expired"),
        },
    ),
    max_size=4,
)


@FEW
@given(_mandates)
def test_well_typed_mandates_parse_field_by_field(mandates: list[dict[str, Any]]) -> None:
    body = orjson.dumps({"data": {"mandates": mandates}, "_meta": {}})
    parsed = parse_mandates(body)
    assert len(parsed) == len(mandates)
    for raw, mandate in zip(mandates, parsed, strict=True):
        assert mandate.ean == raw.get("ean")
        status = raw.get("status")
        assert (None if mandate.status is None else str(mandate.status).casefold()) == (
            None if status is None else status.casefold()
        )
        start = raw.get("dataPeriodFrom")
        assert mandate.data_period_from == (
            None if start is None else datetime.fromisoformat(start).astimezone(UTC)
        )


# --- garbage ------------------------------------------------------------------------


def _is_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


_not_json = (
    st.binary(max_size=48).filter(lambda body: not _is_json(body))
    | st.text(max_size=20).map(lambda text: f"<html><body>{text}</body></html>".encode())
    | _slice.map(lambda item: orjson.dumps({"data": item})[:-1])
)
_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | _words
_json = st.recursive(
    _leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_words, children, max_size=3),
    max_leaves=6,
)
_not_object = _json.filter(lambda value: not isinstance(value, dict))
_no_data = st.dictionaries(_words.filter(lambda word: word != "data"), _json, max_size=3)
_no_token = st.dictionaries(_words.filter(lambda word: word != "access_token"), _json, max_size=3)
_PARSERS = (parse_energy, parse_mandates, parse_mock_mandate, parse_token)
_NOT_AN_OBJECT = "Expected `object`"


def _clear(error: FluviusResponseError, *phrases: str) -> None:
    """A short message that says what is wrong (and no stack of internal names)."""
    text = str(error)
    assert 0 < len(text) < 300
    assert any(phrase in text for phrase in phrases), text


@FEW
@given(_not_json)
def test_bytes_that_are_not_json_say_so(body: bytes) -> None:
    for parse in _PARSERS:
        with pytest.raises(FluviusResponseError) as caught:
            parse(body)
        _clear(caught.value, "is not valid JSON")


@FEW
@given(_not_object)
def test_json_that_is_not_an_object_says_so(value: Any) -> None:
    body = orjson.dumps(value)
    for parse in _PARSERS:
        with pytest.raises(FluviusResponseError) as caught:
            parse(body)
        _clear(caught.value, _NOT_AN_OBJECT)


@FEW
@given(_no_data, _no_token)
def test_objects_without_their_main_member_name_it(document: Any, token: Any) -> None:
    for parse in (parse_energy, parse_mandates, parse_mock_mandate):
        with pytest.raises(FluviusResponseError) as caught:
            parse(orjson.dumps(document))
        _clear(caught.value, "Object missing required field `data`")
    with pytest.raises(FluviusResponseError) as caught:
        parse_token(orjson.dumps(token))
    _clear(caught.value, "Object missing required field `access_token`")


# --- the client: any status and body, only documented errors --------------------------

SECRET = "prop-secret-5d1e"
KEY = "prop-key-9c7a"
CREDENTIALS = Credentials(
    tenant_id="prop-tenant",
    client_id="prop-client",
    client_secret=SECRET,
    scope="api://prop/.default",
    subscription_key=KEY,
)
TOKEN_URL = "http://token.invalid/token"


class _Exchange:
    """What ``session.request`` returns: an async context manager with the answer."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    async def __aenter__(self) -> _Exchange:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    async def read(self) -> bytes:
        return self.body


class _Session:
    """The aiohttp session seam: tokens always granted, the API answers as scripted."""

    def __init__(self, status: int, body: bytes, retry_after: str | None) -> None:
        self.answer = (status, body, {} if retry_after is None else {"Retry-After": retry_after})
        self.issued: list[str] = []

    def request(self, method: str, url: str, **_kwargs: Any) -> _Exchange:
        if url == TOKEN_URL:
            self.issued.append(f"prop-token-{len(self.issued) + 1}")
            token = orjson.dumps({"access_token": self.issued[-1], "expires_in": 60})
            return _Exchange(200, token, {})
        return _Exchange(*self.answer)


def _expected_error(status: int) -> type[FluviusError] | None:
    """The documented exception for a final status; None for success."""
    if 200 <= status < 300:
        return None
    if status >= 500:
        return FluviusServerError
    return {
        400: FluviusBadRequestError,
        401: FluviusAuthenticationError,
        403: FluviusForbiddenError,
        404: FluviusNoAccessError,
        429: FluviusRateLimitError,
    }.get(status, FluviusResponseError)


_error_bodies = st.fixed_dictionaries(
    {},
    optional={
        "Code": _words,
        "Message": st.sampled_from(["bad", f"echo {SECRET}", f"key {KEY}", "token prop-token-1"]),
        "ValidationErrorMessages": st.lists(st.sampled_from(["x", SECRET]), max_size=2),
    },
).map(orjson.dumps)
_bodies = _energy_documents.map(orjson.dumps) | _error_bodies | _not_json | st.just(b"")
_statuses = st.sampled_from([200, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 599]) | (
    st.integers(200, 599)
)


def _call(
    status: int, body: bytes, retry_after: str | None
) -> tuple[EnergyResponse | FluviusError, list[str]]:
    """One get_energy through the client's real retry, refresh and error mapping.

    Returns the result and the tokens the client was given.
    """
    session = _Session(status, body, retry_after)

    async def no_sleep(_seconds: float) -> None:
        return None

    client = FluviusClient(
        cast(aiohttp.ClientSession, session),
        CREDENTIALS,
        base_url="http://api.invalid",
        token_url=TOKEN_URL,
        max_retries=2,
        sleep=no_sleep,
    )
    start = datetime(2026, 3, 1, tzinfo=UTC)
    loop = asyncio.new_event_loop()
    result: EnergyResponse | FluviusError
    try:
        result = loop.run_until_complete(
            client.get_energy("541440110000000000", start=start, end=start + timedelta(days=1))
        )
    except FluviusError as err:
        result = err
    finally:
        loop.close()
    return result, session.issued


def _no_secrets(error: FluviusError, tokens: list[str]) -> None:
    for text in (str(error), repr(error), *getattr(error, "validation_messages", ())):
        for secret in (SECRET, KEY, *tokens):
            assert secret not in text, text


@settings(FEW, max_examples=120)
@given(_statuses, _bodies, st.none() | st.sampled_from(["0", "2", "soon"]))
def test_client_raises_only_documented_errors_without_secrets(
    status: int, body: bytes, retry_after: str | None
) -> None:
    result, tokens = _call(status, body, retry_after)
    expected = _expected_error(status)
    if isinstance(result, EnergyResponse):
        assert expected is None
        return
    if expected is None:
        # A 2xx whose body is not an energy document.
        assert type(result) is FluviusResponseError
    else:
        assert type(result) is expected, (status, result)
    _no_secrets(result, tokens)


_echoes = st.sampled_from([SECRET, KEY, "prop-token-1", "prop-token-2"])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500, 503])
@settings(FEW, max_examples=12)
@given(st.lists(_echoes, min_size=1, max_size=3), st.lists(_echoes, max_size=2))
def test_error_answers_echoing_secrets_or_tokens_are_redacted(
    status: int, message: list[str], validation: list[str]
) -> None:
    body = orjson.dumps(
        {"Code": "Echo", "Message": " ".join(message), "ValidationErrorMessages": validation}
    )
    result, tokens = _call(status, body, None)
    assert isinstance(result, FluviusError)
    if status not in (429, 500, 503):  # retried statuses report the attempts instead
        assert "Echo" in str(result)
    _no_secrets(result, tokens)


# --- aggregation ----------------------------------------------------------------------

BASE_HOUR = datetime(2026, 3, 29, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def _quarter(index: int, value: float | None, register: Register = Register.TOTAL) -> TimeSlice:
    start = BASE_HOUR + index * QUARTER
    item = MeasurementValue(value=value, raw_unit="kWh", raw_validation_state="READ")
    registers = RegisterValues(**{register.value: item})
    return TimeSlice(start, start + QUARTER, (Measurement(offtake=registers),))


def _response(slices: list[TimeSlice]) -> list[EnergyResponse]:
    """One digital meter's quarter-hours, in the order given."""
    meter = PhysicalMeter("1", "meter-1", EnergySeries(quarter_hourly=tuple(slices)))
    headpoint = Headpoint(
        type=HeadpointType.METERING_ON_METER,
        ean="541440110000000000",
        energy_type=EnergyType.ELECTRICITY,
        physical_meters=(meter,),
    )
    return [EnergyResponse(fetch_time=None, headpoint=headpoint)]


# Per quarter of up to six hours: absent (missing from the response), null, or a value.
_quarters = st.integers(1, 6).flatmap(
    lambda hours: st.lists(
        st.one_of(
            st.just("absent"), st.none(), st.floats(0, 250, allow_nan=False, allow_infinity=False)
        ),
        min_size=4 * hours,
        max_size=4 * hours,
    )
)


def _complete_hours(quarters: list[Any]) -> dict[datetime, list[float]]:
    hours = {}
    for hour in range(len(quarters) // 4):
        group = quarters[4 * hour : 4 * hour + 4]
        if all(isinstance(value, float) for value in group):
            hours[BASE_HOUR + timedelta(hours=hour)] = group
    return hours


def _readings(quarters: list[Any], order: random.Random) -> list[EnergyResponse]:
    """The present quarter-hours in any order: the API promises none."""
    slices = [_quarter(i, value) for i, value in enumerate(quarters) if value != "absent"]
    order.shuffle(slices)
    return _response(slices)


@FEW
@given(_quarters, st.randoms(use_true_random=False))
def test_hourly_rows_are_the_sums_of_complete_quarter_hours(
    quarters: list[Any], order: random.Random
) -> None:
    data = aggregate(_readings(quarters, order))
    complete = _complete_hours(quarters)
    rows = next(iter(data.energy.values()), {})
    assert sorted(rows) == sorted(complete)
    for hour, group in complete.items():
        assert rows[hour] == pytest.approx(math.fsum(group), rel=1e-12, abs=1e-9)
    total = math.fsum(value for group in complete.values() for value in group)
    assert math.fsum(rows.values()) == pytest.approx(total, rel=1e-12, abs=1e-9)
    power = next(iter(data.power.values()), {})
    assert sorted(power) == sorted(complete)
    for hour, group in complete.items():
        assert power[hour].max == pytest.approx(4 * max(group))
        assert power[hour].min == pytest.approx(4 * min(group))


@FEW
@given(_quarters, st.floats(0, 1e7, allow_nan=False), st.randoms(use_true_random=False))
def test_cumulative_sums_never_decrease_for_non_negative_data(
    quarters: list[Any], base: float, order: random.Random
) -> None:
    rows = next(iter(aggregate(_readings(quarters, order)).energy.values()), {})
    summed = cumulate(base, sorted(rows.items()))
    previous = base
    for row in summed:
        assert row.sum >= previous
        assert row.sum == pytest.approx(previous + row.state)
        previous = row.sum
    assert previous == pytest.approx(base + math.fsum(rows.values()))


@FEW
@given(_quarters, _quarters)
def test_day_and_night_without_total_add_up_to_the_total(day: list[Any], night: list[Any]) -> None:
    slices = [
        *(_quarter(i, value, Register.DAY) for i, value in enumerate(day) if value != "absent"),
        *(_quarter(i, value, Register.NIGHT) for i, value in enumerate(night) if value != "absent"),
    ]
    energy = aggregate(_response(slices)).energy
    totals = next((rows for key, rows in energy.items() if key.register == "total"), {})
    both = _complete_hours(day).keys() & _complete_hours(night).keys()
    assert sorted(totals) == sorted(both)
    for hour in both:
        expected = math.fsum(_complete_hours(day)[hour]) + math.fsum(_complete_hours(night)[hour])
        assert totals[hour] == pytest.approx(expected, rel=1e-12, abs=1e-9)
