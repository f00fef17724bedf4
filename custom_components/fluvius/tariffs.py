"""Tariffs: what a kWh (or m³) costs, per EAN, and the capacity tariff's yearly rate.

A tariff is a config subentry. It applies to chosen EANs and gives, for
offtake, injection and gas, a fixed price (with an optional night price) or a
price entity with a supplier formula (a x price + b) and a fallback price for
moments without a known price. Data only: reading prices is ``costs``' work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
import hashlib
import json
from typing import Any, Final

from .series import SeriesKey
from .timeutil import local_midnight

SUBENTRY_TARIFF: Final = "tariff"

# Subentry data keys.
CONF_EANS: Final = "eans"
CONF_CAPACITY_TARIFF: Final = "capacity_tariff"
CONF_REPRICE_FROM: Final = "reprice_from"
CONF_PRICE: Final = "price"
CONF_NIGHT_PRICE: Final = "night_price"
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_MULTIPLIER: Final = "multiplier"
CONF_ADDER: Final = "adder"
CONF_GAS_UNIT: Final = "gas_unit"
# The sections of a tariff: what each prices.
OFFTAKE: Final = "offtake"
INJECTION: Final = "injection"
GAS: Final = "gas"
SECTIONS: Final = (OFFTAKE, INJECTION, GAS)
GAS_UNITS: Final = ("kwh", "m3")

# Cost statistics' register part: what the money is for.
COST_REGISTER: Final = "cost"
COMPENSATION_REGISTER: Final = "compensation"
CAPACITY_REGISTER: Final = "capacity"
EUR: Final = "eur"


@dataclass(frozen=True, slots=True)
class Price:
    """One kind of energy's price, in EUR per kWh (gas: per kWh or per m³).

    Fixed: ``fixed`` (and ``night``, for the night register). Dynamic: the state
    of ``entity_id`` in force, as ``multiplier`` x price + ``adder``; ``fixed``
    is then the fallback where the entity has no known value.
    """

    fixed: float
    night: float | None = None
    entity_id: str | None = None
    multiplier: float = 1.0
    adder: float = 0.0
    unit: str = "kwh"

    @property
    def is_dynamic(self) -> bool:
        """Whether a price entity gives the price."""
        return self.entity_id is not None


@dataclass(frozen=True, slots=True)
class Tariff:
    """One tariff subentry, read."""

    tariff_id: str
    name: str
    eans: frozenset[str]
    offtake: Price | None
    injection: Price | None
    gas: Price | None
    capacity_eur_per_kw_year: float | None
    reprice_from: date | None
    # Changes whenever anything of the tariff does: costs are then priced again.
    fingerprint: str

    @property
    def is_dynamic(self) -> bool:
        """Whether a price entity prices anything of the tariff."""
        return any(
            price is not None and price.is_dynamic
            for price in (self.offtake, self.injection, self.gas)
        )

    @property
    def reprice_start(self) -> datetime | None:
        """The moment re-pricing starts after a change; None: the whole history."""
        return None if self.reprice_from is None else local_midnight(self.reprice_from)


def _number(raw: Any) -> float | None:
    return None if raw is None or raw == "" else float(raw)


def parse_price(raw: Mapping[str, Any] | None, *, gas: bool = False) -> Price | None:
    """The price a section gives, or None when it prices nothing (no price entered)."""
    if not raw:
        return None
    fixed = _number(raw.get(CONF_PRICE))
    if fixed is None:
        return None
    multiplier = _number(raw.get(CONF_MULTIPLIER))
    adder = _number(raw.get(CONF_ADDER))
    return Price(
        fixed=fixed,
        night=None if gas else _number(raw.get(CONF_NIGHT_PRICE)),
        entity_id=raw.get(CONF_PRICE_ENTITY) or None,
        multiplier=1.0 if multiplier is None else multiplier,
        adder=0.0 if adder is None else adder,
        unit=str(raw.get(CONF_GAS_UNIT) or "kwh") if gas else "kwh",
    )


def parse_tariff(tariff_id: str, title: str, data: Mapping[str, Any]) -> Tariff:
    """Read a tariff subentry's data."""
    reprice = data.get(CONF_REPRICE_FROM)
    return Tariff(
        tariff_id=tariff_id,
        name=title,
        eans=frozenset(str(ean) for ean in data.get(CONF_EANS) or ()),
        offtake=parse_price(data.get(OFFTAKE)),
        injection=parse_price(data.get(INJECTION)),
        gas=parse_price(data.get(GAS), gas=True),
        capacity_eur_per_kw_year=_number(data.get(CONF_CAPACITY_TARIFF)),
        reprice_from=date.fromisoformat(reprice) if reprice else None,
        fingerprint=hashlib.sha256(
            json.dumps([tariff_id, dict(data)], sort_keys=True, default=str).encode()
        ).hexdigest()[:16],
    )


class TariffBook:
    """An entry's tariffs, looked up by EAN (an EAN is in one tariff at most)."""

    def __init__(self, tariffs: Iterable[Tariff]) -> None:
        """Index the tariffs by their EANs."""
        self.tariffs = tuple(tariffs)
        self._by_ean = {ean: tariff for tariff in self.tariffs for ean in tariff.eans}

    def of(self, ean: str) -> Tariff | None:
        """The tariff that prices the EAN, if any."""
        return self._by_ean.get(ean)

    def fingerprints(self) -> dict[str, str]:
        """EAN -> its tariff's fingerprint: what a change of tariffs is told by."""
        return {ean: tariff.fingerprint for ean, tariff in self._by_ean.items()}


def cost_key(ean: str, direction: str) -> SeriesKey:
    """The cost statistic of a direction: offtake (and gas) cost, injection compensation."""
    register = COMPENSATION_REGISTER if direction == INJECTION else COST_REGISTER
    return SeriesKey(ean, direction, register, EUR)


def capacity_key(ean: str) -> SeriesKey:
    """The monthly capacity-tariff statistic of an electricity EAN."""
    return SeriesKey(ean, OFFTAKE, CAPACITY_REGISTER, EUR)
