"""HTTP sending with bounded retries, shared by the token and the API requests.

Transient failures (429, 500/502/503/504, timeouts, dropped connections) are
retried with exponential backoff and jitter, honouring ``Retry-After``. Every
other answer is handed back to the caller, which maps it to an exception.
Nothing here logs or formats headers or bodies: they may hold secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import logging
import math
import random

import aiohttp

from .exceptions import (
    FluviusConnectionError,
    FluviusError,
    FluviusRateLimitError,
    FluviusServerError,
)

_LOGGER = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Failures of the connection itself: worth another try, never the caller's fault.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    ConnectionError,
)

type Sleep = Callable[[float], Awaitable[object]]
type QueryParams = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpResult:
    """A completed HTTP exchange whose status was not retried (or no longer)."""

    status: int
    body: bytes


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the delay a ``Retry-After`` header asks for, in seconds, or None.

    The header is either delta-seconds or an HTTP date; a date in the past
    means "now" (0 s). Anything unreadable is ignored.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    reference = now if now is not None else datetime.now(UTC)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - reference).total_seconds(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure."""

    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based).

        ``Retry-After`` wins when present (capped at ``backoff_max``); otherwise
        exponential backoff with "equal jitter": between half and all of
        ``backoff_base * 2**attempt``, capped at ``backoff_max``.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        if ceiling <= 0:
            return 0.0
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


class Transport:
    """Sends one logical request, retrying transient failures within a budget."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        request_timeout: float = 60,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Use the caller's session; it is never closed here."""
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep

    async def send(
        self,
        method: str,
        url: str,
        *,
        label: str,
        headers: Mapping[str, str],
        params: QueryParams | None = None,
        data: bytes | Mapping[str, str] | None = None,
    ) -> HttpResult:
        """Send until a non-transient answer arrives or the retries run out.

        ``label`` names the request in logs and messages (e.g. ``GET /api/mandate``)
        because the URL, headers and body are not safe or useful to show.
        """
        policy = self.policy
        attempt = 0
        while True:
            try:
                result, retry_header = await self._attempt(
                    method, url, headers=headers, params=params, data=data
                )
            except TRANSPORT_ERRORS as err:
                reason = type(err).__name__
                _LOGGER.debug("%s failed: %s (attempt %d)", label, reason, attempt + 1)
                if attempt >= policy.max_retries:
                    raise FluviusConnectionError(
                        f"{label}: connection failed after {attempt + 1} attempts ({reason})"
                    ) from err
                await self._sleep(policy.delay(attempt))
                attempt += 1
                continue
            _LOGGER.debug("%s -> %d (attempt %d)", label, result.status, attempt + 1)
            if result.status not in RETRY_STATUSES:
                return result
            retry_after = parse_retry_after(retry_header)
            if attempt >= policy.max_retries:
                raise _gave_up(label, result.status, attempt + 1, retry_after)
            await self._sleep(policy.delay(attempt, retry_after))
            attempt += 1

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: QueryParams | None,
        data: bytes | Mapping[str, str] | None,
    ) -> tuple[HttpResult, str | None]:
        """One request: the answer and its Retry-After header."""
        async with self._session.request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            timeout=self._timeout,
            raise_for_status=False,
        ) as response:
            body = await response.read()
            return HttpResult(response.status, body), response.headers.get("Retry-After")


def _gave_up(label: str, status: int, attempts: int, retry_after: float | None) -> FluviusError:
    """The error of a request still rate limited or failing after its last retry."""
    if status == 429:
        return FluviusRateLimitError(
            f"{label}: rate limited (HTTP 429) after {attempts} attempts",
            retry_after=retry_after,
        )
    return FluviusServerError(
        f"{label}: server error (HTTP {status}) after {attempts} attempts", status=status
    )
