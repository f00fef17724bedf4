"""Decode the API's JSON bodies into the typed models, with one cached decoder per body.

msgspec validates while it decodes, in C, straight into the slice and value
Structs of :mod:`.models`. The envelope, the headpoint and its meters are
decoded into the private shapes below and then copied into the public models:
there are only a handful of them, and the copy is where identifiers sent as
numbers become strings, absent or null arrays become empty, enums are parsed
and timestamps that are not UTC are converted. Every malformed body raises
:class:`FluviusResponseError`, whose message carries msgspec's path to the
culprit, for example ``Object missing required field `start` - at
`$.data.headpoint.physicalMeters[0].quarterHourlyEnergy[12]```.

An energy body is decoded in two steps so that no single call holds the GIL
for long: a quarter-hour window is 4 MB, and decoding it in one call (about
20 ms, twice that on a busy machine) would stall every other thread, the
event loop of the caller among them. The first step decodes the envelope and
keeps each slice array as raw JSON, one :class:`msgspec.Raw` per slice; the
second decodes the slices in batches of :data:`SLICES_PER_DECODE`, each about
a millisecond of work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain
import math
import re
from typing import Any

import msgspec
from msgspec import Raw, Struct, field

from .enums import (
    DataServiceType,
    EnergyType,
    HeadpointType,
    InstallationType,
    MandateStatus,
    RenewalStatus,
    SubHeadpointKind,
)
from .exceptions import FluviusResponseError
from .models import (
    EnergyResponse,
    EnergySeries,
    Headpoint,
    Mandate,
    PhysicalMeter,
    SubHeadpoint,
    TimeSlice,
)

type Body = bytes | bytearray | memoryview | str

# Identifiers such as seqNumber may come as numbers; the models hold strings.
type _Identifier = str | int | None

# --- the wire shapes the public models are built from ---------------------------


class _Meta(Struct, frozen=True, gc=False):
    fetch_time: datetime | None = field(default=None, name="fetchTime")


# A slice array's elements, still JSON: decoded in batches by :func:`_decode_slices`.
type _RawSlices = tuple[Raw, ...] | None


class _WireSeries(Struct, frozen=True, gc=False, kw_only=True):
    daily: _RawSlices = field(default=None, name="dailyEnergy")
    hourly: _RawSlices = field(default=None, name="hourlyEnergy")
    quarter_hourly: _RawSlices = field(default=None, name="quarterHourlyEnergy")


class _WireMeter(_WireSeries, frozen=True, gc=False, kw_only=True):
    seq_number: _Identifier = field(default=None, name="seqNumber")
    meter_id: _Identifier = field(default=None, name="meterID")


class _WireSubHeadpoint(_WireSeries, frozen=True, gc=False, kw_only=True):
    kind: str = field(name="$type")
    ean: _Identifier = None
    seq_number: _Identifier = field(default=None, name="seqNumber")
    vreg_id: _Identifier = field(default=None, name="vregId")
    installation_type: str | None = field(default=None, name="type")


class _WireHeadpoint(_WireSeries, frozen=True, gc=False, kw_only=True):
    type: str = field(name="$type")
    ean: str | int
    energy_type: str | None = field(default=None, name="energyType")
    physical_meters: tuple[_WireMeter, ...] | None = field(default=None, name="physicalMeters")
    sub_headpoints: tuple[_WireSubHeadpoint, ...] | None = field(default=None, name="subHeadpoints")


class _EnergyData(Struct, frozen=True, gc=False):
    headpoint: _WireHeadpoint | None


class _EnergyBody(Struct, frozen=True, gc=False):
    data: _EnergyData
    meta: _Meta | None = field(default=None, name="_meta")


class _WireMandate(Struct, frozen=True, gc=False, rename="camel"):
    reference_number: _Identifier = None
    status: str | None = None
    ean: _Identifier = None
    energy_type: str | None = None
    data_period_from: datetime | None = None
    data_period_to: datetime | None = None
    data_service_type: str | None = None
    mandate_expiration_date: datetime | None = None
    renewal_status: str | None = None


class _MandatesData(Struct, frozen=True, gc=False):
    mandates: tuple[_WireMandate, ...] | None


class _MandatesBody(Struct, frozen=True, gc=False):
    data: _MandatesData


class _MockMandateData(Struct, frozen=True, gc=False):
    status: str | int


class _MockMandateBody(Struct, frozen=True, gc=False):
    data: _MockMandateData


class _Token(Struct, frozen=True, gc=False):
    access_token: str
    expires_in: float | str | None = None


_ENERGY = msgspec.json.Decoder(_EnergyBody)
_SLICES = msgspec.json.Decoder(tuple[TimeSlice, ...])
_MANDATES = msgspec.json.Decoder(_MandatesBody)
_MOCK_MANDATE = msgspec.json.Decoder(_MockMandateBody)
_TOKEN = msgspec.json.Decoder(_Token)
_ANY = msgspec.json.Decoder()


def _decode[T](decoder: msgspec.json.Decoder[T], body: Body) -> T:
    """Decode with ``decoder``; every failure becomes a FluviusResponseError."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as err:
        problem = err
    except msgspec.DecodeError as err:
        raise FluviusResponseError(f"response body is not valid JSON ({err})") from None
    except TypeError:
        raise FluviusResponseError("response body is not bytes or text") from None
    # Validation runs while parsing: a truncated body would be reported by what it lacks.
    try:
        _ANY.decode(body)
    except msgspec.DecodeError as err:
        raise FluviusResponseError(f"response body is not valid JSON ({err})") from None
    raise FluviusResponseError(f"response body does not match the API's model: {problem}")


