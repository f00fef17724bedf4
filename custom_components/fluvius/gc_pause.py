"""Keep the cyclic garbage collector out of one large, self-contained job.

Parsing a 185-day quarter-hour window creates a few hundred thousand
short-lived containers. With the collector running, young collections keep
finding them alive and promote them to the old generation, which makes a
process-wide full collection (hundreds of milliseconds in a large Home
Assistant, with every thread held) due after almost every window. A job that
parses *and* reduces its input to a compact result inside the pause frees all
of them before the collector resumes: the collector then never sees them.

The pause is shared: concurrent jobs nest, the last one out resumes the
collector, and a collector that was already disabled stays disabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import gc
import threading


class _CollectorPause:
    """Reference-counted gc.disable/gc.enable across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()
