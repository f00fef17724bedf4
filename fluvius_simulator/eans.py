"""Meters: the sandbox's mock-EAN scheme, and live-style EANs with an explicit kind.

Mock EANs, positions (1-based): 5 meter type (4 digital, 5 AMR), 6 energy (0
electricity, 1 gas), 7 flow (0 offtake, 1 offtake+injection, 2 injection), 8 access
(0 VH_dag, 1 VH_kwartier_uur), 9 submeter (0 none, 1 production, 2 non-production),
10-15 zeros, 16-18 model number. Unrealistic combinations are refused, as the
sandbox does.

Live EANs are GS1 numbers whose digits say nothing about the meter, so a
live-style EAN comes with a MeterSpec holding the same properties. Everything
downstream reads those properties (and hashes of the EAN), never the digits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import hashlib
import re
from typing import Literal, get_args

MOCK_EAN_RE = re.compile(r"5414[45][01][012][01][012]000000\d{3}")
EAN_RE = re.compile(r"\d{18}")

VH_DAG = "VH_dag"
VH_KWARTIER_UUR = "VH_kwartier_uur"

Flow = Literal["offtake", "both", "injection"]
Submeter = Literal["none", "production", "other"]


class EanError(ValueError):
    """A mock EAN that the sandbox refuses; `messages` become ValidationErrorMessages."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True, slots=True)
class Installation:
    """A local production installation behind an AMR production submeter."""

    type: str
    has_auxiliary: bool


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What a mock EAN's digits encode, given explicitly for a live-style EAN."""

    digital: bool = True
    gas: bool = False
    flow: Flow = "offtake"
    quarter_hourly: bool = True
    submeter: Submeter = "none"
    model: int = 0

    @classmethod
    def from_dict(cls, raw: object) -> MeterSpec:
        """Read a spec from JSON (the control surface); raise EanError listing what is wrong."""
        if not isinstance(raw, Mapping):
            raise EanError(["'meter' must be an object"])
        errors = [f"'meter.{k}' is not a meter property" for k in raw if k not in _SPEC_FIELDS]
        for name, (kind, allowed) in _SPEC_FIELDS.items():
            value = raw.get(name)
            if value is not None and (
                type(value) is not kind or (allowed and value not in allowed)
            ):
                options = f" one of {', '.join(allowed)}" if allowed else f" a {kind.__name__}"
                errors.append(f"'meter.{name}' must be{options}")
        if errors:
            raise EanError(errors)
        return cls(**{k: v for k, v in raw.items() if v is not None})


_SPEC_FIELDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "digital": (bool, ()),
    "gas": (bool, ()),
    "flow": (str, get_args(Flow)),
    "quarter_hourly": (bool, ()),
    "submeter": (str, get_args(Submeter)),
    "model": (int, ()),
}


@dataclass(frozen=True, slots=True)
class Meter:
    """A valid meter: its EAN and its kind (from a mock EAN's digits or a MeterSpec)."""

    ean: str
    digital: bool
    gas: bool
    flow: Flow
    quarter_hourly: bool
    submeter: Submeter
    model: int
    live: bool = False  # a live-style EAN: its kind came from a MeterSpec

    @property
    def spec(self) -> MeterSpec:
        """The meter's kind without its EAN."""
        return MeterSpec(
            self.digital, self.gas, self.flow, self.quarter_hourly, self.submeter, self.model
        )

    @property
    def energy_type(self) -> str:
        """`E` or `G`."""
        return "G" if self.gas else "E"

    @property
    def data_service_type(self) -> str:
        """The access level that digit 8 selects."""
        return VH_KWARTIER_UUR if self.quarter_hourly else VH_DAG

    @property
    def headpoint_type(self) -> str:
        """The `$type` of the energy response's headpoint."""
        return "metering-on-meter" if self.digital else "metering-on-headpoint"

    @property
    def directions(self) -> tuple[str, ...]:
        """Directions reported on the main EAN."""
        if self.flow == "both":
            return ("offtake", "injection")
        return (self.flow,)

    @property
    def installation(self) -> Installation | None:
        """Installation kind of a production submeter, chosen by the model number."""
        if self.submeter != "production":
            return None
        return installation_for_model(self.model)

    @property
    def reactive(self) -> bool:
        """Only AMR electricity meters report reactive energy."""
        return not self.digital and not self.gas


# The name of Meter before live-style EANs existed.
MockEan = Meter