# --- datetimes ------------------------------------------------------------------


def _to_utc(moment: datetime) -> datetime:
    """The same instant in UTC (naive means UTC); OverflowError when out of range."""
    tzinfo = moment.tzinfo
    if tzinfo is UTC:
        return moment
    if tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _utc_at(moment: datetime, path: str) -> datetime:
    """:func:`_to_utc` for a decoded field; ``path`` names it in the error."""
    try:
        return _to_utc(moment)
    except OverflowError:
        raise FluviusResponseError(
            f"response body does not match the API's model: datetime out of range in UTC - at `{path}`"
        ) from None


def _optional_utc(moment: datetime | None, path: str) -> datetime | None:
    return None if moment is None else _utc_at(moment, path)


def parse_datetime(raw: str) -> datetime:
    """Parse one API timestamp (RFC 3339) to an aware UTC datetime; naive means UTC."""
    try:
        return _to_utc(msgspec.convert(raw, datetime))
    except (msgspec.ValidationError, OverflowError) as err:
        raise FluviusResponseError(f"not a valid datetime: {raw!r} ({err})") from None


def _utc_slices(slices: tuple[TimeSlice, ...], path: str, first: int = 0) -> tuple[TimeSlice, ...]:
    """The slices with UTC start and end; only a slice that is not UTC is rebuilt.

    ``first`` is the index of ``slices[0]`` in the array ``path`` names.
    """
    for time_slice in slices:
        if time_slice.start.tzinfo is not UTC or time_slice.end.tzinfo is not UTC:
            break
    else:
        return slices
    return tuple(
        TimeSlice(
            _utc_at(item.start, f"{path}[{index}].start"),
            _utc_at(item.end, f"{path}[{index}].end"),
            item.raw_measurements,
        )
        for index, item in enumerate(slices, first)
    )


# Slices decoded per call: about 230 kB of quarter-hour JSON, a millisecond or so.
SLICES_PER_DECODE = 1024
# The start of the path in an error of a batch: ``$[index]``, the index in the batch.
_BATCH_PATH = re.compile(r"`\$\[(\d+)\]")


def _batch_error(err: msgspec.ValidationError, path: str, first: int) -> FluviusResponseError:
    """A batch's error, its ``$[index]`` made the path of that slice in the body."""
    where = _BATCH_PATH.sub(lambda match: f"`{path}[{int(match[1]) + first}]", str(err), count=1)
    return FluviusResponseError(f"response body does not match the API's model: {where}")


def _decode_slices(raw: _RawSlices, path: str) -> tuple[TimeSlice, ...]:
    """Decode a slice array batch by batch; errors name the slice by its path in the body."""
    if not raw:
        return ()
    batches = []
    for first in range(0, len(raw), SLICES_PER_DECODE):
        batch = b"[" + b",".join(raw[first : first + SLICES_PER_DECODE]) + b"]"
        try:
            slices = _SLICES.decode(batch)
        except msgspec.ValidationError as err:
            raise _batch_error(err, path, first) from None
        batches.append(_utc_slices(slices, path, first))
    return batches[0] if len(batches) == 1 else tuple(chain.from_iterable(batches))


# --- energy ---------------------------------------------------------------------


def parse_energy(body: Body) -> EnergyResponse:
    """Decode a GET energy response into an :class:`EnergyResponse`."""
    document = _decode(_ENERGY, body)
    meta = document.meta
    fetch_time = None if meta is None else _optional_utc(meta.fetch_time, "$._meta.fetchTime")
    wire = document.data.headpoint
    return EnergyResponse(
        fetch_time=fetch_time, headpoint=None if wire is None else _headpoint(wire)
    )


