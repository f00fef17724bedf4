"""A virtual clock and simulator hooks for fault scenarios against a real recorder.

Time only moves when nothing but timers is left: the clock then jumps to the
next timer. Retries, ``Retry-After``, request timeouts, the importer's retry
delay and hourly polls therefore cost no real time, and the order of events is
the one a real clock would give.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import threading
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import get_scheduled_timer_handles
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed  # type: ignore[import-untyped]
from pytest_homeassistant_custom_component.components.recorder.common import (  # type: ignore[import-untyped]
    async_wait_recording_done,
)

from custom_components.fluvius.const import DOMAIN
from fluvius_simulator import Fault, FluviusSimulator

PATH_ENERGY = "/api/mandate/energy"
_EPOCH = datetime(2020, 1, 1, tzinfo=dt_util.UTC)
# A row: start, state, sum, mean, min, max (None where the statistic has no such field).
type Row = tuple[float, float | None, float | None, float | None, float | None, float | None]
type Snapshot = dict[str, list[Row]]


def _wait_real(seconds: float) -> None:
    threading.Event().wait(seconds)


class VirtualClock:
    """Drives a frozen clock: waits for real work, then jumps to the next timer."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        sim: FluviusSimulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Count the recorder's executor jobs and syncs, which Home Assistant does not track."""
        self.hass = hass
        self.freezer = freezer
        self.sim = sim
        self.jumps = 0
        self._recorder_busy = 0
        recorder = get_instance(hass)
        run_job = recorder.async_add_executor_job
        block = recorder.async_block_till_done

        def tracked_job(*args: Any) -> asyncio.Future[Any]:
            future = run_job(*args)
            self._recorder_busy += 1
            future.add_done_callback(self._job_done)
            return future

        async def tracked_block() -> None:
            self._recorder_busy += 1
            try:
                await block()
            finally:
                self._recorder_busy -= 1

        monkeypatch.setattr(recorder, "async_add_executor_job", tracked_job)
        monkeypatch.setattr(recorder, "async_block_till_done", tracked_block)

    def _job_done(self, _future: asyncio.Future[Any]) -> None:
        self._recorder_busy -= 1

    def _busy(self) -> int:
        executor_jobs = sum(1 for task in self.hass._tasks if not isinstance(task, asyncio.Task))
        return executor_jobs + self._recorder_busy + get_instance(self.hass).backlog

    async def idle(self) -> None:
        """Return once no executor, recorder or HTTP work has moved for a few real slices."""
        stable = 0
        last: tuple[int, int, int] | None = None
        while stable < 4:
            await self.hass.loop.run_in_executor(None, _wait_real, 0.004)
            busy = self._busy()
            current = (len(self.sim.requests), self.sim.in_flight, busy)
            stable = stable + 1 if current == last and busy == 0 else 0
            last = current

    async def run_until(
        self,
        condition: Callable[[], bool],
        *,
        limit: timedelta = timedelta(hours=2),
        min_step: float = 0.0,
    ) -> None:
        """Let virtual time pass until ``condition`` holds; fail after ``limit``."""
        deadline = dt_util.utcnow() + limit
        while True:
            await self.idle()
            if condition():
                return
            handles = [h for h in get_scheduled_timer_handles(self.hass.loop) if not h.cancelled()]
            if not handles:
                raise AssertionError("nothing left to wait for and the condition is not met")
            step = max(min(h.when() for h in handles) - self.hass.loop.time(), min_step) + 0.001
            left = (deadline - dt_util.utcnow()).total_seconds()
            if left <= 0:
                raise AssertionError(f"condition not met within {limit}")
            self.freezer.tick(min(step, left))
            async_fire_time_changed(self.hass)
            self.jumps += 1

    async def advance_to(self, moment: datetime, *, min_step: float = 0.0) -> None:
        """Let virtual time pass up to ``moment``, firing every timer due on the way."""
        await self.run_until(
            lambda: dt_util.utcnow() >= moment,
            limit=max(moment - dt_util.utcnow(), timedelta(0)),
            min_step=min_step,
        )

    async def settle(self) -> None:
        """Wait for background tasks without ever blocking on a frozen timer."""
        await self.run_until(lambda: not self.hass._background_tasks)
        await async_wait_recording_done(self.hass)


# --- simulator hooks -------------------------------------------------------------


type Query = dict[str, list[str]]
type RequestFilter = Callable[[Query], bool]


