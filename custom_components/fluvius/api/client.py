"""Async client of the Fluvius metering-data API for professional grid users.

All HTTP goes through :meth:`FluviusClient._request`, which adds the headers,
refreshes the token once on 401, retries transient failures and maps every
other status to the exception hierarchy in :mod:`.exceptions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging

import aiohttp
import msgspec

from .auth import TokenProvider
from .const import (
    DATETIME_FORMAT,
    HEADER_SUBSCRIPTION_KEY,
    MAX_WINDOW,
    PATH_ENERGY,
    PATH_MANDATES,
    PATH_MOCK_MANDATE,
    SANDBOX_BASE_URL,
)
from .decoder import parse_energy, parse_error, parse_mandates, parse_mock_mandate
from .enums import (
    ComplexEnergyType,
    DataServiceType,
    EnergyType,
    Granularity,
    MandateStatus,
    PeriodType,
    RenewalStatus,
)
from .exceptions import (
    FluviusAuthenticationError,
    FluviusBadRequestError,
    FluviusForbiddenError,
    FluviusNoAccessError,
    FluviusResponseError,
    FluviusServerError,
)
from .merge import merge_energy_responses
from .models import EnergyResponse, Mandate, MockMandate
from .transport import QueryParams, RetryPolicy, Sleep, Transport

_LOGGER = logging.getLogger(__name__)

# Energy bodies from this size on are decoded through ``run_in_executor`` when given:
# decoding a 185-day quarter-hour body (4 MB) holds the GIL for tens of milliseconds.
OFFLOAD_PARSE_BYTES = 256 * 1024

type ParseJob = Callable[[Callable[[bytes], EnergyResponse], bytes], Awaitable[EnergyResponse]]


@dataclass(frozen=True, slots=True)
class Credentials:
    """One environment's API credentials, as Fluvius hands them out."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    subscription_key: str = field(repr=False)


def format_datetime(value: datetime) -> str:
    """Format an aware datetime the way the API expects (UTC, ``...Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC or with a zone)")
    return value.astimezone(UTC).strftime(DATETIME_FORMAT)


def split_windows(
    start: datetime, end: datetime, max_window: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into consecutive windows of at most ``max_window``, oldest first."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime: pass aware datetimes (UTC or with a zone)")
    if end <= start:
        raise ValueError("end must be after start")
    if max_window <= timedelta(0):
        raise ValueError("max_window must be positive")
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    windows = []
    while start < end:
        stop = min(start + max_window, end)
        windows.append((start, stop))
        start = stop
    return windows


def _values(value: object) -> list[str]:
    """Return a multi-value parameter as a list; a lone string is one value."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(item) for item in value]
    return [str(value)]


