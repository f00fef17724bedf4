"""The simulator: an aiohttp app that behaves like the Fluvius sandbox, plus its Python control API.

Tests drive it through the Python API (mandates, clock, credentials, faults, truth).

Routing goes through one catch-all handler so paths match case-insensitively, as
the ASP.NET backend and Entra ID do, and so every request can be recorded and
subjected to faults in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
import re
import secrets
from typing import NamedTuple

from aiohttp import web
import orjson

from .credentials import DEFAULT_CREDENTIALS, SimulatorCredentials
from .data import DAILY, FINE, GRANULARITIES, MeterData
from .eans import Meter, MeterSpec, parse_mock_ean
from .energy import COMPLEX_ENERGY_TYPES, MAX_SPAN, PERIOD_TYPES, Selection, headpoint, select
from .errors import (
    ApiError,
    ValidationError,
    gateway_error,
    json_response,
    no_valid_access,
    oauth_error,
)
from .faults import TOKEN_PATH, Fault, FaultList
from .mandates import (
    RENEWAL_STATUSES,
    STATUSES,
    Mandate,
    build_mandate,
    canonical,
    filter_mandates,
    mandate_from_body,
)
from .timeutil import (
    format_utc,
    history_limit,
    parse_utc,
    to_ts,
    ts_to_datetime,
)

SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"
PATH_MANDATES = "/api/mandate"
PATH_ENERGY = "/api/mandate/energy"
PATH_MOCK = "/api/mandate/mock"
CONTROL_PREFIX = "/_simulator"

_TOKEN_PATH_RE = re.compile(r"/([^/]+)/oauth2/v2\.0/token")
# Query parameters that take several values, repeated or comma-separated.
_MULTI_VALUE = frozenset({"dataservicetypes", "granularity", "complexenergytypes"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], datetime]


class RecordedRequest(NamedTuple):
    """One request as the simulator saw it, timed by the simulator clock on arrival.

    Status 0 means the connection was dropped (a `reset` fault or a client that left).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    time: datetime


class TruthRecord(NamedTuple):
    """One value the API would return for a readTime query, flattened."""

    sub_ean: str | None
    direction: str
    register: str
    unit: str
    start: datetime
    end: datetime
    value: float
    validation_state: str
    gcf: str | None


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """Arrival schedule of one block (a local day, or a gas day 06:00-06:00)."""

    day: date
    start: datetime
    end: datetime
    arrival: datetime
    correction_arrival: datetime | None  # second, corrected version
    gcf_definitive_at: datetime | None  # gas: kWh switch from P to D


