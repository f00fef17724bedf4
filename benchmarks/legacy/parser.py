"""The pre-msgspec hand-written parser over orjson (frozen copy, see ``__init__``).

A 185-day quarter-hour response holds ~17 760 slices, so the slice loop is the
hot path: it does the least work that still checks every value, and only when
something is wrong does a slower pass work out *what* and *where* (for example
``data.headpoint.physicalMeters[0].quarterHourlyEnergy[12].start missing``).
Every malformed body raises :class:`FluviusResponseError`, never anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
import math
from typing import Any

import orjson

from custom_components.fluvius.api.exceptions import FluviusResponseError

from .models import (
    DataServiceType,
    Direction,
    EnergyResponse,
    EnergySeries,
    EnergyType,
    GasConversionFactor,
    Headpoint,
    HeadpointType,
    InstallationType,
    Mandate,
    MandateStatus,
    Measurement,
    MeasurementValue,
    PhysicalMeter,
    Register,
    RenewalStatus,
    SubHeadpoint,
    SubHeadpointKind,
    TimeSlice,
    Unit,
    ValidationState,
)

type Body = bytes | bytearray | memoryview | str

# The exceptions malformed input can raise inside the hot loops.
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)

# Keys of the three slice arrays, in EnergySeries field order.
_SERIES_KEYS = ("dailyEnergy", "hourlyEnergy", "quarterHourlyEnergy")

_MAX_CACHED = 512

# Creates a named tuple without NamedTuple.__new__'s argument handling.
_new_tuple = tuple.__new__


class _EnumCache(dict[Any, Any]):
    """Raw string -> parsed enum (or the raw string), filled on first sight.

    The enums' own ``parse`` casefolds on every call; responses repeat the same
    few spellings tens of thousands of times, so remember each one.
    """

    def __init__(self, parse: Callable[[str], object], *, optional: bool) -> None:
        super().__init__()
        self._parse = parse
        if optional:
            self[None] = None

    def __missing__(self, raw: Any) -> Any:
        if type(raw) is not str:
            raise TypeError("not a string")
        parsed = self._parse(raw)
        if len(self) < _MAX_CACHED:
            self[raw] = parsed
        return parsed


_DIRECTIONS = _EnumCache(Direction.parse, optional=False)
_REGISTERS = _EnumCache(Register.parse, optional=False)
_UNITS = _EnumCache(Unit.parse, optional=False)
_VALIDATION_STATES = _EnumCache(ValidationState.parse, optional=True)
_GAS_FACTORS = _EnumCache(GasConversionFactor.parse, optional=True)


def _error(message: str) -> FluviusResponseError:
    return FluviusResponseError(message)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _loads(body: Body) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise _error(f"response body is not valid JSON ({err})") from None
    except TypeError:
        raise _error("response body is not bytes or text") from None


# --- datetimes -----------------------------------------------------------------


def _to_utc(raw: str) -> datetime:
    """Parse an ISO 8601 timestamp to an aware UTC datetime (naive means UTC)."""
    parsed = datetime.fromisoformat(raw)
    tzinfo = parsed.tzinfo
    if tzinfo is UTC:
        return parsed
    if tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _cached_time(raw: str, cache: dict[str, datetime]) -> datetime:
    parsed = _to_utc(raw)
    cache[raw] = parsed
    return parsed


def parse_datetime(raw: object, where: str = "datetime") -> datetime:
    """Parse one API timestamp; ``where`` names the field in the error."""
    if type(raw) is not str:
        raise _error(f"{where} is not a datetime string: {_short(raw)}")
    try:
        return _to_utc(raw)
    except (ValueError, OverflowError):
        raise _error(f"{where} is not a valid datetime: {_short(raw)}") from None


def _optional_datetime(obj: dict[str, Any], key: str, where: str) -> datetime | None:
    raw = obj.get(key)
    return None if raw is None else parse_datetime(raw, f"{where}.{key}")


# --- small field helpers --------------------------------------------------------


def _object(raw: object, where: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _error(f"{where} is not an object")
    return raw


def _member(obj: dict[str, Any], key: str, where: str) -> Any:
    """Return a required, non-null member."""
    value = obj.get(key)
    if value is None:
        raise _error(f"{where}.{key} missing")
    return value


def _optional_list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise _error(f"{where}.{key} is not a list")
    return value


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    if type(value) is int:  # identifiers such as seqNumber may come as numbers
        return str(value)
    raise _error(f"{where}.{key} is not a string: {_short(value)}")


def _required_str(obj: dict[str, Any], key: str, where: str) -> str:
    value = _optional_str(obj, key, where)
    if value is None:
        raise _error(f"{where}.{key} missing")
    return value


def _optional_enum(obj: dict[str, Any], key: str, where: str, enum: Any) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise _error(f"{where}.{key} is not a string: {_short(value)}")
    return enum.parse(value)


def _data(body: Body) -> dict[str, Any]:
    document = _object(_loads(body), "response body")
    return _object(_member(document, "data", "response body"), "data")


# --- mandates ------------------------------------------------------------------


def parse_mandates(body: Body) -> list[Mandate]:
    """Parse a GET mandate response (``data.mandates``) into mandates."""
    data = _data(body)
    if "mandates" not in data:
        raise _error("data.mandates missing")
    mandates = []
    for index, raw in enumerate(_optional_list(data, "mandates", "data")):
        where = f"data.mandates[{index}]"
        item = _object(raw, where)
        mandates.append(
            Mandate(
                reference_number=_optional_str(item, "referenceNumber", where),
                status=_optional_enum(item, "status", where, MandateStatus),
                ean=_optional_str(item, "ean", where),
                energy_type=_optional_enum(item, "energyType", where, EnergyType),
                data_period_from=_optional_datetime(item, "dataPeriodFrom", where),
                data_period_to=_optional_datetime(item, "dataPeriodTo", where),
                data_service_type=_optional_enum(item, "dataServiceType", where, DataServiceType),
                mandate_expiration_date=_optional_datetime(item, "mandateExpirationDate", where),
                renewal_status=_optional_enum(item, "renewalStatus", where, RenewalStatus),
            )
        )
    return mandates


def parse_mock_mandate(body: Body) -> str:
    """Parse a POST mock mandate response; returns ``data.status``."""
    data = _data(body)
    return _required_str(data, "status", "data")


# --- energy --------------------------------------------------------------------


def parse_energy(body: Body) -> EnergyResponse:
    """Parse a GET energy response into an :class:`EnergyResponse`."""
    document = _object(_loads(body), "response body")
    data = _object(_member(document, "data", "response body"), "data")
    if "headpoint" not in data:
        raise _error("data.headpoint missing")

    fetch_time = None
    meta = document.get("_meta")
    if meta is not None:
        fetch_time = _optional_datetime(_object(meta, "_meta"), "fetchTime", "_meta")

    raw_headpoint = data["headpoint"]
    if raw_headpoint is None:
        return EnergyResponse(fetch_time=fetch_time, headpoint=None)
    times: dict[str, datetime] = {}
    return EnergyResponse(
        fetch_time=fetch_time,
        headpoint=_headpoint(_object(raw_headpoint, "data.headpoint"), times),
    )


def _headpoint(raw: dict[str, Any], times: dict[str, datetime]) -> Headpoint:
    where = "data.headpoint"
    kind = HeadpointType.parse(_required_str(raw, "$type", where))
    meters = []
    for index, item in enumerate(_optional_list(raw, "physicalMeters", where)):
        meter_where = f"{where}.physicalMeters[{index}]"
        meter = _object(item, meter_where)
        meters.append(
            PhysicalMeter(
                seq_number=_optional_str(meter, "seqNumber", meter_where),
                meter_id=_optional_str(meter, "meterID", meter_where),
                energy=_series(meter, meter_where, times),
            )
        )
    subs = []
    for index, item in enumerate(_optional_list(raw, "subHeadpoints", where)):
        sub_where = f"{where}.subHeadpoints[{index}]"
        sub = _object(item, sub_where)
        subs.append(
            SubHeadpoint(
                kind=SubHeadpointKind.parse(_required_str(sub, "$type", sub_where)),
                ean=_optional_str(sub, "ean", sub_where),
                seq_number=_optional_str(sub, "seqNumber", sub_where),
                vreg_id=_optional_str(sub, "vregId", sub_where),
                installation_type=_optional_enum(sub, "type", sub_where, InstallationType),
                energy=_series(sub, sub_where, times),
            )
        )
    return Headpoint(
        type=kind,
        ean=_required_str(raw, "ean", where),
        energy_type=_optional_enum(raw, "energyType", where, EnergyType),
        physical_meters=tuple(meters),
        energy=_series(raw, where, times),
        sub_headpoints=tuple(subs),
    )


def _series(owner: dict[str, Any], where: str, times: dict[str, datetime]) -> EnergySeries:
    daily, hourly, quarter_hourly = (
        _slices(_optional_list(owner, key, where), f"{where}.{key}", times) for key in _SERIES_KEYS
    )
    return EnergySeries(daily=daily, hourly=hourly, quarter_hourly=quarter_hourly)


def _slices(raw: list[Any], where: str, times: dict[str, datetime]) -> tuple[TimeSlice, ...]:
    """Build one TimeSlice per element (the hot loop); diagnose precisely on failure."""
    result: list[TimeSlice] = []
    append = result.append
    known_time = times.get
    measurement = _measurement
    new = tuple.__new__
    for item in raw:
        try:
            start_raw = item["start"]
            start = known_time(start_raw) or _cached_time(start_raw, times)
            end_raw = item["end"]
            end = known_time(end_raw) or _cached_time(end_raw, times)
            measurements_raw = item.get("measurements")
            measurements = (
                () if measurements_raw is None else tuple(map(measurement, measurements_raw))
            )
        except _SHAPE_ERRORS:
            raise _diagnose_slice(item, f"{where}[{len(result)}]") from None
        append(new(TimeSlice, (start, end, measurements)))
    return tuple(result)


def _measurement(raw: dict[str, Any]) -> Measurement:
    result: Measurement = {}
    directions = _DIRECTIONS
    registers = _REGISTERS
    value_of = _value
    for direction, raw_registers in raw.items():
        if raw_registers is None:
            continue
        values = {}
        for register, raw_value in raw_registers.items():
            if raw_value is not None:
                values[registers[register]] = value_of(raw_value)
        result[directions[direction]] = values
    return result


def _value(raw: dict[str, Any]) -> MeasurementValue:
    value = raw.get("value")
    if value is not None and type(value) is not float:
        if type(value) is not int:
            raise TypeError("not a number")
        value = float(value)
    return _new_tuple(
        MeasurementValue,
        (
            value,
            _UNITS[raw["unit"]],
            _VALIDATION_STATES[raw.get("validationState")],
            _GAS_FACTORS[raw.get("gasConversionFactor")],
        ),
    )


def _diagnose_slice(item: object, where: str) -> FluviusResponseError:
    """Work out what is wrong with a slice the fast path rejected."""
    if type(item) is not dict:
        return _error(f"{where} is not an object")
    try:
        for key in ("start", "end"):
            parse_datetime(_member(item, key, where), f"{where}.{key}")
        for index, raw in enumerate(_optional_list(item, "measurements", where)):
            _diagnose_measurement(raw, f"{where}.measurements[{index}]")
    except FluviusResponseError as err:
        return err
    return _error(f"{where} is malformed")


def _diagnose_measurement(raw: object, where: str) -> None:
    for direction, registers in _object(raw, where).items():
        if registers is None:
            continue
        direction_where = f"{where}.{direction}"
        for register, value in _object(registers, direction_where).items():
            if value is None:
                continue
            value_where = f"{direction_where}.{register}"
            item = _object(value, value_where)
            number = item.get("value")
            if number is not None and type(number) not in (int, float):
                raise _error(f"{value_where}.value is not a number: {_short(number)}")
            unit = item.get("unit")
            if unit is None:
                raise _error(f"{value_where}.unit missing")
            if type(unit) is not str:
                raise _error(f"{value_where}.unit is not a string: {_short(unit)}")
            for key in ("validationState", "gasConversionFactor"):
                raw_key = item.get(key)
                if raw_key is not None and type(raw_key) is not str:
                    raise _error(f"{value_where}.{key} is not a string: {_short(raw_key)}")


# --- token and errors ----------------------------------------------------------


def parse_token(body: Body) -> tuple[str, float]:
    """Parse an OAuth2 token response into (access_token, expires_in seconds).

    ``expires_in`` is a number in AAD v2 and a string in v1; absent means one hour.
    """
    document = _object(_loads(body), "token response")
    token = document.get("access_token")
    if type(token) is not str or not token:
        raise _error("token response: access_token missing")
    raw = document.get("expires_in")
    if raw is None:
        return token, 3600.0
    try:
        expires_in = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise _error(f"token response: expires_in is not a number: {_short(raw)}") from None
    if math.isnan(expires_in):
        raise _error("token response: expires_in is not a number")
    return token, expires_in


def parse_error(body: Body) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Parse an error body into (code, message, validation messages).

    Accepts Fluvius's PascalCase ``Code``/``Message``/``ValidationErrorMessages``,
    their camelCase spellings, OAuth2's ``error``/``error_description`` and
    ASP.NET problem details (``title`` + ``errors``); anything else becomes the
    raw text as message.
    """
    try:
        document = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        document = None
    if type(document) is not dict:
        return None, _raw_text(body), ()
    fields = {key.casefold(): value for key, value in document.items()}

    code = _first_text(fields, ("code", "error"))
    message = _first_text(fields, ("message", "error_description", "detail", "title"))
    messages: list[str] = []
    raw_messages = fields.get("validationerrormessages")
    if type(raw_messages) is list:
        messages.extend(str(item) for item in raw_messages if item is not None)
    elif type(raw_messages) is str:
        messages.append(raw_messages)
    errors = fields.get("errors")
    if type(errors) is dict:
        for field_name, problems in errors.items():
            items = problems if type(problems) is list else [problems]
            messages.extend(f"{field_name}: {problem}" for problem in items)
    elif type(errors) is list:
        messages.extend(str(item) for item in errors)
    if code is None and message is None and not messages:
        return None, _raw_text(body), ()
    return code, message, tuple(messages)


def _first_text(fields: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _raw_text(body: Body) -> str | None:
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", errors="replace")
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= 300 else text[:297] + "..."
