"""End-to-end check: Fluvius simulator -> real Home Assistant -> statistics -> Energy dashboard.

1. Runs the simulator in this process, its clock frozen at the start so its data
   cannot change during the run, and a fresh Home Assistant in .dev/e2e (wiped
   on every run) on free loopback ports, so a running scripts/develop is left alone.
2. Adds the entry through the config flow while the simulator has no mandates,
   sets the history option (--history-months) through the options flow, then
   creates the demo mandates and runs the reconfigure flow, which reloads the
   entry: the first history import therefore runs with the short history.
3. Waits for the import, configures the Energy dashboard as scripts/develop does
   and reads every Energy-dashboard statistic hour by hour over the websocket API
   (recorder/statistics_during_period). The expected rows are computed here from
   the simulator's truth: the sum of each complete UTC hour of quarter-hours
   (hours for gas). Missing, extra or different hours fail the run.
4. Logs in through the login page in headless Chromium, opens the Energy dashboard
   on the week before last (the simulator's newest ~72 h are still missing), checks
   that its charts hold data and show no "no data" notice, opens a meter's device
   page and the integrations dashboard (from HA 2026.3 on, the Fluvius card must
   show the icon of custom_components/fluvius/brand/) and saves the screenshots
   to docs/images/ (--images elsewhere).

FLUVIUS_STACK=newest (see scripts/e2e) runs Home Assistant on the newest stack.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
import re
import shutil
import signal
import socket
import sys
import time
from typing import Any

import aiohttp
from demo_costs import DEMO_DM, PRICE_ENTITY, cost_statistics, expected_hour_cost
from develop import (
    DEMO_USER,
    PRODUCTION_SUFFIX,
    REPO,
    Instance,
    WebSocket,
    add_tariffs,
    configure_energy,
    confirm_http_config,
    create_entry,
    credential_steps,
    energy_statistic_ids,
    ensure_price_helper,
    onboard,
    prepare_config,
    run_flow,
    set_site_names,
    start_home_assistant,
    stop_processes,
    wait_http,
    wait_imported,
)
from playwright.async_api import Error as PlaywrightError, Page, async_playwright

from fluvius_simulator import DEMO_SITE_NAMES, FluviusSimulator, TruthRecord, install_demo

E2E_DIR = REPO / ".dev" / "e2e"
IMAGES_DIR = REPO / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
# Stored states are rounded to 6 decimals; the truth has 3.
TOLERANCE = 1e-4
# A cost recomputed from a stored (6-decimal) hour of energy: within a micro-euro.
COST_TOLERANCE = 1e-6
HOUR = timedelta(hours=1)
# The Energy panel opens on the period preset stored under this key (what its
# date picker stores when a preset is chosen).
ENERGY_PERIOD_KEY = "energy-default-period-_energy_dashboard"
NO_DATA_TEXTS = ("There is no data for this period", "There is no data to show")
UI_TIMEOUT_MS = 60_000
# Home Assistant shows the images of custom_components/<domain>/brand/ from 2026.3 on.
BRAND_FOLDER_SINCE = (2026, 3)

type SeriesKey = tuple[str, str, str, str]  # (EAN or sub-EAN, direction, register, unit)


class CheckFailedError(Exception):
    """The run found a difference; the message says which."""


@dataclass(slots=True)
class Timings:
    """Wall-clock time per phase."""

    started: float = field(default_factory=time.monotonic)
    phases: list[tuple[str, float]] = field(default_factory=list)
    _mark: float = field(default_factory=time.monotonic)

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append((name, now - self._mark))
        self._mark = now

    def report(self, instance: Instance) -> None:
        parts = ", ".join(f"{name} {seconds:.0f}s" for name, seconds in self.phases)
        instance.log(f"took {time.monotonic() - self.started:.0f}s ({parts})")


def shown(path: Path) -> str:
    """A path for the log: relative to the repository where it lies inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def series_key(statistic_id: str) -> SeriesKey:
    """fluvius:{ean}_{direction}_{register}_{unit} -> its parts."""
    ean, direction, register, unit = statistic_id.removeprefix("fluvius:").split("_")
    return ean, direction, register, unit


