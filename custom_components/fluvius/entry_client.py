"""The API client of a config entry: its environment's URLs and its credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import ClientSession

from .api import LIVE_BASE_URL, SANDBOX_BASE_URL, Credentials, FluviusClient
from .const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENT_SANDBOX,
)

# Retries of one call: exponential backoff from this many seconds (429/5xx/timeouts).
RETRY_BACKOFF_BASE = 2.0


def base_url_for(data: Mapping[str, Any]) -> str:
    """The API base URL of the entry's environment."""
    environment = data[CONF_ENVIRONMENT]
    if environment == ENVIRONMENT_CUSTOM:
        return str(data[CONF_BASE_URL]).rstrip("/")
    if environment == ENVIRONMENT_SANDBOX:
        return SANDBOX_BASE_URL
    return LIVE_BASE_URL


def client_for_entry(
    session: ClientSession, data: Mapping[str, Any], **kwargs: Any
) -> FluviusClient:
    """A client for the entry's environment and credentials."""
    credentials = Credentials(
        tenant_id=data[CONF_TENANT_ID],
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        scope=data[CONF_SCOPE],
        subscription_key=data[CONF_SUBSCRIPTION_KEY],
    )
    token_url = data.get(CONF_TOKEN_URL) if data[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM else None
    kwargs.setdefault("backoff_base", RETRY_BACKOFF_BASE)
    return FluviusClient(
        session, credentials, base_url=base_url_for(data), token_url=token_url, **kwargs
    )
