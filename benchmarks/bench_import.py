"""History-import benchmark: three years of quarter-hours for ten EANs into a real recorder.

A Home Assistant instance runs in this process with the recorder on a temporary
SQLite file and the integration loaded from ``custom_components/``; the simulator
runs in a child process (its clock frozen at the start, so the data cannot change
during the run) so that its own work neither blocks this event loop nor counts
towards this process's memory. One config entry with ten digital quarter-hour
electricity EANs (offtake and injection) imports its default history (36 months,
capped at the API's three years).

Printed: API calls per EAN (history windows and polls; the floor for three years
of 184-day windows is 6), wall time until every row is committed, peak resident
memory of this process, and the longest event-loop stall measured by a task that
sleeps 5 ms in a loop (target: below 50 ms). Stalls are split into those a full
garbage collection overlapped and the others: a full collection holds the GIL
whichever thread runs it, so it stalls the loop for as long as a full collection
of the whole instance takes, which is printed too (measured on the idle instance
before the import). Figures only; nothing is asserted. Takes 15 to 25 minutes on
two cores, most of it in the recorder's row-by-row statistics import.

Run from the repository root::

    .venv/bin/python benchmarks/bench_import.py [--eans 10] [--months 36]
        [--tracemalloc] [--slow-callback MS] [--attribute]

``--attribute`` also times the import's own jobs (decode, aggregation, re-basing,
peaks), the recorder's statistics imports and every event-loop callback over
2 ms, and prints for each stall over 50 ms with no full collection in it what
was running while the loop waited.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import functools
import gc
import hashlib
import logging
import multiprocessing as mp
from multiprocessing.connection import Connection
import os
from pathlib import Path
import resource
import sqlite3
import statistics as stats
import sys
import tempfile
import threading
import time
import tracemalloc
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

from aiohttp.resolver import AsyncResolver

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant import bootstrap, config_entries, loader
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import recorder as recorder_helper
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util.unit_system import METRIC_SYSTEM

from custom_components.fluvius.const import CONF_HISTORY_MONTHS, DOMAIN
from tests.conftest import entry_data

# Digital meter, electricity, offtake + injection, quarter-hour access; the last
# three digits (model number) make ten different meters.
EAN_PREFIX = "541440110000000"
PROBE_INTERVAL = 0.005
ENERGY_PATH = "/api/mandate/energy"
DIGEST_SETTLED = timedelta(days=4)


def eans(count: int) -> list[str]:
    return [f"{EAN_PREFIX}{model:03d}" for model in range(count)]


# --- simulator in a child process -----------------------------------------------


def serve_simulator(conn: Connection, ean_list: list[str]) -> None:
    """Child process: serve the simulator until told to stop, then report its requests.

    It runs at the lowest CPU priority: it stands in for Fluvius's servers, whose
    work would not compete with Home Assistant for these two cores.
    """
    os.nice(19)
    from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator  # noqa: PLC0415

    async def run() -> None:
        frozen = datetime.now(UTC)
        sim = FluviusSimulator(credentials=DEFAULT_CREDENTIALS, clock=lambda: frozen)
        for ean in ean_list:
            sim.add_mandate(ean)
        await sim.start(host="127.0.0.1", port=0)
        conn.send(entry_data(sim))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send(
            {
                "requests": [
                    (r.path, r.query.get("ean", [""])[0], "granularity" in r.query, r.status)
                    for r in sim.requests
                ],
                "max_concurrent": sim.max_concurrent,
            }
        )
        await sim.stop()

    asyncio.run(run())


# --- Home Assistant in this process ---------------------------------------------


class LoopbackResolver(AsyncResolver):
    """Plain DNS resolver with the closing hook Home Assistant calls on shutdown."""

    async def real_close(self) -> None:
        await self.close()


async def start_home_assistant(config_dir: str) -> HomeAssistant:
    """A bare instance: registries, config entries and the recorder on a SQLite file."""
    hass = HomeAssistant(config_dir)
    hass.config.units = METRIC_SYSTEM
    hass.config.skip_pip = True
    await hass.config.async_set_time_zone("Europe/Brussels")
    loader.async_setup(hass)
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await bootstrap.async_load_base_functionality(hass)
    recorder_helper.async_initialize_recorder(hass)
    db_url = f"sqlite:///{Path(config_dir) / 'home-assistant_v2.db'}"
    assert await async_setup_component(hass, "recorder", {"recorder": {"db_url": db_url}})
    await hass.async_start()
    await get_instance(hass).async_block_till_done()
    return hass


@dataclass
class LoopProbe:
    """Sleeps PROBE_INTERVAL in a loop and records how late each wake-up is."""

    wakeups: list[tuple[float, float]]  # (expected, actual) on the loop's monotonic clock
    task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + PROBE_INTERVAL
            await asyncio.sleep(PROBE_INTERVAL)
            self.wakeups.append((expected, loop.time()))

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class GcPauses:
    """Garbage collections as (start, end, generation, thread), on the loop's clock.

    A collection holds the GIL whatever thread runs it, so it stalls the loop too.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int, str]] = []
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._started[ident] = time.monotonic()
            return
        began = self._started.pop(ident, None)
        if began is not None:
            name = threading.current_thread().name
            self.pauses.append((began, time.monotonic(), info["generation"], name))


