"""Sensors: last complete day and last interval values, mandate and data diagnostics.

Fluvius data arrive 1 to 72 hours late, so the energy sensors carry the period
they belong to as attributes and have no state class: the long-term history
comes from the imported statistics, never from these states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import (
    DataServiceType,
    EnergyType,
    Mandate,
    MandateStatus,
    RenewalStatus,
    ValidationState,
)
from .capacity import CapacityCost, capacity_cost
from .const import DOMAIN
from .entity import FluviusEntity, FluviusMandateEntity, main_device, submeter_device
from .meters import MeterKind
from .peak import LOW_VOLTAGE_MINIMUM_KW, MonthlyPeak, rolling_average
from .polling import FluviusEnergyCoordinator
from .runtime import FluviusConfigEntry, FluviusRuntimeData
from .series import SeriesKey
from .snapshot import EanSnapshot, PeriodValue
from .tariffs import Tariff
from .timeutil import MonthKey, isoformat, local_day, local_month, month_id, shift_month

PARALLEL_UPDATES = 0

REACTIVE = frozenset({"inductive", "capacitive", "reactive"})
# The state of the data period end of a mandate without an end.
OPEN_ENDED = "open_ended"
# The validation_state attribute: translated states instead of the API's codes.
VALIDATION_STATES: dict[object, str] = {
    ValidationState.READ: "read",
    ValidationState.ESTIMATED: "estimated",
    ValidationState.VALIDATED: "validated",
    ValidationState.NOT_VALIDATED: "not_validated",
}


def value_translation_key(period: str, key: SeriesKey, energy_type: str | None) -> str:
    """Static translation keys, e.g. last_day_offtake_night or last_interval_gas_volume."""
    if energy_type == EnergyType.GAS:
        return f"{period}_gas_{'volume' if key.unit == 'm3' else 'energy'}"
    return f"{period}_{key.direction}_{key.register}"


class FluviusValueSensor(FluviusEntity[FluviusEnergyCoordinator], SensorEntity):
    """A delayed value (last complete day or last quarter-hour/hour) with its period."""

    _attr_suggested_display_precision = 3

    def __init__(
        self,
        coordinator: FluviusEnergyCoordinator,
        ean: str,
        mandate: Mandate,
        period: str,
        key: SeriesKey,
    ) -> None:
        """One sensor per EAN (or sub-EAN), period, direction, register and unit."""
        meter_ean = key.ean
        snapshot = coordinator.data.get(ean) if coordinator.data else None
        importer = coordinator.importer
        device = main_device(importer.sites.site(ean), mandate, importer.states.meter_kind(ean))
        if meter_ean != ean and snapshot is not None:
            sub = next((s for s in snapshot.submeters if s.ean == meter_ean), None)
            if sub is not None:
                device = submeter_device(ean, sub)
        # Keyed by the meter's own EAN, so submeter values stay unique.
        super().__init__(
            coordinator,
            ean,
            device,
            f"{period}_{key.direction}_{key.register}_{key.unit}",
            id_ean=meter_ean,
        )
        self._period = period
        self._key = key
        self._attr_translation_key = value_translation_key(period, key, mandate.energy_type)
        self._attr_native_unit_of_measurement = key.stored_unit.native
        self._attr_device_class = key.stored_unit.device_class
        if key.register in REACTIVE:
            self._attr_entity_registry_enabled_default = False

    @property
    def _value(self) -> PeriodValue | None:
        snapshot = self.coordinator.data.get(self.ean) if self.coordinator.data else None
        if snapshot is None:
            return None
        values = snapshot.last_day if self._period == "last_day" else snapshot.last_interval
        return values.get(self._key)

    @property
    def available(self) -> bool:
        """Unavailable while the API refuses this EAN or its polls keep failing."""
        return super().available and self.coordinator.is_available(self.ean)

    @property
    def native_value(self) -> float | None:
        """The value of the period in the attributes."""
        value = self._value
        return None if value is None else value.value

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The period the value belongs to and its quality."""
        value = self._value
        if value is None:
            return None
        attributes: dict[str, Any] = {
            "period_start": value.start.isoformat(),
            "period_end": value.end.isoformat(),
            "validation_state": validation_state(value.validation_state),
        }
        if value.gas_conversion_factor is not None:
            attributes["gas_conversion_factor"] = value.gas_conversion_factor
        return attributes


