"""The msgspec decoder: documented shapes, tolerance for unknown values, precise errors."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import orjson
import pytest

from custom_components.fluvius.api import (
    DataServiceType,
    Direction,
    EnergyType,
    FluviusResponseError,
    GasConversionFactor,
    HeadpointType,
    InstallationType,
    MandateStatus,
    Measurement,
    MeasurementValue,
    Reading,
    Register,
    RegisterValues,
    RenewalStatus,
    Resolution,
    SubHeadpointKind,
    Unit,
    ValidationState,
    parse_datetime,
    parse_energy,
    parse_error,
    parse_mandates,
    parse_mock_mandate,
    parse_token,
)
from custom_components.fluvius.api.decoder import SLICES_PER_DECODE

DM_DAILY: dict[str, Any] = {
    "_meta": {"fetchTime": "2025-01-16T07:00:00Z"},
    "data": {
        "headpoint": {
            "$type": "metering-on-meter",
            "ean": "541440100000000042",
            "energyType": "E",
            "physicalMeters": [
                {
                    "seqNumber": "1",
                    "meterID": "1SAG0000000001",
                    "dailyEnergy": [
                        {
                            "start": "2025-01-14T23:00:00Z",
                            "end": "2025-01-15T23:00:00Z",
                            "measurements": [
                                {
                                    "offtake": {
                                        "day": {
                                            "value": 6.214,
                                            "unit": "kWh",
                                            "validationState": "READ",
                                        },
                                        "night": {
                                            "value": 3.870,
                                            "unit": "kWh",
                                            "validationState": "READ",
                                        },
                                    },
                                    "injection": {
                                        "day": {
                                            "value": 1.102,
                                            "unit": "kWh",
                                            "validationState": "EST",
                                        },
                                        "night": {
                                            "value": 0,
                                            "unit": "kWh",
                                            "validationState": "READ",
                                        },
                                    },
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    },
}

GAS_HOURLY: dict[str, Any] = {
    "_meta": {"fetchTime": "2025-07-03T05:00:00Z"},
    "data": {
        "headpoint": {
            "$type": "metering-on-meter",
            "ean": "541441010000000007",
            "energyType": "G",
            "physicalMeters": [
                {
                    "seqNumber": "1",
                    "meterID": "7FLO0000000001",
                    "hourlyEnergy": [
                        {
                            "start": "2025-07-01T22:00:00Z",
                            "end": "2025-07-01T23:00:00Z",
                            "measurements": [
                                {
                                    "offtake": {
                                        "total": {
                                            "value": 0.084,
                                            "unit": "m3",
                                            "validationState": "READ",
                                        }
                                    }
                                },
                                {
                                    "offtake": {
                                        "total": {
                                            "value": 0.945,
                                            "unit": "kWh",
                                            "validationState": "READ",
                                            "gasConversionFactor": "P",
                                        }
                                    }
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    },
}

AMR_INJECTION: dict[str, Any] = {
    "_meta": {"fetchTime": "2025-07-03T05:00:00Z"},
    "data": {
        "headpoint": {
            "$type": "metering-on-headpoint",
            "ean": "541450211000000005",
            "energyType": "E",
            "quarterHourlyEnergy": [
                {
                    "start": "2025-07-01T10:00:00Z",
                    "end": "2025-07-01T10:15:00Z",
                    "measurements": [
                        {
                            "injection": {
                                "total": {"value": 12.5, "unit": "kWh", "validationState": "VAL"},
                                "inductive": {
                                    "value": 0.8,
                                    "unit": "kVArh",
                                    "validationState": "VAL",
                                },
                                "capacitive": {
                                    "value": 0.1,
                                    "unit": "kVArh",
                                    "validationState": "NVAL",
                                },
                            }
                        }
                    ],
                }
            ],
            "subHeadpoints": [
                {
                    "$type": "submetering-production",
                    "ean": "541449990000000001",
                    "seqNumber": "1",
                    "vregId": "123456",
                    "type": "PV",
                    "quarterHourlyEnergy": [
                        {
                            "start": "2025-07-01T10:00:00Z",
                            "end": "2025-07-01T10:15:00Z",
                            "measurements": [
                                {
                                    "production": {
                                        "total": {
                                            "value": 14.0,
                                            "unit": "kWh",
                                            "validationState": "VAL",
                                        }
                                    }
                                }
                            ],
                        }
                    ],
                },
                {
                    "$type": "submetering-auxiliary",
                    "ean": "541449990000000002",
                    "seqNumber": "1",
                    "vregId": "123456",
                    "type": "PV",
                    "quarterHourlyEnergy": [
                        {
                            "start": "2025-07-01T10:00:00Z",
                            "end": "2025-07-01T10:15:00Z",
                            "measurements": [
                                {
                                    "auxiliary": {
                                        "total": {
                                            "value": 0.2,
                                            "unit": "kWh",
                                            "validationState": "VAL",
                                        }
                                    }
                                }
                            ],
                        }
                    ],
                },
            ],
        }
    },
}


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)


# --- documented shapes ----------------------------------------------------------------


def test_digital_meter_daily_day_and_night() -> None:
    response = parse_energy(dumps(DM_DAILY))
    assert response.fetch_time == datetime(2025, 1, 16, 7, tzinfo=UTC)
    headpoint = response.headpoint
    assert headpoint is not None
    assert headpoint.type is HeadpointType.METERING_ON_METER
    assert headpoint.energy_type is EnergyType.ELECTRICITY
    (meter,) = headpoint.physical_meters
    assert (meter.seq_number, meter.meter_id) == ("1", "1SAG0000000001")
    (time_slice,) = meter.energy.daily
    assert time_slice.start == datetime(2025, 1, 14, 23, tzinfo=UTC)
    assert time_slice.start.tzinfo is UTC
    (measurement,) = time_slice.measurements
    assert measurement.offtake is not None
    assert measurement.injection is not None
    day = measurement.offtake.day
    assert day == MeasurementValue(value=6.214, raw_unit="kWh", raw_validation_state="READ")
    assert day is not None
    assert day.unit is Unit.KWH
    assert day.validation_state is ValidationState.READ
    assert day.gas_conversion_factor is None
    night = measurement.injection.night
    assert night is not None
    assert night.value == 0.0
    assert type(night.value) is float

    readings = list(response.readings())
    assert len(readings) == 4
    assert readings[0] == Reading(
        ean="541440100000000042",
        sub_ean=None,
        meter_id="1SAG0000000001",
        resolution=Resolution.DAILY,
        direction=Direction.OFFTAKE,
        register=Register.DAY,
        raw_unit="kWh",
        start=datetime(2025, 1, 14, 23, tzinfo=UTC),
        end=datetime(2025, 1, 15, 23, tzinfo=UTC),
        value=6.214,
        raw_validation_state="READ",
        raw_gas_conversion_factor=None,
    )
    assert isinstance(readings[0].direction, Direction)
    assert isinstance(readings[0].register, Register)
    assert readings[0].unit is Unit.KWH
    assert readings[0].validation_state is ValidationState.READ
    assert readings[0].gas_conversion_factor is None


def test_gas_has_two_measurements_per_slice() -> None:
    response = parse_energy(dumps(GAS_HOURLY))
    readings = list(response.readings())
    assert [(r.resolution, r.unit, r.value, r.gas_conversion_factor) for r in readings] == [
        (Resolution.HOURLY, Unit.M3, 0.084, None),
        (Resolution.HOURLY, Unit.KWH, 0.945, GasConversionFactor.PROVISIONAL),
    ]
    assert response.headpoint is not None
    assert response.headpoint.energy_type is EnergyType.GAS


def test_amr_headpoint_with_reactive_energy_and_submeters() -> None:
    response = parse_energy(dumps(AMR_INJECTION))
    headpoint = response.headpoint
    assert headpoint is not None
    assert headpoint.type is HeadpointType.METERING_ON_HEADPOINT
    assert headpoint.physical_meters == ()
    production, auxiliary = headpoint.sub_headpoints
    assert production.kind is SubHeadpointKind.PRODUCTION
    assert auxiliary.kind is SubHeadpointKind.AUXILIARY
    assert production.installation_type is InstallationType.PV
    assert (production.ean, production.seq_number, production.vreg_id) == (
        "541449990000000001",
        "1",
        "123456",
    )
    rows = {(r.sub_ean, r.direction, r.register, r.unit, r.value) for r in response.readings()}
    assert rows == {
        (None, Direction.INJECTION, Register.TOTAL, Unit.KWH, 12.5),
        (None, Direction.INJECTION, Register.INDUCTIVE, Unit.KVARH, 0.8),
        (None, Direction.INJECTION, Register.CAPACITIVE, Unit.KVARH, 0.1),
        ("541449990000000001", Direction.PRODUCTION, Register.TOTAL, Unit.KWH, 14.0),
        ("541449990000000002", Direction.AUXILIARY, Register.TOTAL, Unit.KWH, 0.2),
    }
    states = {r.validation_state for r in response.readings()}
    assert states == {ValidationState.VALIDATED, ValidationState.NOT_VALIDATED}


def test_null_headpoint_means_no_data() -> None:
    response = parse_energy(b'{"data":{"headpoint":null}}')
    assert response.headpoint is None
    assert response.fetch_time is None
    assert list(response.readings()) == []


def test_absent_and_null_arrays_and_registers_are_empty() -> None:
    body = {
        "data": {
            "headpoint": {
                "$type": "metering-on-headpoint-and-meter",
                "ean": "541450010000000000",
                "physicalMeters": None,
                "dailyEnergy": None,
                "subHeadpoints": [],
                "quarterHourlyEnergy": [
                    {
                        "start": "2025-01-01T00:00:00Z",
                        "end": "2025-01-01T00:15:00Z",
                        "measurements": [
                            {
                                "offtake": {
                                    "total": {"value": None, "unit": "kWh"},
                                    "day": None,
                                },
                                "injection": None,
                            }
                        ],
                    },
                    {"start": "2025-01-01T00:15:00Z", "end": "2025-01-01T00:30:00Z"},
                ],
            }
        }
    }
    response = parse_energy(dumps(body))
    assert response.headpoint is not None
    assert response.headpoint.energy_type is None
    first, second = response.headpoint.energy.quarter_hourly
    assert first.measurements == (
        Measurement(offtake=RegisterValues(total=MeasurementValue(value=None, raw_unit="kWh"))),
    )
    assert second.measurements == ()
    assert response.headpoint.physical_meters == ()
    assert response.headpoint.energy.daily == ()
    (reading,) = response.readings()
    assert reading.value is None
    assert reading.validation_state is None


def test_unknown_values_are_kept_as_raw_strings_and_known_ones_match_any_case() -> None:
    body = copy.deepcopy(AMR_INJECTION)
    head = body["data"]["headpoint"]
    head["$type"] = "metering-on-something-new"
    head["energyType"] = "H"
    head["newField"] = {"nested": [1, 2]}
    slice_ = head["quarterHourlyEnergy"][0]
    slice_["measurements"] = [
        {
            "injection": {
                "total": {"value": 2.5, "unit": "KVARH", "validationState": "val", "x": 1},
            },
            "production": {"total": {"value": 1, "unit": "%", "validationState": "NEW"}},
        }
    ]
    head["subHeadpoints"][0]["type"] = "FUSION"
    head["subHeadpoints"][0]["$type"] = "submetering-storage"
    response = parse_energy(dumps(body))
    headpoint = response.headpoint
    assert headpoint is not None
    assert headpoint.type == "metering-on-something-new"
    assert not isinstance(headpoint.type, HeadpointType)
    assert headpoint.energy_type == "H"
    assert headpoint.sub_headpoints[0].installation_type == "FUSION"
    assert headpoint.sub_headpoints[0].kind == "submetering-storage"
    readings = [r for r in response.readings() if r.sub_ean is None]
    known, unknown = readings
    assert known.direction is Direction.INJECTION
    assert known.register is Register.TOTAL
    assert known.unit is Unit.KVARH
    assert known.validation_state is ValidationState.VALIDATED
    assert (unknown.unit, unknown.validation_state) == ("%", "NEW")
    assert not isinstance(unknown.unit, Unit)
    assert unknown.value == 1.0


def test_direction_and_register_keys_are_the_documented_ones() -> None:
    """Keys are field names: other spellings and unknown keys are ignored like any extra field."""
    body = copy.deepcopy(AMR_INJECTION)
    body["data"]["headpoint"]["quarterHourlyEnergy"][0]["measurements"] = [
        {
            "storage": {"soc": {"value": 1, "unit": "%"}},
            "INJECTION": {"total": {"value": 9.0, "unit": "kWh"}},
            "injection": {"soc": {"value": 3, "unit": "kWh"}, "total": {"value": 2, "unit": "kWh"}},
        }
    ]
    response = parse_energy(dumps(body))
    rows = [(r.direction, r.register, r.value) for r in response.readings() if r.sub_ean is None]
    assert rows == [(Direction.INJECTION, Register.TOTAL, 2.0)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T10:00:00Z", datetime(2025, 1, 1, 10, tzinfo=UTC)),
        # msgspec rounds a seventh decimal to the nearest microsecond.
        ("2025-01-01T10:00:00.1234567Z", datetime(2025, 1, 1, 10, 0, 0, 123457, tzinfo=UTC)),
        ("2025-01-01T10:00:00.1234564Z", datetime(2025, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-01T11:00:00+01:00", datetime(2025, 1, 1, 10, tzinfo=UTC)),
        ("2025-01-01T10:00:00.5+00:00", datetime(2025, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2025-01-01T10:00:00", datetime(2025, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_datetimes_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    body = copy.deepcopy(GAS_HOURLY)
    body["data"]["headpoint"]["physicalMeters"][0]["hourlyEnergy"][0]["start"] = text
    response = parse_energy(dumps(body))
    assert response.headpoint is not None
    start = response.headpoint.physical_meters[0].energy.hourly[0].start
    assert start == expected
    assert start.tzinfo is UTC


def test_identifiers_given_as_numbers_become_strings() -> None:
    body = copy.deepcopy(GAS_HOURLY)
    body["data"]["headpoint"]["physicalMeters"][0]["seqNumber"] = 2
    response = parse_energy(dumps(body))
    assert response.headpoint is not None
    assert response.headpoint.physical_meters[0].seq_number == "2"


# --- errors -------------------------------------------------------------------------------


def _broken(path: tuple[Any, ...], value: Any = ..., base: dict[str, Any] = GAS_HOURLY) -> bytes:
    """GAS_HOURLY with the item at ``path`` replaced (or deleted when value is ...)."""
    document = copy.deepcopy(base)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return dumps(document)


METER = ("data", "headpoint", "physicalMeters", 0)
SLICE = (*METER, "hourlyEnergy", 0)
VALUE = (*SLICE, "measurements", 1, "offtake", "total")
# msgspec names the culprit by its JSON path; a missing field by the object that lacks it.
WHERE = "$.data.headpoint.physicalMeters[0].hourlyEnergy[0]"
TOTAL = f"{WHERE}.measurements[1].offtake.total"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad gateway</html>", "response body is not valid JSON"),
        (b"", "response body is not valid JSON"),
        (b'{"data":{"headpoint":', "response body is not valid JSON"),
        (b"[1, 2]", "Expected `object`, got `array`"),
        (b'{"_meta":{}}', "Object missing required field `data`"),
        (b'{"data":[]}', "Expected `object`, got `array` - at `$.data`"),
        (b'{"data":{}}', "Object missing required field `headpoint` - at `$.data`"),
        (
            b'{"data":{"headpoint":"x"}}',
            "Expected `object | null`, got `str` - at `$.data.headpoint`",
        ),
        (
            b'{"data":{"headpoint":{"ean":"1"}}}',
            "Object missing required field `$type` - at `$.data.headpoint`",
        ),
        (
            b'{"data":{"headpoint":{"$type":"metering-on-meter"}}}',
            "Object missing required field `ean` - at `$.data.headpoint`",
        ),
        (
            _broken(("_meta", "fetchTime"), "yesterday"),
            "Invalid RFC3339 encoded datetime - at `$._meta.fetchTime`",
        ),
        (
            _broken((*METER, "hourlyEnergy"), {"a": 1}),
            "Expected `array | null`, got `object` - at `$.data.headpoint.physicalMeters[0].hourlyEnergy`",
        ),
        (
            _broken(("data", "headpoint", "physicalMeters"), "x"),
            "Expected `array | null`, got `str` - at `$.data.headpoint.physicalMeters`",
        ),
        (
            _broken(METER, 5),
            "Expected `object`, got `int` - at `$.data.headpoint.physicalMeters[0]`",
        ),
        (_broken((*SLICE, "start")), f"Object missing required field `start` - at `{WHERE}`"),
        (_broken((*SLICE, "end")), f"Object missing required field `end` - at `{WHERE}`"),
        (_broken((*SLICE, "end"), None), f"Expected `datetime`, got `null` - at `{WHERE}.end`"),
        (_broken((*SLICE, "start"), 17), f"Expected `datetime`, got `int` - at `{WHERE}.start`"),
        (
            _broken((*SLICE, "start"), ["x"]),
            f"Expected `datetime`, got `array` - at `{WHERE}.start`",
        ),
        (
            _broken((*SLICE, "start"), "2025-13-01T00:00:00Z"),
            f"Invalid RFC3339 encoded datetime - at `{WHERE}.start`",
        ),
        (_broken(SLICE, "slice"), f"Expected `object`, got `str` - at `{WHERE}`"),
        (
            _broken((*SLICE, "measurements"), {"offtake": {}}),
            f"Expected `array | null`, got `object` - at `{WHERE}.measurements`",
        ),
        (
            _broken((*SLICE, "measurements"), "abc"),
            f"Expected `array | null`, got `str` - at `{WHERE}.measurements`",
        ),
        (
            _broken((*SLICE, "measurements", 0), [1]),
            f"Expected `object`, got `array` - at `{WHERE}.measurements[0]`",
        ),
        (
            _broken((*SLICE, "measurements", 1, "offtake"), 3),
            f"Expected `object | null`, got `int` - at `{WHERE}.measurements[1].offtake`",
        ),
        (_broken(VALUE, "x"), f"Expected `object | null`, got `str` - at `{TOTAL}`"),
        (
            _broken((*VALUE, "value"), "0.945"),
            f"Expected `float | null`, got `str` - at `{TOTAL}.value`",
        ),
        (
            _broken((*VALUE, "value"), True),
            f"Expected `float | null`, got `bool` - at `{TOTAL}.value`",
        ),
        (
            _broken((*VALUE, "value"), {"v": 1}),
            f"Expected `float | null`, got `object` - at `{TOTAL}.value`",
        ),
        (_broken((*VALUE, "unit")), f"Object missing required field `unit` - at `{TOTAL}`"),
        (_broken((*VALUE, "unit"), 3), f"Expected `str`, got `int` - at `{TOTAL}.unit`"),
        (
            _broken((*VALUE, "validationState"), 1),
            f"Expected `str | null`, got `int` - at `{TOTAL}.validationState`",
        ),
        (
            _broken((*VALUE, "gasConversionFactor"), []),
            f"Expected `str | null`, got `array` - at `{TOTAL}.gasConversionFactor`",
        ),
        (
            _broken(("data", "headpoint", "subHeadpoints", 1, "$type"), base=AMR_INJECTION),
            "Object missing required field `$type` - at `$.data.headpoint.subHeadpoints[1]`",
        ),
        (
            _broken(
                ("data", "headpoint", "subHeadpoints", 0, "quarterHourlyEnergy", 0, "end"),
                base=AMR_INJECTION,
            ),
            (
                "Object missing required field `end`"
                " - at `$.data.headpoint.subHeadpoints[0].quarterHourlyEnergy[0]`"
            ),
        ),
        (
            _broken(("data", "headpoint", "quarterHourlyEnergy", 0, "start"), base=AMR_INJECTION),
            "Object missing required field `start` - at `$.data.headpoint.quarterHourlyEnergy[0]`",
        ),
    ],
)
def test_malformed_bodies_name_what_is_wrong_and_where(body: bytes, message: str) -> None:
    with pytest.raises(FluviusResponseError) as caught:
        parse_energy(body)
    assert message in str(caught.value)


def test_error_in_a_later_slice_names_its_index() -> None:
    document = copy.deepcopy(GAS_HOURLY)
    slices = document["data"]["headpoint"]["physicalMeters"][0]["hourlyEnergy"]
    template = slices[0]
    slices.extend(copy.deepcopy(template) for _ in range(20))
    del slices[12]["start"]
    with pytest.raises(FluviusResponseError) as caught:
        parse_energy(dumps(document))
    assert str(caught.value).endswith(
        "Object missing required field `start`"
        " - at `$.data.headpoint.physicalMeters[0].hourlyEnergy[12]`"
    )


def test_a_large_body_decodes_without_touching_the_collector() -> None:
    """Decoded structs are never tracked; the collector's switch is nobody's business here."""
    import gc  # noqa: PLC0415

    document = copy.deepcopy(GAS_HOURLY)
    slices = document["data"]["headpoint"]["physicalMeters"][0]["hourlyEnergy"]
    slices.extend(copy.deepcopy(slices[0]) for _ in range(1200))
    body = dumps(document)
    assert len(body) > 256 * 1024
    response = parse_energy(body)
    assert gc.isenabled()
    assert len(list(response.readings())) == 2 * 1201
    assert response.headpoint is not None
    decoded = response.headpoint.physical_meters[0].energy.hourly
    assert not any(gc.is_tracked(item) for item in decoded)
    slices[-1]["end"] = 5
    with pytest.raises(FluviusResponseError) as caught:
        parse_energy(dumps(document))
    assert str(caught.value).endswith(
        "Expected `datetime`, got `int` - at `$.data.headpoint.physicalMeters[0].hourlyEnergy[1200].end`"
    )
    assert gc.isenabled()


def test_slices_decode_in_batches_keeping_order_offsets_and_error_paths() -> None:
    """Arrays longer than a batch come back whole and in order; errors name the body's index."""
    count = 2 * SLICES_PER_DECODE + 5
    document = copy.deepcopy(GAS_HOURLY)
    meter = document["data"]["headpoint"]["physicalMeters"][0]
    template = meter["hourlyEnergy"][0]
    slices = []
    for index in range(count):
        item = copy.deepcopy(template)
        # Local time in the last batch: converted to UTC like any other slice.
        offset = "+01:00" if index >= 2 * SLICES_PER_DECODE else "Z"
        start = datetime(2026, 1, 1, tzinfo=UTC) + index * timedelta(hours=1)
        local = start + (timedelta(hours=1) if offset != "Z" else timedelta())
        item["start"] = f"{local:%Y-%m-%dT%H:%M:%S}{offset}"
        item["end"] = f"{local + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}{offset}"
        slices.append(item)
    meter["hourlyEnergy"] = slices
    response = parse_energy(dumps(document))
    assert response.headpoint is not None
    decoded = response.headpoint.physical_meters[0].energy.hourly
    assert [item.start for item in decoded] == [
        datetime(2026, 1, 1, tzinfo=UTC) + index * timedelta(hours=1) for index in range(count)
    ]
    assert all(item.start.tzinfo is UTC and item.end.tzinfo is UTC for item in decoded)
    # A wrong type in the second batch, a start out of range once in UTC in the third.
    for index, key, value, message in (
        (SLICES_PER_DECODE + 7, "measurements", "none", "Expected `array | null`, got `str`"),
        (
            2 * SLICES_PER_DECODE + 2,
            "start",
            "0001-01-01T00:00:00+01:00",
            "datetime out of range in UTC",
        ),
    ):
        broken = copy.deepcopy(document)
        broken["data"]["headpoint"]["physicalMeters"][0]["hourlyEnergy"][index][key] = value
        with pytest.raises(FluviusResponseError) as caught:
            parse_energy(dumps(broken))
        assert str(caught.value).endswith(
            f"{message} - at `$.data.headpoint.physicalMeters[0].hourlyEnergy[{index}].{key}`"
        )


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            out.extend(_paths(value, (*prefix, index)))
    return out