type Span = tuple[float, float, str]


class Spans:
    """Named stretches of work as (start, end, name) on the loop's clock (``--attribute``).

    Wraps the import's own jobs and the recorder's statistics import, and every
    event-loop callback that takes longer than LOOP_CALLBACK_MIN, so that a stall
    can be matched with what ran while the loop waited.
    """

    LOOP_CALLBACK_MIN = 0.002

    def __init__(self, stack: ExitStack) -> None:
        self.spans: list[Span] = []
        self._stack = stack

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        spans = self.spans

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                thread = threading.current_thread().name.split("_")[0]
                spans.append((began, time.monotonic(), f"{name} ({thread})"))

        self._stack.enter_context(patch.object(owner, attribute, timed))

    def wrap_loop_callbacks(self) -> None:
        original = asyncio.events.Handle._run  # noqa: SLF001
        spans = self.spans
        minimum = self.LOOP_CALLBACK_MIN

        def run(handle: asyncio.Handle) -> None:
            began = time.monotonic()
            original(handle)
            ended = time.monotonic()
            if ended - began > minimum:
                callback = getattr(handle, "_callback", None)
                owner = getattr(callback, "__self__", None)
                coro = getattr(owner, "get_coro", None)
                what = coro().__qualname__ if coro is not None and coro() else repr(callback)
                spans.append((began, ended, f"loop callback {what[:90]}"))

        self._stack.enter_context(patch.object(asyncio.events.Handle, "_run", run))

    def install(self) -> None:
        """The jobs worth naming: the integration's and the recorder's."""
        from homeassistant.components.recorder import core, tasks  # noqa: PLC0415

        from custom_components.fluvius import peak_tracker, statistics  # noqa: PLC0415
        from custom_components.fluvius.api import client  # noqa: PLC0415

        self.wrap(client, "parse_energy", "decode")
        self.wrap(statistics, "aggregate", "aggregate")
        self.wrap(statistics.StatisticsWriter, "_rebased_rows", "re-base sums")
        self.wrap(statistics.StatisticsWriter, "_changed_power", "compare power")
        self.wrap(peak_tracker.PeakTracker, "_merge", "merge peaks")
        self.wrap(tasks.ImportStatisticsTask, "run", "recorder import")
        self.wrap(core.Recorder, "_commit_event_session_or_retry", "recorder commit")
        self.wrap_loop_callbacks()


