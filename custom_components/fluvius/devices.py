"""The entry's devices in the device registry, the same way on every supported HA version.

Home Assistant 2026.10 gives each config entry devices of its own (``config_entry_id``)
and deprecates ``DeviceInfo(via_device=...)``, ``async_get_device`` and removing a
device by removing one of its config entries. These helpers use only calls that both
2026.2 and 2026.10+ offer without a deprecation report.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .meters import MODELS, MeterKind


def device_ean(device: dr.DeviceEntry) -> str | None:
    """The EAN (or sub-EAN) a device of ours stands for."""
    return next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)


@callback
def async_entry_device(hass: HomeAssistant, entry_id: str, ean: str) -> dr.DeviceEntry | None:
    """The entry's device of an EAN or sub-EAN, if registered."""
    registry = dr.async_get(hass)
    return next(
        (
            device
            for device in dr.async_entries_for_config_entry(registry, entry_id)
            if (DOMAIN, ean) in device.identifiers
        ),
        None,
    )


@callback
def async_link_to_parent(
    hass: HomeAssistant, entry_id: str, device_id: str, parent_ean: str
) -> None:
    """Hang a submeter's device under its main EAN's device (``via_device_id``).

    Should the main device not be registered yet, it is created here with its
    identifier alone; the main EAN's entities fill in its name and model.
    """
    registry = dr.async_get(hass)
    parent = async_entry_device(hass, entry_id, parent_ean) or registry.async_get_or_create(
        config_entry_id=entry_id, identifiers={(DOMAIN, parent_ean)}
    )
    device = registry.async_get(device_id)
    if isinstance(device, dr.DeviceEntry) and device.via_device_id != parent.id:
        registry.async_update_device(device_id, via_device_id=parent.id)


@callback
def async_root_device(hass: HomeAssistant, device: dr.DeviceEntry) -> dr.DeviceEntry:
    """The main device a (sub)meter device hangs under, or the device itself."""
    registry = dr.async_get(hass)
    root = device
    seen = {root.id}
    while root.via_device_id is not None and root.via_device_id not in seen:
        parent = registry.async_get(root.via_device_id)
        if not isinstance(parent, dr.DeviceEntry):
            break
        seen.add(parent.id)
        root = parent
    return root


@callback
def async_remove_entry_device(hass: HomeAssistant, entry_id: str, device: dr.DeviceEntry) -> None:
    """Remove the entry's device; before per-entry devices, only the entry's claim on a shared one."""
    registry = dr.async_get(hass)
    # Before HA 2026.10 a device lists every entry it belongs to in ``config_entries``.
    if not hasattr(device, "config_entry_id") and len(getattr(device, "config_entries", ())) > 1:
        registry.async_update_device(device.id, remove_config_entry_id=entry_id)
        return
    registry.async_remove_device(device.id)


@callback
def async_update_meter_model(hass: HomeAssistant, entry_id: str, ean: str, kind: MeterKind) -> None:
    """Give an EAN's registered device the model of a newly observed meter kind.

    Entities pass their device info only when they are added, which may be before
    the first energy answer showed the kind.
    """
    device = async_entry_device(hass, entry_id, ean)
    if device is not None and device.model != MODELS[kind]:
        dr.async_get(hass).async_update_device(device.id, model=MODELS[kind])
