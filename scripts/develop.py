"""Start the Fluvius simulator and a real Home Assistant configured against it.

Home Assistant listens on 127.0.0.1 only and keeps its state in .dev/config, so
a second start reuses onboarding, the config entry and the imported statistics.
Used by scripts/develop (runs until Ctrl-C) and scripts/e2e (--until-imported).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path
import signal
import sys
import time
from typing import Any

import aiohttp

from fluvius_simulator import DEFAULT_CREDENTIALS

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / ".dev" / "config"
HA_PORT = 8123
SIM_PORT = 8099
HA_URL = f"http://127.0.0.1:{HA_PORT}"
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
CLIENT_ID = f"{HA_URL}/"
DEMO_USER = {"name": "Demo", "username": "demo", "password": "fluvius-demo", "language": "en"}

CONFIGURATION_YAML = f"""\
# Development configuration written by scripts/develop.
homeassistant:
  name: Fluvius demo
  latitude: 51.05
  longitude: 3.72
  elevation: 10
  unit_system: metric
  time_zone: Europe/Brussels
  country: BE
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {HA_PORT}
frontend:
onboarding:
config:
energy:
history:
logbook:
recorder:
  purge_keep_days: 3650
logger:
  default: info
  logs:
    custom_components.fluvius: debug
"""


def log(message: str) -> None:
    print(f"[develop] {message}", flush=True)


def prepare_config() -> None:
    """Config dir with the integration linked in (a link, so edits apply on restart)."""
    (CONFIG_DIR / "custom_components").mkdir(parents=True, exist_ok=True)
    link = CONFIG_DIR / "custom_components" / "fluvius"
    if not link.exists():
        link.symlink_to(REPO / "custom_components" / "fluvius")
    config = CONFIG_DIR / "configuration.yaml"
    if not config.exists():
        config.write_text(CONFIGURATION_YAML)
        # The core_config onboarding step would add integrations that reach the
        # internet (weather, text-to-speech); the location is in the YAML anyway.
        storage = CONFIG_DIR / ".storage"
        storage.mkdir(exist_ok=True)
        (storage / "onboarding").write_text(
            '{"version": 4, "minor_version": 1, "key": "onboarding",'
            ' "data": {"done": ["core_config"]}}'
        )


async def wait_http(session: aiohttp.ClientSession, url: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as response:
                if response.status < 500:
                    return
        await asyncio.sleep(1)
    raise TimeoutError(f"{url} did not answer within {limit:.0f}s")


async def onboard(session: aiohttp.ClientSession) -> str:
    """Create the demo user on first start; return an access token either way."""
    async with session.get(f"{HA_URL}/api/onboarding") as response:
        # Once onboarding is complete, Home Assistant no longer serves this view.
        onboarded = response.status == 404
        steps = {} if onboarded else {s["step"]: s["done"] for s in await response.json()}
    if not onboarded and not steps.get("user"):
        log("onboarding: creating the demo user")
        async with session.post(
            f"{HA_URL}/api/onboarding/users", json={**DEMO_USER, "client_id": CLIENT_ID}
        ) as response:
            response.raise_for_status()
            auth_code = (await response.json())["auth_code"]
        token = await exchange_code(session, auth_code)
        headers = {"Authorization": f"Bearer {token}"}
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            ("integration", {"client_id": CLIENT_ID, "redirect_uri": f"{HA_URL}/?auth_callback=1"}),
        ):
            if not steps.get(step):
                async with session.post(
                    f"{HA_URL}/api/onboarding/{step}", json=body, headers=headers
                ) as response:
                    response.raise_for_status()
        return token
    return await login(session)


async def exchange_code(session: aiohttp.ClientSession, code: str) -> str:
    async with session.post(
        f"{HA_URL}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def login(session: aiohttp.ClientSession) -> str:
    """Log in with the demo user through the login flow."""
    async with session.post(
        f"{HA_URL}/auth/login_flow",
        json={
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{HA_URL}/?auth_callback=1",
        },
    ) as response:
        flow = await response.json()
    async with session.post(
        f"{HA_URL}/auth/login_flow/{flow['flow_id']}",
        json={
            "client_id": CLIENT_ID,
            "username": DEMO_USER["username"],
            "password": DEMO_USER["password"],
        },
    ) as response:
        result = await response.json()
    return await exchange_code(session, result["result"])


async def ensure_entry(session: aiohttp.ClientSession, token: str) -> None:
    """Add the Fluvius entry through the real config flow (custom environment)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(
        f"{HA_URL}/api/config/config_entries/entry", headers=headers
    ) as response:
        entries = await response.json()
    if any(entry["domain"] == "fluvius" for entry in entries):
        log("config entry exists: reusing it")
        return
    creds = DEFAULT_CREDENTIALS
    async with session.post(
        f"{HA_URL}/api/config/config_entries/flow", json={"handler": "fluvius"}, headers=headers
    ) as response:
        flow = await response.json()
    steps: list[dict[str, Any]] = [
        {
            "environment": "custom",
            "tenant_id": creds.tenant_id,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scope,
            "subscription_key": creds.subscription_key,
        },
        {"base_url": SIM_URL, "token_url": f"{SIM_URL}/{creds.tenant_id}/oauth2/v2.0/token"},
    ]
    for body in steps:
        async with session.post(
            f"{HA_URL}/api/config/config_entries/flow/{flow['flow_id']}", json=body, headers=headers
        ) as response:
            flow = await response.json()
    if flow.get("type") != "create_entry":
        raise RuntimeError(f"config flow did not create an entry: {flow}")
    log(f"config entry created: {flow['title']}")