def attribute_stalls(
    wakeups: list[tuple[float, float]],
    pauses: list[tuple[float, float, int, str]],
    spans: list[Span],
    threshold: float = 0.05,
) -> None:
    """Print what overlapped each stall over ``threshold`` with no full collection in it."""
    full = [(start, end) for start, end, generation, _ in pauses if generation == 2]
    young = [
        (start, end, f"gen{generation} collection ({thread.split('_')[0]})")
        for start, end, generation, thread in pauses
        if generation < 2
    ]
    named = sorted([*spans, *young])
    stalls = [
        (expected, actual)
        for expected, actual in wakeups
        if actual - expected > threshold
        and not any(start <= actual and end >= expected for start, end in full)
    ]
    totals: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    print(f"stalls over {threshold * 1e3:.0f} ms with no full collection: {len(stalls)}")
    for expected, actual in sorted(stalls, key=lambda s: s[0] - s[1])[:15]:
        parts = []
        for start, end, name in named:
            overlap = min(end, actual) - max(start, expected)
            if overlap > 0.001:
                parts.append(f"{name} {overlap * 1e3:.0f}/{(end - start) * 1e3:.0f} ms")
                totals[name] += overlap
                seen[name] += 1
        print(f"  {(actual - expected) * 1e3:6.1f} ms: {'; '.join(parts) or 'nothing named'}")
    if totals:
        print("  by job (stalls it overlapped, overlap in total):")
        for name, total in totals.most_common():
            print(f"    {name}: {seen[name]}, {total * 1e3:.0f} ms")


def full_collection_ms() -> float:
    """The fastest of three full collections of the idle instance, in ms."""
    durations = []
    for _ in range(3):
        began = time.perf_counter()
        gc.collect()
        durations.append(time.perf_counter() - began)
    return min(durations) * 1e3


def stall_causes(
    wakeups: list[tuple[float, float]], pauses: list[tuple[float, float, int, str]]
) -> tuple[list[float], list[float]]:
    """Split stalls (lateness) into those a full collection overlapped and the others."""
    full = sorted((start, end) for start, end, generation, _ in pauses if generation == 2)
    with_full: list[float] = []
    without: list[float] = []
    index = 0
    for expected, actual in wakeups:
        while index < len(full) and full[index][1] < expected:
            index += 1
        overlaps = index < len(full) and full[index][0] <= actual
        (with_full if overlaps else without).append(actual - expected)
    return with_full, without


def rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _all_rows(hass: HomeAssistant, statistic_ids: set[str]) -> dict[str, list[Any]]:
    return statistics_during_period(
        hass,
        datetime(2000, 1, 1, tzinfo=UTC),
        None,
        statistic_ids,
        "hour",
        None,
        {"state", "sum", "mean", "min", "max"},
    )


async def rows_digest(hass: HomeAssistant, ean_list: list[str]) -> tuple[int, int, str]:
    """Rows of one offtake statistic, rows of all, and a digest of the settled rows.

    The digest (start, state, sum, mean, min, max at 6 decimals) of every row older than
    DIGEST_SETTLED makes runs on two Home Assistant versions on the same day comparable:
    equal digests mean the same rows were written. Newer rows depend on the minute of
    the run (data arrive up to 72 hours late).
    """
    settled = (
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - DIGEST_SETTLED
    ).timestamp()
    ids = {
        f"fluvius:{ean}_{name}"
        for ean in ean_list
        for name in ("offtake_total_kwh", "injection_total_kwh", "offtake_power_kw")
    }
    result = await get_instance(hass).async_add_executor_job(_all_rows, hass, ids)
    digest = hashlib.sha256()
    for statistic_id in sorted(result):
        for row in result[statistic_id]:
            if row["start"] >= settled:
                continue
            values = [row.get(name) for name in ("state", "sum", "mean", "min", "max")]
            rounded = ["-" if v is None else f"{v:.6f}" for v in values]
            digest.update(f"{statistic_id} {row['start']:.0f} {' '.join(rounded)}\n".encode())
    first = len(result.get(f"fluvius:{ean_list[0]}_offtake_total_kwh", []))
    return first, sum(len(rows) for rows in result.values()), digest.hexdigest()[:16]


