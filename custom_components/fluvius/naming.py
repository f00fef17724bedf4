"""What a person calls an EAN: the site name the user gave it, or its kind and last digits.

An 18-digit EAN tells nobody which building it is, and fifty of them cannot be told
apart in a list. The site name (option ``site_names``) names the device and the
statistics; without one the default is short and still unique within an account.
The full EAN stays in the device's serial number and in diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .api import EnergyType, Mandate
from .const import CONF_SITE_NAMES
from .series import SeriesKey

# The last digits that tell an account's EANs apart (a GS1 EAN ends in a check digit).
SHORT_EAN_DIGITS = 6
MAX_SITE_NAME_LENGTH = 60

# What each direction is called in statistic names.
_MEANINGS = {
    "offtake": "offtake",
    "injection": "injection",
    "production": "production",
    "auxiliary": "auxiliary consumption",
}
_REGISTER_WORDS = {"capacity": "capacity tariff"}


def short_ean(ean: str, digits: int = SHORT_EAN_DIGITS) -> str:
    """The EAN's last digits, e.g. '…123456'; a numbered submeter keeps its number."""
    main, dash, number = ean.partition("-")
    return f"…{main[-digits:]}{dash}{number}"


def unique_digits(ean: str, others: Collection[str]) -> int:
    """How many last digits tell ``ean`` apart from the others (at least six)."""
    digits = SHORT_EAN_DIGITS
    while digits < len(ean) and any(
        other != ean and other[-digits:] == ean[-digits:] for other in others
    ):
        digits += 1
    return digits


def site_names(options: Mapping[str, Any]) -> dict[str, str]:
    """The site names of an entry's options, EAN -> name, without blanks."""
    raw = options.get(CONF_SITE_NAMES) or {}
    return {str(ean): str(name).strip() for ean, name in raw.items() if str(name).strip()}


@dataclass(frozen=True, slots=True)
class Site:
    """One main EAN as its users know it."""

    ean: str
    name: str | None
    gas: bool
    # The EAN's last digits that tell it apart within the account, e.g. '…123456'.
    short: str

    @property
    def label(self) -> str:
        """The site name, or e.g. 'Electricity …123456' (statistic names use this)."""
        if self.name:
            return self.name
        return f"{'Gas' if self.gas else 'Electricity'} {self.short}"

    def statistic_name(self, key: SeriesKey) -> str:
        """E.g. 'Town hall offtake', 'Town hall gas (m³)', 'Town hall offtake power (kW)'.

        Electricity in kWh needs no unit; every other unit is named, and gas is
        always named with its unit because it is kept in both m³ and kWh.
        """
        parts = [self.label]
        if key.ean != self.ean:
            parts.append(f"submeter {short_ean(key.ean)}")
        parts.append("gas" if self.gas else _MEANINGS.get(key.direction, key.direction))
        if key.is_power:
            parts.append("power")
        elif key.register != "total":
            parts.append(_REGISTER_WORDS.get(key.register, key.register))
        name = " ".join(parts)
        if self.gas or key.unit != "kwh":
            name += f" ({key.stored_unit.native})"
        return name


class SiteNames:
    """The sites of one entry, from its options and its mandates."""

    def __init__(
        self,
        options: Callable[[], Mapping[str, Any]],
        by_ean: Callable[[], Mapping[str, Mandate]],
    ) -> None:
        """Read both when asked: options and mandates change while the entry runs."""
        self._options = options
        self._by_ean = by_ean
        # The short EANs of the mandates they were worked out for: each needs a look at
        # every EAN of its kind, so they are worked out once per mandates answer.
        self._shorts_of: Mapping[str, Mandate] | None = None
        self._shorts: dict[str, str] = {}

    @property
    def names(self) -> dict[str, str]:
        """The names the user gave, EAN -> name."""
        return site_names(self._options())

    def site(self, ean: str) -> Site:
        """The site of a main EAN."""
        by_ean = self._by_ean()
        if by_ean is not self._shorts_of:
            self._shorts = _short_eans(by_ean)
            self._shorts_of = by_ean
        short = self._shorts.get(ean) or short_ean(ean)
        return Site(ean, self.names.get(ean), _is_gas(by_ean.get(ean)), short)


def _is_gas(mandate: Mandate | None) -> bool:
    return mandate is not None and mandate.energy_type == EnergyType.GAS


def _short_eans(by_ean: Mapping[str, Mandate]) -> dict[str, str]:
    """Each EAN's short form, unique among the EANs of its kind (the kind is in the name)."""
    kinds = {ean: _is_gas(mandate) for ean, mandate in by_ean.items()}
    return {
        ean: short_ean(
            ean, unique_digits(ean, [other for other, kind in kinds.items() if kind == gas])
        )
        for ean, gas in kinds.items()
    }
