"""Typed models of the Fluvius API's mandate and energy responses, as msgspec Structs.

The records that exist once per slice or value (:class:`TimeSlice`,
:class:`Measurement`, :class:`RegisterValues`, :class:`MeasurementValue`) are
what the decoder builds straight from the JSON, so they hold what was sent:
enum-valued fields keep the raw spelling in a ``raw_*`` field and a property
parses it (cached, see :mod:`.enums`). That keeps per-value work out of the
decoder, and out of the flat :class:`Reading`, which copies those fields.
Every Struct is declared ``gc=False``: a decoded window holds no reference
cycles, so the cyclic collector has no reason to track its tens of thousands
of objects.

Direction and register keys are the field names the reference documents;
unknown keys, like any unknown field, are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from operator import attrgetter, itemgetter

from msgspec import Struct, field
from msgspec.structs import astuple

from .enums import (
    DataServiceType,
    Direction,
    EnergyType,
    GasConversionFactor,
    HeadpointType,
    InstallationType,
    MandateStatus,
    Register,
    RenewalStatus,
    Resolution,
    SubHeadpointKind,
    Unit,
    ValidationState,
)


class _EnumsParsedOnAccess:
    """The enum-valued fields of a value as sent, each parsed when read (cached per spelling)."""

    __slots__ = ()
    raw_unit: str
    raw_validation_state: str | None
    raw_gas_conversion_factor: str | None

    @property
    def unit(self) -> Unit | str:
        """The unit, matched case-insensitively (raw when unknown)."""
        return Unit.parse(self.raw_unit)

    @property
    def validation_state(self) -> ValidationState | str | None:
        """READ/EST (digital meters) or VAL/NVAL (AMR), raw when unknown."""
        return ValidationState.parse_optional(self.raw_validation_state)

    @property
    def gas_conversion_factor(self) -> GasConversionFactor | str | None:
        """Whether a gas kWh value used a provisional, definitive or constant factor."""
        return GasConversionFactor.parse_optional(self.raw_gas_conversion_factor)


class MeasurementValue(
    Struct, _EnumsParsedOnAccess, frozen=True, gc=False, kw_only=True, repr_omit_defaults=True
):
    """One value of one register; ``value`` may be null for missing data."""

    value: float | None = None
    raw_unit: str = field(name="unit")
    raw_validation_state: str | None = field(default=None, name="validationState")
    raw_gas_conversion_factor: str | None = field(default=None, name="gasConversionFactor")


class RegisterValues(Struct, frozen=True, gc=False, kw_only=True, repr_omit_defaults=True):
    """The registers of one direction (the reference's "direction" object).

    The fields are in the order of :class:`Register`, so ``astuple`` pairs with it.
    """

    total: MeasurementValue | None = None
    day: MeasurementValue | None = None
    night: MeasurementValue | None = None
    reactive: MeasurementValue | None = None
    inductive: MeasurementValue | None = None
    capacitive: MeasurementValue | None = None

    def items(self) -> Iterator[tuple[Register, MeasurementValue]]:
        """The registers present, in the order of :class:`Register`."""
        return filter(_PRESENT, zip(_REGISTERS, astuple(self), strict=True))


class Measurement(Struct, frozen=True, gc=False, kw_only=True, repr_omit_defaults=True):
    """One entry of a slice's ``measurements``: a direction object per flow.

    The fields are in the order of :class:`Direction`, so ``astuple`` pairs with it.
    """

    offtake: RegisterValues | None = None
    injection: RegisterValues | None = None
    production: RegisterValues | None = None
    auxiliary: RegisterValues | None = None

    def directions(self) -> Iterator[tuple[Direction, RegisterValues]]:
        """The directions present, in the order of :class:`Direction`."""
        return filter(_PRESENT, zip(_DIRECTIONS, astuple(self), strict=True))


class TimeSlice(Struct, frozen=True, gc=False, repr_omit_defaults=True):
    """A period [start, end) in UTC with its measurements (gas has one per unit)."""

    start: datetime
    end: datetime
    raw_measurements: tuple[Measurement, ...] | None = field(default=None, name="measurements")

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The measurements; empty when the slice has none (absent or null)."""
        return self.raw_measurements or ()


class EnergySeries(Struct, frozen=True, gc=False):
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


class PhysicalMeter(Struct, frozen=True, gc=False):
    """A physical meter behind an EAN; several after a meter swap."""

    seq_number: str | None
    meter_id: str | None
    energy: EnergySeries


class SubHeadpoint(Struct, frozen=True, gc=False):
    """A submeter (production, auxiliary, offtake) under an AMR headpoint."""

    kind: SubHeadpointKind | str
    ean: str | None
    seq_number: str | None
    vreg_id: str | None
    installation_type: InstallationType | str | None
    energy: EnergySeries


class Headpoint(Struct, frozen=True, gc=False):
    """The EAN a GET energy response is about, with its meters and submeters."""

    type: HeadpointType | str
    ean: str
    energy_type: EnergyType | str | None
    physical_meters: tuple[PhysicalMeter, ...] = ()
    energy: EnergySeries = field(default_factory=EnergySeries)
    sub_headpoints: tuple[SubHeadpoint, ...] = ()

    def series(self) -> Iterator[tuple[str | None, str | None, EnergySeries]]:
        """(sub-EAN, meter ID, slices) of every meter, the headpoint, every submeter."""
        for meter in self.physical_meters:
            yield None, meter.meter_id, meter.energy
        yield None, None, self.energy
        for sub in self.sub_headpoints:
            yield sub.ean, None, sub.energy


class Reading(Struct, _EnumsParsedOnAccess, frozen=True, gc=False):
    """One value, flattened with everything needed to store or show it.

    The unit, validation state and gas conversion factor are kept as sent, like
    in :class:`MeasurementValue`, and parsed when read: a reading is a copy of
    fields, made once per value, and most readers look at few of them.
    """

    ean: str
    sub_ean: str | None
    meter_id: str | None
    resolution: Resolution
    direction: Direction
    register: Register
    raw_unit: str
    start: datetime
    end: datetime
    value: float | None
    raw_validation_state: str | None
    raw_gas_conversion_factor: str | None


class EnergyResponse(Struct, frozen=True, gc=False):
    """A decoded GET energy response (or several windows merged into one)."""

    fetch_time: datetime | None
    headpoint: Headpoint | None

    def readings(self) -> Iterator[Reading]:
        """Yield every value as a flat reading, lazily: for views over a few days.

        Aggregating a history window walks the slices instead (see the
        integration's ``aggregation``): one object per value is what it avoids.
        """
        headpoint = self.headpoint
        if headpoint is None:
            return iter(())
        return chain.from_iterable(
            _slice_readings((headpoint.ean, sub_ean, meter_id, resolution), slices)
            for sub_ean, meter_id, series in headpoint.series()
            for resolution, slices in series.by_resolution()
        )


def _slice_readings(
    meter: tuple[str, str | None, str | None, Resolution], slices: tuple[TimeSlice, ...]
) -> Iterator[Reading]:
    """The readings of a slice array, ``meter`` its (EAN, sub-EAN, meter ID, resolution).

    Inlined, as it runs once per value: a direction holding only its total is read here.
    """
    ean, sub_ean, meter_id, resolution = meter
    directions = _DIRECTIONS
    total = Register.TOTAL
    for time_slice in slices:
        start = time_slice.start
        end = time_slice.end
        for measurement in time_slice.raw_measurements or ():
            index = -1
            for registers in astuple(measurement):
                index += 1
                if registers is None:
                    continue
                item = registers.total
                # The registers one by one: cheaper than a tuple of them per value.
                if (
                    item is None
                    or registers.day is not None
                    or registers.night is not None
                    or registers.reactive is not None
                    or registers.inductive is not None
                    or registers.capacitive is not None
                ):
                    context = (*meter, directions[index])
                    yield from _register_readings(context, astuple(registers), start, end)
                    continue
                yield Reading(
                    ean,
                    sub_ean,
                    meter_id,
                    resolution,
                    directions[index],
                    total,
                    item.raw_unit,
                    start,
                    end,
                    item.value,
                    item.raw_validation_state,
                    item.raw_gas_conversion_factor,
                )


def _register_readings(
    context: tuple[str, str | None, str | None, Resolution, Direction],
    values: tuple[MeasurementValue | None, ...],
    start: datetime,
    end: datetime,
) -> Iterator[Reading]:
    """The readings of a direction in several registers (day/night, reactive): the rare case."""
    for register, item in zip(_REGISTERS, values, strict=True):
        if item is not None:
            yield Reading(*context, register, item.raw_unit, start, end, *_AFTER_END(item))


# A value's fields that follow ``end`` in a :class:`Reading`, in its order.
_AFTER_END = attrgetter("value", "raw_validation_state", "raw_gas_conversion_factor")


# What ``filter`` keeps of (name, field) pairs: the fields present.
_PRESENT = itemgetter(1)
# A measurement's fields are the directions, a direction's the registers, in enum order.
_DIRECTIONS = tuple(Direction)
_REGISTERS = tuple(Register)


class Mandate(Struct, frozen=True, kw_only=True, gc=False):
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


class MockMandate(Struct, frozen=True, kw_only=True, gc=False):
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