def validation_state(raw: str | None) -> str | None:
    """The attribute's value: a translated state (``read``, ``estimated``...), or the raw one."""
    if raw is None:
        return None
    return VALIDATION_STATES.get(ValidationState.parse(raw), raw.casefold())


@dataclass(frozen=True, slots=True)
class EanView:
    """Everything a described sensor of one EAN may show, gathered in one place."""

    mandate: Mandate | None
    snapshot: EanSnapshot | None
    progress: float | None
    peaks: Mapping[MonthKey, MonthlyPeak]
    month: MonthKey
    tariff: Tariff | None
    fallback_quarter_hours: int


def ean_view(data: FluviusRuntimeData, ean: str) -> EanView:
    """The EAN's view now: mandate, last poll, import progress, peaks, month, tariff."""
    snapshots = data.energy.data or {}
    state = data.importer.states.get(ean)
    return EanView(
        mandate=data.mandates.data.by_ean.get(ean) if data.mandates.data else None,
        snapshot=snapshots.get(ean),
        progress=data.importer.states.progress(ean),
        peaks=data.peaks.peaks(ean),
        month=local_month(dt_util.utcnow()),
        tariff=data.importer.tariffs.of(ean),
        fallback_quarter_hours=0 if state is None else state.fallback_quarter_hours,
    )


@dataclass(frozen=True, kw_only=True)
class FluviusSensorDescription(SensorEntityDescription):
    """A sensor of an EAN computed from its view: mandate, data or peak facts."""

    value_fn: Callable[[EanView], Any]
    attributes_fn: Callable[[EanView], dict[str, Any]] | None = None
    gas_only: bool = False


def _of_mandate(fn: Callable[[Mandate], Any]) -> Callable[[EanView], Any]:
    """A mandate fact; None while the EAN has no mandate."""
    return lambda view: None if view.mandate is None else fn(view.mandate)


def data_period_end(end: datetime | None) -> str:
    """The last day with data (the API's end is exclusive), or ``open_ended``.

    A timestamp sensor can only say "Unknown" for a mandate without an end, which
    reads as missing data; this sensor says "Open-ended" (a translated state).
    """
    if end is None:
        return OPEN_ENDED
    return local_day(end - timedelta(microseconds=1)).isoformat()


def _of_snapshot(fn: Callable[[EanSnapshot], Any]) -> Callable[[EanView], Any]:
    """A fact of the last polls; None before the first one."""
    return lambda view: None if view.snapshot is None else fn(view.snapshot)


MANDATE_STATUS_OPTIONS: dict[object, str] = {
    MandateStatus.REQUESTED: "requested",
    MandateStatus.APPROVED: "approved",
    MandateStatus.REJECTED: "rejected",
    MandateStatus.FINISHED: "finished",
}
RENEWAL_STATUS_OPTIONS: dict[object, str] = {
    None: "not_due",
    RenewalStatus.TO_BE_RENEWED: "to_be_renewed",
    RenewalStatus.RENEWAL_REQUESTED: "renewal_requested",
    RenewalStatus.EXPIRED: "expired",
}
GRANULARITY_OPTIONS: dict[object, str] = {
    DataServiceType.DAILY: "daily",
    DataServiceType.QUARTER_HOURLY: "quarter_hourly",
}

MANDATE_SENSORS: tuple[FluviusSensorDescription, ...] = (
    FluviusSensorDescription(
        key="mandate_status",
        translation_key="mandate_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(MANDATE_STATUS_OPTIONS.values()),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: MANDATE_STATUS_OPTIONS.get(m.status)),
    ),
    FluviusSensorDescription(
        key="renewal_status",
        translation_key="renewal_status",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.ENUM,
        options=list(RENEWAL_STATUS_OPTIONS.values()),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: RENEWAL_STATUS_OPTIONS.get(m.renewal_status)),
    ),
    FluviusSensorDescription(
        key="mandate_expiration",
        translation_key="mandate_expiration",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: m.mandate_expiration_date),
    ),
    FluviusSensorDescription(
        key="data_period_start",
        translation_key="data_period_start",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: m.data_period_from),
    ),
    FluviusSensorDescription(
        key="data_period_end",
        translation_key="data_period_end",
        entity_registry_enabled_default=False,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: data_period_end(m.data_period_to)),
    ),
    FluviusSensorDescription(
        key="access_granularity",
        translation_key="access_granularity",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.ENUM,
        options=list(GRANULARITY_OPTIONS.values()),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_mandate(lambda m: GRANULARITY_OPTIONS.get(m.data_service_type)),
    ),
)


