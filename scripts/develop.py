"""Start the Fluvius simulator and a real Home Assistant configured against it.

Home Assistant listens on 127.0.0.1 only and keeps its state in .dev/config, so
a second start reuses onboarding, the config entry and the imported statistics.
Used by scripts/develop (runs until Ctrl-C, or exits with --until-imported);
scripts/e2e imports the building blocks below and runs its own instance.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import os
from pathlib import Path
import signal
import sys
import time
from typing import Any

import aiohttp
from demo_costs import (
    DEMO_AMR_OFFTAKE,
    DEMO_DM,
    DEMO_GAS,
    DEMO_PV_INJECTION,
    DEMO_TARIFFS,
    PRICE_ENTITY,
    PRICE_NAME,
    PRICE_TEMPLATE,
    PRICE_UNIT,
    cost_statistics,
    hourly_means,
    price_statistic_metadata,
)

from fluvius_simulator import DEFAULT_CREDENTIALS, DEMO_SITE_NAMES

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / ".dev" / "config"
HA_PORT = 8123
SIM_PORT = 8099
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
DEMO_USER = {"name": "Demo", "username": "demo", "password": "fluvius-demo", "language": "en"}

# Statistic ids of the demo mandates that go into the Energy dashboard.
PRODUCTION_SUFFIX = "_production_total_kwh"


@dataclass(frozen=True, slots=True)
class Instance:
    """One Home Assistant run: its config dir, its port, the simulator it uses, a log tag."""

    config_dir: Path
    ha_port: int
    sim_url: str
    tag: str = "develop"

    @property
    def ha_url(self) -> str:
        return f"http://127.0.0.1:{self.ha_port}"

    @property
    def client_id(self) -> str:
        return f"{self.ha_url}/"

    @property
    def redirect_uri(self) -> str:
        return f"{self.ha_url}/?auth_callback=1"

    def log(self, message: str) -> None:
        print(f"[{self.tag}] {message}", flush=True)


DEVELOP = Instance(CONFIG_DIR, HA_PORT, SIM_URL)


def configuration_yaml(instance: Instance) -> str:
    return f"""\
# Development configuration written by scripts/{instance.tag}.
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
  server_port: {instance.ha_port}
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


