"""Fault matrix: whatever the API does, the statistics end equal to a fault-free run.

The dataset is fixed: a quarter-hour electricity EAN and an hourly gas EAN with
a data period of a few days, and corrections of both arriving during the run.
The fault-free ("golden") run follows the same clock script as the scenarios
(set up at ``T0``, poll until ``T_END``, one last poll) and is itself checked
against the simulator's raw values. Every scenario then injects one fault and
must end with exactly the golden rows (start, state, sum, mean, min, max).

Time is virtual (see ``fault_harness``). Setting FLUVIUS_MATRIX_REPORT to a
file name writes the measured table (docs/reliability.md is built from it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
import itertools
import logging
import os
from pathlib import Path
import random
import time
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]
from pytest_homeassistant_custom_component.components.recorder.common import (  # type: ignore[import-untyped]
    async_wait_recording_done,
)

from custom_components.fluvius.api import TokenProvider
from custom_components.fluvius.const import CONF_CLIENT_SECRET, CONF_HISTORY_MONTHS, DOMAIN
from fluvius_simulator import Fault, FluviusSimulator
from tests.conftest import entry_data

from .fault_harness import (
    PATH_ENERGY,
    Snapshot,
    VirtualClock,
    attempts,
    calls,
    differences,
    expected_from_truth,
    granularity_request,
    history_window,
    insert_poll,
    on_request,
    one_fault,
    row_count,
    snapshot,
    truth_differences,
)

# Digital meter, quarter-hours; its 8 March block is corrected at 11:36 on the first day.
ELEC = "541440010000000032"
# Digital gas meter, hours; its 8 March gas day is corrected at 11:49 on the first day.
GAS = "541441010000000039"
EANS = {ELEC: "quarter_hourly", GAS: "hourly"}
T0 = datetime(2026, 3, 10, 9, 17, tzinfo=dt_util.UTC)
T_END = T0 + timedelta(hours=5)
DATA_FROM = datetime(2026, 3, 3, 23, tzinfo=dt_util.UTC)  # local midnight, 4 March
# Across the switch to summer time (29 March, 01:00 UTC) and the end of March.
DST_T0 = datetime(2026, 3, 28, 9, 17, tzinfo=dt_util.UTC)
DST_END = datetime(2026, 4, 1, 9, 17, tzinfo=dt_util.UTC)
DST_FROM = datetime(2026, 3, 24, 23, tzinfo=dt_util.UTC)  # local midnight, 25 March
FINE = "hourly_quarterhourly"

_GOLDEN: dict[str, Snapshot] = {}
_REPORT: dict[str, tuple[str, str, str]] = {}


@pytest.fixture(autouse=True)
def _fast_and_repeatable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No backoff sleeps, seeded jitter, and no SQL echo (it costs seconds per run)."""
    random.seed(20260310)
    # Token lifetimes follow the virtual clock, as they follow the real one in production.
    # Looked up at each call, so it is freezegun's (the default was bound at import).
    virtual_monotonic = lambda: time.monotonic()  # noqa: E731, PLW0108
    defaults = TokenProvider.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "clock", virtual_monotonic)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    with patch("custom_components.fluvius.entry_client.RETRY_BACKOFF_BASE", 0):
        yield


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    target = os.environ.get("FLUVIUS_MATRIX_REPORT")
    if target and _REPORT:
        lines = [
            "| Scenario | What happened | Calls made | Result |",
            "| --- | --- | --- | --- |",
        ]
        lines.extend(
            f"| {name} | {what} | {made} | {result} |"
            for name, (what, made, result) in _REPORT.items()
        )
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class Run:
    """One config entry driven through a clock script."""

    hass: HomeAssistant
    sim: FluviusSimulator
    clock: VirtualClock
    entry: MockConfigEntry
    start_time: datetime

    def imported(self) -> bool:
        """Loaded, and the history of every EAN imported."""
        if self.entry.state is not ConfigEntryState.LOADED:
            return False
        importer = self.entry.runtime_data.importer
        return all(importer.states.history_done(ean) for ean in EANS)

    def done(self, ean: str) -> bool:
        return (
            self.entry.state is ConfigEntryState.LOADED
            and self.entry.runtime_data.importer.states.history_done(ean)
        )

    def since(self, moment: datetime | None = None) -> str:
        """Virtual time since the run started, e.g. ``+15m``."""
        delta = (moment or dt_util.utcnow()) - self.start_time
        minutes = round(delta.total_seconds() / 60)
        return f"+{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"+{minutes}m"

    def begin_setup(self) -> None:
        self.hass.async_create_task(self.hass.config_entries.async_setup(self.entry.entry_id))

    async def start(self, *, limit: timedelta = timedelta(hours=2)) -> None:
        """Set up and wait until every history import is complete."""
        self.begin_setup()
        await self.clock.run_until(self.imported, limit=limit)

    async def finish(self, end: datetime, *, min_step: float = 0.0) -> None:
        """Poll on schedule until ``end``, then once more, and let every write land."""
        await self.clock.advance_to(end, min_step=min_step)
        await self.clock.run_until(self.imported, limit=timedelta(minutes=1))
        await self.entry.runtime_data.energy.async_refresh()
        await self.clock.settle()

    async def restart(self) -> None:
        """Home Assistant stops (entry unloaded) and starts again."""
        unload = self.hass.async_create_task(
            self.hass.config_entries.async_unload(self.entry.entry_id)
        )
        await self.clock.run_until(unload.done, limit=timedelta(minutes=1))
        assert unload.result()
        self.begin_setup()