class _DescribedSensor(SensorEntity):
    """Value and attributes from the description's functions of the EAN's view."""

    entity_description: FluviusSensorDescription
    ean: str
    _data: FluviusRuntimeData

    @property
    def native_value(self) -> Any:
        """The description's value of the EAN's view."""
        return self.entity_description.value_fn(ean_view(self._data, self.ean))

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The description's attributes, if it has any."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(ean_view(self._data, self.ean))


class FluviusMandateSensor(FluviusMandateEntity, _DescribedSensor):
    """Mandate facts of one EAN (status, renewal, expiry, data period, granularity)."""

    def __init__(
        self, data: FluviusRuntimeData, ean: str, description: FluviusSensorDescription
    ) -> None:
        """Bind the description to the EAN's device."""
        device = main_device(
            data.importer.sites.site(ean),
            data.mandates.data.by_ean[ean],
            data.importer.states.meter_kind(ean),
        )
        super().__init__(data.mandates, ean, device, description.key)
        self.entity_description = description
        self._data = data


def _gcf(snapshot: EanSnapshot) -> str | None:
    factors = [
        v for v in snapshot.last_interval.values() if v.gas_conversion_factor is not None
    ] or [v for v in snapshot.last_day.values() if v.gas_conversion_factor is not None]
    if not factors:
        return None
    newest = max(factors, key=lambda v: v.start)
    return str(newest.gas_conversion_factor).casefold()


DATA_SENSORS: tuple[FluviusSensorDescription, ...] = (
    FluviusSensorDescription(
        key="newest_measurement",
        translation_key="newest_measurement",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_snapshot(lambda s: s.newest_measurement),
    ),
    FluviusSensorDescription(
        key="estimated_share",
        translation_key="estimated_share",
        entity_registry_enabled_default=False,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_of_snapshot(lambda s: s.estimated_share),
    ),
    FluviusSensorDescription(
        key="history_import",
        translation_key="history_import",
        native_unit_of_measurement=PERCENTAGE,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda view: view.progress,
    ),
    FluviusSensorDescription(
        key="gas_conversion_factor",
        translation_key="gas_conversion_factor",
        entity_category=EntityCategory.DIAGNOSTIC,
        device_class=SensorDeviceClass.ENUM,
        options=["p", "d", "c"],
        gas_only=True,
        value_fn=_of_snapshot(_gcf),
    ),
)


class FluviusDataSensor(FluviusEntity[FluviusEnergyCoordinator], _DescribedSensor):
    """Freshness, quality and import progress of one EAN's data."""

    def __init__(
        self,
        data: FluviusRuntimeData,
        ean: str,
        mandate: Mandate,
        description: FluviusSensorDescription,
    ) -> None:
        """Bind the description to the EAN's device."""
        device = main_device(
            data.importer.sites.site(ean), mandate, data.importer.states.meter_kind(ean)
        )
        super().__init__(data.energy, ean, device, description.key)
        self.entity_description = description
        self._data = data

    @property
    def available(self) -> bool:
        """Unavailable while the API refuses this EAN or its polls keep failing."""
        return super().available and self.coordinator.is_available(self.ean)


class PeakState(NamedTuple):
    """A peak sensor's value and attributes."""

    value: float | None
    attributes: dict[str, Any]


def _month_state(peaks: Mapping[MonthKey, MonthlyPeak], key: MonthKey) -> PeakState:
    """A month's peak with where it lies and whether the deck's validity rule holds."""
    peak = peaks.get(key)
    if peak is None or peak.peak_kw is None:
        return PeakState(None, {"month": month_id(key), "complete": False})
    return PeakState(
        peak.peak_kw,
        {
            "month": month_id(key),
            "peak_start": isoformat(peak.peak_start),
            "peak_end": isoformat(peak.peak_end),
            "complete": peak.valid,
            "missing_quarter_hours": peak.missing,
            "estimated_quarter_hours": peak.estimated,
            "estimated_share": round(100 * peak.estimated_share, 1),
        },
    )