# Unrealistic combinations: (test, message naming the mock EAN's digits, plain message).
_UNREALISTIC: tuple[tuple[Callable[[MeterSpec | Meter], bool], str, str], ...] = (
    (
        lambda m: m.digital and m.flow == "injection",
        "a digital meter (digit 5 = 4) cannot be injection-only (digit 7 = 2)",
        "a digital meter cannot be injection-only",
    ),
    (
        lambda m: m.digital and m.submeter != "none",
        "submeters (digit 9 = 1 or 2) only exist on AMR meters (digit 5 = 5)",
        "submeters only exist on AMR meters",
    ),
    (
        lambda m: not m.digital and m.flow == "both",
        (
            "an AMR meter (digit 5 = 5) has separate offtake and injection EANs; "
            "digit 7 = 1 is for digital meters only"
        ),
        "an AMR meter has separate offtake and injection EANs, never both on one",
    ),
    (
        lambda m: m.gas and m.submeter == "production",
        "a gas meter (digit 6 = 1) cannot have a production submeter (digit 9 = 1)",
        "a gas meter cannot have a production submeter",
    ),
)


def installation_for_model(model: int) -> Installation:
    """Map the last three digits to the installation kind (addendum rows 1-14)."""
    if model < 600:
        kind = ("PV", "WTR", "WND")[model // 200]
        return Installation(kind, has_auxiliary=model % 200 < 100)
    return Installation("WKKA", has_auxiliary=False)


def parse_mock_ean(ean: str) -> Meter:
    """Parse a mock EAN or raise EanError listing why the sandbox refuses it."""
    if not EAN_RE.fullmatch(ean):
        raise EanError([f"ean '{ean}' must be exactly 18 digits"])
    if not MOCK_EAN_RE.fullmatch(ean):
        raise EanError(
            [
                (
                    f"ean '{ean}' is not a valid mock EAN: expected pattern "
                    "5414[45][01][012][01][012]000000ddd"
                )
            ]
        )
    flows: dict[str, Flow] = {"0": "offtake", "1": "both", "2": "injection"}
    submeters: dict[str, Submeter] = {"0": "none", "1": "production", "2": "other"}
    meter = Meter(
        ean=ean,
        digital=ean[4] == "4",
        gas=ean[5] == "1",
        flow=flows[ean[6]],
        quarter_hourly=ean[7] == "1",
        submeter=submeters[ean[8]],
        model=int(ean[15:]),
    )
    errors = [mock for test, mock, _ in _UNREALISTIC if test(meter)]
    if errors:
        raise EanError([f"ean '{ean}' is an unrealistic combination: {e}" for e in errors])
    return meter


def live_meter(ean: str, spec: MeterSpec) -> Meter:
    """A meter behind a live-style (GS1) EAN, or EanError listing why it is refused.

    A number of the mock scheme is refused: its digits already select a meter,
    and a spec could contradict them. The GS1 check digit is not checked.
    """
    if not EAN_RE.fullmatch(ean):
        raise EanError([f"ean '{ean}' must be exactly 18 digits"])
    errors: list[str] = []
    if MOCK_EAN_RE.fullmatch(ean):
        errors.append(f"ean '{ean}' is a mock EAN: its digits select the meter, give no spec")
    if not 0 <= spec.model <= 999:
        errors.append(f"model {spec.model} must lie in 0-999")
    errors += [
        f"ean '{ean}' is an unrealistic combination: {plain}"
        for test, _, plain in _UNREALISTIC
        if test(spec)
    ]
    if errors:
        raise EanError(errors)
    return Meter(
        ean,
        spec.digital,
        spec.gas,
        spec.flow,
        spec.quarter_hourly,
        spec.submeter,
        spec.model,
        live=True,
    )


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that, unlike hash(), is the same in every process."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


SUB_ROLE_PRODUCTION = "1"
SUB_ROLE_AUXILIARY = "2"
SUB_ROLE_OFFTAKE = "3"


def sub_ean(main: Meter, role: str) -> str:
    """Deterministic 18-digit sub-EAN: 541499, role, then 0 and the kind, or 1 and a hash.

    A mock main EAN: 0, its digits 5-8 (written from its kind), 000, its model number.
    These identify the main EAN among those that can carry submeters, so sub-EANs
    never collide. A live-style one: 1 and ten digits hashed from the main EAN.
    """
    if main.live:
        return f"541499{role}1{stable_hash('sub', main.ean) % 10**10:010d}"
    flow = {"offtake": 0, "both": 1, "injection": 2}[main.flow]
    kind = f"{4 if main.digital else 5}{int(main.gas)}{flow}{int(main.quarter_hourly)}"
    return f"541499{role}0{kind}000{main.model:03d}"


def meter_id(main: Meter) -> str:
    """Physical meter number: 1SAG... for electricity, 7FLO... for gas."""
    prefix = "7FLO" if main.gas else "1SAG"
    return f"{prefix}{stable_hash('meter', main.ean) % 10**10:010d}"


def vreg_id(main: Meter) -> str:
    """VREG installation id of the local installation behind the submeters."""
    return str(100000 + stable_hash("vreg", main.ean) % 900000)