def expected_hours(
    records_by_ean: Iterable[tuple[str, list[TruthRecord]]],
) -> dict[SeriesKey, dict[datetime, float]]:
    """Per series, the sum of every UTC hour that the truth covers completely."""
    totals: dict[SeriesKey, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    covered: dict[SeriesKey, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for ean, records in records_by_ean:
        for record in records:
            key = (record.sub_ean or ean, record.direction, record.register, record.unit.lower())
            hour = record.start.replace(minute=0, second=0, microsecond=0)
            if record.end > hour + HOUR:
                raise CheckFailedError(f"truth slice {record.start}-{record.end} spans hours")
            totals[key][hour] += record.value
            covered[key][hour] += (record.end - record.start).total_seconds()
    return {
        key: {hour: value for hour, value in hours.items() if covered[key][hour] == 3600}
        for key, hours in totals.items()
    }


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (day clamped to 28)."""
    index = moment.year * 12 + moment.month - 1 - months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=min(moment.day, 28))


def compare_series(
    statistic_id: str,
    rows: list[dict[str, Any]],
    expected: dict[datetime, float],
    now: datetime,
    months: int,
) -> str:
    """Compare one statistic's hourly rows with the expected hours; return a summary."""
    if not rows:
        raise CheckFailedError(f"{statistic_id}: Home Assistant has no hourly rows")
    stored = {datetime.fromtimestamp(row["start"] / 1000, UTC): row for row in rows}
    first = min(stored)
    # The option decides where the history starts: about `months` months back.
    earliest, latest = (
        months_before(now, months + 1),
        months_before(now, months) + timedelta(days=1),
    )
    if not earliest <= first <= latest:
        raise CheckFailedError(
            f"{statistic_id}: history starts {first:%Y-%m-%d %H:%M}, expected between "
            f"{earliest:%Y-%m-%d} and {latest:%Y-%m-%d} for {months} month(s)"
        )
    want = {hour: value for hour, value in expected.items() if hour >= first}
    missing = sorted(want.keys() - stored.keys())
    extra = sorted(stored.keys() - want.keys())
    wrong = []
    for hour in sorted(want.keys() & stored.keys()):
        row = stored[hour]
        for field_name in ("state", "change"):
            value = row.get(field_name)
            if value is None or abs(value - want[hour]) > TOLERANCE:
                wrong.append(f"{hour:%Y-%m-%d %H:%M} {field_name}={value} expected {want[hour]}")
    problems = []
    if missing:
        problems.append(f"{len(missing)} hour(s) missing, first {missing[0]:%Y-%m-%d %H:%M}")
    if extra:
        problems.append(f"{len(extra)} unexpected hour(s), first {extra[0]:%Y-%m-%d %H:%M}")
    if wrong:
        problems.append(f"{len(wrong)} value(s) differ, first {wrong[0]}")
    if problems:
        raise CheckFailedError(f"{statistic_id}: " + "; ".join(problems))
    total = sum(want.values())
    last = max(want)
    return (
        f"{statistic_id}: {len(want)} hours {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC,"
        f" total {total:.3f} - all equal"
    )


async def check_statistics(
    ws: WebSocket, sim: FluviusSimulator, now: datetime, months: int, instance: Instance
) -> None:
    """Every Energy-dashboard statistic, hour by hour, against the simulator's truth."""
    prefs = await ws.call({"type": "energy/get_prefs"})
    ids = energy_statistic_ids(prefs)
    if len(ids) != 6 or not any(i.endswith(PRODUCTION_SUFFIX) for i in ids):
        raise CheckFailedError(f"unexpected Energy dashboard statistics: {ids}")
    start = (now - timedelta(days=31 * (months + 2))).replace(minute=0, second=0, microsecond=0)
    end = now + HOUR
    stats = await ws.call(
        {
            "type": "recorder/statistics_during_period",
            "start_time": start.isoformat(),
            "end_time": end.isoformat(),
            "statistic_ids": ids,
            "period": "hour",
            "types": ["state", "sum", "change"],
        }
    )
    truth = [(ean, sim.truth(ean, start, end)) for ean in sorted(sim.mandates)]
    expected = expected_hours(truth)
    firsts = set()
    for statistic_id in ids:
        key = series_key(statistic_id)
        if key not in expected:
            raise CheckFailedError(f"{statistic_id}: the simulator has no such series")
        rows = stats.get(statistic_id, [])
        instance.log(compare_series(statistic_id, rows, expected[key], now, months))
        firsts.add(min(row["start"] for row in rows))
    # One import window start for every meter: a series that starts later lost hours.
    if len(firsts) != 1:
        raise CheckFailedError(f"the statistics start at different hours: {sorted(firsts)}")
    await check_statistic_names(ws, ids, instance)


async def hourly(ws: WebSocket, ids: list[str], types: list[str]) -> dict[str, Any]:
    """Every hourly row of the statistics, from the oldest the demo can have."""
    start = datetime.now(UTC) - timedelta(days=4 * 365)
    result: dict[str, Any] = await ws.call(
        {
            "type": "recorder/statistics_during_period",
            "start_time": start.isoformat(),
            "statistic_ids": ids,
            "period": "hour",
            "types": types,
        }
    )
    return result


async def check_costs(ws: WebSocket, instance: Instance) -> None:
    """Each cost row of the Energy dashboard's statistics, recomputed here, and its sum.

    From what the websocket API shows: the energy rows, the price helper's
    hourly means and the demo tariffs (scripts/demo_costs.py).
    """
    costs = cost_statistics()
    energy = await hourly(ws, list(costs), ["state"])
    priced = await hourly(ws, list(costs.values()), ["state", "sum"])
    means = {
        row["start"]: row["mean"]
        for row in (await hourly(ws, [PRICE_ENTITY], ["mean"])).get(PRICE_ENTITY, [])
    }
    for energy_id, cost_id in costs.items():
        rows = {row["start"]: row for row in priced.get(cost_id, [])}
        hours = {row["start"]: row["state"] for row in energy.get(energy_id, [])}
        if not rows or sorted(rows) != sorted(hours):
            raise CheckFailedError(f"{cost_id}: {len(rows)} rows for {len(hours)} energy hours")
        fallbacks = 0
        previous = None
        for start in sorted(hours):
            want, fell_back = expected_hour_cost(energy_id, hours[start], means.get(start))
            fallbacks += fell_back
            row = rows[start]
            step = row["sum"] - (previous if previous is not None else 0.0)
            if abs(row["state"] - want) > COST_TOLERANCE or (
                previous is not None and abs(step - row["state"]) > COST_TOLERANCE
            ):
                raise CheckFailedError(f"{cost_id} at {start}: {row}, expected state {want}")
            previous = row["sum"]
        instance.log(
            f"{cost_id}: {len(rows)} hours, {previous:.2f} EUR, all equal"
            + (f" ({fallbacks} hours at the fallback price)" if fallbacks else "")
        )


async def check_statistic_names(ws: WebSocket, ids: list[str], instance: Instance) -> None:
    """The Energy dashboard's statistics are named after their sites, never by an EAN."""
    listed = await ws.call({"type": "recorder/list_statistic_ids", "statistic_type": "sum"})
    names = {item["statistic_id"]: item.get("name") or "" for item in listed}
    sites = set(DEMO_SITE_NAMES.values())
    for statistic_id in ids:
        name = names.get(statistic_id, "")
        if not any(name.startswith(f"{site} ") for site in sites) or re.search(r"\d{18}", name):
            raise CheckFailedError(f"{statistic_id} is named {name!r}, not after its site")
        instance.log(f"{statistic_id}: {name!r}")


async def device_id_of(ws: WebSocket, ean: str) -> str:
    devices = await ws.call({"type": "config/device_registry/list"})
    for device in devices:
        if ["fluvius", ean] in device["identifiers"]:
            return str(device["id"])
    raise CheckFailedError(f"no device for EAN {ean}")


async def login(page: Page, instance: Instance) -> None:
    """Through Home Assistant's own login page."""
    await page.goto(f"{instance.ha_url}/", wait_until="domcontentloaded")
    await page.wait_for_url("**/auth/authorize**", timeout=UI_TIMEOUT_MS)
    await page.get_by_role("textbox", name="Username").fill(DEMO_USER["username"])
    await page.get_by_role("textbox", name="Password").fill(DEMO_USER["password"])
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/auth/" not in url, timeout=UI_TIMEOUT_MS)
    await page.locator("home-assistant-main").wait_for(timeout=UI_TIMEOUT_MS)


async def chart_points(page: Page) -> list[int]:
    """Per chart on the page, how many data points its series hold."""
    counts: list[int] = await page.locator("ha-chart-base").evaluate_all(
        """charts => charts.map(chart => (chart.data || []).reduce(
            (n, series) => n + (Array.isArray(series && series.data)
                ? series.data.filter(p => p !== null && p !== undefined).length : 0), 0))"""
    )
    return counts


async def open_energy_view(page: Page, instance: Instance, view: str) -> str:
    """Open an Energy dashboard view two weeks back; wait until its charts hold data."""
    await page.goto(f"{instance.ha_url}/energy/{view}", wait_until="domcontentloaded")
    selector = page.locator("hui-energy-period-selector").first
    await selector.wait_for(timeout=UI_TIMEOUT_MS)
    # HA 2026.2 draws an ha-icon-button-prev; 2026.10 a bottom bar of labelled buttons.
    previous = (
        selector.locator("ha-icon-button-prev")
        .or_(selector.get_by_role("button", name="Previous", exact=True))
        .first
    )
    for _ in range(2):
        await previous.click()
        await page.wait_for_timeout(500)
    label = selector.locator(".label").first
    period = (await label.inner_text(timeout=5000)).strip() if await label.count() else "?"
    instance.log(f"Energy dashboard ({view}) period: {period}")
    await page.locator("ha-chart-base").first.wait_for(timeout=UI_TIMEOUT_MS)
    deadline = time.monotonic() + 60
    points: list[int] = []
    while time.monotonic() < deadline:
        points = await chart_points(page)
        if points and all(points):
            break
        await page.wait_for_timeout(1000)
    for text in NO_DATA_TEXTS:
        if await page.get_by_text(text).count():
            raise CheckFailedError(f"the Energy dashboard says {text!r} for {period}")
    if not points or not all(points):
        raise CheckFailedError(f"Energy dashboard charts without data for {period}: {points}")
    instance.log(f"Energy dashboard ({view}): {len(points)} charts, data points {points}")
    return period


async def energy_dashboard(page: Page, instance: Instance, images: Path) -> None:
    """The summary and the electricity view, whose sources carry the site names."""
    await open_energy_view(page, instance, "overview")
    await screenshot(page, instance, images / "energy-dashboard.png")
    period = await open_energy_view(page, instance, "electricity")
    name = f"{DEMO_SITE_NAMES[DEMO_DM]} offtake"
    source = page.get_by_text(name, exact=True).first
    try:
        await source.wait_for(timeout=UI_TIMEOUT_MS)
    except PlaywrightError:
        raise CheckFailedError(f"the electricity view ({period}) lists no {name!r}") from None
    instance.log(f"Energy dashboard (electricity): a source named {name!r}")
    # The picture shows the sources table, where the site names and the costs are.
    await source.scroll_into_view_if_needed()
    table = page.locator("hui-energy-sources-table-card").first
    cost = table.get_by_text(re.compile(r"€\s?\d|\d\s?€")).first
    try:
        await cost.wait_for(timeout=UI_TIMEOUT_MS)
    except PlaywrightError:
        raise CheckFailedError(f"the sources table ({period}) shows no cost") from None
    instance.log(f"Energy dashboard (electricity): costs shown, e.g. {await cost.inner_text()!r}")
    await screenshot(page, instance, images / "energy-electricity.png")


async def tariff_form(page: Page, instance: Instance, target: Path) -> None:
    """The tariff flow as a user opens it: Add tariff on the integration's page."""
    await page.goto(f"{instance.ha_url}/config/integrations/integration/fluvius")
    add = page.get_by_role("button", name="Add tariff").first
    await add.click(timeout=UI_TIMEOUT_MS)
    dialog = page.locator("dialog-data-entry-flow")
    for text in ("Capacity tariff", "Offtake", "Re-price from"):
        await dialog.get_by_text(text).first.wait_for(timeout=UI_TIMEOUT_MS)
    instance.log("tariff form: opened from the integration page")
    await screenshot(page, instance, target)
    await page.keyboard.press("Escape")


async def screenshot(page: Page, instance: Instance, target: Path) -> None:
    """Once the chart animations have finished."""
    await page.wait_for_timeout(2000)
    await page.screenshot(path=str(target))
    instance.log(f"screenshot {shown(target)}")


async def device_page(page: Page, instance: Instance, device_id: str, target: Path) -> None:
    """The digital meter's device page: named after its site, its sensors with values."""
    await page.goto(f"{instance.ha_url}/config/devices/device/{device_id}")
    await page.get_by_text(DEMO_SITE_NAMES[DEMO_DM]).first.wait_for(timeout=UI_TIMEOUT_MS)
    await page.locator("ha-device-entities-card").first.wait_for(timeout=UI_TIMEOUT_MS)
    # (The activity card may list the reloads that tariffs and site names made.)
    entities = page.locator("ha-device-entities-card")
    if await entities.get_by_text("Unavailable", exact=True).count():
        raise CheckFailedError("the device page shows unavailable entities")
    await screenshot(page, instance, target)


async def ha_version(page: Page) -> tuple[int, int]:
    """The (year, month) of the Home Assistant the page talks to."""
    version: str = await page.evaluate(
        "document.querySelector('home-assistant').hass.config.version"
    )
    year, month = version.split(".")[:2]
    return int(year), int(month)


async def integrations_page(page: Page, instance: Instance, target: Path) -> None:
    """The integrations dashboard; from HA 2026.3 on the Fluvius card shows our brand icon."""
    await page.goto(f"{instance.ha_url}/config/integrations/dashboard")
    card = page.locator("ha-integration-card", has_text="Fluvius").first
    await card.wait_for(timeout=UI_TIMEOUT_MS)
    version = await ha_version(page)
    if version >= BRAND_FOLDER_SINCE:
        icon = card.locator("img").first
        await icon.wait_for(timeout=UI_TIMEOUT_MS)
        deadline = time.monotonic() + 30
        loaded = False
        while not loaded and time.monotonic() < deadline:
            loaded = await icon.evaluate("img => img.complete && img.naturalWidth > 0")
            if not loaded:
                await page.wait_for_timeout(500)
        source = await icon.get_attribute("src")
        if not loaded or not source or "/fluvius/" not in source:
            raise CheckFailedError(f"the Fluvius card shows no brand icon (img src {source!r})")
        instance.log(f"integrations page: brand icon {source}")
    await page.wait_for_timeout(1000)
    await page.screenshot(path=str(target))
    instance.log(f"screenshot {shown(target)}")


async def browser_checks(instance: Instance, device_id: str, images: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
                locale="en-GB",
                timezone_id="Europe/Brussels",
            )
            await context.add_init_script(
                f"window.localStorage.setItem('{ENERGY_PERIOD_KEY}', 'this_week');"
            )
            page = await context.new_page()
            try:
                await login(page, instance)
                await energy_dashboard(page, instance, images)
                await device_page(page, instance, device_id, images / "device-page.png")
                await tariff_form(page, instance, images / "tariff-form.png")
                await integrations_page(page, instance, images / "integrations-page.png")
            except (CheckFailedError, PlaywrightError):
                failure = instance.config_dir / "failure.png"
                with contextlib.suppress(PlaywrightError):
                    await page.screenshot(path=str(failure))
                    instance.log(f"page at the failure: {failure.relative_to(REPO)} ({page.url})")
                raise
        finally:
            await browser.close()


def print_log_tail(instance: Instance, lines: int = 40) -> None:
    log_file = instance.config_dir / "home-assistant.log"
    if not log_file.exists():
        log_file = instance.config_dir / "console.log"
    if log_file.exists():
        tail = log_file.read_text(errors="replace").splitlines()[-lines:]
        instance.log(f"last lines of {log_file.relative_to(REPO)}:")
        print("\n".join(tail), flush=True)


async def set_up_entry(
    session: aiohttp.ClientSession,
    instance: Instance,
    token: str,
    sim: FluviusSimulator,
    args: argparse.Namespace,
) -> None:
    """Entry without mandates, the history option, then the demo mandates and a reload."""
    await ensure_price_helper(session, instance, token)
    entry_id = await create_entry(session, instance, token)
    options = await run_flow(
        session,
        instance,
        token,
        "config_entries/options/flow",
        start={"handler": entry_id},
        answers=[{"next_step_id": "settings"}, {"history_months": args.history_months}],
    )
    if options.get("type") != "create_entry":
        raise CheckFailedError(f"options flow failed: {options}")
    instance.log(f"options: history_months={args.history_months}")
    install_demo(sim)
    reconfigured = await run_flow(
        session,
        instance,
        token,
        "config_entries/flow",
        start={"handler": "fluvius", "entry_id": entry_id},
        answers=credential_steps(instance.sim_url),
    )
    if reconfigured.get("reason") != "reconfigure_successful":
        raise CheckFailedError(f"reconfigure flow failed: {reconfigured}")
    instance.log(f"demo mandates added ({len(sim.mandates)}), entry reconfigured and reloaded")
    await add_tariffs(session, instance, token, entry_id)
    await wait_imported(session, instance, token, args.import_timeout, sensors=len(sim.mandates))
    await set_site_names(session, instance, token, entry_id)
    await wait_imported(session, instance, token, args.import_timeout, sensors=len(sim.mandates))


async def check_all(
    instance: Instance,
    sim: FluviusSimulator,
    frozen: datetime,
    args: argparse.Namespace,
    timings: Timings,
) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_http(session, f"{instance.ha_url}/api/onboarding", 600)
        token = await onboard(session, instance)
        await confirm_http_config(session, instance, token)
        timings.lap("start")
        await set_up_entry(session, instance, token, sim, args)
        await configure_energy(session, instance, token)
        timings.lap("import")
        ws = await WebSocket.connect(session, instance, token)
        try:
            await check_statistics(ws, sim, frozen, args.history_months, instance)
            await check_costs(ws, instance)
            device_id = await device_id_of(ws, DEMO_DM)
        finally:
            await ws.close()
        timings.lap("statistics")
    if not args.skip_browser:
        args.images.mkdir(parents=True, exist_ok=True)
        await browser_checks(instance, device_id, args.images)
        timings.lap("browser")


async def run(args: argparse.Namespace) -> int:
    timings = Timings()
    if E2E_DIR.exists():
        shutil.rmtree(E2E_DIR)
    frozen = datetime.now(UTC).replace(microsecond=0)
    sim = FluviusSimulator(clock=lambda: frozen)
    sim_url = await sim.start("127.0.0.1", 0)
    try:
        instance = Instance(E2E_DIR, args.ha_port or free_port(), sim_url, tag="e2e")
        prepare_config(instance)
        instance.log(f"simulator at {sim_url} (clock frozen at {frozen:%Y-%m-%d %H:%M:%S} UTC)")
        with (E2E_DIR / "console.log").open("wb") as console:
            ha = await start_home_assistant(instance, output=console.fileno())
            try:
                await check_all(instance, sim, frozen, args, timings)
                if args.keep_running:
                    instance.log(
                        f"checks passed; Home Assistant stays at {instance.ha_url} until Ctrl-C"
                    )
                    await ha.wait()
            except (
                CheckFailedError,
                TimeoutError,
                RuntimeError,
                aiohttp.ClientError,
                PlaywrightError,
            ) as err:
                instance.log(f"FAILED: {err}")
                print_log_tail(instance)
                return 1
            finally:
                await stop_processes([ha])
    finally:
        await sim.stop()
    timings.lap("stop")
    instance.log("end-to-end check passed")
    timings.report(instance)
    return 0


async def main(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # Ctrl-C and SIGTERM cancel the run, so the finally blocks stop what it started.
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
    try:
        return await run(args)
    except asyncio.CancelledError:
        print("[e2e] interrupted", flush=True)
        return 130


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--history-months", type=int, default=2, help="history option (default 2 months)"
    )
    parser.add_argument("--import-timeout", type=float, default=900, help="seconds (default 900)")
    parser.add_argument(
        "--ha-port", type=int, default=0, help="Home Assistant port (default: free)"
    )
    parser.add_argument(
        "--images", type=Path, default=IMAGES_DIR, help="where screenshots go (docs/images)"
    )
    parser.add_argument("--skip-browser", action="store_true", help="no browser, no screenshots")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave Home Assistant up after the checks"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
