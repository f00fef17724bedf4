"""Which kind of meter an EAN has, as the energy answers show it.

Live EANs are GS1 numbers: only the headpoint ``$type`` of an answer tells a
digital meter from an AMR one.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from .api import EnergyResponse, EnergyType, HeadpointType


class MeterKind(StrEnum):
    """The kind of meter behind an EAN, as the energy answers' headpoint ``$type`` shows."""

    DIGITAL = "digital"
    AMR = "amr"


# Data at EAN (headpoint) level is what AMR meters deliver; digital meters deliver
# per physical meter. The mixed type keeps headpoint-level data, so it counts as AMR.
METER_KINDS: dict[str, MeterKind] = {
    HeadpointType.METERING_ON_METER: MeterKind.DIGITAL,
    HeadpointType.METERING_ON_HEADPOINT: MeterKind.AMR,
    HeadpointType.METERING_ON_HEADPOINT_AND_METER: MeterKind.AMR,
}


def observed_kind(responses: Sequence[EnergyResponse]) -> MeterKind | None:
    """The meter kind the newest headpoint ``$type`` shows; None when none is known."""
    for response in reversed(responses):
        headpoint = response.headpoint
        if headpoint is None:
            continue
        kind = METER_KINDS.get(HeadpointType.parse(str(headpoint.type)))
        if kind is not None:
            return kind
    return None


def parse_kind(value: str | None) -> MeterKind | None:
    """A stored kind read back; None for nothing or a value this version does not know."""
    try:
        return None if value is None else MeterKind(value)
    except ValueError:
        return None


MODELS: dict[MeterKind, str] = {MeterKind.DIGITAL: "Digital meter", MeterKind.AMR: "AMR meter"}


def meter_model(kind: MeterKind | None, energy_type: EnergyType | str | None) -> str:
    """Digital or AMR meter; before the first energy answer only the energy type is known."""
    if kind is not None:
        return MODELS[kind]
    return "Gas meter" if energy_type == EnergyType.GAS else "Electricity meter"
