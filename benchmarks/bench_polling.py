"""Polling benchmark: a day of steady-state polls of a large account, in virtual time.

Runs ``tests/integration/test_polling_load.py`` (a real Home Assistant with a
real recorder; every EAN's history already imported; the simulator on
loopback answering each energy request after a fixed latency) and prints what
it measured: energy calls (and how many per EAN and day: the target is at
most 25), the busiest five-minute tick against the mean, the highest number of
requests in flight against the limit, the longest wait from a delivery's
insert time to the poll that brought it, how long the start-up polls of every
EAN took (spread by the budget; not counted as steady state), and peak traced
memory. The test's
own assertions still apply, so a size that breaks a target fails.

Run from the repository root::

    .venv/bin/python benchmarks/bench_polling.py [--eans 300] [--hours 24] [--no-trace]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/integration/test_polling_load.py"
COLUMNS = (
    ("eans", "EANs"),
    ("hours", "hours"),
    ("energy_calls", "calls"),
    ("calls_per_ean_day", "per EAN/day"),
    ("busiest_tick_calls", "busiest tick"),
    ("mean_tick_calls", "mean tick"),
    ("max_in_flight", "max in flight"),
    ("limit", "limit"),
    ("worst_staleness_min", "stale min"),
    ("all_polled_after_min", "start-up min"),
    ("peak_memory_mb", "peak MB"),
)


def run(eans: int, hours: int, *, trace: bool) -> tuple[dict[str, object] | None, bool, float]:
    """One pytest run of the polling test: its figures, whether it passed, wall seconds."""
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "figures.json"
        env = {
            **os.environ,
            "FLUVIUS_POLL_EANS": str(eans),
            "FLUVIUS_POLL_HOURS": str(hours),
            "FLUVIUS_POLL_TRACE": "1" if trace else "0",
            "FLUVIUS_POLL_FIGURES": str(figures),
        }
        began = time.perf_counter()
        result = subprocess.run(  # noqa: S603 - our own interpreter and test file
            [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - began
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-15:])
            print(f"{eans} EANs: the polling test failed\n{tail}")
        if not figures.exists():
            return None, False, wall
        loaded: dict[str, object] = json.loads(figures.read_text(encoding="utf-8"))
        return loaded, result.returncode == 0, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eans", type=int, nargs="+", default=[300], help="sizes to run")
    parser.add_argument("--hours", type=int, default=24, help="virtual hours of polling")
    parser.add_argument("--no-trace", action="store_true", help="do not trace memory")
    args = parser.parse_args()
    print("  ".join(f"{title:>13s}" for _, title in COLUMNS) + "         wall s")
    failed = False
    for eans in args.eans:
        figures, passed, wall = run(eans, args.hours, trace=not args.no_trace)
        failed = failed or not passed
        if figures is None:
            continue
        cells = "  ".join(f"{figures.get(key)!s:>13s}" for key, _ in COLUMNS)
        print(f"{cells}  {wall:13.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
