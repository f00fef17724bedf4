"""Names that moved between the Home Assistant versions this integration supports.

At run time the old import paths work on every supported version: HA 2026.10 aliases
``voluptuous`` to its successor ``probatio`` and still re-exports the binary sensor
device classes. Only the type checker needs the new paths, and it picks them by Python
version, because HA 2026.10+ runs on Python 3.14 and HA 2026.2 on Python 3.13.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING and sys.version_info >= (3, 14):
    from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
    import probatio as vol
else:
    from homeassistant.components.binary_sensor import BinarySensorDeviceClass
    import voluptuous as vol

__all__ = ["BinarySensorDeviceClass", "vol"]
