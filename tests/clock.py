"""Clocks that a test shares between a simulator and the clients talking to it.

``FakeClock`` runs at the speed of the real clock but skips every wait: ``await sleep(s)``
returns after a pass or so of the event loop, the clock having jumped ``s`` ahead. Sleepers
wake in the order of their deadlines (the same deadline: in the order they went to sleep), one
per pass of the event loop, each woken task running before the next one wakes. So a request
waiting for the next second still lets a command that needs an earlier moment go first, a
gateway action that takes 0.4 s is still in progress 0.01 s after it started, and a
one-second rule costs no second of the test. Work that is no sleep on this clock (a request in
flight) takes its real time, and the clock may jump meanwhile for another sleeper.

``RealClock`` has the same interface on the real clock, for the tests that keep it (marked
``real_clock``).

Home Assistant's own time (``async_fire_time_changed``, ``freezer``, ``async_call_later``) is
another matter: these clocks do not touch it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

import pytest

REAL_CLOCK_MARKER = "real_clock"


class FakeClock:
    """Seconds since the epoch, starting at the real time, skipping ahead over every sleep."""

    def __init__(self) -> None:
        """Start at the real time."""
        self._origin = time.time()
        self._started = time.monotonic()
        self._skipped = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._waking = False

    def time(self) -> float:
        """The current time (as ``time.time``)."""
        return self._origin + (time.monotonic() - self._started) + self._skipped

    def monotonic(self) -> float:
        """The same clock (as ``time.monotonic``: only differences count)."""
        return self.time()

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has reached ``seconds`` from now, without waiting for it."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        deadline = self.time() + max(0.0, seconds)
        heapq.heappush(self._sleepers, (deadline, next(self._order), waiter))
        if not self._waking:
            self._waking = True
            loop.call_soon(self._wake_next)
        await waiter  # a cancelled sleeper's waiter is cancelled with it: skipped

    def _wake_next(self) -> None:
        """Move the clock to the earliest deadline and wake its sleeper; again next pass."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        if not self._sleepers:
            self._waking = False
            return
        deadline, _, waiter = heapq.heappop(self._sleepers)
        self._skipped += max(0.0, deadline - self.time())
        waiter.set_result(None)
        # The woken task runs before this (its wake-up was scheduled first).
        asyncio.get_running_loop().call_soon(self._wake_next)


class RealClock:
    """The real clock with ``FakeClock``'s interface."""

    @staticmethod
    def time() -> float:
        """``time.time()``."""
        return time.time()

    @staticmethod
    def monotonic() -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    @staticmethod
    async def sleep(seconds: float) -> None:
        """``asyncio.sleep(seconds)``."""
        await asyncio.sleep(seconds)


type Clock = FakeClock | RealClock


def on_real_clock(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked ``real_clock``."""
    return request.node.get_closest_marker(REAL_CLOCK_MARKER) is not None


def register_marker(config: pytest.Config) -> None:
    """Declare the ``real_clock`` marker (from a ``pytest_configure`` hook)."""
    config.addinivalue_line(
        "markers",
        f"{REAL_CLOCK_MARKER}: run on the real clock instead of a FakeClock (end-to-end timing)",
    )
