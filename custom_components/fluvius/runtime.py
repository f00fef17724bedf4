"""What a loaded config entry owns, and the entry's type that platforms and actions use."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .api import FluviusClient
from .coordinator import FluviusMandatesCoordinator
from .history import HistoryImport
from .importer import StatisticsImporter
from .limiter import RequestLimiter
from .peak_tracker import PeakTracker
from .polling import FluviusEnergyCoordinator


@dataclass(slots=True)
class FluviusRuntimeData:
    """Everything a loaded entry owns."""

    client: FluviusClient
    mandates: FluviusMandatesCoordinator
    energy: FluviusEnergyCoordinator
    importer: StatisticsImporter
    history: HistoryImport
    limiter: RequestLimiter
    peaks: PeakTracker
    # The site names the devices were set up with; a change reloads the entry.
    site_names: dict[str, str]


type FluviusConfigEntry = ConfigEntry[FluviusRuntimeData]