_ALL_PATHS = [
    (base, path) for base in (DM_DAILY, GAS_HOURLY, AMR_INJECTION) for path in _paths(base)
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_ALL_PATHS), _json | st.just(...))
def test_any_corruption_raises_only_response_errors(
    target: tuple[dict[str, Any], tuple[Any, ...]], value: Any
) -> None:
    base, path = target
    with contextlib.suppress(FluviusResponseError):
        parse_energy(_broken(path, value, base))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | _json.map(dumps))
def test_arbitrary_bodies_raise_only_response_errors(body: bytes) -> None:
    for parse in (parse_energy, parse_mandates, parse_token, parse_mock_mandate):
        with contextlib.suppress(FluviusResponseError):
            parse(body)
    parse_error(body)


# --- mandates, mock mandate, token, error bodies ----------------------------------------


def test_mandates_with_all_and_few_fields() -> None:
    body = {
        "data": {
            "mandates": [
                {
                    "referenceNumber": "REF-1",
                    "status": "Approved",
                    "ean": "541440000000000001",
                    "energyType": "E",
                    "dataPeriodFrom": "2024-02-01T23:00:00Z",
                    "dataPeriodTo": "2025-02-01T23:00:00Z",
                    "dataServiceType": "VH_dag",
                    "mandateExpirationDate": "2028-02-01T23:00:00Z",
                    "renewalStatus": "toBeRenewed",
                },
                {"status": "Requested"},
                {"status": "Removed", "dataServiceType": "VH_onbepaald"},
            ]
        },
        "_meta": {"fetchTime": "2025-01-01T00:00:00Z"},
    }
    full, requested, unknown = parse_mandates(dumps(body))
    assert full.status is MandateStatus.APPROVED
    assert full.energy_type is EnergyType.ELECTRICITY
    assert full.data_service_type is DataServiceType.DAILY
    assert full.renewal_status is RenewalStatus.TO_BE_RENEWED
    assert full.data_period_to == datetime(2025, 2, 1, 23, tzinfo=UTC)
    assert full.mandate_expiration_date == datetime(2028, 2, 1, 23, tzinfo=UTC)
    assert requested.ean is None
    assert requested.data_period_from is None
    assert unknown.status == "Removed"
    assert unknown.data_service_type == "VH_onbepaald"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data":{}}', "Object missing required field `mandates` - at `$.data`"),
        (
            b'{"data":{"mandates":{}}}',
            "Expected `array | null`, got `object` - at `$.data.mandates`",
        ),
        (b'{"data":{"mandates":[1]}}', "Expected `object`, got `int` - at `$.data.mandates[0]`"),
        (
            b'{"data":{"mandates":[{"status":5}]}}',
            "Expected `str | null`, got `int` - at `$.data.mandates[0].status`",
        ),
        (
            b'{"data":{"mandates":[{"dataPeriodTo":"soon"}]}}',
            "Invalid RFC3339 encoded datetime - at `$.data.mandates[0].dataPeriodTo`",
        ),
    ],
)
def test_malformed_mandates(body: bytes, message: str) -> None:
    with pytest.raises(FluviusResponseError) as caught:
        parse_mandates(body)
    assert message in str(caught.value)


