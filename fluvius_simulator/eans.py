"""The sandbox's mock-EAN scheme: what each digit of an 18-digit mock EAN selects.

Positions (1-based): 5 meter type (4 digital, 5 AMR), 6 energy (0 electricity,
1 gas), 7 flow (0 offtake, 1 offtake+injection, 2 injection), 8 access (0 VH_dag,
1 VH_kwartier_uur), 9 submeter (0 none, 1 production, 2 non-production),
10-15 zeros, 16-18 model number. Unrealistic combinations are refused, as the
sandbox does.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import re
from typing import Literal

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
class MockEan:
    """A parsed, valid mock EAN."""

    ean: str
    digital: bool
    gas: bool
    flow: Flow
    quarter_hourly: bool
    submeter: Submeter
    model: int

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


def installation_for_model(model: int) -> Installation:
    """Map the last three digits to the installation kind (addendum rows 1-14)."""
    if model < 600:
        kind = ("PV", "WTR", "WND")[model // 200]
        return Installation(kind, has_auxiliary=model % 200 < 100)
    return Installation("WKKA", has_auxiliary=False)


def parse_mock_ean(ean: str) -> MockEan:
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
    digital = ean[4] == "4"
    gas = ean[5] == "1"
    flow_digit, submeter_digit = ean[6], ean[8]
    errors: list[str] = []
    if digital and flow_digit == "2":
        errors.append("a digital meter (digit 5 = 4) cannot be injection-only (digit 7 = 2)")
    if digital and submeter_digit != "0":
        errors.append("submeters (digit 9 = 1 or 2) only exist on AMR meters (digit 5 = 5)")
    if not digital and flow_digit == "1":
        errors.append(
            "an AMR meter (digit 5 = 5) has separate offtake and injection EANs; "
            "digit 7 = 1 is for digital meters only"
        )
    if gas and submeter_digit == "1":
        errors.append("a gas meter (digit 6 = 1) cannot have a production submeter (digit 9 = 1)")
    if errors:
        raise EanError([f"ean '{ean}' is an unrealistic combination: {e}" for e in errors])
    flows: dict[str, Flow] = {"0": "offtake", "1": "both", "2": "injection"}
    submeters: dict[str, Submeter] = {"0": "none", "1": "production", "2": "other"}
    return MockEan(
        ean=ean,
        digital=digital,
        gas=gas,
        flow=flows[flow_digit],
        quarter_hourly=ean[7] == "1",
        submeter=submeters[submeter_digit],
        model=int(ean[15:]),
    )


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that, unlike hash(), is the same in every process."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


SUB_ROLE_PRODUCTION = "1"
SUB_ROLE_AUXILIARY = "2"
SUB_ROLE_OFFTAKE = "3"


def sub_ean(main: MockEan, role: str) -> str:
    """Deterministic 18-digit sub-EAN: 5414 99, role, 0, digits 5-8 of the main EAN, 000, model.

    Digits 5-8 and the model number identify the main EAN among those that can
    carry submeters, so sub-EANs never collide.
    """
    return f"541499{role}0{main.ean[4:8]}000{main.ean[15:]}"


def meter_id(main: MockEan) -> str:
    """Physical meter number: 1SAG... for electricity, 7FLO... for gas."""
    prefix = "7FLO" if main.gas else "1SAG"
    return f"{prefix}{stable_hash('meter', main.ean) % 10**10:010d}"


def vreg_id(main: MockEan) -> str:
    """VREG installation id of the local installation behind the submeters."""
    return str(100000 + stable_hash("vreg", main.ean) % 900000)
