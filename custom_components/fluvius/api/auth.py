"""OAuth2 client-credentials tokens for the Fluvius API, cached and shared.

Tokens are reused until shortly before they expire (never longer than an hour),
concurrent callers wait for one token request, and a 401 from the API drops the
cached token via :meth:`TokenProvider.invalidate`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import re
import time

import aiohttp

from .const import TOKEN_MAX_LIFETIME, TOKEN_REFRESH_MARGIN, TOKEN_URL_TEMPLATE
from .decoder import parse_error, parse_token
from .exceptions import FluviusError, FluviusResponseError, FluviusTokenError
from .transport import Transport

_LOGGER = logging.getLogger(__name__)

_LABEL = "POST token"
# OAuth 2.0 (RFC 6749 §5.2) answers a refused token request with 400 or 401.
OAUTH_ERROR_STATUSES = frozenset({400, 401})
# Entra ID prefixes its error descriptions with the error number.
_AADSTS = re.compile(r"AADSTS(\d+)")


class TokenProvider:
    """Fetches and caches bearer tokens with the client-credentials grant."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        token_url: str | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the token URL from the tenant unless one is given."""
        self._transport = transport if transport is not None else Transport(session)
        self._token_url = token_url or TOKEN_URL_TEMPLATE.format(tenant_id=tenant_id)
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        """Show which client this is for, never its secret or token."""
        return f"TokenProvider(client_id={self._client_id!r}, token_url={self._token_url!r})"

    @property
    def token_url(self) -> str:
        """The token endpoint in use."""
        return self._token_url

    def _cached(self) -> str | None:
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        return None

    async def token(self) -> str:
        """Return a valid access token, requesting one if none is cached."""
        token = self._cached()
        if token is not None:
            return token
        async with self._lock:
            token = self._cached()
            if token is not None:
                return token
            token, expires_in = await self._request()
            lifetime = min(expires_in, TOKEN_MAX_LIFETIME.total_seconds())
            lifetime -= min(TOKEN_REFRESH_MARGIN.total_seconds(), lifetime / 2)
            self._token = token
            self._expires_at = self._clock() + max(lifetime, 0.0)
            return token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is ``token``, when given).

        Passing the token that got the 401 lets several concurrent failures
        cause one refresh instead of discarding each other's new tokens.
        """
        if token is None or token == self._token:
            self._token = None
            self._expires_at = 0.0

    async def _request(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "scope": self._scope,
        }
        result = await self._transport.send(
            "POST",
            self._token_url,
            label=_LABEL,
            headers={"Accept": "application/json"},
            data=form,
        )
        if 200 <= result.status < 300:
            try:
                return parse_token(result.body)
            except FluviusResponseError as err:
                raise FluviusResponseError(self._redact(str(err))) from None
        raise self._refusal(result.status, result.body)

    def _refusal(self, status: int, body: bytes) -> FluviusError:
        """A credentials refusal (an OAuth error answer), or an endpoint that is none."""
        code, message, _ = parse_error(body)
        detail = ": ".join(part for part in (code, message) if part)
        _LOGGER.debug("%s rejected with HTTP %d", _LABEL, status)
        if status not in OAUTH_ERROR_STATUSES or code is None:
            # No OAuth answer: the URL is not a token endpoint (new credentials won't help).
            suffix = f": {detail}" if detail else ""
            return FluviusResponseError(
                self._redact(f"token endpoint answered HTTP {status}, not OAuth 2.0{suffix}")
            )
        found = _AADSTS.search(message or "")
        return FluviusTokenError(
            self._redact(f"token request rejected (HTTP {status}): {detail}"),
            oauth_error=code,
            aadsts=int(found.group(1)) if found else None,
        )

    def _redact(self, text: str) -> str:
        """Remove the secret from server-supplied text, should it ever echo it."""
        if self._client_secret:
            text = text.replace(self._client_secret, "***")
        return text
