"""The pre-msgspec models (frozen copy, see ``__init__``): named tuples and dataclasses.

Enumerations are matched case-insensitively; a value the API adds later is kept
as its raw string instead of failing, so every enum-typed field is ``Enum | str``.

The three records that exist once per value or slice (``MeasurementValue``,
``TimeSlice``, ``Reading``) are named tuples rather than frozen dataclasses:
equally immutable, but several times cheaper to create, and a 185-day
quarter-hour response creates tens of thousands of each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class _CaseInsensitiveEnum(StrEnum):
    """StrEnum that parses its values case-insensitively and keeps unknown ones raw."""

    @classmethod
    def parse(cls, raw: str) -> _CaseInsensitiveEnum | str:
        """Return the member whose value matches ``raw`` ignoring case, else ``raw``."""
        member = _LOOKUP.get(cls, {}).get(raw.casefold())
        if member is None:
            lookup = {m.value.casefold(): m for m in cls}
            _LOOKUP[cls] = lookup
            member = lookup.get(raw.casefold())
        return raw if member is None else member


_LOOKUP: dict[type[_CaseInsensitiveEnum], dict[str, _CaseInsensitiveEnum]] = {}


class EnergyType(_CaseInsensitiveEnum):
    """Energy carrier of an EAN."""

    ELECTRICITY = "E"
    GAS = "G"


class MandateStatus(_CaseInsensitiveEnum):
    """Status of an access (mandate)."""

    REQUESTED = "Requested"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    FINISHED = "Finished"


class RenewalStatus(_CaseInsensitiveEnum):
    """Renewal state, present only in the three months before expiry."""

    TO_BE_RENEWED = "ToBeRenewed"
    RENEWAL_REQUESTED = "RenewalRequested"
    EXPIRED = "Expired"


class DataServiceType(_CaseInsensitiveEnum):
    """Detail of an access: daily, or quarter-hour (electricity) / hour (gas)."""

    DAILY = "VH_dag"
    QUARTER_HOURLY = "VH_kwartier_uur"


class PeriodType(_CaseInsensitiveEnum):
    """Whether GET energy selects by measurement time or by arrival time."""

    READ_TIME = "readTime"
    INSERT_TIME = "insertTime"


class Granularity(_CaseInsensitiveEnum):
    """Granularity filter of GET energy."""

    DAILY = "daily"
    HOURLY_QUARTERHOURLY = "hourly_quarterhourly"


class ComplexEnergyType(_CaseInsensitiveEnum):
    """Active and/or reactive energy (reactive exists for AMR electricity only)."""

    ACTIVE = "active"
    REACTIVE = "reactive"


class HeadpointType(_CaseInsensitiveEnum):
    """The ``$type`` of a headpoint: where the data sits."""

    METERING_ON_METER = "metering-on-meter"
    METERING_ON_HEADPOINT = "metering-on-headpoint"
    METERING_ON_HEADPOINT_AND_METER = "metering-on-headpoint-and-meter"


class SubHeadpointKind(_CaseInsensitiveEnum):
    """The ``$type`` of a submeter under an AMR headpoint."""

    PRODUCTION = "submetering-production"
    AUXILIARY = "submetering-auxiliary"
    OFFTAKE = "submetering-offtake"


class Direction(_CaseInsensitiveEnum):
    """Direction of energy flow in a measurement."""

    OFFTAKE = "offtake"
    INJECTION = "injection"
    PRODUCTION = "production"
    AUXILIARY = "auxiliary"


class Register(_CaseInsensitiveEnum):
    """Register of a direction: active totals, tariff periods or reactive energy."""

    TOTAL = "total"
    DAY = "day"
    NIGHT = "night"
    REACTIVE = "reactive"
    INDUCTIVE = "inductive"
    CAPACITIVE = "capacitive"


class Unit(_CaseInsensitiveEnum):
    """Unit of a value; the API's casing varies, so compare through this enum."""

    KWH = "kWh"
    M3 = "m3"
    KVARH = "kVArh"
    KW = "kW"
    KVA = "kVA"


class ValidationState(_CaseInsensitiveEnum):
    """READ/EST for digital meters, VAL/NVAL for AMR meters."""

    READ = "READ"
    ESTIMATED = "EST"
    VALIDATED = "VAL"
    NOT_VALIDATED = "NVAL"


class GasConversionFactor(_CaseInsensitiveEnum):
    """State of the gas conversion factor used for a kWh value."""

    PROVISIONAL = "P"
    DEFINITIVE = "D"
    CONSTANT = "C"


class InstallationType(_CaseInsensitiveEnum):
    """Installation type of a submeter; the list is known to be incomplete."""

    UNKNOWN = "?"
    NDGR = "NDGR"
    NDGR2 = "NDGR2"
    PV = "PV"
    WKKB = "WKKB"
    WKKD = "WKKD"
    WKKA = "WKKA"
    WTR = "WTR"
    WND = "WND"
    TBJT = "TBJT"
    ORC = "ORC"
    BC = "BC"
    BIOM = "BIOM"
    DSL = "DSL"
    FOSM = "FOSM"
    PPPV = "PPPV"
    PPBAT = "PPBAT"
    BAT = "BAT"


