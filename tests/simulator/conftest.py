"""Fixtures for the simulator's own tests: a started simulator with a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest

from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator, TruthRecord

# Both 2025 DST changes lie in the past and within three years of this moment.
START = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the tests move by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class Reply:
    """A response read in full."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Api:
    """A minimal client of the simulator, independent of the integration's client."""

    sim: FluviusSimulator
    session: aiohttp.ClientSession
    token: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def fetch_token(self, url: str | None = None, **overrides: str) -> Reply:
        creds = self.sim.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scope,
            **overrides,
        }
        async with self.session.post(url or self.sim.token_url, data=form) as resp:
            reply = Reply(resp.status, dict(resp.headers), await resp.read())
        if reply.status == 200:
            self.token = reply.json()["access_token"]
        return reply

    def headers(self) -> dict[str, str]:
        headers = {"Ocp-Apim-Subscription-Key": self.sim.credentials.subscription_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(self.extra_headers)
        return headers

    async def request(
        self,
        method: str,
        path: str,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if self.token is None:
            await self.fetch_token()
        data = orjson.dumps(json) if json is not None else None
        all_headers = headers if headers is not None else self.headers()
        if data is not None:
            all_headers = {**all_headers, "Content-Type": "application/json"}
        async with self.session.request(
            method, f"{self.sim.base_url}{path}", params=params, data=data, headers=all_headers
        ) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read())

    async def get(self, path: str, params: Any = None, **kwargs: Any) -> Reply:
        return await self.request("GET", path, params=params, **kwargs)

    async def post(self, path: str, json: Any, **kwargs: Any) -> Reply:
        return await self.request("POST", path, json=json, **kwargs)

    async def energy(
        self, ean: str, start: str, end: str, period_type: str = "readTime", **params: Any
    ) -> Reply:
        query: list[tuple[str, str]] = [
            ("ean", ean),
            ("periodType", period_type),
            ("from", start),
            ("to", end),
        ]
        for key, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            query.extend((key, v) for v in values)
        return await self.get("/api/mandate/energy", params=query)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(clock: Clock, socket_enabled: None) -> AsyncIterator[FluviusSimulator]:
    """A started simulator; the harness blocks sockets, so enable them (loopback only)."""
    simulator = FluviusSimulator(credentials=DEFAULT_CREDENTIALS, clock=clock)
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.stop()


SimFactory = Callable[..., Awaitable[FluviusSimulator]]


@pytest.fixture
async def sim_factory(clock: Clock, socket_enabled: None) -> AsyncIterator[SimFactory]:
    """Start extra simulators with custom settings; all are stopped afterwards."""
    started: list[FluviusSimulator] = []

    async def make(**kwargs: Any) -> FluviusSimulator:
        kwargs.setdefault("clock", clock)
        simulator = FluviusSimulator(**kwargs)
        await simulator.start(host="127.0.0.1", port=0)
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def api(sim: FluviusSimulator, session: aiohttp.ClientSession) -> Api:
    return Api(sim, session)


FINE_KEYS = ("quarterHourlyEnergy", "hourlyEnergy")


def flatten(headpoint: dict[str, Any], key: str) -> list[tuple[Any, ...]]:
    """Records of one granularity array (`dailyEnergy`, `quarterHourlyEnergy`, `hourlyEnergy`).

    Same field order as TruthRecord, with start/end as strings.
    """
    owners: list[tuple[str | None, dict[str, Any]]] = []
    if headpoint["$type"] == "metering-on-meter":
        owners.extend((None, meter) for meter in headpoint["physicalMeters"])
    else:
        owners.append((None, headpoint))
        owners.extend((sub["ean"], sub) for sub in headpoint.get("subHeadpoints", []))
    out = []
    for sub_ean, owner in owners:
        for slice_ in owner.get(key, []):
            for measurement in slice_["measurements"]:
                for direction, registers in measurement.items():
                    for register, value in registers.items():
                        out.append(
                            (
                                sub_ean,
                                direction,
                                register,
                                value["unit"],
                                slice_["start"],
                                slice_["end"],
                                value["value"],
                                value["validationState"],
                                value.get("gasConversionFactor"),
                            )
                        )
    return out


def truth_rows(records: list[TruthRecord]) -> list[tuple[Any, ...]]:
    """Truth records with start/end formatted like the API."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return [(*r[:4], r.start.strftime(fmt), r.end.strftime(fmt), *r[6:]) for r in records]


def headpoint_of(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body[:500]
    body = reply.json()
    assert set(body) == {"_meta", "data"}
    return body["data"]["headpoint"]


def fine_slices(headpoint: dict[str, Any]) -> list[dict[str, Any]]:
    holder = headpoint["physicalMeters"][0] if "physicalMeters" in headpoint else headpoint
    for key in FINE_KEYS:
        if key in holder:
            return list(holder[key])
    return []


def daily_slices(headpoint: dict[str, Any]) -> list[dict[str, Any]]:
    holder = headpoint["physicalMeters"][0] if "physicalMeters" in headpoint else headpoint
    return list(holder.get("dailyEnergy", []))
