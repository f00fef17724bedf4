"""Token endpoint, token lifetime, revocation and the gateway's subscription-key check."""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator

from .conftest import Api, Clock, SimFactory


async def test_token_issued_with_azure_fields(api: Api) -> None:
    reply = await api.fetch_token()
    assert reply.status == 200
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["ext_expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    again = await api.fetch_token()
    assert again.json()["access_token"] != body["access_token"]


async def test_token_lifetime_configurable(
    clock: Clock, session: aiohttp.ClientSession, sim_factory: SimFactory
) -> None:
    api = Api(await sim_factory(token_lifetime=120), session)
    assert (await api.fetch_token()).json()["expires_in"] == 120
    assert (await api.get("/api/mandate")).status == 200
    clock.advance(seconds=119)
    assert (await api.get("/api/mandate")).status == 200
    clock.advance(seconds=1)
    reply = await api.get("/api/mandate")
    assert reply.status == 401
    assert reply.json()["statusCode"] == 401


async def test_token_url_path_case_insensitive(api: Api) -> None:
    url = api.sim.token_url.replace("v2.0", "V2.0").replace("oauth2", "OAuth2")
    assert (await api.fetch_token(url=url)).status == 200


async def test_wrong_tenant_client_secret_are_invalid_client(api: Api) -> None:
    wrong_tenant = f"{api.sim.base_url}/other-tenant/oauth2/v2.0/token"
    for reply in (
        await api.fetch_token(url=wrong_tenant),
        await api.fetch_token(client_id="someone-else"),
        await api.fetch_token(client_secret="not-the-secret-xyz"),
    ):
        assert reply.status == 401
        body = reply.json()
        assert body["error"] == "invalid_client"
        assert body["error_description"].startswith("AADSTS")
        assert b"not-the-secret-xyz" not in reply.body
        assert DEFAULT_CREDENTIALS.client_secret.encode() not in reply.body


async def test_wrong_scope_and_grant_type(api: Api) -> None:
    reply = await api.fetch_token(scope="api://elsewhere/.default")
    assert (reply.status, reply.json()["error"]) == (400, "invalid_scope")
    reply = await api.fetch_token(grant_type="password")
    assert (reply.status, reply.json()["error"]) == (400, "unsupported_grant_type")
    reply = await api.fetch_token(scope="")
    assert (reply.status, reply.json()["error"]) == (400, "invalid_request")


async def test_api_requires_known_bearer_token(api: Api) -> None:
    api.token = "made-up-token"
    reply = await api.get("/api/mandate")
    assert reply.status == 401
    assert reply.json() == {
        "statusCode": 401,
        "message": "Unauthorized. Access token is missing or invalid.",
    }
    headers = {"Ocp-Apim-Subscription-Key": api.sim.credentials.subscription_key}
    assert (await api.get("/api/mandate", headers=headers)).status == 401


async def test_subscription_key_missing_or_wrong(api: Api) -> None:
    await api.fetch_token()
    auth = {"Authorization": f"Bearer {api.token}"}
    reply = await api.get("/api/mandate", headers=auth)
    assert reply.status == 401
    assert "missing subscription key" in reply.json()["message"]
    reply = await api.get(
        "/api/mandate", headers={**auth, "Ocp-Apim-Subscription-Key": "wrong-key"}
    )
    assert reply.status == 401
    assert "invalid subscription key" in reply.json()["message"]
    assert (await api.get("/api/mandate")).status == 200


async def test_revoke_and_restore(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    assert (await api.get("/api/mandate")).status == 200
    sim.revoke_credentials()
    assert (await api.get("/api/mandate")).status == 401
    reply = await api.fetch_token()
    assert (reply.status, reply.json()["error"]) == (401, "invalid_client")
    sim.restore_credentials()
    # Tokens issued before the revocation stay dead; a new one works.
    assert (await api.get("/api/mandate")).status == 401
    assert (await api.fetch_token()).status == 200
    assert (await api.get("/api/mandate")).status == 200


async def test_renewed_secret(api: Api, sim: FluviusSimulator) -> None:
    old_secret = sim.credentials.client_secret
    sim.set_credentials(replace(sim.credentials, client_secret="renewed-secret"))
    assert (await api.fetch_token(client_secret=old_secret)).status == 401
    assert (await api.fetch_token()).status == 200
    assert (await api.get("/api/mandate")).status == 200


async def test_unknown_path_and_method(api: Api) -> None:
    assert (await api.get("/api/nothing")).status == 404
    assert (await api.request("DELETE", "/api/mandate")).status == 405
    assert (await api.get("/API/Mandate")).status == 200