def new_run(
    hass: HomeAssistant, sim: FluviusSimulator, clock: VirtualClock, data_from: datetime
) -> Run:
    for ean in EANS:
        sim.add_mandate(ean, data_period_from=data_from)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Fluvius custom",
        unique_id=f"custom_{sim.credentials.client_id}",
        data=entry_data(sim),
        options={CONF_HISTORY_MONTHS: 1},
    )
    entry.add_to_hass(hass)
    return Run(hass, sim, clock, entry, dt_util.utcnow())


@pytest.fixture
async def clock(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: FluviusSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> VirtualClock:
    return VirtualClock(hass, freezer, simulator, monkeypatch)


# --- the golden runs ---------------------------------------------------------------


async def _golden_standard(run: Run) -> None:
    await run.start()
    await run.finish(T_END)


async def _golden_dst(run: Run) -> None:
    # Imported in one go at the end time, never polled across the change.
    await run.start()
    await run.finish(DST_END)


_GOLDEN_SCRIPTS: dict[str, tuple[datetime, datetime, Callable[[Run], Awaitable[None]]]] = {
    "standard": (T0, DATA_FROM, _golden_standard),
    "dst": (DST_END, DST_FROM, _golden_dst),
}


async def golden(
    hass: HomeAssistant, sim: FluviusSimulator, clock: VirtualClock, key: str
) -> Snapshot:
    """The fault-free rows of a clock script, computed once per pytest run.

    Computed in the calling test's Home Assistant when missing, then removed
    again (entry, import state and statistics) so the scenario starts clean.
    """
    if key in _GOLDEN:
        return _GOLDEN[key]
    start, data_from, script = _GOLDEN_SCRIPTS[key]
    clock.freezer.move_to(start)
    sim.reset_stats()
    run = new_run(hass, sim, clock, data_from)
    await script(run)
    rows = await snapshot(hass)
    wrong = truth_differences(rows, expected_from_truth(sim, EANS, data_from))
    assert not wrong, "the fault-free run disagrees with the simulator:\n" + "\n".join(wrong)
    _REPORT[f"golden ({key})"] = (
        "no faults" if key == "standard" else "no faults, imported in one go at the end time",
        calls(sim),
        f"{row_count(rows)} rows in {len(rows)} statistics, equal to the simulator's truth",
    )
    assert await hass.config_entries.async_remove(run.entry.entry_id)
    get_instance(hass).async_clear_statistics(list(rows))
    await async_wait_recording_done(hass)
    sim.reset_stats()
    _GOLDEN[key] = rows
    return rows


async def test_golden_runs_match_truth(
    hass: HomeAssistant, simulator: FluviusSimulator, clock: VirtualClock
) -> None:
    """Both fault-free runs equal the simulator's raw values (checked inside golden())."""
    for key in _GOLDEN_SCRIPTS:
        assert await golden(hass, simulator, clock, key)


# --- scenarios -------------------------------------------------------------------


def _gaps_after(sim: FluviusSimulator, status: int) -> list[float]:
    """Seconds between each answer with ``status`` and the next try of the same request."""
    gaps = []
    requests = sim.requests
    for index, request in enumerate(requests):
        if request.status != status:
            continue
        later = next((r for r in requests[index + 1 :] if r.query == request.query), None)
        if later is not None:
            gaps.append((later.time - request.time).total_seconds())
    return gaps


def _window(run: Run, ean: str) -> str:
    name = "electricity" if ean == ELEC else "gas"
    return f"{name} history window: {attempts(run.sim, history_window(ean), run.start_time)}"


async def scenario_429_retry_after(run: Run) -> str:
    run.sim.faults.add(
        Fault(kind="status", status=429, retry_after="30", path=PATH_ENERGY, count=2)
    )
    await run.start()
    gaps = _gaps_after(run.sim, 429)
    assert len(gaps) == 2
    assert all(gap >= 30 for gap in gaps), gaps
    return (
        "first 2 energy calls answered 429 with Retry-After: 30; each retried "
        f"{min(gaps):.0f} s later by the client"
    )


async def scenario_429_no_retry_after(run: Run) -> str:
    # Five 429s use up one call's attempts: the importer retries the window later.
    on_request(
        run.sim,
        history_window(ELEC),
        one_fault(run.sim, Fault(kind="status", status=429)),
        times=5,
    )
    await run.start(limit=timedelta(hours=1))
    assert run.since() == "+15m"
    return f"429 without Retry-After, five times in a row; {_window(run, ELEC)}"


def _server_burst(status: int, count: int) -> Callable[[Run], Awaitable[str]]:
    async def scenario(run: Run) -> str:
        run.sim.faults.add(Fault(kind="status", status=status, path=PATH_ENERGY, count=count))
        await run.start(limit=timedelta(hours=1))
        assert run.since() == "+0m"
        return (
            f"first {count} energy calls answered {status}: retried by the client at once; "
            f"{_window(run, ELEC)}"
        )

    return scenario


async def scenario_503_beyond_retries(run: Run) -> str:
    on_request(
        run.sim,
        history_window(GAS),
        one_fault(run.sim, Fault(kind="status", status=503)),
        times=5,
    )
    await run.start(limit=timedelta(hours=1))
    assert run.since() == "+15m"
    return f"503 five times in a row for one window (all its attempts); {_window(run, GAS)}"


async def scenario_timeouts(run: Run) -> str:
    arrivals = on_request(
        run.sim,
        history_window(ELEC),
        one_fault(run.sim, Fault(kind="slow", delay=90)),
        times=2,
    )
    await run.start()
    offsets = [round((moment - run.start_time).total_seconds()) for moment in arrivals]
    # aiohttp rounds its deadline up to a whole second.
    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]
    assert len(offsets) == 3
    assert all(60 <= gap <= 62 for gap in gaps), offsets
    return (
        "the electricity window's answer delayed 90 s, twice: the client gave up after "
        f"60 s each time; attempts at {', '.join(f'+{o} s' for o in offsets)}, the third answered"
    )