def prepare_config(instance: Instance) -> None:
    """Config dir with the integration linked in (a link, so edits apply on restart)."""
    config_dir = instance.config_dir
    (config_dir / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config_dir / "custom_components" / "fluvius"
    if not link.exists():
        link.symlink_to(REPO / "custom_components" / "fluvius")
    config = config_dir / "configuration.yaml"
    if not config.exists():
        config.write_text(configuration_yaml(instance))
        # The core_config onboarding step would add integrations that reach the
        # internet (weather, text-to-speech); the location is in the YAML anyway.
        storage = config_dir / ".storage"
        storage.mkdir(exist_ok=True)
        (storage / "onboarding").write_text(
            '{"version": 4, "minor_version": 1, "key": "onboarding",'
            ' "data": {"done": ["core_config"]}}'
        )


async def start_simulator_process(sim_port: int) -> asyncio.subprocess.Process:
    """`python -m fluvius_simulator --demo` on 127.0.0.1:sim_port."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fluvius_simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(sim_port),
        "--demo",
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def start_home_assistant(
    instance: Instance, *, output: int | None = None
) -> asyncio.subprocess.Process:
    """`hass -c <config dir>`; output None inherits ours.

    From this virtual environment, or the command in FLUVIUS_HASS (the newest stack's,
    written by scripts/lib/newest.sh for FLUVIUS_STACK=newest).
    """
    hass_bin = os.environ.get("FLUVIUS_HASS") or str(Path(sys.executable).parent / "hass")
    return await asyncio.create_subprocess_exec(
        hass_bin,
        "-c",
        str(instance.config_dir),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=output,
        stderr=output,
    )


async def stop_processes(processes: Sequence[asyncio.subprocess.Process]) -> None:
    """Terminate, wait up to a minute, then kill what is left."""
    for process in processes:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 60)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def wait_http(session: aiohttp.ClientSession, url: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as response:
                if response.status < 500:
                    return
        await asyncio.sleep(1)
    raise TimeoutError(f"{url} did not answer within {limit:.0f}s")


async def onboard(session: aiohttp.ClientSession, instance: Instance) -> str:
    """Create the demo user on first start; return an access token either way."""
    ha_url = instance.ha_url
    async with session.get(f"{ha_url}/api/onboarding") as response:
        # Once onboarding is complete, Home Assistant no longer serves this view.
        onboarded = response.status == 404
        steps = {} if onboarded else {s["step"]: s["done"] for s in await response.json()}
    if not onboarded and not steps.get("user"):
        instance.log("onboarding: creating the demo user")
        async with session.post(
            f"{ha_url}/api/onboarding/users", json={**DEMO_USER, "client_id": instance.client_id}
        ) as response:
            response.raise_for_status()
            auth_code = (await response.json())["auth_code"]
        token = await exchange_code(session, instance, auth_code)
        headers = {"Authorization": f"Bearer {token}"}
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": instance.client_id, "redirect_uri": instance.redirect_uri},
            ),
        ):
            if not steps.get(step):
                async with session.post(
                    f"{ha_url}/api/onboarding/{step}", json=body, headers=headers
                ) as response:
                    response.raise_for_status()
        return token
    return await login(session, instance)


async def exchange_code(session: aiohttp.ClientSession, instance: Instance, code: str) -> str:
    async with session.post(
        f"{instance.ha_url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": instance.client_id},
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def login(session: aiohttp.ClientSession, instance: Instance) -> str:
    """Log in with the demo user through the login flow."""
    async with session.post(
        f"{instance.ha_url}/auth/login_flow",
        json={
            "client_id": instance.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": instance.redirect_uri,
        },
    ) as response:
        flow = await response.json()
    async with session.post(
        f"{instance.ha_url}/auth/login_flow/{flow['flow_id']}",
        json={
            "client_id": instance.client_id,
            "username": DEMO_USER["username"],
            "password": DEMO_USER["password"],
        },
    ) as response:
        result = await response.json()
    return await exchange_code(session, instance, result["result"])


def credential_steps(sim_url: str) -> list[dict[str, Any]]:
    """The config flow's answers for the simulator: the custom environment, then its URLs."""
    creds = DEFAULT_CREDENTIALS
    return [
        {
            "environment": "custom",
            "tenant_id": creds.tenant_id,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scope,
            "subscription_key": creds.subscription_key,
        },
        {"base_url": sim_url, "token_url": f"{sim_url}/{creds.tenant_id}/oauth2/v2.0/token"},
    ]


async def run_flow(
    session: aiohttp.ClientSession,
    instance: Instance,
    token: str,
    path: str,
    *,
    start: Mapping[str, Any],
    answers: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Start a data-entry flow under /api/config/<path> and answer its forms in order."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{instance.ha_url}/api/config/{path}"
    async with session.post(base, json=dict(start), headers=headers) as response:
        response.raise_for_status()
        flow: dict[str, Any] = await response.json()
    for body in answers:
        if flow.get("type") not in ("form", "menu"):
            raise RuntimeError(f"{path}: expected a form or a menu, got {flow}")
        async with session.post(
            f"{base}/{flow['flow_id']}", json=dict(body), headers=headers
        ) as response:
            response.raise_for_status()
            flow = await response.json()
    return flow


async def fluvius_entries(
    session: aiohttp.ClientSession, instance: Instance, token: str
) -> list[dict[str, Any]]:
    async with session.get(
        f"{instance.ha_url}/api/config/config_entries/entry",
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        entries = await response.json()
    return [entry for entry in entries if entry["domain"] == "fluvius"]


async def create_entry(session: aiohttp.ClientSession, instance: Instance, token: str) -> str:
    """Add the Fluvius entry through the real config flow (custom environment); return its id."""
    flow = await run_flow(
        session,
        instance,
        token,
        "config_entries/flow",
        start={"handler": "fluvius"},
        answers=credential_steps(instance.sim_url),
    )
    if flow.get("type") != "create_entry":
        raise RuntimeError(f"config flow did not create an entry: {flow}")
    instance.log(f"config entry created: {flow['title']}")
    return str(flow["result"]["entry_id"])


async def ensure_entry(session: aiohttp.ClientSession, instance: Instance, token: str) -> str:
    """Create the Fluvius entry unless one exists; return its id."""
    entries = await fluvius_entries(session, instance, token)
    if entries:
        instance.log("config entry exists: reusing it")
        return str(entries[0]["entry_id"])
    return await create_entry(session, instance, token)


async def set_site_names(
    session: aiohttp.ClientSession, instance: Instance, token: str, entry_id: str
) -> None:
    """Name the demo sites through the options flow, as a user would (the entry reloads)."""
    flow = await run_flow(
        session,
        instance,
        token,
        "config_entries/options/flow",
        start={"handler": entry_id},
        answers=[{"next_step_id": "site_names"}, DEMO_SITE_NAMES],
    )
    if flow.get("type") != "create_entry":
        raise RuntimeError(f"site names were not saved: {flow}")
    instance.log(f"site names: {', '.join(sorted(set(DEMO_SITE_NAMES.values())))}")


async def entry_state(
    session: aiohttp.ClientSession, instance: Instance, token: str, entry_id: str
) -> dict[str, Any]:
    entries = await fluvius_entries(session, instance, token)
    return next(entry for entry in entries if entry["entry_id"] == entry_id)


async def wait_loaded(
    session: aiohttp.ClientSession, instance: Instance, token: str, entry_id: str
) -> None:
    """Wait until the entry is loaded (after a reload that a change scheduled)."""
    deadline = time.monotonic() + 120
    while (await entry_state(session, instance, token, entry_id))["state"] != "loaded":
        if time.monotonic() > deadline:
            raise TimeoutError("the Fluvius entry did not load")
        await asyncio.sleep(1)


async def ensure_price_helper(
    session: aiohttp.ClientSession, instance: Instance, token: str
) -> None:
    """The day-ahead price helper (a template sensor) and its past hourly means."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(
        f"{instance.ha_url}/api/states/{PRICE_ENTITY}", headers=headers
    ) as response:
        exists = response.status == 200
    if not exists:
        flow = await run_flow(
            session,
            instance,
            token,
            "config_entries/flow",
            start={"handler": "template"},
            answers=[
                {"next_step_id": "sensor"},
                {
                    "name": PRICE_NAME,
                    "state": PRICE_TEMPLATE,
                    "unit_of_measurement": PRICE_UNIT,
                    "state_class": "measurement",
                },
            ],
        )
        if flow.get("type") != "create_entry":
            raise RuntimeError(f"price helper was not created: {flow}")
    ws = await WebSocket.connect(session, instance, token)
    try:
        await ws.call(
            {
                "type": "recorder/import_statistics",
                "metadata": price_statistic_metadata(),
                "stats": hourly_means(datetime.now(UTC)),
            }
        )
    finally:
        await ws.close()
    instance.log(f"price helper {PRICE_ENTITY} with its hourly history")


async def add_tariffs(
    session: aiohttp.ClientSession, instance: Instance, token: str, entry_id: str
) -> None:
    """The demo's fixed and dynamic tariffs, through the tariff flow (each reloads the entry)."""
    if (await entry_state(session, instance, token, entry_id)).get("num_subentries"):
        instance.log("tariffs exist: reusing them")
        return
    for title, data in DEMO_TARIFFS:
        await wait_loaded(session, instance, token, entry_id)
        flow = await run_flow(
            session,
            instance,
            token,
            "config_entries/subentries/flow",
            start={"handler": [entry_id, "tariff"]},
            answers=[{"name": title, **data}],
        )
        if flow.get("type") != "create_entry":
            raise RuntimeError(f"tariff {title} was not added: {flow}")
    await wait_loaded(session, instance, token, entry_id)
    instance.log(f"tariffs: {', '.join(title for title, _ in DEMO_TARIFFS)}")


class WebSocket:
    """Minimal Home Assistant websocket API client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._id = 0

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, instance: Instance, token: str
    ) -> WebSocket:
        ws = await session.ws_connect(f"{instance.ha_url}/api/websocket", max_msg_size=0)
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


# HA 2026.10 replaced the grid source's flow_from/flow_to lists with one import/export
# pair per grid source (and rejects the old form when saving).
UNIFIED_GRID_SINCE = (2026, 10)
_NO_PRICE = {"entity_energy_price": None, "number_energy_price": None}
_NO_EXPORT_PRICE = {"entity_energy_price_export": None, "number_energy_price_export": None}
# Energy statistic -> the integration's cost statistic of it (the demo's tariffs).
COSTS = cost_statistics()
# (offtake, injection) statistic ids of the demo's grid connections.
DEMO_GRID = (
    (f"fluvius:{DEMO_DM}_offtake_total_kwh", f"fluvius:{DEMO_DM}_injection_total_kwh"),
    (
        f"fluvius:{DEMO_AMR_OFFTAKE}_offtake_total_kwh",
        f"fluvius:{DEMO_PV_INJECTION}_injection_total_kwh",
    ),
)


def _grid_sources(unified: bool) -> list[dict[str, Any]]:
    if unified:
        return [
            {
                "type": "grid",
                "stat_energy_from": offtake,
                "stat_energy_to": injection,
                "stat_cost": COSTS[offtake],
                "stat_compensation": COSTS[injection],
                **_NO_PRICE,
                **_NO_EXPORT_PRICE,
                "cost_adjustment_day": 0,
            }
            for offtake, injection in DEMO_GRID
        ]
    return [
        {
            "type": "grid",
            "flow_from": [
                {"stat_energy_from": offtake, "stat_cost": COSTS[offtake], **_NO_PRICE}
                for offtake, _ in DEMO_GRID
            ],
            "flow_to": [
                {"stat_energy_to": injection, "stat_compensation": COSTS[injection], **_NO_PRICE}
                for _, injection in DEMO_GRID
            ],
            "cost_adjustment_day": 0,
        }
    ]


def energy_prefs(production_id: str | None, *, unified_grid: bool) -> dict[str, Any]:
    """Energy dashboard sources: the demo mandates' statistic ids."""
    sources = _grid_sources(unified_grid)
    sources.append(
        {
            "type": "gas",
            "stat_energy_from": f"fluvius:{DEMO_GAS}_offtake_total_m3",
            "stat_cost": COSTS[f"fluvius:{DEMO_GAS}_offtake_total_m3"],
            **_NO_PRICE,
        }
    )
    if production_id is not None:
        sources.append(
            {
                "type": "solar",
                "stat_energy_from": production_id,
                "config_entry_solar_forecast": None,
            }
        )
    return {"energy_sources": sources, "device_consumption": []}


def energy_statistic_ids(prefs: Mapping[str, Any]) -> list[str]:
    """Every statistic id the Energy dashboard prefs refer to."""
    flows = [
        flow
        for source in prefs.get("energy_sources", [])
        for flow in (source, *source.get("flow_from", []), *source.get("flow_to", []))
    ]
    return [
        str(flow[key])
        for flow in flows
        for key in ("stat_energy_from", "stat_energy_to")
        if flow.get(key)
    ]


async def confirm_http_config(
    session: aiohttp.ClientSession, instance: Instance, token: str
) -> None:
    """Keep the http settings of configuration.yaml (HA 2026.10+ asks to confirm them).

    From 2026.10 on, Home Assistant moves YAML http settings into a pending trial
    config that it reverts (with a restart) five minutes later unless promoted.
    Older versions know no such command; with nothing pending, there is nothing to do.
    """
    ws = await WebSocket.connect(session, instance, token)
    try:
        await ws.call({"type": "http/config/promote"})
        instance.log("http settings of configuration.yaml confirmed")
    except RuntimeError as err:
        if "unknown_command" not in str(err) and "not_allowed" not in str(err):
            raise
    finally:
        await ws.close()


async def configure_energy(session: aiohttp.ClientSession, instance: Instance, token: str) -> None:
    ws = await WebSocket.connect(session, instance, token)
    try:
        ids = await ws.call({"type": "recorder/list_statistic_ids", "statistic_type": "sum"})
        production = sorted(
            s["statistic_id"] for s in ids if s["statistic_id"].endswith(PRODUCTION_SUFFIX)
        )
        config = await ws.call({"type": "get_config"})
        year, month = (int(part) for part in str(config["version"]).split(".")[:2])
        prefs = energy_prefs(
            production[0] if production else None,
            unified_grid=(year, month) >= UNIFIED_GRID_SINCE,
        )
        await ws.call({"type": "energy/save_prefs", **prefs})
        instance.log("energy dashboard configured")
    finally:
        await ws.close()


async def import_progress(
    session: aiohttp.ClientSession, instance: Instance, token: str
) -> list[str]:
    """The states of every history-import sensor."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{instance.ha_url}/api/states", headers=headers) as response:
        states = await response.json()
    return [s["state"] for s in states if s["entity_id"].endswith("_history_import")]


async def wait_imported(
    session: aiohttp.ClientSession,
    instance: Instance,
    token: str,
    limit: float,
    *,
    sensors: int = 1,
) -> None:
    """Wait until every history-import sensor (at least `sensors` of them) reports 100 %."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        progress = await import_progress(session, instance, token)
        if len(progress) >= sensors and all(p == "100.0" for p in progress):
            instance.log("history import complete")
            return
        await asyncio.sleep(5)
    raise TimeoutError("history import did not finish in time")


async def main(args: argparse.Namespace) -> int:
    instance = DEVELOP
    prepare_config(instance)
    sim = await start_simulator_process(SIM_PORT)
    ha = await start_home_assistant(instance)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_http(session, f"{instance.sim_url}/_simulator/stats", 60)
            instance.log(f"simulator at {instance.sim_url}")
            await wait_http(session, f"{instance.ha_url}/api/onboarding", 600)
            token = await onboard(session, instance)
            await confirm_http_config(session, instance, token)
            await ensure_price_helper(session, instance, token)
            entry_id = await ensure_entry(session, instance, token)
            await add_tariffs(session, instance, token, entry_id)
            await wait_imported(session, instance, token, args.import_timeout)
            await set_site_names(session, instance, token, entry_id)
            await wait_imported(session, instance, token, args.import_timeout)
            await configure_energy(session, instance, token)
        instance.log(
            f"Home Assistant: {instance.ha_url}  user: {DEMO_USER['username']}"
            f"  password: {DEMO_USER['password']}"
        )
        if args.until_imported:
            return 0
        instance.log("running; press Ctrl-C to stop")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(ha.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        return 0
    finally:
        await stop_processes([ha, sim])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--until-imported", action="store_true", help="exit once set up and imported"
    )
    parser.add_argument("--import-timeout", type=float, default=1800)
    sys.exit(asyncio.run(main(parser.parse_args())))