def _rolling_state(
    peaks: Mapping[MonthKey, MonthlyPeak], current: MonthKey, minimum_kw: float | None
) -> PeakState:
    """The average of the last 12 monthly peaks, and which months it rests on."""
    average = rolling_average(list(peaks.values()), minimum_kw=minimum_kw, until=current)
    return PeakState(
        None if average.value_kw is None else round(average.value_kw, 3),
        {
            "months_used": [month_id(key) for key in average.months_used],
            "incomplete_months": [month_id(key) for key in average.incomplete_months],
            "missing_months": [month_id(key) for key in average.missing_months],
        },
    )


def _peak_description(
    key: str, state_fn: Callable[[Mapping[MonthKey, MonthlyPeak], MonthKey], PeakState]
) -> FluviusSensorDescription:
    """A capacity-tariff sensor: value and attributes from one peak state of the view."""
    return FluviusSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda view: state_fn(view.peaks, view.month).value,
        attributes_fn=lambda view: state_fn(view.peaks, view.month).attributes,
    )


PEAK_SENSORS: tuple[FluviusSensorDescription, ...] = (
    _peak_description("current_month_peak", _month_state),
    _peak_description(
        "previous_month_peak", lambda peaks, current: _month_state(peaks, shift_month(current, -1))
    ),
    _peak_description(
        "rolling_average_peak", lambda peaks, current: _rolling_state(peaks, current, None)
    ),
)
# The capacity tariff's 2.5 kW minimum is a low-voltage rule: digital meters only,
# not the AMR meters of high-voltage connections.
LOW_VOLTAGE_PEAK = _peak_description(
    "rolling_average_peak_minimum",
    lambda peaks, current: _rolling_state(peaks, current, LOW_VOLTAGE_MINIMUM_KW),
)


def _capacity(view: EanView) -> CapacityCost | None:
    """The capacity cost of the running month, when the tariff has a capacity rate."""
    rate = None if view.tariff is None else view.tariff.capacity_eur_per_kw_year
    if rate is None:
        return None
    peaks = {key: peak.peak_kw for key, peak in view.peaks.items()}
    return capacity_cost(peaks, view.month, rate)


def _capacity_attributes(view: EanView) -> dict[str, Any]:
    cost = _capacity(view)
    if cost is None:
        return {}
    return {
        "month": month_id(view.month),
        "average_peak_kw": None if cost.average_kw is None else round(cost.average_kw, 3),
        "months_used": {month_id(key): round(kw, 3) for key, kw in cost.peaks_kw.items()},
        "month_share": round(cost.share, 6),
        "yearly_rate": view.tariff.capacity_eur_per_kw_year if view.tariff else None,
    }


CAPACITY_TARIFF_SENSOR = FluviusSensorDescription(
    key="capacity_tariff_month",
    translation_key="capacity_tariff_month",
    device_class=SensorDeviceClass.MONETARY,
    native_unit_of_measurement="EUR",
    suggested_display_precision=2,
    value_fn=lambda view: None if (cost := _capacity(view)) is None else cost.eur,
    attributes_fn=_capacity_attributes,
)
FALLBACK_PRICE_SENSOR = FluviusSensorDescription(
    key="fallback_quarter_hours",
    translation_key="fallback_quarter_hours",
    entity_category=EntityCategory.DIAGNOSTIC,
    state_class=SensorStateClass.MEASUREMENT,
    value_fn=lambda view: view.fallback_quarter_hours,
)


