"""Fixtures of the API client tests: a scripted fake API on loopback, sessions, clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
import orjson
import pytest

from custom_components.fluvius.api import Credentials, FluviusClient
from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator

# Obviously fake values that are easy to search for in messages and logs.
FAKE_CREDENTIALS = Credentials(
    tenant_id="fake-tenant",
    client_id="fake-client",
    client_secret="fake-secret-3f9a1c",
    scope="api://fake/.default",
    subscription_key="fake-subscription-7b2e4d",
)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with the given status."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    """A scripted handler answering with fixed JSON."""

    async def handler(_request: web.Request) -> web.StreamResponse:
        return json_response(body, status, headers)

    return handler


def respond_raw(body: bytes, status: int = 200) -> Handler:
    """A scripted handler answering with fixed bytes."""

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, content_type="application/json")

    return handler


async def reset_connection(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering."""
    assert request.transport is not None
    request.transport.abort()
    return web.Response(status=500)


@dataclass
class Recorded:
    """One request the fake API received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str]


@dataclass
class FakeApi:
    """Token endpoint and API on loopback whose answers tests script per path.

    Scripted handlers are used once each, in order; then the default answers:
    a fresh token, or an empty mandate list / energy response.
    """

    base_url: str = ""
    token_path: str = "/fake-tenant/oauth2/v2.0/token"
    token_lifetime: int = 3600
    token_delay: float = 0.0
    scripts: dict[str, list[Handler]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    def script(self, path: str, *handlers: Handler) -> None:
        self.scripts.setdefault(path, []).extend(handlers)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
                body,
                form,
            )
        )
        queue = self.scripts.get(request.path)
        if queue:
            return await queue.pop(0)(request)
        if request.path == self.token_path:
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            token = f"fake-token-{len(self.issued) + 1}"
            self.issued.append(token)
            return json_response(
                {"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token}
            )
        if request.path == "/api/mandate":
            return json_response({"data": {"mandates": []}, "_meta": {}})
        if request.path == "/api/mandate/energy":
            return json_response({"data": {"headpoint": None}, "_meta": {}})
        return json_response({"statusCode": 404, "message": "Resource not found"}, 404)


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow real sockets; the harness still limits connections to 127.0.0.1."""


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    """The scripted fake API, served on 127.0.0.1."""
    api = FakeApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield api
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the client asked to sleep (it does not actually sleep)."""
    return []


@pytest.fixture
def client(fake_api: FakeApi, session: aiohttp.ClientSession, sleeps: list[float]) -> FluviusClient:
    """A client of the fake API with instant, recorded backoff sleeps."""

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    return FluviusClient(
        session,
        FAKE_CREDENTIALS,
        base_url=fake_api.base_url,
        token_url=fake_api.token_url,
        request_timeout=5,
        max_retries=3,
        backoff_base=0.5,
        backoff_max=30,
        sleep=sleep,
    )


SIMULATOR_CREDENTIALS = Credentials(
    tenant_id=DEFAULT_CREDENTIALS.tenant_id,
    client_id=DEFAULT_CREDENTIALS.client_id,
    client_secret=DEFAULT_CREDENTIALS.client_secret,
    scope=DEFAULT_CREDENTIALS.scope,
    subscription_key=DEFAULT_CREDENTIALS.subscription_key,
)


@pytest.fixture
def sim_client(
    simulator: FluviusSimulator, session: aiohttp.ClientSession, sleeps: list[float]
) -> FluviusClient:
    """A client of the local simulator with instant, recorded backoff sleeps."""

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    assert simulator.base_url is not None
    return FluviusClient(
        session,
        SIMULATOR_CREDENTIALS,
        base_url=simulator.base_url,
        token_url=simulator.token_url,
        request_timeout=5,
        max_retries=3,
        sleep=sleep,
    )