async def scenario_resets(run: Run) -> str:
    run.sim.faults.add(Fault(kind="reset", path=PATH_ENERGY, count=3))
    await run.start()
    assert run.since() == "+0m"
    return f"first 3 energy connections closed without an answer; {_window(run, ELEC)}"


def _broken_window(kind: str, ean: str) -> Callable[[Run], Awaitable[str]]:
    async def scenario(run: Run) -> str:
        on_request(run.sim, history_window(ean), one_fault(run.sim, Fault(kind=kind)))  # type: ignore[arg-type]
        await run.start(limit=timedelta(hours=1))
        assert run.since() == "+15m"
        return f"200 with {kind} JSON for one window, retried 15 min later; {_window(run, ean)}"

    return scenario


async def scenario_token_down(run: Run) -> str:
    run.sim.faults.add(Fault(kind="token_down"))
    run.begin_setup()
    await run.clock.advance_to(T0 + timedelta(hours=1))
    assert run.entry.state is ConfigEntryState.SETUP_RETRY
    run.sim.faults.clear()
    await run.clock.run_until(run.imported, limit=timedelta(hours=1))
    return (
        "token endpoint answers 503 for an hour: setup is retried by Home Assistant; "
        f"imports complete at {run.since()}"
    )


def _reauth_flows(hass: HomeAssistant) -> list[str]:
    return [
        flow["flow_id"]
        for flow in hass.config_entries.flow.async_progress()
        if flow["handler"] == DOMAIN and flow["context"]["source"] == SOURCE_REAUTH
    ]