def history_window(ean: str) -> RequestFilter:
    """The history import's requests: readTime with an explicit granularity."""
    return lambda query: (
        query.get("ean") == [ean]
        and query.get("periodType") == ["readTime"]
        and "granularity" in query
    )


def insert_poll(ean: str) -> RequestFilter:
    """A poll's insertTime query."""
    return lambda query: query.get("ean") == [ean] and query.get("periodType") == ["insertTime"]


def granularity_request(ean: str, granularity: str) -> RequestFilter:
    """Requests of an EAN that name ``granularity`` explicitly."""
    return lambda query: query.get("ean") == [ean] and granularity in query.get("granularity", [])


def attempts(sim: FluviusSimulator, matches: RequestFilter, since: datetime) -> str:
    """The matching requests as ``status@offset`` (0 = connection dropped), oldest first."""
    out = []
    for request in sim.requests:
        if matches(request.query):
            minutes = (request.time - since).total_seconds() / 60
            out.append(f"{request.status or 'reset'}@+{minutes:.0f}m")
    return ", ".join(out)


def on_request(
    sim: FluviusSimulator,
    matches: RequestFilter,
    action: Callable[[], Awaitable[None] | None],
    *,
    times: int = 1,
) -> list[datetime]:
    """Run ``action`` just before the simulator handles the next ``times`` matching requests.

    The action may add a one-use fault (it then applies to that very request),
    revoke credentials or wait on the virtual clock. Returns the (growing) list
    of arrival times of every matching request.
    """
    original = sim._with_faults
    left = [times]
    arrivals: list[datetime] = []

    async def hooked(
        request: web.Request, route: str, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> web.StreamResponse:
        if matches({key: request.query.getall(key) for key in request.query}):
            arrivals.append(sim.now())
            if left[0] > 0:
                left[0] -= 1
                result = action()
                if result is not None:
                    await result
        response: web.StreamResponse = await original(request, route, handler)
        return response

    sim._with_faults = hooked  # type: ignore[method-assign]
    return arrivals


def one_fault(sim: FluviusSimulator, fault: Fault) -> Callable[[], None]:
    """An action adding a single-use copy of ``fault``."""
    return lambda: sim.faults.add(
        Fault(
            kind=fault.kind,
            status=fault.status,
            retry_after=fault.retry_after,
            delay=fault.delay,
            count=1,
        )
    )


# --- statistics ------------------------------------------------------------------


async def snapshot(hass: HomeAssistant) -> Snapshot:
    """Every row of every statistic the integration owns."""
    await async_wait_recording_done(hass)
    instance = get_instance(hass)
    listed = await instance.async_add_executor_job(list_statistic_ids, hass)
    ids = {item["statistic_id"] for item in listed if item["source"] == DOMAIN}
    result: Snapshot = {}
    for statistic_id in sorted(ids):
        rows = await instance.async_add_executor_job(
            statistics_during_period,
            hass,
            _EPOCH,
            None,
            {statistic_id},
            "hour",
            None,
            {"state", "sum", "mean", "min", "max"},
        )
        result[statistic_id] = [
            (
                float(row["start"]),
                row.get("state"),
                row.get("sum"),
                row.get("mean"),
                row.get("min"),
                row.get("max"),
            )
            for row in rows.get(statistic_id, [])
        ]
    return result


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-5


def differences(got: Snapshot, want: Snapshot, limit: int = 8) -> list[str]:
    """Readable differences between two snapshots (empty when equal)."""
    out: list[str] = []
    for statistic_id in sorted(set(got) | set(want)):
        mine = {row[0]: row for row in got.get(statistic_id, [])}
        theirs = {row[0]: row for row in want.get(statistic_id, [])}
        for start in sorted(set(mine) | set(theirs)):
            a, b = mine.get(start), theirs.get(start)
            if a is None or b is None or not all(map(_close, a[1:], b[1:])):
                when = dt_util.utc_from_timestamp(start).isoformat()
                out.append(f"{statistic_id} {when}: got {a and a[1:]}, expected {b and b[1:]}")
                if len(out) >= limit:
                    return out
    return out


def row_count(snap: Snapshot) -> int:
    """Rows over all statistics."""
    return sum(len(rows) for rows in snap.values())


# --- independent truth -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """Hourly states per statistic id, and the power hours of electricity EANs."""

    energy: dict[str, dict[datetime, float]]
    power: dict[str, dict[datetime, tuple[float, float, float]]]


def expected_from_truth(sim: FluviusSimulator, eans: dict[str, str], start: datetime) -> Expected:
    """What the statistics must hold now, computed from the simulator's raw values.

    ``eans`` maps each EAN to its fine granularity ("quarter_hourly" or "hourly").
    Fine values become complete UTC hours; daily day/night registers are booked
    in the hour their day starts.
    """
    now = dt_util.utcnow()
    energy: dict[str, dict[datetime, float]] = defaultdict(dict)
    power: dict[str, dict[datetime, tuple[float, float, float]]] = {}
    for ean, granularity in eans.items():
        need = 4 if granularity == "quarter_hourly" else 1
        groups: dict[tuple[str, datetime], list[float]] = defaultdict(list)
        for record in sim.truth(ean, start, now, granularity=granularity):
            if record.sub_ean is None:
                statistic_id = (
                    f"fluvius:{ean}_{record.direction}_{record.register}_{record.unit.lower()}"
                )
                groups[(statistic_id, record.start.replace(minute=0))].append(record.value)
        for (statistic_id, hour), values in groups.items():
            if len(values) != need:
                continue
            energy[statistic_id][hour] = sum(values)
            if need == 4 and statistic_id.endswith("_offtake_total_kwh"):
                power.setdefault(f"fluvius:{ean}_offtake_power_kw", {})[hour] = (
                    sum(values),
                    min(values) * 4,
                    max(values) * 4,
                )
        for record in sim.truth(ean, start, now, granularity="daily"):
            if record.sub_ean is None and record.register in ("day", "night"):
                statistic_id = (
                    f"fluvius:{ean}_{record.direction}_{record.register}_{record.unit.lower()}"
                )
                energy[statistic_id][record.start] = record.value
    return Expected(dict(energy), power)


def truth_differences(got: Snapshot, expected: Expected, *, partial: bool = False) -> list[str]:
    """Rows that disagree with the truth; with ``partial``, missing statistics are fine."""
    out: list[str] = []
    for statistic_id, hours in sorted(expected.energy.items()):
        rows = {dt_util.utc_from_timestamp(row[0]): row for row in got.get(statistic_id, [])}
        if partial and not rows:
            continue
        if sorted(rows) != sorted(hours):
            missing = sorted(set(hours) - set(rows))[:3]
            extra = sorted(set(rows) - set(hours))[:3]
            out.append(f"{statistic_id}: hours missing {missing}, unexpected {extra}")
            continue
        running = 0.0
        for hour in sorted(hours):
            running += hours[hour]
            _, state, total, *_ = rows[hour]
            if not (_close(state, hours[hour]) and _close(total, running)):
                out.append(f"{statistic_id} {hour}: {state}/{total}, truth {hours[hour]}/{running}")
                break
    for statistic_id, power_hours in sorted(expected.power.items()):
        rows = {dt_util.utc_from_timestamp(row[0]): row for row in got.get(statistic_id, [])}
        if partial and not rows:
            continue
        if sorted(rows) != sorted(power_hours):
            out.append(f"{statistic_id}: hours differ")
            continue
        for hour, (mean, low, high) in power_hours.items():
            row = rows[hour]
            if not (_close(row[3], mean) and _close(row[4], low) and _close(row[5], high)):
                out.append(f"{statistic_id} {hour}: {row[3:]}, truth {(mean, low, high)}")
                break
    if not partial:
        unknown = set(got) - set(expected.energy) - set(expected.power)
        out.extend(f"{statistic_id}: not in the truth" for statistic_id in sorted(unknown))
    return out


# --- calls -------------------------------------------------------------------------


def calls(sim: FluviusSimulator) -> str:
    """Requests by endpoint, with the statuses that were not 200 (0 = connection dropped)."""
    by_path: Counter[str] = Counter()
    odd: Counter[str] = Counter()
    for request in sim.requests:
        path = request.path.rsplit("/", 1)[-1]
        kind = "token" if path == "token" else ("energy" if path == "energy" else "mandate")
        by_path[kind] += 1
        if request.status != 200:
            odd[f"{kind} {request.status or 'reset'}"] += 1
    text = f"{len(sim.requests)} (token {by_path['token']}, mandate {by_path['mandate']}, energy {by_path['energy']})"
    if odd:
        text += "; " + ", ".join(f"{count}x {what}" for what, count in sorted(odd.items()))
    return text