class FluviusClient:
    """Reads mandates and energy data; the aiohttp session is the caller's."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        base_url: str = SANDBOX_BASE_URL,
        token_url: str | None = None,
        request_timeout: float = 60,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        run_in_executor: ParseJob | None = None,
    ) -> None:
        """Configure endpoints and retry behaviour; nothing is sent yet.

        ``run_in_executor(func, body)`` (e.g. ``hass.async_add_executor_job``)
        keeps the decoding of large energy bodies off the event loop.
        """
        self._base_url = base_url.rstrip("/")
        self._run_in_executor = run_in_executor
        self._subscription_key = credentials.subscription_key
        self._transport = Transport(
            session,
            request_timeout=request_timeout,
            policy=RetryPolicy(
                max_retries=max(max_retries, 0),
                backoff_base=backoff_base,
                backoff_max=backoff_max,
            ),
            sleep=sleep,
        )
        self._tokens = TokenProvider(
            session,
            tenant_id=credentials.tenant_id,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            scope=credentials.scope,
            token_url=token_url,
            transport=self._transport,
        )
        self._secrets = tuple(
            secret for secret in (credentials.client_secret, credentials.subscription_key) if secret
        )

    def __repr__(self) -> str:
        """Name the endpoint, never the credentials."""
        return f"FluviusClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        """The API base URL in use."""
        return self._base_url

    @property
    def token_provider(self) -> TokenProvider:
        """The token cache, e.g. to invalidate it after credentials change."""
        return self._tokens

    # --- public operations -----------------------------------------------------

    async def get_mandates(
        self,
        *,
        reference_number: str | None = None,
        status: MandateStatus | str | None = None,
        ean: str | None = None,
        energy_type: EnergyType | str | None = None,
        data_service_types: Iterable[DataServiceType | str] = (),
        mandate_expiration_date: datetime | None = None,
        renewal_status: RenewalStatus | str | None = None,
        last_updated_from: datetime | None = None,
        last_updated_to: datetime | None = None,
    ) -> list[Mandate]:
        """List the accesses (mandates), filtered by any of the optional criteria."""
        params: list[tuple[str, str]] = []
        for name, value in (
            ("referenceNumber", reference_number),
            ("status", status),
            ("ean", ean),
            ("energyType", energy_type),
        ):
            if value is not None:
                params.append((name, str(value)))
        params.extend(("dataServiceTypes", value) for value in _values(data_service_types))
        if mandate_expiration_date is not None:
            params.append(("mandateExpirationDate", format_datetime(mandate_expiration_date)))
        if renewal_status is not None:
            params.append(("renewalStatus", str(renewal_status)))
        if last_updated_from is not None:
            params.append(("lastUpdatedFrom", format_datetime(last_updated_from)))
        if last_updated_to is not None:
            params.append(("lastUpdatedTo", format_datetime(last_updated_to)))
        body = await self._request("GET", PATH_MANDATES, params=params)
        return parse_mandates(body)

    async def get_energy(
        self,
        ean: str,
        *,
        start: datetime,
        end: datetime,
        period_type: PeriodType | str = PeriodType.READ_TIME,
        granularity: Iterable[Granularity | str] = (),
        complex_energy_types: Iterable[ComplexEnergyType | str] = (),
    ) -> EnergyResponse:
        """Fetch [start, end) and decode it; longer than 185 days, window by window.

        Windows come from :func:`split_windows`, oldest first, and are merged
        into one response. Omitting ``granularity`` asks for every granularity
        the access allows; ``complex_energy_types`` matters for AMR electricity only.
        """
        fixed = [("ean", ean), ("periodType", str(period_type))]
        filters = [("granularity", value) for value in _values(granularity)]
        filters.extend(("complexEnergyTypes", value) for value in _values(complex_energy_types))
        responses = []
        for window_start, window_end in split_windows(start, end):
            window = [("from", format_datetime(window_start)), ("to", format_datetime(window_end))]
            responses.append(await self._get_energy_window([*fixed, *window, *filters]))
        return merge_energy_responses(responses)

    async def _get_energy_window(self, query: list[tuple[str, str]]) -> EnergyResponse:
        """One GET energy call, decoded in the executor when the body is large."""
        body = await self._request("GET", PATH_ENERGY, params=query)
        if self._run_in_executor is not None and len(body) >= OFFLOAD_PARSE_BYTES:
            return await self._run_in_executor(parse_energy, body)
        return parse_energy(body)

    async def create_mock_mandate(self, mock: MockMandate) -> str:
        """Create a fictitious access in the sandbox; returns the reported status."""
        payload: dict[str, str] = {"status": str(mock.status), "ean": mock.ean}
        for name, value in (
            ("referenceNumber", mock.reference_number),
            ("energyType", mock.energy_type),
            ("dataServiceType", mock.data_service_type),
            ("renewalStatus", mock.renewal_status),
        ):
            if value is not None:
                payload[name] = str(value)
        for name, moment in (
            ("dataPeriodFrom", mock.data_period_from),
            ("dataPeriodTo", mock.data_period_to),
            ("mandateExpirationDate", mock.mandate_expiration_date),
        ):
            if moment is not None:
                payload[name] = format_datetime(moment)
        body = await self._request(
            "POST", PATH_MOCK_MANDATE, json_body=msgspec.json.encode(payload)
        )
        return parse_mock_mandate(body)

    # --- the one place that talks HTTP -----------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json_body: bytes | None = None,
    ) -> bytes:
        """Send one API request and return the 2xx body, or raise a Fluvius error."""
        label = f"{method} {path}"
        url = self._base_url + path
        refreshed = False
        # Every token sent: a 401 answer may echo the one it refused.
        sent: list[str] = []
        while True:
            token = await self._tokens.token()
            sent.append(token)
            headers = {
                "Authorization": f"Bearer {token}",
                HEADER_SUBSCRIPTION_KEY: self._subscription_key,
                "Accept": "application/json",
            }
            if json_body is not None:
                headers["Content-Type"] = "application/json"
            result = await self._transport.send(
                method, url, label=label, headers=headers, params=params, data=json_body
            )
            status = result.status
            if 200 <= status < 300:
                return result.body
            if status == 401:
                self._tokens.invalidate(token)
                if not refreshed:
                    _LOGGER.debug("%s -> 401, retrying once with a new token", label)
                    refreshed = True
                    continue
            raise self._error(label, status, result.body, tuple(sent))

    def _error(self, label: str, status: int, body: bytes, tokens: tuple[str, ...]) -> Exception:
        """Map a non-2xx, non-retried answer to the matching exception."""
        code, message, validation = parse_error(body)
        detail = self._redact(": ".join(part for part in (code, message) if part), tokens)
        suffix = f" ({detail})" if detail else ""
        if status == 400:
            messages = tuple(self._redact(item, tokens) for item in validation)
            listed = f": {'; '.join(messages)}" if messages else ""
            return FluviusBadRequestError(
                f"{label}: bad request (HTTP 400){suffix}{listed}", validation_messages=messages
            )
        if status == 401:
            return FluviusAuthenticationError(
                f"{label}: the API rejected a fresh token (HTTP 401){suffix}; "
                "check the client credentials and the subscription key"
            )
        if status == 403:
            return FluviusForbiddenError(
                f"{label}: forbidden (HTTP 403){suffix}: no access to this data, or the "
                "request came from outside the EEA/UK (geoblocking)"
            )
        if status == 404:
            return FluviusNoAccessError(
                f"{label}: no valid access (HTTP 404){suffix} for this EAN, period or granularity"
            )
        if status >= 500:
            return FluviusServerError(f"{label}: server error (HTTP {status}){suffix}", status)
        return FluviusResponseError(f"{label}: unexpected HTTP {status}{suffix}")

    def _redact(self, text: str, tokens: tuple[str, ...]) -> str:
        """Remove secrets and the tokens from server-supplied text, should it echo them."""
        for secret in (*self._secrets, *tokens):
            text = text.replace(secret, "***")
        return text