class Resolution(StrEnum):
    """Which array of slices a value came from."""

    DAILY = "daily"
    HOURLY = "hourly"
    QUARTER_HOURLY = "quarter_hourly"


FINAL_VALIDATION_STATES = frozenset({ValidationState.READ, ValidationState.VALIDATED})


@dataclass(frozen=True, slots=True)
class Mandate:
    """One access to one EAN; most fields are absent unless Approved or Finished."""

    reference_number: str | None = None
    status: MandateStatus | str | None = None
    ean: str | None = None
    energy_type: EnergyType | str | None = None
    data_period_from: datetime | None = None
    data_period_to: datetime | None = None
    data_service_type: DataServiceType | str | None = None
    mandate_expiration_date: datetime | None = None
    renewal_status: RenewalStatus | str | None = None


@dataclass(frozen=True, slots=True)
class MockMandate:
    """Body of POST mock mandate (sandbox only)."""

    ean: str
    status: MandateStatus | str = MandateStatus.APPROVED
    reference_number: str | None = None
    energy_type: EnergyType | str | None = None
    data_service_type: DataServiceType | str | None = None
    data_period_from: datetime | None = None
    data_period_to: datetime | None = None
    mandate_expiration_date: datetime | None = None
    renewal_status: RenewalStatus | str | None = None


class MeasurementValue(NamedTuple):
    """One value of one register; ``value`` may be null for missing data."""

    value: float | None
    unit: Unit | str
    validation_state: ValidationState | str | None = None
    gas_conversion_factor: GasConversionFactor | str | None = None


# direction -> register -> value, as in one entry of a slice's ``measurements``.
type Measurement = dict[Direction | str, dict[Register | str, MeasurementValue]]


class TimeSlice(NamedTuple):
    """A period [start, end) in UTC with its measurements (gas has one per unit)."""

    start: datetime
    end: datetime
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True, slots=True)
class EnergySeries:
    """The daily, hourly and quarter-hourly slices of one meter or headpoint."""

    daily: tuple[TimeSlice, ...] = ()
    hourly: tuple[TimeSlice, ...] = ()
    quarter_hourly: tuple[TimeSlice, ...] = ()

    def by_resolution(self) -> Iterator[tuple[Resolution, tuple[TimeSlice, ...]]]:
        """Yield each non-empty array with its resolution."""
        if self.daily:
            yield Resolution.DAILY, self.daily
        if self.hourly:
            yield Resolution.HOURLY, self.hourly
        if self.quarter_hourly:
            yield Resolution.QUARTER_HOURLY, self.quarter_hourly


@dataclass(frozen=True, slots=True)
class PhysicalMeter:
    """A physical meter behind an EAN; several after a meter swap."""

    seq_number: str | None
    meter_id: str | None
    energy: EnergySeries


@dataclass(frozen=True, slots=True)
class SubHeadpoint:
    """A submeter (production, auxiliary, offtake) under an AMR headpoint."""

    kind: SubHeadpointKind | str
    ean: str | None
    seq_number: str | None
    vreg_id: str | None
    installation_type: InstallationType | str | None
    energy: EnergySeries


class Reading(NamedTuple):
    """One value, flattened with everything needed to store or aggregate it."""

    ean: str
    sub_ean: str | None
    meter_id: str | None
    resolution: Resolution
    direction: Direction | str
    register: Register | str
    unit: Unit | str
    start: datetime
    end: datetime
    value: float | None
    validation_state: ValidationState | str | None
    gas_conversion_factor: GasConversionFactor | str | None


@dataclass(frozen=True, slots=True)
class Headpoint:
    """The EAN a GET energy response is about, with its meters and submeters."""

    type: HeadpointType | str
    ean: str
    energy_type: EnergyType | str | None
    physical_meters: tuple[PhysicalMeter, ...] = ()
    energy: EnergySeries = field(default_factory=EnergySeries)
    sub_headpoints: tuple[SubHeadpoint, ...] = ()


@dataclass(frozen=True, slots=True)
class EnergyResponse:
    """A parsed GET energy response (or several windows merged into one)."""

    fetch_time: datetime | None
    headpoint: Headpoint | None

    def readings(self) -> Iterator[Reading]:
        """Yield every value as a flat reading: the one view downstream code uses."""
        headpoint = self.headpoint
        if headpoint is None:
            return
        ean = headpoint.ean
        for meter in headpoint.physical_meters:
            yield from _series_readings(ean, None, meter.meter_id, meter.energy)
        yield from _series_readings(ean, None, None, headpoint.energy)
        for sub in headpoint.sub_headpoints:
            yield from _series_readings(ean, sub.ean, None, sub.energy)


def _series_readings(
    ean: str, sub_ean: str | None, meter_id: str | None, series: EnergySeries
) -> Iterator[Reading]:
    new = tuple.__new__  # skips NamedTuple.__new__'s argument handling: the hot path
    for resolution, slices in series.by_resolution():
        for start, end, measurements in slices:
            for measurement in measurements:
                for direction, registers in measurement.items():
                    for register, (value, unit, state, factor) in registers.items():
                        yield new(
                            Reading,
                            (
                                ean,
                                sub_ean,
                                meter_id,
                                resolution,
                                direction,
                                register,
                                unit,
                                start,
                                end,
                                value,
                                state,
                                factor,
                            ),
                        )
