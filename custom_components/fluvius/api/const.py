"""Endpoints, header names and limits of the Fluvius API, kept in one place.

Several of these are inferred from the ESCO sibling API (see the project's API
reference); they live here so a correction touches one file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# Base URLs. The professional sandbox URL comes from its Swagger page; the live
# one is not published and follows the sandbox's naming (configurable anyway).
SANDBOX_BASE_URL: Final = "https://api.fluvius.be/ext/mijnfluvius-profnetgebruiker-sbx/v1"
LIVE_BASE_URL: Final = "https://api.fluvius.be/ext/mijnfluvius-profnetgebruiker/v1"

TOKEN_URL_TEMPLATE: Final = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"  # noqa: S105

PATH_MANDATES: Final = "/api/mandate"
PATH_ENERGY: Final = "/api/mandate/energy"
PATH_MOCK_MANDATE: Final = "/api/mandate/mock"

HEADER_SUBSCRIPTION_KEY: Final = "Ocp-Apim-Subscription-Key"

# Tokens live at most one hour; refresh this long before they expire.
TOKEN_MAX_LIFETIME: Final = timedelta(hours=1)
TOKEN_REFRESH_MARGIN: Final = timedelta(seconds=60)

# GET energy accepts at most 185 days per call and reaches 3 years back.
MAX_WINDOW: Final = timedelta(days=185)
MAX_HISTORY: Final = timedelta(days=3 * 365)

# Datetime format for every query parameter and request body field.
DATETIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