class FluviusPeakSensor(FluviusEntity[FluviusEnergyCoordinator], _DescribedSensor):
    """Monthly peak power and its 12-month average, from the stored quarter-hours.

    Peaks rest on data already stored, so a failed poll of the whole account
    leaves them be; an EAN that is refused or keeps failing hides them too.
    """

    def __init__(
        self,
        data: FluviusRuntimeData,
        ean: str,
        mandate: Mandate,
        description: FluviusSensorDescription,
    ) -> None:
        """Bind the description to the EAN's device."""
        device = main_device(
            data.importer.sites.site(ean), mandate, data.importer.states.meter_kind(ean)
        )
        super().__init__(data.energy, ean, device, description.key)
        self.entity_description = description
        self._data = data

    @property
    def available(self) -> bool:
        """Available while quarter-hours of the EAN are kept and the EAN is."""
        return self.ean in self._data.peaks.eans and self.coordinator.is_available(self.ean)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FluviusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add entities per EAN now, and for new EANs and values as they appear."""
    data = entry.runtime_data
    # EAN -> what was added for it ("ean", "peaks", (period, value key)); an EAN that
    # left loses its device and entities, so it is forgotten and its return re-creates
    # them. Only what is new is built: polls update listeners many times an hour.
    known: dict[str, set[object]] = {}

    @callback
    def _add_new() -> None:
        by_ean = data.mandates.data.by_ean
        for gone in known.keys() - by_ean.keys():
            del known[gone]
        new: list[SensorEntity] = []
        for ean, mandate in by_ean.items():
            new += _new_entities(data, ean, mandate, known.setdefault(ean, set()))
        if new:
            async_add_entities(new)

    _add_new()
    entry.async_on_unload(data.mandates.async_add_listener(_add_new))
    entry.async_on_unload(data.energy.async_add_listener(_add_new))


def _new_peak_entities(
    data: FluviusRuntimeData, ean: str, mandate: Mandate, added: set[object]
) -> list[SensorEntity]:
    """The peak sensors, once quarter-hours are kept; the minimum once the kind is known."""
    if ean not in data.peaks.eans:
        return []
    new: list[SensorEntity] = []
    if "peaks" not in added:
        added.add("peaks")
        new += [FluviusPeakSensor(data, ean, mandate, d) for d in PEAK_SENSORS]
    tariff = data.importer.tariffs.of(ean)
    if "capacity" not in added:
        added.add("capacity")
        if tariff is not None and tariff.capacity_eur_per_kw_year is not None:
            new.append(FluviusPeakSensor(data, ean, mandate, CAPACITY_TARIFF_SENSOR))
        else:
            # A tariff changed or gone: what no longer applies leaves the registry.
            _async_forget_entity(data.energy.hass, f"{ean}_{CAPACITY_TARIFF_SENSOR.key}")
    kind = data.importer.states.meter_kind(ean)
    if kind is not None and "meter_kind" not in added:
        added.add("meter_kind")
        if kind == MeterKind.DIGITAL:
            new.append(FluviusPeakSensor(data, ean, mandate, LOW_VOLTAGE_PEAK))
        else:
            _async_forget_entity(data.energy.hass, f"{ean}_{LOW_VOLTAGE_PEAK.key}")
    return new


@callback
def _async_forget_entity(hass: HomeAssistant, unique_id: str) -> None:
    """Remove an entity that no longer applies (earlier versions created it for every meter)."""
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, unique_id)
    if entity_id is not None:
        registry.async_remove(entity_id)


def _new_entities(
    data: FluviusRuntimeData, ean: str, mandate: Mandate, added: set[object]
) -> list[SensorEntity]:
    """The EAN's entities not yet in ``added`` (which records them)."""
    new: list[SensorEntity] = []
    if "ean" not in added:
        added.add("ean")
        new += [FluviusMandateSensor(data, ean, d) for d in MANDATE_SENSORS]
        new += [
            FluviusDataSensor(data, ean, mandate, d)
            for d in DATA_SENSORS
            if not d.gas_only or mandate.energy_type == EnergyType.GAS
        ]
        tariff = data.importer.tariffs.of(ean)
        if tariff is not None and tariff.is_dynamic:
            new.append(FluviusDataSensor(data, ean, mandate, FALLBACK_PRICE_SENSOR))
        else:
            _async_forget_entity(data.energy.hass, f"{ean}_{FALLBACK_PRICE_SENSOR.key}")
    new += _new_peak_entities(data, ean, mandate, added)
    snapshot = data.energy.data.get(ean) if data.energy.data else None
    if snapshot is not None:
        for period, values in (
            ("last_day", snapshot.last_day),
            ("last_interval", snapshot.last_interval),
        ):
            for key in values:
                if (period, key) not in added:
                    added.add((period, key))
                    new.append(FluviusValueSensor(data.energy, ean, mandate, period, key))
    return new
