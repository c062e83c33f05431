"""Clocks that a test shares between a simulator and the clients talking to it.

``FakeClock`` runs at the speed of the real clock but skips every wait: ``await sleep(s)``
returns after a pass or so of the event loop, the clock having jumped ``s`` ahead. Sleepers
wake in the order of their deadlines (the same deadline: in the order they went to sleep), one
per pass of the event loop, each woken task running before the next one wakes. So a request
waiting for the next second still lets a command that needs an earlier moment go first, a
gateway action that takes 0.4 s is still in progress 0.01 s after it started, and a
one-second rule costs no second of the test. Work that is no sleep on this clock (a request in
flight) takes its real time, and the clock may jump meanwhile for another sleeper, unless the
request goes through a session given ``trace_config()``: no sleeper wakes while one of its
requests is in flight, so the server sees each request at the moment it was sent. A ``frozen``
clock does not run with the real one at all: it moves only over sleeps, so that what a test
measures on it is the same on a loaded machine as on an idle one.

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

import aiohttp
import pytest

REAL_CLOCK_MARKER = "real_clock"


class FakeClock:
    """Seconds since the epoch, starting at the real time, skipping ahead over every sleep."""

    def __init__(self, *, frozen: bool = False) -> None:
        """Start at the real time; ``frozen``: move only over sleeps, not with the real clock."""
        self._origin = time.time()
        self._started = time.monotonic()
        self._frozen = frozen
        self._skipped = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._waking = False
        self._in_flight = 0  # requests sent through trace_config() and not answered yet

    def time(self) -> float:
        """The current time (as ``time.time``)."""
        ran = 0.0 if self._frozen else time.monotonic() - self._started
        return self._origin + ran + self._skipped

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

    def trace_config(self) -> aiohttp.TraceConfig:
        """For a client session: the clock holds still while one of its requests is in flight.

        From the moment the request starts until its answer's headers arrive (or it fails),
        no sleeper wakes: the server has seen the request before time moves on.
        """

        async def started(*_: object) -> None:
            self._in_flight += 1

        async def finished(*_: object) -> None:
            self._in_flight -= 1
            if not self._in_flight and self._sleepers and not self._waking:
                self._waking = True
                asyncio.get_running_loop().call_soon(self._wake_next)

        config = aiohttp.TraceConfig()
        config.on_request_start.append(started)
        config.on_request_end.append(finished)
        config.on_request_exception.append(finished)
        return config

    def _wake_next(self) -> None:
        """Move the clock to the earliest deadline and wake its sleeper; again next pass."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        if not self._sleepers or self._in_flight:  # a request's end wakes the next one
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
