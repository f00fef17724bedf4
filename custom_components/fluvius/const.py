"""Constants of the Fluvius integration (Home Assistant side)."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "fluvius"
LOGGER = logging.getLogger(__package__)

# Config-flow field keys: a contract, other tooling drives the flow with them.
CONF_ENVIRONMENT: Final = "environment"
CONF_TENANT_ID: Final = "tenant_id"
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"  # noqa: S105 - a field key
CONF_SCOPE: Final = "scope"
CONF_SUBSCRIPTION_KEY: Final = "subscription_key"
CONF_BASE_URL: Final = "base_url"
CONF_TOKEN_URL: Final = "token_url"  # noqa: S105 - a field key

ENVIRONMENT_LIVE: Final = "live"
ENVIRONMENT_SANDBOX: Final = "sandbox"
ENVIRONMENT_CUSTOM: Final = "custom"
ENVIRONMENTS: Final = (ENVIRONMENT_LIVE, ENVIRONMENT_SANDBOX, ENVIRONMENT_CUSTOM)

# Options.
CONF_HISTORY_MONTHS: Final = "history_months"
CONF_IMPORT_REACTIVE: Final = "import_reactive"
CONF_CORRECTION_DAYS: Final = "correction_days"
DEFAULT_HISTORY_MONTHS: Final = 36
MIN_HISTORY_MONTHS: Final = 1
MAX_HISTORY_MONTHS: Final = 36
DEFAULT_CORRECTION_DAYS: Final = 4
# Energy calls per hour per entry, polls and history import together.
CONF_REQUEST_BUDGET: Final = "request_budget"
DEFAULT_REQUEST_BUDGET: Final = 720
MIN_REQUEST_BUDGET: Final = 60
MAX_REQUEST_BUDGET: Final = 3600
MIN_CORRECTION_DAYS: Final = 4
MAX_CORRECTION_DAYS: Final = 31
# A name per main EAN ("Town hall"), EAN -> name: devices and statistics are named by it.
CONF_SITE_NAMES: Final = "site_names"

# Polling: data arrives once a day, 1 to 72 hours late; mandates change rarely.
# Every EAN is polled once per interval, at its own minute; the coordinator ticks in between.
ENERGY_UPDATE_INTERVAL: Final = timedelta(hours=1)
POLL_TICK: Final = timedelta(minutes=5)
# An EAN whose polls keep failing turns unavailable after this many in a row.
UNAVAILABLE_AFTER_FAILURES: Final = 3
MANDATES_UPDATE_INTERVAL: Final = timedelta(hours=4)
# insertTime windows overlap the previous poll by this much, so nothing slips between.
INSERT_TIME_OVERLAP: Final = timedelta(hours=2)
# At most this many EANs are fetched at the same time.
MAX_CONCURRENT_REQUESTS: Final = 3

# A mandate expiring within this period raises a repair issue.
EXPIRY_WARNING: Final = timedelta(days=90)
RENEWAL_URL: Final = "https://mijn.fluvius.be/verbruik/netgebruiker/api-beheer"

# Event fired when the current month's peak rises (a contract for automations).
EVENT_NEW_MONTHLY_PEAK: Final = "fluvius_new_monthly_peak"

# Action names (a contract).
SERVICE_CREATE_MOCK_MANDATE: Final = "create_mock_mandate"
SERVICE_IMPORT_HISTORY: Final = "import_history"
SERVICE_CLEAR_STATISTICS: Final = "clear_statistics"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_EAN: Final = "ean"
ATTR_FROM: Final = "from"
