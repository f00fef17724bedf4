"""The one limit on an entry's energy calls: how many an hour, and how many at once.

A large account (hundreds of EANs) must never burst: calls are spread evenly
at the budget's rate, with at most five minutes' worth in hand, and only a few
run at the same time. Polls may use every token and slot; the history import
leaves a reserve of both, so polls never wait behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

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


class RequestLimiter:
    """Every energy call of an entry passes here: paid from the budget, in one of a few slots."""

    def __init__(self, per_hour: int, clock: Callable[[], float], concurrency: int) -> None:
        """``concurrency`` calls at once; background work holds all slots but one."""
        self.budget = RequestBudget(per_hour, clock)
        self._slots = asyncio.Semaphore(concurrency)
        self._background_slots = asyncio.Semaphore(max(concurrency - 1, 1))

    @asynccontextmanager
    async def call(self, calls: int = 1, *, background: bool = False) -> AsyncIterator[None]:
        """Pay ``calls`` tokens, then hold a slot while the call runs.

        Background work (the history import) leaves half the burst and a slot to
        the polls, so they (and the setup's first refresh) never wait behind it.
        """
        if not background:
            await self.budget.async_spend(calls)
            async with self._slots:
                yield
            return
        await self.budget.async_spend(calls, reserve=self.budget.capacity / 2)
        async with self._background_slots, self._slots:
            yield
