"""TokenProvider: caching until expiry, the one-hour cap, invalidation, concurrency."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from custom_components.fluvius.api import (
    TOKEN_URL_TEMPLATE,
    FluviusAuthenticationError,
    FluviusResponseError,
    TokenProvider,
)

from .conftest import FAKE_CREDENTIALS, FakeApi, respond, respond_raw


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(
    fake_api: FakeApi, session: aiohttp.ClientSession, clock: Clock | None = None
) -> TokenProvider:
    return TokenProvider(
        session,
        tenant_id=FAKE_CREDENTIALS.tenant_id,
        client_id=FAKE_CREDENTIALS.client_id,
        client_secret=FAKE_CREDENTIALS.client_secret,
        scope=FAKE_CREDENTIALS.scope,
        token_url=fake_api.token_url,
        clock=clock or Clock(),
    )


def test_default_token_url_comes_from_the_tenant() -> None:
    tokens = TokenProvider(
        None,  # type: ignore[arg-type]
        tenant_id="abc",
        client_id="c",
        client_secret="very-secret-value",
        scope="x",
    )
    assert tokens.token_url == TOKEN_URL_TEMPLATE.format(tenant_id="abc")
    assert tokens.token_url == "https://login.microsoftonline.com/abc/oauth2/v2.0/token"
    assert "very-secret-value" not in repr(tokens)


async def test_token_is_cached_until_expires_in_minus_the_margin(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    fake_api.token_lifetime = 600
    tokens = provider(fake_api, session, clock)
    assert await tokens.token() == "fake-token-1"
    clock.now += 539
    assert await tokens.token() == "fake-token-1"
    clock.now += 1  # 600 s lifetime - 60 s margin
    assert await tokens.token() == "fake-token-2"


async def test_token_is_never_cached_longer_than_an_hour(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    fake_api.token_lifetime = 86400
    tokens = provider(fake_api, session, clock)
    await tokens.token()
    clock.now += 3539
    assert await tokens.token() == "fake-token-1"
    clock.now += 1
    assert await tokens.token() == "fake-token-2"


async def test_short_lived_tokens_are_still_reused_for_half_their_life(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    fake_api.token_lifetime = 30
    tokens = provider(fake_api, session, clock)
    await tokens.token()
    clock.now += 14
    assert await tokens.token() == "fake-token-1"
    clock.now += 1
    assert await tokens.token() == "fake-token-2"


async def test_invalidate_only_drops_the_token_that_failed(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    tokens = provider(fake_api, session)
    first = await tokens.token()
    tokens.invalidate(first)
    second = await tokens.token()
    assert second != first
    tokens.invalidate(first)  # a late 401 for the old token keeps the new one
    assert await tokens.token() == second
    tokens.invalidate()
    assert await tokens.token() == "fake-token-3"


async def test_concurrent_callers_wait_for_one_request(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.token_delay = 0.05
    tokens = provider(fake_api, session)
    results = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert set(results) == {"fake-token-1"}
    assert len(fake_api.calls(fake_api.token_path)) == 1


async def test_expires_in_as_a_string_is_accepted(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    fake_api.script(fake_api.token_path, respond({"access_token": "v1-token", "expires_in": "120"}))
    tokens = provider(fake_api, session, clock)
    assert await tokens.token() == "v1-token"
    clock.now += 59
    assert await tokens.token() == "v1-token"
    clock.now += 1
    assert await tokens.token() == "fake-token-1"


async def test_token_response_without_token_is_a_response_error(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.script(fake_api.token_path, respond({"token_type": "Bearer"}))
    with pytest.raises(FluviusResponseError, match="access_token"):
        await provider(fake_api, session).token()
    fake_api.script(fake_api.token_path, respond_raw(b"<html>"))
    with pytest.raises(FluviusResponseError, match="JSON"):
        await provider(fake_api, session).token()


async def test_a_url_that_is_no_token_endpoint_is_a_response_error(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    tokens = TokenProvider(
        session,
        tenant_id="t",
        client_id="c",
        client_secret=FAKE_CREDENTIALS.client_secret,
        scope="s",
        token_url=fake_api.base_url + "/nowhere",
    )
    # New credentials would not help: this is no refusal, so no reauthentication.
    with pytest.raises(FluviusResponseError, match="404") as caught:
        await tokens.token()
    assert not isinstance(caught.value, FluviusAuthenticationError)
    assert FAKE_CREDENTIALS.client_secret not in str(caught.value)