class _DropConnectionError(Exception):
    """Raised to end a request by closing its connection."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FluviusSimulator:
    """A local stand-in for the Fluvius professional API sandbox and its token endpoint."""

    def __init__(
        self,
        credentials: SimulatorCredentials = DEFAULT_CREDENTIALS,
        clock: Clock | None = None,
        token_lifetime: int = 3600,
    ) -> None:
        self.credentials = credentials
        self.clock: Clock = clock or _utc_now
        self.token_lifetime = token_lifetime
        self.faults = FaultList()
        self.requests: list[RecordedRequest] = []
        self.max_concurrent = 0
        self.in_flight = 0
        self.base_url: str | None = None
        self.revoked = False
        self._tokens: dict[str, datetime] = {}
        self._mandates: dict[str, Mandate] = {}
        self._meters: dict[str, MeterData] = {}
        # Live-style EANs: their digits do not tell the meter, the spec they came with does.
        self._live: dict[str, Meter] = {}
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def token_url(self) -> str:
        """Token endpoint URL for the current tenant."""
        if self.base_url is None:
            raise RuntimeError("simulator not started")
        return f"{self.base_url}/{self.credentials.tenant_id}/oauth2/v2.0/token"

    def now(self) -> datetime:
        """The injected clock's current time (must be timezone-aware)."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the simulator clock must return timezone-aware datetimes")
        return now

    # --------------------------------------------------------------- credentials

    def revoke_credentials(self) -> None:
        """Reject the client at the token endpoint and every token issued so far."""
        self.revoked = True
        self._tokens.clear()

    def restore_credentials(self) -> None:
        """Accept the client again (previously issued tokens stay invalid)."""
        self.revoked = False

    def set_credentials(self, credentials: SimulatorCredentials) -> None:
        """Switch to new credentials, e.g. a renewed client secret; tokens stay valid."""
        self.credentials = credentials

    def invalidate_tokens(self) -> None:
        """Forget every issued token, so the next API call gets 401."""
        self._tokens.clear()

    # ------------------------------------------------------------------ mandates

    def add_mandate(
        self,
        ean: str,
        status: str = "Approved",
        *,
        data_service_type: str | None = None,
        data_period_from: datetime | str | None = None,
        data_period_to: datetime | str | None = None,
        mandate_expiration_date: datetime | str | None = None,
        renewal_status: str | None = None,
        reference_number: str | None = None,
        energy_type: str | None = None,
        meter: MeterSpec | None = None,
    ) -> Mandate:
        """Create or replace the mandate for `ean` with the mock endpoint's validation.

        With `meter`, `ean` is a live-style (GS1) EAN, not of the mock scheme, and
        `meter` says what kind of meter it is. Raises ValidationError (a
        ValueError-like ApiError) listing what is wrong.
        """
        mandate = build_mandate(
            self.now(),
            ean=ean,
            status=status,
            energy_type=energy_type,
            data_service_type=data_service_type,
            data_period_from=data_period_from,
            data_period_to=data_period_to,
            mandate_expiration_date=mandate_expiration_date,
            renewal_status=renewal_status,
            reference_number=reference_number,
            spec=meter,
        )
        self._store_mandate(mandate)
        return mandate

    def _store_mandate(self, mandate: Mandate) -> None:
        """Keep a mandate, and the meter of a live-style EAN."""
        if mandate.meter.live:
            self._live[mandate.ean] = mandate.meter
        data = self._meters.get(mandate.ean)
        if data is not None and data.meter != mandate.meter:
            # The EAN was given another meter kind: its data start afresh.
            del self._meters[mandate.ean]
        self._mandates[mandate.ean] = mandate

    @property
    def mandates(self) -> dict[str, Mandate]:
        """Current mandates by EAN (a copy)."""
        return dict(self._mandates)

    def set_data_period_to(self, ean: str, moment: datetime | None) -> None:
        """Move (or clear) the end of a mandate's data period, as after a customer change."""
        mandate = self._mandate(ean)
        mandate.data_period_to = moment
        mandate.last_updated = self.now()

    def update_mandate(
        self,
        ean: str,
        *,
        status: str | None = None,
        mandate_expiration_date: datetime | None = None,
        renewal_status: str | None = None,
        data_period_from: datetime | None = None,
    ) -> None:
        """Change a mandate's status, expiry, renewal status or period start."""
        mandate = self._mandate(ean)
        if status is not None:
            found = canonical(status, STATUSES)
            if found is None:
                raise ValueError(f"unknown status {status!r}")
            mandate.status = found
        if mandate_expiration_date is not None:
            mandate.mandate_expiration_date = mandate_expiration_date
        if renewal_status is not None:
            found = canonical(renewal_status, RENEWAL_STATUSES)
            if found is None:
                raise ValueError(f"unknown renewal status {renewal_status!r}")
            mandate.renewal_status = found
        if data_period_from is not None:
            mandate.data_period_from = data_period_from
        mandate.last_updated = self.now()

    def remove_mandate(self, ean: str) -> None:
        """Delete a mandate; like a Removed access it disappears from the API."""
        self._mandates.pop(ean, None)

    def _mandate(self, ean: str) -> Mandate:
        try:
            return self._mandates[ean]
        except KeyError:
            raise KeyError(f"no mandate for {ean}") from None

    def _meter_data(self, ean: str) -> MeterData:
        data = self._meters.get(ean)
        if data is None:
            meter = self._live.get(ean) or parse_mock_ean(ean)
            data = self._meters[ean] = MeterData(meter)
        return data

    # --------------------------------------------------------------------- truth

    def truth(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        *,
        granularity: str = "quarter_hourly",
        include_unarrived: bool = False,
        reactive: bool = False,
        final: bool = False,
    ) -> list[TruthRecord]:
        """What a readTime query for [start, end) would return now, without HTTP.

        Honours arrival, versions and the mandate's data period and expiry (when a
        mandate exists) but not the access level or the request limits.
        `granularity`: "daily", or "quarter_hourly" / "hourly" /
        "hourly_quarterhourly" for the meter's fine slices. `include_unarrived`
        adds blocks that have not arrived yet in their final version; `final`
        shows every block in its final version.
        """
        data = self._meter_data(ean)
        daily = _truth_granularity(granularity)
        sel = replace(
            self._selection(
                ean,
                start,
                end,
                by_insert_time=False,
                granularities=(DAILY if daily else FINE,),
                reactive=reactive,
            ),
            include_unarrived=include_unarrived,
            final=final,
        )
        subs = [None, *(s.ean for s in data.subs)]
        out: list[TruthRecord] = []
        for chosen in select(data, sel):
            version = chosen.version
            meta = version.meta
            if daily:
                if not chosen.daily:
                    continue
                s, e = ts_to_datetime(meta.start), ts_to_datetime(meta.end)
                for v in data.daily_values(version):
                    if v.channel.reactive and not reactive:
                        continue
                    c = v.channel
                    out.append(
                        TruthRecord(
                            subs[c.owner],
                            c.direction,
                            v.register,
                            c.unit,
                            s,
                            e,
                            v.value,
                            v.state,
                            v.gcf,
                        )
                    )
                continue
            channels = [c for c in data.channels if reactive or not c.reactive]
            for i in chosen.fine:
                ts = meta.start + i * meta.step
                s, e = ts_to_datetime(ts), ts_to_datetime(ts + meta.step)
                state = version.states[i]
                out.extend(
                    TruthRecord(
                        subs[c.owner],
                        c.direction,
                        c.register,
                        c.unit,
                        s,
                        e,
                        version.values[c.index][i],
                        state,
                        version.gcf if c.gcf else None,
                    )
                    for c in channels
                )
        return out

    def final_value(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        *,
        granularity: str = "quarter_hourly",
        direction: str = "offtake",
        register: str = "total",
        unit: str | None = None,
        sub_ean: str | None = None,
    ) -> float:
        """Sum of the final values of one stream over [start, end), arrived or not."""
        total = sum(
            r.value
            for r in self.truth(ean, start, end, granularity=granularity, final=True, reactive=True)
            if r.sub_ean == sub_ean
            and r.direction == direction
            and r.register == register
            and (unit is None or r.unit == unit)
        )
        return round(total, 3)

    def blocks(self, ean: str, start: datetime, end: datetime) -> list[BlockInfo]:
        """Arrival schedules of the blocks overlapping [start, end)."""
        data = self._meter_data(ean)

        def moment(ts: int | None) -> datetime | None:
            return None if ts is None else ts_to_datetime(ts)

        return [
            BlockInfo(
                day=m.day,
                start=ts_to_datetime(m.start),
                end=ts_to_datetime(m.end),
                arrival=ts_to_datetime(m.arrival),
                correction_arrival=moment(m.corrections[0].arrival if m.corrections else None),
                gcf_definitive_at=moment(m.gcf_definitive_at),
            )
            for m in data.blocks_overlapping(to_ts(start), to_ts(end))
        ]

    def schedule_correction(
        self, ean: str, start: datetime, *, count: int = 1, factor: float, arrival: datetime
    ) -> None:
        """Until `arrival`, `count` fine slices from `start` show their value times `factor`, estimated.

        At `arrival` the true values are inserted alone, however old their slices
        are: what a late meter reading or a validation does on the live API.
        """
        self._meter_data(ean).schedule_correction(to_ts(start), count, factor, to_ts(arrival))

    def schedule_arrival(self, ean: str, day: date, arrival: datetime) -> None:
        """The block of `day` (a local day, or the gas day starting on it) arrives at `arrival`."""
        self._meter_data(ean).schedule_arrival(day, to_ts(arrival))

    def _selection(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        *,
        by_insert_time: bool,
        granularities: tuple[str, ...],
        reactive: bool = False,
    ) -> Selection:
        now = self.now()
        mandate = self._mandates.get(ean)
        release = now
        clip_from = clip_to = None
        if mandate is not None:
            release = min(now, mandate.mandate_expiration_date)
            clip_from = to_ts(mandate.data_period_from)
            if mandate.data_period_to is not None:
                clip_to = to_ts(mandate.data_period_to)
        return Selection(
            start=to_ts(start),
            end=to_ts(end),
            by_insert_time=by_insert_time,
            release=to_ts(release),
            clip_from=clip_from,
            clip_to=clip_to,
            granularities=granularities,
            reactive=reactive,
        )

    # --------------------------------------------------------------------- stats

    def reset_stats(self) -> None:
        """Forget recorded requests and the concurrency peak."""
        self.requests.clear()
        self.max_concurrent = 0

    def stats(self) -> dict[str, object]:
        """Counters for the control surface."""
        return {
            "requests": len(self.requests),
            "maxConcurrent": self.max_concurrent,
            "inFlight": self.in_flight,
            "faults": [f.to_dict() for f in self.faults],
            "mandates": list(self._mandates),
            "revoked": self.revoked,
        }

    # ------------------------------------------------------------------- routing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        key = request.path.rstrip("/").lower() or "/"
        if key == CONTROL_PREFIX or key.startswith(CONTROL_PREFIX + "/"):
            return await self._control(request, key[len(CONTROL_PREFIX) :])
        token_match = _TOKEN_PATH_RE.fullmatch(key)
        route: str | None
        handler: Handler | None = None
        if token_match:
            route, method, handler = TOKEN_PATH, "POST", self._token
        elif key == PATH_MANDATES:
            route, method, handler = key, "GET", self._get_mandates
        elif key == PATH_ENERGY:
            route, method, handler = key, "GET", self._get_energy
        elif key == PATH_MOCK:
            route, method, handler = key, "POST", self._post_mock
        else:
            route, method = None, request.method
        received = self.now()
        is_api = route is not None and route != TOKEN_PATH
        if is_api:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
        status = 0
        try:
            if route is None or handler is None:
                response: web.StreamResponse = gateway_error(404, "Resource not found")
            elif request.method != method:
                response = gateway_error(405, f"Method {request.method} not allowed")
            else:
                response = await self._with_faults(request, route, handler)
            status = response.status
            return response
        except _DropConnectionError:
            # The transport is already aborted; aiohttp discards this response.
            return web.Response(status=500)
        finally:
            if is_api:
                self.in_flight -= 1
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    {k: request.query.getall(k) for k in request.query},
                    status,
                    received,
                )
            )

    async def _with_faults(
        self, request: web.Request, route: str, handler: Handler
    ) -> web.StreamResponse:
        query = _query(request)
        ean = query.get("ean", [None])[0]
        fault = self.faults.take(route, ean, query.get("granularity", []))
        if fault is None:
            return await self._handle(request, handler)
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return await self._handle(request, handler)
        if fault.kind == "token_down":
            return oauth_error(
                503, "temporarily_unavailable", 50001, "The service is temporarily unavailable."
            )
        if fault.kind == "status":
            return _fault_status(fault, route)
        if fault.kind == "malformed":
            return web.Response(
                status=200,
                body=b"<html><body>Upstream gateway error</body></html>",
                content_type="application/json",
            )
        if fault.kind == "truncated":
            full = await self._handle(request, handler)
            body = full.body if isinstance(full, web.Response) else None
            raw = body if isinstance(body, bytes) else b"{}"
            return web.Response(
                status=200, body=raw[: len(raw) // 2], content_type="application/json"
            )
        # reset: close the connection without an answer.
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise _DropConnectionError

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return err.response()

    # --------------------------------------------------------------------- token

    async def _token(self, request: web.Request) -> web.StreamResponse:
        creds = self.credentials
        match = _TOKEN_PATH_RE.fullmatch(request.path.rstrip("/").lower())
        tenant = match.group(1) if match else ""
        if tenant != creds.tenant_id.lower():
            return oauth_error(
                401,
                "invalid_client",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            )
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        for name in ("grant_type", "client_id", "client_secret", "scope"):
            if not fields.get(name):
                return oauth_error(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        if fields["grant_type"] != "client_credentials":
            return oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{fields['grant_type']}'.",
            )
        if fields["client_id"] != creds.client_id:
            return oauth_error(
                401,
                "invalid_client",
                700016,
                f"Application with identifier '{fields['client_id']}' was not found in the directory.",
            )
        if self.revoked:
            return oauth_error(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{creds.client_id}' are expired.",
            )
        if fields["client_secret"] != creds.client_secret:
            return oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.",
            )
        if fields["scope"] != creds.scope:
            return oauth_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {fields['scope']} is not valid.",
            )
        token = secrets.token_urlsafe(32)
        self._tokens[token] = self.now() + timedelta(seconds=self.token_lifetime)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            }
        )

    def _check_auth(self, request: web.Request) -> web.Response | None:
        """Gateway checks: subscription key first, then the bearer token."""
        key = request.headers.get(SUBSCRIPTION_KEY_HEADER)
        if not key:
            return gateway_error(
                401,
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
            )
        if key != self.credentials.subscription_key:
            return gateway_error(
                401,
                "Access denied due to invalid subscription key. Make sure to provide a valid "
                "key for an active subscription.",
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or self.revoked or self.now() >= expiry:
            return gateway_error(
                401,
                "Unauthorized. Access token is missing or invalid.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return None

    # ----------------------------------------------------------------------- API

    async def _get_mandates(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_auth(request)) is not None:
            return denied
        now = self.now()
        found = filter_mandates(self._mandates.values(), _query(request), now)
        return json_response(
            {
                "data": {"mandates": [m.to_json(now) for m in found]},
                "_meta": {"fetchTime": format_utc(now)},
            }
        )

    async def _post_mock(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_auth(request)) is not None:
            return denied
        return await self._create_mandate(request)

    async def _create_mandate(self, request: web.Request, *, live: bool = False) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise ValidationError(["the request body is not valid JSON"]) from None
        now = self.now()
        mandate = mandate_from_body(now, body, live=live)
        self._store_mandate(mandate)
        return json_response(
            {"data": {"status": "Created"}, "_meta": {"fetchTime": format_utc(now)}}
        )

    async def _get_energy(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_auth(request)) is not None:
            return denied
        now = self.now()
        query = _query(request)
        errors: list[str] = []

        def single(name: str, required: bool = True) -> str | None:
            values = query.get(name.casefold(), [])
            if len(values) > 1:
                errors.append(f"'{name}' may be given only once")
            if not values and required:
                errors.append(f"'{name}' is required")
            return values[0] if values else None

        def moment(name: str) -> datetime | None:
            text = single(name)
            if text is None:
                return None
            try:
                return parse_utc(text)
            except ValueError as err:
                errors.append(f"'{name}': {err}")
                return None

        ean = single("ean")
        if ean is not None and not (len(ean) == 18 and ean.isdigit()):
            errors.append("'ean' must be exactly 18 digits")
        period_text = single("periodType")
        period_type = canonical(period_text, PERIOD_TYPES) if period_text else None
        if period_text and period_type is None:
            errors.append("'periodType' must be readTime or insertTime")
        start, end = moment("from"), moment("to")
        granularities = _enum_list(query, "granularity", GRANULARITIES, errors)
        complex_types = _enum_list(query, "complexEnergyTypes", COMPLEX_ENERGY_TYPES, errors)
        if start is not None and end is not None:
            if end <= start:
                errors.append("'to' must be later than 'from'")
            elif end - start > MAX_SPAN:
                errors.append("the period between 'from' and 'to' may not exceed 185 days")
            if period_type == "readTime" and start < history_limit(now):
                errors.append("'from' may not be more than 3 years in the past")
        if errors or ean is None or start is None or end is None:
            raise ValidationError(errors)
        mandate = self._mandates.get(ean)
        if mandate is None or not mandate.has_access:
            raise no_valid_access(f"No valid access found for EAN {ean}.")
        allowed = (DAILY, FINE) if mandate.meter.quarter_hourly else (DAILY,)
        requested = tuple(granularities) or allowed
        if any(g not in allowed for g in requested):
            raise no_valid_access(
                f"No valid access found for EAN {ean} with the requested granularity; "
                f"the access {mandate.data_service_type} allows: {', '.join(allowed)}."
            )
        sel = self._selection(
            ean,
            start,
            end,
            by_insert_time=period_type == "insertTime",
            granularities=requested,
            reactive="reactive" in complex_types,
        )
        body = {
            "_meta": {"fetchTime": format_utc(now)},
            "data": {"headpoint": headpoint(self._meter_data(ean), sel)},
        }
        return json_response(body)

    # ------------------------------------------------------------ control surface

    async def _control(self, request: web.Request, key: str) -> web.StreamResponse:
        method = request.method
        try:
            if key == "/faults" and method == "POST":
                payload = orjson.loads(await request.read())
                items = payload if isinstance(payload, list) else [payload]
                self.faults.add(*(Fault.from_dict(item) for item in items))
                return json_response({"faults": [f.to_dict() for f in self.faults]})
            if key == "/faults" and method == "DELETE":
                self.faults.clear()
                return json_response({"faults": []})
            if key == "/faults" and method == "GET":
                return json_response({"faults": [f.to_dict() for f in self.faults]})
            if key == "/mandates" and method == "POST":
                return await self._create_mandate(request, live=True)
            if key == "/stats" and method == "GET":
                return json_response(self.stats())
            if key == "/stats" and method == "DELETE":
                self.reset_stats()
                return json_response(self.stats())
            if key == "/revoke" and method == "POST":
                self.revoke_credentials()
                return json_response({"revoked": True})
            if key == "/restore" and method == "POST":
                self.restore_credentials()
                return json_response({"revoked": False})
        except ApiError as err:
            return err.response()
        except (ValueError, TypeError, orjson.JSONDecodeError) as err:
            return json_response({"error": str(err)}, status=400)
        return json_response({"error": "unknown control endpoint"}, status=404)


def _query(request: web.Request) -> dict[str, list[str]]:
    """Query parameters by case-folded name; multi-value ones split on commas."""
    out: dict[str, list[str]] = {}
    for name, value in request.query.items():
        key = name.casefold()
        if key in _MULTI_VALUE:
            out.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
        else:
            out.setdefault(key, []).append(value)
    return out


def _enum_list(
    query: dict[str, list[str]], name: str, allowed: tuple[str, ...], errors: list[str]
) -> list[str]:
    """A 0-2 multi-value enum parameter, canonicalised and de-duplicated."""
    out: list[str] = []
    for value in query.get(name.casefold(), []):
        found = canonical(value, allowed)
        if found is None:
            errors.append(f"'{name}' must be one of {', '.join(allowed)}; got '{value}'")
        elif found not in out:
            out.append(found)
    if len(query.get(name.casefold(), [])) > len(allowed):
        errors.append(f"'{name}' accepts at most {len(allowed)} values")
    return out


def _truth_granularity(granularity: str) -> bool:
    """True for daily; the fine names are interchangeable."""
    name = granularity.casefold()
    if name == DAILY:
        return True
    if name in {"quarter_hourly", "quarterhourly", "hourly", FINE}:
        return False
    raise ValueError(f"unknown granularity {granularity!r}")


def _fault_status(fault: Fault, route: str) -> web.Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    status = fault.status
    if route == TOKEN_PATH:
        error = "invalid_client" if status == 401 else "temporarily_unavailable"
        response = oauth_error(status, error, 50001, "Simulated token endpoint failure.")
        if headers:
            response.headers.update(headers)
        return response
    if status == 429:
        return gateway_error(
            429,
            f"Rate limit is exceeded. Try again in {fault.retry_after or 1} seconds.",
            headers=headers,
        )
    if status == 401:
        return gateway_error(
            401, "Unauthorized. Access token is missing or invalid.", headers=headers
        )
    response = ApiError(status, _FAULT_CODES.get(status, "Error"), "Simulated failure.").response()
    if headers:
        response.headers.update(headers)
    return response


_FAULT_CODES = {
    400: "InvalidParameters",
    403: "Forbidden",
    404: "NoValidAccess",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