def test_empty_mandate_list() -> None:
    assert parse_mandates(b'{"data":{"mandates":null}}') == []
    assert parse_mandates(b'{"data":{"mandates":[]}}') == []


def test_mock_mandate_status() -> None:
    assert parse_mock_mandate(b'{"data":{"status":"Created"},"_meta":{}}') == "Created"
    with pytest.raises(
        FluviusResponseError, match=r"missing required field `status` - at `\$\.data`"
    ):
        parse_mock_mandate(b'{"data":{}}')


def test_token_responses() -> None:
    assert parse_token(b'{"access_token":"a","expires_in":3599}') == ("a", 3599.0)
    assert parse_token(b'{"access_token":"a","expires_in":"3599"}') == ("a", 3599.0)
    assert parse_token(b'{"access_token":"a"}') == ("a", 3600.0)
    with pytest.raises(FluviusResponseError, match="expires_in"):
        parse_token(b'{"access_token":"a","expires_in":"soon"}')
    with pytest.raises(FluviusResponseError, match="access_token missing"):
        parse_token(b'{"access_token":""}')


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (
                b'{"Type":"BadRequest","Code":"InvalidParameters","Message":"m",'
                b'"ValidationErrorMessages":["a","b"]}'
            ),
            ("InvalidParameters", "m", ("a", "b")),
        ),
        (
            b'{"code":"C","message":"m","validationErrorMessages":["a"]}',
            ("C", "m", ("a",)),
        ),
        (b'{"statusCode":401,"message":"Unauthorized"}', (None, "Unauthorized", ())),
        (
            b'{"error":"invalid_client","error_description":"AADSTS7000215: bad"}',
            ("invalid_client", "AADSTS7000215: bad", ()),
        ),
        (
            b'{"title":"One or more validation errors occurred.","errors":{"from":["required"]}}',
            (None, "One or more validation errors occurred.", ("from: required",)),
        ),
        (b"Service Unavailable", (None, "Service Unavailable", ())),
        (b"", (None, None, ())),
        (b"[1]", (None, "[1]", ())),
        (b'{"unrelated":1}', (None, '{"unrelated":1}', ())),
    ],
)
def test_error_bodies(body: bytes, expected: tuple[Any, ...]) -> None:
    assert parse_error(body) == expected


def test_long_raw_error_text_is_shortened() -> None:
    _code, message, _ = parse_error(b"x" * 5000)
    assert message is not None
    assert len(message) <= 300


def test_out_of_range_datetimes_are_response_errors() -> None:
    with pytest.raises(FluviusResponseError) as caught:
        parse_energy(_broken((*SLICE, "start"), "0001-01-01T00:00:00+01:00"))
    assert str(caught.value).endswith(f"datetime out of range in UTC - at `{WHERE}.start`")
    with pytest.raises(FluviusResponseError, match="not a valid datetime"):
        parse_datetime("0001-01-01T00:00:00+01:00")
