"""A local simulator of the Fluvius metering-data API sandbox, for tests and development.

It depends only on aiohttp, orjson and the standard library, so it can run
without Home Assistant.
"""

from __future__ import annotations

from .app import BlockInfo, FluviusSimulator, RecordedRequest, TruthRecord
from .credentials import DEFAULT_CREDENTIALS, SimulatorCredentials
from .demo import DEMO_MANDATES, DEMO_SITE_NAMES, DemoMandate, install_demo
from .eans import MeterSpec
from .errors import ApiError, ValidationError
from .faults import Fault, FaultList
from .mandates import Mandate

__all__ = [
    "DEFAULT_CREDENTIALS",
    "DEMO_MANDATES",
    "DEMO_SITE_NAMES",
    "ApiError",
    "BlockInfo",
    "DemoMandate",
    "Fault",
    "FaultList",
    "FluviusSimulator",
    "Mandate",
    "MeterSpec",
    "RecordedRequest",
    "SimulatorCredentials",
    "TruthRecord",
    "ValidationError",
    "install_demo",
]
