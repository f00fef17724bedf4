"""Binary sensor per EAN: the mandate needs attention (renewal, expiry, rejection)."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Mandate, MandateStatus, RenewalStatus
from .compat import BinarySensorDeviceClass
from .coordinator import FluviusMandatesCoordinator
from .entity import FluviusMandateEntity, main_device
from .meters import MeterKind
from .naming import Site
from .runtime import FluviusConfigEntry

PARALLEL_UPDATES = 0

ATTENTION_RENEWAL = frozenset(
    {RenewalStatus.TO_BE_RENEWED, RenewalStatus.RENEWAL_REQUESTED, RenewalStatus.EXPIRED}
)


def needs_attention(mandate: Mandate) -> bool:
    """ToBeRenewed, RenewalRequested, Expired or Rejected."""
    return mandate.renewal_status in ATTENTION_RENEWAL or mandate.status == MandateStatus.REJECTED


class FluviusMandateAttentionSensor(FluviusMandateEntity, BinarySensorEntity):
    """On when the EAN's mandate must be renewed or has ended."""

    _attr_device_class = BinarySensorDeviceClass.PROBLEM
    _attr_translation_key = "mandate_attention"

    def __init__(
        self, coordinator: FluviusMandatesCoordinator, site: Site, kind: MeterKind | None
    ) -> None:
        """One per EAN."""
        device = main_device(site, coordinator.data.by_ean[site.ean], kind)
        super().__init__(coordinator, site.ean, device, "mandate_attention")

    @property
    def is_on(self) -> bool | None:
        """Whether the mandate needs attention."""
        mandate = self.mandate
        return None if mandate is None else needs_attention(mandate)

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        """The raw statuses behind the state."""
        mandate = self.mandate
        if mandate is None:
            return {}
        return {
            "status": None if mandate.status is None else str(mandate.status),
            "renewal_status": None
            if mandate.renewal_status is None
            else str(mandate.renewal_status),
        }


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FluviusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One binary sensor per EAN, new EANs added as mandates appear."""
    mandates = entry.runtime_data.mandates
    importer = entry.runtime_data.importer
    known: set[str] = set()

    @callback
    def _add_new() -> None:
        # An EAN that left loses its device and entities: its return re-creates them.
        known.intersection_update(mandates.data.by_ean)
        new = [ean for ean in mandates.data.by_ean if ean not in known]
        known.update(new)
        if new:
            async_add_entities(
                FluviusMandateAttentionSensor(
                    mandates, importer.sites.site(ean), importer.states.meter_kind(ean)
                )
                for ean in new
            )

    _add_new()
    entry.async_on_unload(mandates.async_add_listener(_add_new))
