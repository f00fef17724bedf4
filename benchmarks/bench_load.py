"""Load benchmark: the whole integration importing many EANs from the local simulator.

Runs ``tests/integration/test_load.py`` (a real Home Assistant with a real
recorder, the simulator on loopback answering each energy request after a
fixed latency) once per size and prints what it measured: wall time of setup
plus history import, API calls, the highest number of requests in flight
(against the integration's limit), when the entry was loaded and when every
history import was done (virtual seconds: latency is the only thing that takes
time there), peak traced memory, statistics and rows.
The test's own assertions still apply, so a size that breaks a limit fails.

Memory tracing slows the run about 2.5 times; ``--no-trace`` gives the wall
time without it (and no memory figure). Run from the repository root::

    .venv/bin/python benchmarks/bench_load.py [--eans 10 50 100] [--days 4] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/integration/test_load.py"
COLUMNS = (
    ("eans", "EANs"),
    ("days", "days"),
    ("wall_s", "wall s"),
    ("loaded_after_virtual_s", "loaded at"),
    ("imported_after_virtual_s", "imported at"),
    ("calls", "calls"),
    ("energy_calls", "energy"),
    ("max_concurrent", "max in flight"),
    ("limit", "limit"),
    ("peak_memory_mb", "peak MB"),
    ("statistics", "statistics"),
    ("rows", "rows"),
)


def run(
    eans: int, days: int, latency: float, *, trace: bool
) -> tuple[dict[str, object] | None, bool]:
    """One pytest run of the load test at this size: its figures and whether it passed."""
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "figures.json"
        env = {
            **os.environ,
            "FLUVIUS_LOAD_EANS": str(eans),
            "FLUVIUS_LOAD_DAYS": str(days),
            "FLUVIUS_LOAD_LATENCY": str(latency),
            "FLUVIUS_LOAD_TRACE": "1" if trace else "0",
            "FLUVIUS_LOAD_FIGURES": str(figures),
        }
        result = subprocess.run(  # noqa: S603 - our own interpreter and test file
            [sys.executable, "-m", "pytest", TEST, "-q"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-15:])
            print(f"{eans} EANs: the load test failed\n{tail}")
        if not figures.exists():
            return None, False
        loaded: dict[str, object] = json.loads(figures.read_text(encoding="utf-8"))
        return loaded, result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eans", type=int, nargs="+", default=[10, 50], help="sizes to run")
    parser.add_argument("--days", type=int, default=4, help="days of data period per EAN")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per energy answer")
    parser.add_argument("--no-trace", action="store_true", help="do not trace memory")
    args = parser.parse_args()

    print(
        f"latency {args.latency * 1e3:.0f} ms per energy answer, "
        f"memory {'not ' if args.no_trace else ''}traced"
    )
    print("  ".join(f"{title:>10s}" for _, title in COLUMNS))
    failed = False
    for eans in args.eans:
        figures, passed = run(eans, args.days, args.latency, trace=not args.no_trace)
        failed = failed or not passed
        if figures is None:
            continue
        print("  ".join(f"{figures.get(key)!s:>10s}" for key, _ in COLUMNS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
