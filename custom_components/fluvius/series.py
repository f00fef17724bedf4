"""What a series of values is: its key, its statistic id and its unit.

One key names a statistic and the sensors that show its newest values, so
both agree on which values belong together and how they are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import UnitOfEnergy, UnitOfPower, UnitOfReactiveEnergy, UnitOfVolume

from .api import Direction, Register, Unit

POWER_REGISTER = "power"


@dataclass(frozen=True, slots=True)
class StoredUnit:
    """A unit values are kept in: the id part, Home Assistant's spelling and classes."""

    id: str
    native: str
    unit_class: str | None
    device_class: SensorDeviceClass
    # Decimals rows are rounded to: a cost sum must stay within a micro-euro.
    decimals: int = 6


UNITS: dict[str, StoredUnit] = {
    unit.id: unit
    for unit in (
        StoredUnit("kwh", UnitOfEnergy.KILO_WATT_HOUR, "energy", SensorDeviceClass.ENERGY),
        StoredUnit("m3", UnitOfVolume.CUBIC_METERS, "volume", SensorDeviceClass.GAS),
        StoredUnit(
            "kvarh",
            UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
            "reactive_energy",
            SensorDeviceClass.REACTIVE_ENERGY,
        ),
        StoredUnit("kw", UnitOfPower.KILO_WATT, "power", SensorDeviceClass.POWER),
        StoredUnit("eur", "EUR", None, SensorDeviceClass.MONETARY, decimals=9),
    )
}
# The API's units whose values are stored; others (kW, kVA, unknown) are not.
_API_UNITS: dict[Unit | str, str] = {Unit.KWH: "kwh", Unit.M3: "m3", Unit.KVARH: "kvarh"}


def unit_id(unit: Unit | str) -> str | None:
    """The unit part of keys (kwh, m3, kvarh) of an API unit, or None when not stored."""
    return _API_UNITS.get(unit)


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """One series: EAN (or sub-EAN), direction, register and unit id, all lower case."""

    ean: str
    direction: str
    register: str
    unit: str

    @property
    def statistic_id(self) -> str:
        """The id scheme other tooling relies on: fluvius:{ean}_{direction}_{register}_{unit}."""
        return f"fluvius:{self.ean}_{self.direction}_{self.register}_{self.unit}"

    @property
    def is_power(self) -> bool:
        """Whether this is the derived quarter-hour power statistic."""
        return self.register == POWER_REGISTER

    @property
    def stored_unit(self) -> StoredUnit:
        """The unit the series is kept and shown in."""
        return UNITS[self.unit]

    def with_register(self, register: Register) -> SeriesKey:
        """The same meter, direction and unit in another register (day, night, total)."""
        return SeriesKey(self.ean, self.direction, register.value, self.unit)

    @classmethod
    def from_statistic_id(cls, statistic_id: str) -> SeriesKey | None:
        """The key of one of our statistic ids, or None for another id."""
        prefix, colon, rest = statistic_id.partition(":")
        parts = rest.rsplit("_", 3)
        if prefix != "fluvius" or not colon or len(parts) != 4 or parts[3] not in UNITS:
            return None
        return cls(*parts)

    @classmethod
    def power(cls, ean: str) -> SeriesKey:
        """The power statistic of a main electricity EAN."""
        return cls(ean, Direction.OFFTAKE.value, POWER_REGISTER, "kw")


def day_night_totals(keys: Iterable[SeriesKey]) -> Iterator[tuple[SeriesKey, SeriesKey, SeriesKey]]:
    """(day, night, total) of every series reported in day and night registers.

    Where a meter gives only day and night, their sum is its total: one value
    per period for users who do not care about the tariff registers, in the
    statistics and the sensors alike. The caller keeps a total the meter gave.
    """
    ordered = list(keys)
    present = set(ordered)
    for key in ordered:
        if key.register == Register.DAY:
            night = key.with_register(Register.NIGHT)
            if night in present:
                yield key, night, key.with_register(Register.TOTAL)