class WebSocket:
    """Minimal Home Assistant websocket API client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._id = 0

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, token: str) -> WebSocket:
        ws = await session.ws_connect(f"{HA_URL}/api/websocket")
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        reply = await ws.receive_json()
        if reply.get("type") != "auth_ok":
            raise RuntimeError("websocket authentication failed")
        return cls(ws)

    async def call(self, message: dict[str, Any]) -> Any:
        self._id += 1
        await self._ws.send_json({"id": self._id, **message})
        while True:
            reply = await self._ws.receive_json()
            if reply.get("id") == self._id and reply.get("type") == "result":
                if not reply.get("success"):
                    raise RuntimeError(f"{message['type']} failed: {reply.get('error')}")
                return reply.get("result")

    async def close(self) -> None:
        await self._ws.close()


def _grid_from(statistic_id: str) -> dict[str, Any]:
    return {
        "stat_energy_from": statistic_id,
        "stat_cost": None,
        "entity_energy_price": None,
        "number_energy_price": None,
    }


def _grid_to(statistic_id: str) -> dict[str, Any]:
    return {
        "stat_energy_to": statistic_id,
        "stat_compensation": None,
        "entity_energy_price": None,
        "number_energy_price": None,
    }


def energy_prefs(production_id: str | None) -> dict[str, Any]:
    """Energy dashboard sources: the demo mandates' statistic ids."""
    dm, gas = "541440110000000000", "541441010000000000"
    amr_offtake, pv_injection = "541450010000000000", "541450211000000000"
    sources: list[dict[str, Any]] = [
        {
            "type": "grid",
            "flow_from": [
                _grid_from(f"fluvius:{dm}_offtake_total_kwh"),
                _grid_from(f"fluvius:{amr_offtake}_offtake_total_kwh"),
            ],
            "flow_to": [
                _grid_to(f"fluvius:{dm}_injection_total_kwh"),
                _grid_to(f"fluvius:{pv_injection}_injection_total_kwh"),
            ],
            "cost_adjustment_day": 0,
        },
        {
            "type": "gas",
            "stat_energy_from": f"fluvius:{gas}_offtake_total_m3",
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": None,
        },
    ]
    if production_id is not None:
        sources.append(
            {
                "type": "solar",
                "stat_energy_from": production_id,
                "config_entry_solar_forecast": None,
            }
        )
    return {"energy_sources": sources, "device_consumption": []}


async def configure_energy(session: aiohttp.ClientSession, token: str) -> None:
    ws = await WebSocket.connect(session, token)
    try:
        ids = await ws.call({"type": "recorder/list_statistic_ids", "statistic_type": "sum"})
        production = sorted(
            s["statistic_id"] for s in ids if s["statistic_id"].endswith("_production_total_kwh")
        )
        prefs = energy_prefs(production[0] if production else None)
        await ws.call({"type": "energy/save_prefs", **prefs})
        log("energy dashboard configured")
    finally:
        await ws.close()


async def wait_imported(session: aiohttp.ClientSession, token: str, limit: float) -> None:
    """Wait until every history-import sensor reports 100 %."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        async with session.get(f"{HA_URL}/api/states", headers=headers) as response:
            states = await response.json()
        progress = [s["state"] for s in states if s["entity_id"].endswith("_history_import")]
        if progress and all(p == "100.0" for p in progress):
            log("history import complete")
            return
        await asyncio.sleep(5)
    raise TimeoutError("history import did not finish in time")


async def main(args: argparse.Namespace) -> int:
    prepare_config()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    python = sys.executable
    sim = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "fluvius_simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(SIM_PORT),
        "--demo",
        env=env,
    )
    hass_bin = str(Path(python).parent / "hass")
    ha = await asyncio.create_subprocess_exec(hass_bin, "-c", str(CONFIG_DIR), env=env)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_http(session, f"{SIM_URL}/_simulator/stats", 60)
            log(f"simulator at {SIM_URL}")
            await wait_http(session, f"{HA_URL}/api/onboarding", 600)
            token = await onboard(session)
            await ensure_entry(session, token)
            await wait_imported(session, token, args.import_timeout)
            await configure_energy(session, token)
        log(
            f"Home Assistant: {HA_URL}  user: {DEMO_USER['username']}  password: {DEMO_USER['password']}"
        )
        if args.until_imported:
            return 0
        log("running; press Ctrl-C to stop")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(ha.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        return 0
    finally:
        for process in (ha, sim):
            if process.returncode is None:
                process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 60)
            if process.returncode is None:
                process.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--until-imported", action="store_true", help="exit once set up and imported"
    )
    parser.add_argument("--import-timeout", type=float, default=1800)
    sys.exit(asyncio.run(main(parser.parse_args())))