async def benchmark(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    # Home Assistant resolves names through zeroconf (multicast DNS) by default;
    # the simulator is addressed by IP on loopback, so a plain resolver suffices.
    with (
        patch("homeassistant.helpers.aiohttp_client._async_make_resolver", LoopbackResolver),
        tempfile.TemporaryDirectory(prefix="bench-import-") as config_dir,
        ExitStack() as stack,
    ):
        if args.slow_callback is not None:
            logging.basicConfig(level=logging.WARNING)
            asyncio.get_running_loop().slow_callback_duration = args.slow_callback / 1000
        hass = await start_home_assistant(config_dir)
        baseline = rss_mb()
        idle_collection_ms = full_collection_ms()
        probe = LoopProbe([])
        probe.start()
        collections = GcPauses()
        gc.callbacks.append(collections)
        if args.tracemalloc:
            tracemalloc.start()
        spans = Spans(stack)
        if args.attribute:
            spans.install()
        entry = config_entries.ConfigEntry(
            data=data,
            discovery_keys=MappingProxyType({}),
            domain=DOMAIN,
            minor_version=1,
            options={CONF_HISTORY_MONTHS: args.months},
            source=config_entries.SOURCE_USER,
            subentries_data=(),
            title="Fluvius benchmark",
            unique_id="benchmark",
            version=1,
        )
        started = time.perf_counter()
        await hass.config_entries.async_add(entry)
        setup_done = time.perf_counter()
        await hass.async_block_till_done(wait_background_tasks=True)
        await get_instance(hass).async_block_till_done()
        finished = time.perf_counter()
        peak = rss_mb()  # before the digest below reads every row back
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        tracemalloc.stop()
        await probe.stop()
        gc.callbacks.remove(collections)
        importer = entry.runtime_data.importer
        done = sum(1 for state in importer.states.by_ean.values() if state.done)
        first = importer.states.by_ean[eans(1)[0]]
        rows, all_rows, digest = await rows_digest(hass, eans(args.eans))
        await hass.async_stop()
    return {
        "setup": setup_done - started,
        "wall": finished - started,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "traced_peak_mb": traced_peak,
        "wakeups": probe.wakeups,
        "idle_collection_ms": idle_collection_ms,
        "gc": collections.pauses,
        "done": done,
        "history": (first.history_from, first.history_to),
        "rows": rows,
        "all_rows": all_rows,
        "digest": digest,
        "spans": spans.spans,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eans", type=int, default=10, help="number of quarter-hour EANs")
    parser.add_argument("--months", type=int, default=36, help="history option in months")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument(
        "--slow-callback",
        type=float,
        metavar="MS",
        help="asyncio debug mode: log every callback or task step longer than MS",
    )
    parser.add_argument(
        "--attribute",
        action="store_true",
        help="time the import's jobs and slow loop callbacks, and name what each stall overlapped",
    )
    args = parser.parse_args()
    ean_list = eans(args.eans)

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=serve_simulator, args=(child, ean_list), daemon=True)
    process.start()
    data = parent.recv()
    try:
        result = asyncio.run(benchmark(args, data), debug=args.slow_callback is not None)
    finally:
        parent.send("stop")
        report = parent.recv()
        process.join(timeout=10)

    requests: list[tuple[str, str, bool, int]] = report["requests"]
    windows = Counter(ean for path, ean, fine, _ in requests if path == ENERGY_PATH and fine)
    polls = Counter(ean for path, ean, fine, _ in requests if path == ENERGY_PATH and not fine)
    failed = sum(1 for *_, status in requests if status != 200)
    other = Counter(path for path, *_ in requests if path != ENERGY_PATH)
    history_from, history_to = result["history"]
    days = (history_to - history_from) / timedelta(days=1)
    lateness = sorted(actual - expected for expected, actual in result["wakeups"])
    worst = lateness[-1] if lateness else 0.0
    with_full, without = stall_causes(result["wakeups"], result["gc"])

    print(
        f"Home Assistant {ha_version} on Python {sys.version.split()[0]}, "
        f"recorder on SQLite {sqlite3.sqlite_version}"
    )
    print(f"EANs: {args.eans} quarter-hour electricity (offtake + injection)")
    print(
        f"history: {history_from:%Y-%m-%d %H:%M} -> {history_to:%Y-%m-%d %H:%M} UTC ({days:.1f} days)"
    )
    print(
        f"imports complete: {result['done']}/{args.eans}; "
        f"rows of one offtake statistic: {result['rows']} (hours in range: {days * 24:.0f})"
    )
    print(
        f"stored rows (offtake, injection, power of every EAN): {result['all_rows']}; "
        f"digest of those older than {DIGEST_SETTLED.days} days before today: {result['digest']}"
    )
    per_ean = [windows[ean] + polls[ean] for ean in ean_list]
    print(
        f"API calls per EAN: {stats.mean(per_ean):.1f} "
        f"(history windows {stats.mean(windows[ean] for ean in ean_list):.1f}, "
        f"polls {stats.mean(polls[ean] for ean in ean_list):.1f}; floor {-(-days // 184):.0f}); "
        f"other calls: {dict(other)}; failed: {failed}; "
        f"simulator max concurrent: {report['max_concurrent']}"
    )
    print(f"wall time: {result['wall']:.1f} s (entry set up in {result['setup']:.2f} s)")
    print(
        f"peak RSS: {result['peak_mb']:.0f} MiB "
        f"(+{result['peak_mb'] - result['baseline_mb']:.0f} MiB over {result['baseline_mb']:.0f} "
        "MiB after start)"
    )
    if result["traced_peak_mb"] is not None:
        print(f"tracemalloc peak during the import: {result['traced_peak_mb']:.0f} MiB")
    if lateness:
        p99 = lateness[int(0.99 * (len(lateness) - 1))]
        over = sum(1 for value in lateness if value > 0.05)
        print(
            f"event loop: longest stall {worst * 1e3:.1f} ms (target < 50 ms), "
            f"p99 {p99 * 1e3:.1f} ms, median {stats.median(lateness) * 1e3:.2f} ms, "
            f"{over} of {len(lateness)} wake-ups over 50 ms"
        )
    if without:
        over = sum(1 for value in without if value > 0.05)
        print(
            f"  without a full collection in it: longest {max(without) * 1e3:.1f} ms, "
            f"{over} over 50 ms"
        )
    if with_full:
        print(
            f"  with a full collection in it: longest {max(with_full) * 1e3:.1f} ms, "
            f"{sum(1 for value in with_full if value > 0.05)} over 50 ms"
        )
    if result["gc"]:
        longest = max(result["gc"], key=lambda pause: pause[1] - pause[0])
        full_by_thread = Counter(
            thread.split("_")[0] for _, _, generation, thread in result["gc"] if generation == 2
        )
        full = [end - start for start, end, generation, _ in result["gc"] if generation == 2]
        print(
            f"garbage collection: longest pause {(longest[1] - longest[0]) * 1e3:.1f} ms "
            f"(generation {longest[2]}, thread {longest[3]}); {len(full)} full collections "
            f"({sum(full) * 1e3:.0f} ms in total) by thread: {dict(full_by_thread)}"
        )
    if args.attribute:
        attribute_stalls(result["wakeups"], result["gc"], result["spans"])
    print(
        f"a full collection of the idle instance before the import: "
        f"{result['idle_collection_ms']:.0f} ms (what any full collection costs the loop, "
        "whichever thread starts it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
