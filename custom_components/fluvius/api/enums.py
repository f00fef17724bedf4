"""The API's enumerations, matched case-insensitively, unknown values kept raw.

The API's casing varies (``toBeRenewed`` next to ``ToBeRenewed``, ``KWh``), and
it may add values later, so every enum-typed field is ``Enum | str``: the member
whose value matches ignoring case, else the string as sent. ``parse`` is the one
place that maps a raw string, and it remembers every spelling it has seen: a
response repeats the same few spellings tens of thousands of times.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

# Distinct spellings remembered per enum; beyond this they are parsed each time.
_MAX_SPELLINGS = 512


class _Spellings(dict[str | None, Any]):
    """Raw spelling -> member, or the raw string when unknown; None stays None."""

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__({None: None})
        self._by_folded = {member.value.casefold(): member for member in enum}

    def __missing__(self, raw: str) -> Any:
        parsed = self._by_folded.get(raw.casefold(), raw)
        if len(self) < _MAX_SPELLINGS:
            self[raw] = parsed
        return parsed


_SPELLINGS: dict[type[StrEnum], _Spellings] = {}


class CaseInsensitiveEnum(StrEnum):
    """StrEnum that parses its values case-insensitively and keeps unknown ones raw."""

    @classmethod
    def spellings(cls) -> Mapping[str | None, Self | str | None]:
        """The lookup :meth:`parse` uses, to index directly where values repeat by the thousand.

        ``spellings()[raw]`` is the member, the raw string when unknown, and
        None for None; each spelling is parsed once and then remembered.
        """
        spellings = _SPELLINGS.get(cls)
        if spellings is None:
            spellings = _SPELLINGS[cls] = _Spellings(cls)
        return spellings

    @classmethod
    def parse(cls, raw: str) -> Self | str:
        """Return the member whose value matches ``raw`` ignoring case, else ``raw``."""
        parsed = cls.spellings()[raw]
        return raw if parsed is None else parsed

    @classmethod
    def parse_optional(cls, raw: str | None) -> Self | str | None:
        """Like :meth:`parse`; ``None`` (absent or null) stays ``None``."""
        return cls.spellings()[raw]


class EnergyType(CaseInsensitiveEnum):
    """Energy carrier of an EAN."""

    ELECTRICITY = "E"
    GAS = "G"


class MandateStatus(CaseInsensitiveEnum):
    """Status of an access (mandate)."""

    REQUESTED = "Requested"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    FINISHED = "Finished"


class RenewalStatus(CaseInsensitiveEnum):
    """Renewal state, present only in the three months before expiry."""

    TO_BE_RENEWED = "ToBeRenewed"
    RENEWAL_REQUESTED = "RenewalRequested"
    EXPIRED = "Expired"


class DataServiceType(CaseInsensitiveEnum):
    """Detail of an access: daily, or quarter-hour (electricity) / hour (gas)."""

    DAILY = "VH_dag"
    QUARTER_HOURLY = "VH_kwartier_uur"


class PeriodType(CaseInsensitiveEnum):
    """Whether GET energy selects by measurement time or by arrival time."""

    READ_TIME = "readTime"
    INSERT_TIME = "insertTime"


class Granularity(CaseInsensitiveEnum):
    """Granularity filter of GET energy."""

    DAILY = "daily"
    HOURLY_QUARTERHOURLY = "hourly_quarterhourly"


class ComplexEnergyType(CaseInsensitiveEnum):
    """Active and/or reactive energy (reactive exists for AMR electricity only)."""

    ACTIVE = "active"
    REACTIVE = "reactive"


class HeadpointType(CaseInsensitiveEnum):
    """The ``$type`` of a headpoint: where the data sits."""

    METERING_ON_METER = "metering-on-meter"
    METERING_ON_HEADPOINT = "metering-on-headpoint"
    METERING_ON_HEADPOINT_AND_METER = "metering-on-headpoint-and-meter"


class SubHeadpointKind(CaseInsensitiveEnum):
    """The ``$type`` of a submeter under an AMR headpoint."""

    PRODUCTION = "submetering-production"
    AUXILIARY = "submetering-auxiliary"
    OFFTAKE = "submetering-offtake"


class Direction(StrEnum):
    """Direction of energy flow: the keys of a measurement object."""

    OFFTAKE = "offtake"
    INJECTION = "injection"
    PRODUCTION = "production"
    AUXILIARY = "auxiliary"


class Register(StrEnum):
    """Register of a direction: active totals, tariff periods or reactive energy."""

    TOTAL = "total"
    DAY = "day"
    NIGHT = "night"
    REACTIVE = "reactive"
    INDUCTIVE = "inductive"
    CAPACITIVE = "capacitive"


class Unit(CaseInsensitiveEnum):
    """Unit of a value; the API's casing varies, so compare through this enum."""

    KWH = "kWh"
    M3 = "m3"
    KVARH = "kVArh"
    KW = "kW"
    KVA = "kVA"


class ValidationState(CaseInsensitiveEnum):
    """READ/EST for digital meters, VAL/NVAL for AMR meters."""

    READ = "READ"
    ESTIMATED = "EST"
    VALIDATED = "VAL"
    NOT_VALIDATED = "NVAL"


class GasConversionFactor(CaseInsensitiveEnum):
    """State of the gas conversion factor used for a kWh value."""

    PROVISIONAL = "P"
    DEFINITIVE = "D"
    CONSTANT = "C"


class InstallationType(CaseInsensitiveEnum):
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