def _headpoint(wire: _WireHeadpoint) -> Headpoint:
    path = "$.data.headpoint"
    return Headpoint(
        type=HeadpointType.parse(wire.type),
        ean=str(wire.ean),
        energy_type=EnergyType.parse_optional(wire.energy_type),
        physical_meters=tuple(
            PhysicalMeter(
                _text(meter.seq_number),
                _text(meter.meter_id),
                _series(meter, f"{path}.physicalMeters[{index}]"),
            )
            for index, meter in enumerate(wire.physical_meters or ())
        ),
        energy=_series(wire, path),
        sub_headpoints=tuple(
            SubHeadpoint(
                kind=SubHeadpointKind.parse(sub.kind),
                ean=_text(sub.ean),
                seq_number=_text(sub.seq_number),
                vreg_id=_text(sub.vreg_id),
                installation_type=InstallationType.parse_optional(sub.installation_type),
                energy=_series(sub, f"{path}.subHeadpoints[{index}]"),
            )
            for index, sub in enumerate(wire.sub_headpoints or ())
        ),
    )


def _series(wire: _WireSeries, path: str) -> EnergySeries:
    return EnergySeries(
        daily=_decode_slices(wire.daily, f"{path}.dailyEnergy"),
        hourly=_decode_slices(wire.hourly, f"{path}.hourlyEnergy"),
        quarter_hourly=_decode_slices(wire.quarter_hourly, f"{path}.quarterHourlyEnergy"),
    )


def _text(value: _Identifier) -> str | None:
    return None if value is None else str(value)


# --- mandates -------------------------------------------------------------------


def parse_mandates(body: Body) -> list[Mandate]:
    """Decode a GET mandate response (``data.mandates``) into mandates."""
    wire = _decode(_MANDATES, body).data.mandates or ()
    return [_mandate(item, f"$.data.mandates[{index}]") for index, item in enumerate(wire)]


def _mandate(wire: _WireMandate, path: str) -> Mandate:
    return Mandate(
        reference_number=_text(wire.reference_number),
        status=MandateStatus.parse_optional(wire.status),
        ean=_text(wire.ean),
        energy_type=EnergyType.parse_optional(wire.energy_type),
        data_period_from=_optional_utc(wire.data_period_from, f"{path}.dataPeriodFrom"),
        data_period_to=_optional_utc(wire.data_period_to, f"{path}.dataPeriodTo"),
        data_service_type=DataServiceType.parse_optional(wire.data_service_type),
        mandate_expiration_date=_optional_utc(
            wire.mandate_expiration_date, f"{path}.mandateExpirationDate"
        ),
        renewal_status=RenewalStatus.parse_optional(wire.renewal_status),
    )


def parse_mock_mandate(body: Body) -> str:
    """Decode a POST mock mandate response; returns ``data.status``."""
    return str(_decode(_MOCK_MANDATE, body).data.status)


# --- token and errors -----------------------------------------------------------


def parse_token(body: Body) -> tuple[str, float]:
    """Decode an OAuth2 token response into (access_token, expires_in seconds).

    ``expires_in`` is a number in AAD v2 and a string in v1; absent means one hour.
    """
    token = _decode(_TOKEN, body)
    if not token.access_token:
        raise FluviusResponseError("token response: access_token missing")
    raw = token.expires_in
    if raw is None:
        return token.access_token, 3600.0
    try:
        expires_in = float(raw)
    except ValueError:
        raise FluviusResponseError(
            f"token response: expires_in is not a number: {_short(raw)}"
        ) from None
    if math.isnan(expires_in):
        raise FluviusResponseError("token response: expires_in is not a number")
    return token.access_token, expires_in


def parse_error(body: Body) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Decode an error body into (code, message, validation messages).

    Accepts Fluvius's PascalCase ``Code``/``Message``/``ValidationErrorMessages``,
    their camelCase spellings, OAuth2's ``error``/``error_description`` and
    ASP.NET problem details (``title`` + ``errors``); anything else becomes the
    raw text as message.
    """
    try:
        document = _ANY.decode(body)
    except (msgspec.DecodeError, TypeError):
        document = None
    if type(document) is not dict:
        return None, _raw_text(body), ()
    fields = {key.casefold(): value for key, value in document.items()}
    code = _first_text(fields, ("code", "error"))
    message = _first_text(fields, ("message", "error_description", "detail", "title"))
    messages = _validation_messages(fields)
    if code is None and message is None and not messages:
        return None, _raw_text(body), ()
    return code, message, messages


def _validation_messages(fields: dict[str, Any]) -> tuple[str, ...]:
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
    return tuple(messages)


def _first_text(fields: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _raw_text(body: Body) -> str | None:
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", errors="replace")
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= 300 else text[:297] + "..."