async def _no_wrong_rows(run: Run) -> int:
    """Whatever is stored already equals the truth; returns the number of rows."""
    rows = await snapshot(run.hass)
    wrong = truth_differences(rows, expected_from_truth(run.sim, EANS, DATA_FROM), partial=True)
    assert not wrong, wrong
    return row_count(rows)


async def scenario_revoked(run: Run) -> str:
    async def revoke_later() -> None:
        # Lets the setup finish first: the history import is running on its own.
        await asyncio.sleep(30)
        run.sim.revoke_credentials()

    on_request(run.sim, history_window(GAS), revoke_later)
    run.begin_setup()
    await run.clock.run_until(lambda: bool(_reauth_flows(run.hass)))
    assert run.entry.state is ConfigEntryState.LOADED
    assert run.done(ELEC)
    assert not run.done(GAS)
    stored = await _no_wrong_rows(run)
    assert not any(GAS in statistic_id for statistic_id in await snapshot(run.hass))

    run.sim.restore_credentials()
    result = await run.hass.config_entries.flow.async_configure(
        _reauth_flows(run.hass)[0],
        {CONF_CLIENT_SECRET: run.sim.credentials.client_secret},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await run.clock.run_until(run.imported)
    return (
        f"credentials revoked while the gas history window was in flight: reauth flow "
        f"started, {stored} correct rows kept, no gas rows; after the new secret the "
        f"entry reloads and the import resumes, complete at {run.since()}"
    )


async def scenario_forbidden(run: Run) -> str:
    run.sim.faults.add(Fault(kind="status", status=403, ean=ELEC))
    run.begin_setup()
    issue = f"ean_forbidden_{run.entry.entry_id}_{ELEC}"
    registry = ir.async_get(run.hass)
    await run.clock.run_until(
        lambda: run.done(GAS) and registry.async_get_issue(DOMAIN, issue) is not None
    )
    assert not run.done(ELEC)
    stored = await _no_wrong_rows(run)
    assert not any(ELEC in statistic_id for statistic_id in await snapshot(run.hass))
    await run.clock.advance_to(T0 + timedelta(hours=2))
    run.sim.faults.clear()
    await run.clock.run_until(run.imported, limit=timedelta(hours=3))
    assert registry.async_get_issue(DOMAIN, issue) is None
    return (
        f"403 for the electricity EAN for 2 h: gas imported ({stored} rows), repair issue "
        f"raised; once allowed the issue clears and the import completes at {run.since()}"
    )


async def scenario_no_access_granularity(run: Run) -> str:
    until = T0 + timedelta(hours=2)
    selected = granularity_request(ELEC, FINE)
    on_request(
        run.sim,
        lambda request: dt_util.utcnow() < until and selected(request),
        one_fault(run.sim, Fault(kind="status", status=404)),
        times=1000,
    )
    run.begin_setup()
    await run.clock.run_until(lambda: run.done(GAS))
    assert not run.done(ELEC)
    await run.clock.run_until(run.imported, limit=timedelta(hours=4))
    return (
        "404 (no valid access) for the quarter-hours of the electricity EAN for 2 h: "
        f"gas unaffected; the import resumes and completes at {run.since()}"
    )


async def scenario_restart_mid_import(run: Run) -> str:
    on_request(run.sim, history_window(GAS), one_fault(run.sim, Fault(kind="slow", delay=30)))
    run.begin_setup()
    await run.clock.run_until(lambda: run.done(ELEC) and run.sim.in_flight > 0)
    assert not run.done(GAS)
    await run.restart()
    await run.clock.run_until(run.imported)
    return (
        "Home Assistant restarted while the gas history window was in flight (electricity "
        f"done): the import resumes from its cursor and completes at {run.since()}"
    )


async def scenario_restart_mid_correction(run: Run) -> str:
    await run.start()
    # Both corrections have arrived (11:36 and 11:49). Each EAN is polled at its own
    # minute (electricity :34:53, gas :40:00), so at 12:38 electricity's poll has
    # brought its correction; gas's comes at the next tick.
    await run.clock.advance_to(datetime(2026, 3, 10, 12, 38, tzinfo=dt_util.UTC))
    on_request(run.sim, insert_poll(GAS), one_fault(run.sim, Fault(kind="slow", delay=30)))
    await run.clock.run_until(lambda: run.sim.in_flight > 0)
    before = await snapshot(run.hass)
    truth = expected_from_truth(run.sim, EANS, DATA_FROM)
    elec_written = not truth_differences(
        {k: v for k, v in before.items() if ELEC in k}, truth, partial=True
    )
    gas_pending = bool(
        truth_differences({k: v for k, v in before.items() if GAS in k}, truth, partial=True)
    )
    assert elec_written
    assert gas_pending
    await run.restart()
    await run.clock.run_until(run.imported)
    return (
        "Home Assistant restarted during the poll that brings gas's correction: electricity "
        "corrected, gas not yet; after the restart the first poll writes the rest"
    )


async def scenario_dst_month_end(run: Run) -> str:
    await run.start()
    await run.finish(DST_END, min_step=1200)
    polls = sum(
        1
        for request in run.sim.requests
        if request.query.get("ean") == [GAS]
        and request.query.get("periodType") == ["insertTime"]
        and request.status == 200
    )
    return (
        f"polled {polls} times from 28 March to 1 April (summer time on 29 March, month "
        "end on 31 March); equal to a one-shot import at the end time"
    )


SCENARIOS: dict[str, Callable[[Run], Awaitable[str]]] = {
    "429 with Retry-After": scenario_429_retry_after,
    "429 without Retry-After": scenario_429_no_retry_after,
    "500 burst": _server_burst(500, 3),
    "502 burst": _server_burst(502, 3),
    "503 burst": _server_burst(503, 4),
    "503 beyond the retries": scenario_503_beyond_retries,
    "timeouts": scenario_timeouts,
    "connection resets": scenario_resets,
    "malformed JSON for one window": _broken_window("malformed", ELEC),
    "truncated JSON for one window": _broken_window("truncated", GAS),
    "token endpoint down for an hour": scenario_token_down,
    "credentials revoked mid-import": scenario_revoked,
    "403 for one EAN": scenario_forbidden,
    "404 for one granularity": scenario_no_access_granularity,
    "restart mid-import": scenario_restart_mid_import,
    "restart mid-correction": scenario_restart_mid_correction,
    "DST change and month end while polling": scenario_dst_month_end,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fault_scenario(
    hass: HomeAssistant, simulator: FluviusSimulator, clock: VirtualClock, name: str
) -> None:
    dst = name.startswith("DST")
    expected = await golden(hass, simulator, clock, "dst" if dst else "standard")
    clock.freezer.move_to(DST_T0 if dst else T0)
    run = new_run(hass, simulator, clock, DST_FROM if dst else DATA_FROM)
    happened = await SCENARIOS[name](run)
    if not dst:
        await run.finish(T_END)
    rows = await snapshot(hass)
    wrong = differences(rows, expected)
    result = "equal to golden" if not wrong else f"{len(wrong)}+ rows differ"
    _REPORT[name] = (happened, calls(simulator), f"{result} ({row_count(rows)} rows)")
    assert not wrong, "\n".join(wrong)
