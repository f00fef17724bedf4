"""Client credentials the simulator accepts; the defaults are obviously fake."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimulatorCredentials:
    """What Fluvius hands out when the API is activated, per environment."""

    tenant_id: str
    client_id: str
    client_secret: str
    scope: str
    subscription_key: str


DEFAULT_TENANT_ID = "simulator-tenant"
DEFAULT_CLIENT_ID = "simulator-client"
DEFAULT_CLIENT_SECRET = "simulator-secret"  # noqa: S105 - a fake secret by design
DEFAULT_SCOPE = "api://fluvius-simulator/.default"
DEFAULT_SUBSCRIPTION_KEY = "simulator-subscription-key"

DEFAULT_CREDENTIALS = SimulatorCredentials(
    tenant_id=DEFAULT_TENANT_ID,
    client_id=DEFAULT_CLIENT_ID,
    client_secret=DEFAULT_CLIENT_SECRET,
    scope=DEFAULT_SCOPE,
    subscription_key=DEFAULT_SUBSCRIPTION_KEY,
)
