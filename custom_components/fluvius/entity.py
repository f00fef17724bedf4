"""Base entity: one device per EAN, submeters as child devices."""

from __future__ import annotations

from typing import Any

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .api import Mandate, SubHeadpoint, SubHeadpointKind
from .const import DOMAIN
from .coordinator import FluviusMandatesCoordinator
from .devices import async_link_to_parent
from .meters import MeterKind, meter_model
from .naming import Site, short_ean

MANUFACTURER = "Fluvius"

# Device-name translation keys of submeters; other kinds get the neutral one.
SUBMETER_KEYS: dict[str, str] = {
    SubHeadpointKind.PRODUCTION: "production_submeter",
    SubHeadpointKind.AUXILIARY: "auxiliary_submeter",
    SubHeadpointKind.OFFTAKE: "offtake_submeter",
}
SUBMETER_KEY = "submeter"
DEVICE_KEYS = frozenset({"electricity", "gas", SUBMETER_KEY, *SUBMETER_KEYS.values()})


def main_device(site: Site, mandate: Mandate, kind: MeterKind | None) -> DeviceInfo:
    """The device of a main EAN, named after its site, or by kind and last digits.

    The default name comes from the ``device`` translations, e.g. "Electricity …123456".
    """
    device = DeviceInfo(
        identifiers={(DOMAIN, site.ean)},
        manufacturer=MANUFACTURER,
        model=meter_model(kind, mandate.energy_type),
        serial_number=site.ean,
    )
    if site.name:
        device["name"] = site.name
    else:
        device["translation_key"] = "gas" if site.gas else "electricity"
        device["translation_placeholders"] = {"short_ean": site.short}
    return device


def submeter_device(ean: str, sub: SubHeadpoint) -> DeviceInfo:
    """A submeter (production, auxiliary, offtake); FluviusEntity hangs it under its main EAN."""
    kind = str(sub.kind).removeprefix("submetering-").capitalize()
    installation = f" ({sub.installation_type})" if sub.installation_type else ""
    sub_ean = sub.ean or f"{ean}-{sub.seq_number}"
    return DeviceInfo(
        identifiers={(DOMAIN, sub_ean)},
        translation_key=SUBMETER_KEYS.get(sub.kind, SUBMETER_KEY),
        translation_placeholders={"short_ean": short_ean(sub_ean)},
        manufacturer=MANUFACTURER,
        model=f"{kind} submeter{installation}",
        serial_number=sub_ean,
    )


class FluviusEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """Common naming and availability of Fluvius entities."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        ean: str,
        device: DeviceInfo,
        key: str,
        *,
        id_ean: str | None = None,
    ) -> None:
        """Unique ids are EAN-based (``id_ean`` for a submeter), stable across credentials."""
        super().__init__(coordinator)
        self.ean = ean
        self._attr_device_info = device
        self._attr_unique_id = f"{id_ean or ean}_{key}"
        self._on_submeter = id_ean is not None and id_ean != ean

    async def async_added_to_hass(self) -> None:
        """A submeter's device is linked to its main EAN's device once both exist."""
        await super().async_added_to_hass()
        if self._on_submeter and self.device_entry is not None and self.platform.config_entry:
            async_link_to_parent(
                self.hass, self.platform.config_entry.entry_id, self.device_entry.id, self.ean
            )


class FluviusMandateEntity(FluviusEntity[FluviusMandatesCoordinator]):
    """An entity about an EAN's mandate: available while the EAN has one."""

    @property
    def available(self) -> bool:
        """Available while the EAN has a mandate."""
        return super().available and self.ean in self.coordinator.data.by_ean

    @property
    def mandate(self) -> Mandate | None:
        """The EAN's current mandate."""
        return self.coordinator.data.by_ean.get(self.ean)
