"""The one exception hierarchy of the Fluvius client.

Messages never contain secrets or tokens: they are built from status codes,
paths and the server's own validation texts only.
"""

from __future__ import annotations


class FluviusError(Exception):
    """Base class of every error the client raises."""


class FluviusConnectionError(FluviusError):
    """The API could not be reached (DNS, refused, reset, timeout) after retries."""


class FluviusAuthenticationError(FluviusError):
    """The token endpoint refused the credentials, or the API kept answering 401."""


class FluviusTokenError(FluviusAuthenticationError):
    """The token endpoint refused the credentials (OAuth 2.0 error answer).

    ``oauth_error`` is the OAuth error code (``invalid_client``, ``invalid_scope``...)
    and ``aadsts`` the Entra ID error number, which tells a wrong tenant (90002)
    or client id (700016) from a wrong or expired secret (7000215, 7000222).
    """

    def __init__(
        self, message: str, *, oauth_error: str | None = None, aadsts: int | None = None
    ) -> None:
        """Keep what the endpoint said was wrong, for a form to point at the field."""
        super().__init__(message)
        self.oauth_error = oauth_error
        self.aadsts = aadsts


class FluviusForbiddenError(FluviusError):
    """HTTP 403: no right to this data, or the request came from outside the EEA/UK."""


class FluviusNoAccessError(FluviusError):
    """HTTP 404: no valid access (mandate) for this EAN, period or granularity."""


class FluviusBadRequestError(FluviusError):
    """HTTP 400: the server rejected the parameters; carries its validation messages."""

    def __init__(self, message: str, validation_messages: tuple[str, ...] = ()) -> None:
        """Keep the server's validation messages for callers and logs."""
        super().__init__(message)
        self.validation_messages = validation_messages


class FluviusRateLimitError(FluviusError):
    """HTTP 429 persisted after the bounded retries."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Keep the last Retry-After so callers can schedule the next attempt."""
        super().__init__(message)
        self.retry_after = retry_after


class FluviusServerError(FluviusError):
    """HTTP 5xx persisted after the bounded retries."""

    def __init__(self, message: str, status: int) -> None:
        """Keep the status code for diagnostics."""
        super().__init__(message)
        self.status = status


class FluviusResponseError(FluviusError):
    """The body was not the documented JSON; the message names what was missing."""
