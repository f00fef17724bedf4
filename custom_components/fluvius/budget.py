"""The per-entry budget of energy calls: a token bucket the polls and the history import share.

A large account (hundreds of EANs) must never burst: calls are spread evenly
at the budget's rate, with at most five minutes' worth in hand. Polls may use
every token; the history import leaves a reserve, so polls never wait behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# Tokens in hand at most: five minutes' worth of the hourly budget.
BURST_SHARE = 12


class RequestBudget:
    """At most ``per_hour`` energy calls an hour, spread evenly."""

    def __init__(self, per_hour: int, clock: Callable[[], float]) -> None:
        """``clock`` gives seconds (the event loop's time, which tests can move)."""
        self._clock = clock
        self._at = clock()
        self._rate = per_hour / 3600
        self.capacity = max(4.0, per_hour / BURST_SHARE)
        self._tokens = self.capacity
        self.spent = 0

    def set_rate(self, per_hour: int) -> None:
        """Change the budget (an option) without losing the tokens in hand."""
        self.available()
        self._rate = per_hour / 3600
        self.capacity = max(4.0, per_hour / BURST_SHARE)
        self._tokens = min(self._tokens, self.capacity)

    @property
    def per_hour(self) -> int:
        """The hourly budget."""
        return round(self._rate * 3600)

    def available(self) -> float:
        """Tokens in hand now."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        return self._tokens

    async def async_spend(self, calls: int = 1, *, reserve: float = 0.0) -> None:
        """Wait until ``calls`` tokens can be taken while ``reserve`` stays in hand."""
        reserve = min(reserve, self.capacity - calls)
        # Tokens refill with time, not on an event: sleep until enough have accrued.
        while (missing := calls + reserve - self.available()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(missing / self._rate)
        self._tokens -= calls
        self.spent += calls
