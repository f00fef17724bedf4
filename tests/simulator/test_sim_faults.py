"""Injected faults, the HTTP control surface, request recording and concurrency stats."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from fluvius_simulator import Fault, FluviusSimulator

from .conftest import Api, Reply

EAN = "541440110000000000"
WINDOW = ("2025-11-10T23:00:00Z", "2025-11-11T23:00:00Z")


@pytest.fixture(autouse=True)
def _mandate(sim: FluviusSimulator) -> None:
    sim.add_mandate(EAN)


async def _energy(api: Api, **params: str) -> Reply:
    return await api.energy(EAN, *WINDOW, **params)


async def test_status_fault_with_retry_after_and_count(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.faults.add(Fault(kind="status", status=503, retry_after="7", count=2))
    for _ in range(2):
        reply = await _energy(api)
        assert reply.status == 503
        assert reply.headers["Retry-After"] == "7"
        assert reply.json()["Code"] == "ServiceUnavailable"
    assert (await _energy(api)).status == 200
    assert list(sim.faults) == []


@pytest.mark.parametrize("status", [500, 502, 504, 403, 404, 401])
async def test_other_status_faults(api: Api, sim: FluviusSimulator, status: int) -> None:
    await api.fetch_token()
    sim.faults.add(Fault(kind="status", status=status, count=1))
    reply = await _energy(api)
    assert reply.status == status
    assert "Retry-After" not in reply.headers
    body = reply.json()
    assert body.get("Code") or body.get("statusCode") == status


async def test_rate_limit_fault_looks_like_the_gateway(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    date = "Thu, 20 Nov 2025 12:01:00 GMT"
    sim.faults.add(Fault(kind="status", status=429, retry_after=date))
    reply = await _energy(api)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == date
    assert reply.json()["statusCode"] == 429
    sim.faults.clear()
    assert (await _energy(api)).status == 200


async def test_generic_faults_spare_the_token_endpoint(api: Api, sim: FluviusSimulator) -> None:
    sim.faults.add(Fault(kind="status", status=500, count=1))
    assert (await api.fetch_token()).status == 200
    assert (await _energy(api)).status == 500


async def test_token_faults(api: Api, sim: FluviusSimulator) -> None:
    sim.faults.add(Fault(kind="token_down", count=1))
    reply = await api.fetch_token()
    assert reply.status == 503
    assert reply.json()["error"] == "temporarily_unavailable"
    assert (await api.fetch_token()).status == 200
    sim.faults.add(Fault(kind="status", status=429, retry_after="3", path="token", count=1))
    # API calls are not affected by token faults.
    assert (await _energy(api)).status == 200
    reply = await api.fetch_token()
    assert (reply.status, reply.headers["Retry-After"]) == (429, "3")


async def test_slow_fault(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.faults.add(Fault(kind="slow", delay=0.3, count=1))
    started = time.monotonic()
    reply = await _energy(api)
    assert reply.status == 200
    assert time.monotonic() - started >= 0.3


async def test_malformed_and_truncated(api: Api, sim: FluviusSimulator) -> None:
    full = await _energy(api)
    sim.faults.add(Fault(kind="malformed", count=1), Fault(kind="truncated", count=1))
    malformed = await _energy(api)
    assert malformed.status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(malformed.body)
    truncated = await _energy(api)
    assert truncated.status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(truncated.body)
    assert full.body.startswith(truncated.body)
    assert len(truncated.body) == len(full.body) // 2


async def test_reset_drops_the_connection(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.faults.add(Fault(kind="reset"))
    with pytest.raises(aiohttp.ClientConnectionError):
        await _energy(api)
    sim.faults.clear()
    assert (await _energy(api)).status == 200
    assert any(r.status == 0 for r in sim.requests)


async def test_filters_by_path_ean_and_granularity(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.add_mandate("541440110000000001")
    sim.faults.add(Fault(kind="status", status=500, path="/api/mandate/energy", ean=EAN))
    assert (await api.get("/api/mandate")).status == 200
    assert (await api.energy("541440110000000001", *WINDOW)).status == 200
    assert (await _energy(api)).status == 500
    sim.faults.clear()
    sim.faults.add(Fault(kind="status", status=502, granularity="hourly_quarterhourly"))
    assert (await _energy(api, granularity="daily")).status == 200
    assert (await _energy(api, granularity="daily,hourly_quarterhourly")).status == 502
    assert (await _energy(api)).status == 502  # omitted = every granularity


async def test_first_matching_fault_wins(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.faults.add(
        Fault(kind="status", status=503, count=1),
        Fault(kind="status", status=500, count=1),
    )
    assert [(await _energy(api)).status for _ in range(3)] == [503, 500, 200]


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path"):
        Fault(kind="status", path="/api/other")
    assert Fault(kind="status", path="/API/Mandate/").path == "/api/mandate"
    fault = Fault.from_dict({"kind": "status", "status": 429, "retryAfter": "5", "count": 1})
    assert (fault.status, fault.retry_after, fault.count) == (429, "5", 1)
    with pytest.raises(ValueError, match="unknown"):
        Fault.from_dict({"kind": "status", "colour": "red"})
    with pytest.raises(TypeError):
        Fault.from_dict({"kind": "status", "status": "500"})


async def test_control_surface(
    api: Api, sim: FluviusSimulator, session: aiohttp.ClientSession
) -> None:
    base = f"{sim.base_url}/_simulator"
    faults = [{"kind": "status", "status": 503, "count": 1, "path": "/api/mandate"}]
    async with session.post(f"{base}/faults", data=orjson.dumps(faults)) as resp:
        assert resp.status == 200
    assert [f.status for f in sim.faults] == [503]
    assert (await api.get("/api/mandate")).status == 503
    async with session.post(f"{base}/faults", data=b'{"kind": "nope"}') as resp:
        assert resp.status == 400
    async with session.post(f"{base}/faults", data=orjson.dumps({"kind": "reset"})) as resp:
        assert resp.status == 200
    async with session.delete(f"{base}/faults") as resp:
        assert resp.status == 200
    assert list(sim.faults) == []
    body = {"status": "Approved", "ean": "541441010000000000"}
    async with session.post(f"{base}/mandates", data=orjson.dumps(body)) as resp:
        assert resp.status == 200
    async with session.post(
        f"{base}/mandates", data=orjson.dumps({"status": "Approved", "ean": "1"})
    ) as resp:
        assert resp.status == 400
    assert "541441010000000000" in sim.mandates
    async with session.get(f"{base}/stats") as resp:
        stats = orjson.loads(await resp.read())
    assert stats["requests"] == len(sim.requests) > 0
    assert set(stats["mandates"]) == {EAN, "541441010000000000"}
    async with session.delete(f"{base}/stats") as resp:
        assert orjson.loads(await resp.read())["requests"] == 0


async def test_requests_recorded_and_concurrency(api: Api, sim: FluviusSimulator) -> None:
    await api.fetch_token()
    sim.reset_stats()
    sim.faults.add(Fault(kind="slow", delay=0.2, count=5))
    replies = await asyncio.gather(*(_energy(api, granularity="daily") for _ in range(5)))
    assert [r.status for r in replies] == [200] * 5
    assert sim.max_concurrent == 5
    assert len(sim.requests) == 5
    method, path, query, status, when = sim.requests[0]
    assert (method, path, status) == ("GET", "/api/mandate/energy", 200)
    assert query["ean"] == [EAN]
    assert query["granularity"] == ["daily"]
    assert when == sim.now()
    sim.reset_stats()
    assert (sim.max_concurrent, sim.requests) == (0, [])
    await api.fetch_token()
    assert sim.requests[-1].path.endswith("/oauth2/v2.0/token")
    assert sim.max_concurrent == 0  # the token endpoint is not an API request
