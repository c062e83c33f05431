"""The event log of the simulated 2N device (``api/log/*``), from 2N's pages on "api log" and
the notes; the device simulator (``simulators.two_n``) serves it.

What it keeps, as a device does:

- a history of the last ``HISTORY_SIZE`` events (empty after a restart: ``restart()``); each
  event has a record id (1 after a restart, one more per event), ``utcTime`` (seconds since
  1970), ``upTime`` (seconds since the restart), ``tzShift`` (0) and its parameters;
- subscriptions (``subscribe``), each with a queue of its own that gets the new events its
  filter and its account's privileges let through; ``include`` fills the queue once from the
  history (``all``, or ``-<seconds>``: the last seconds); a subscription not pulled for its
  ``duration`` is closed (checked at every use of the log);
- ``pull``: the queued events at once (at most 128), else waits for one up to ``timeout``
  seconds, then answers an empty list.

Choices where the pages are silent:

- Errors: an unknown or closed subscription id → error 12 (param ``id``); a missing ``id`` →
  11; ``timeout`` or ``duration`` that are not whole numbers in range, an ``include`` other
  than ``new``, ``all`` or ``-<seconds>``, or an unknown event type in ``filter`` → 12.
  ``timeout`` is at most 3600 s, ``duration`` 1..3600 s (default 90).
- A pull waiting on a subscription that is closed meanwhile (``forget``, or unsubscribed)
  answers error 12 at once.
- Privileges: DeviceState, DoorStateChanged, DoorOpenTooLong, UnauthorizedDoorOpen,
  TamperSwitchActivated, MotionDetected and LoginBlocked need none (2N's table);
  KeyPressed, KeyReleased, CallStateChanged, InputChanged and OutputChanged need ``system``;
  CardEntered, CodeEntered, MobKeyEntered, FingerEntered and UserAuthenticated need
  ``access_control``; SwitchStateChanged needs ``switches_control``. An account without
  the privilege does not get the event (no error).
- ``malformed_event()`` queues, in every subscription, one entry that is no event (a number
  where the event type should be), as a damaged record would be.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
import itertools
import time
from typing import Final

type JsonValue = bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None

HISTORY_SIZE: Final = 10_000
BATCH: Final = 128
DEFAULT_DURATION: Final = 90
MAX_SECONDS: Final = 3600

# The privilege group (of simulators.two_n) each event type needs; None: no privilege.
EVENT_PRIVILEGES: Final[Mapping[str, str | None]] = {
    "DeviceState": None,
    "DoorStateChanged": None,
    "DoorOpenTooLong": None,
    "UnauthorizedDoorOpen": None,
    "TamperSwitchActivated": None,
    "MotionDetected": None,
    "LoginBlocked": None,
    "KeyPressed": "system",
    "KeyReleased": "system",
    "CallStateChanged": "system",
    "InputChanged": "system",
    "OutputChanged": "system",
    "CardEntered": "access_control",
    "CodeEntered": "access_control",
    "MobKeyEntered": "access_control",
    "FingerEntered": "access_control",
    "UserAuthenticated": "access_control",
    "SwitchStateChanged": "switches_control",
}
EVENT_TYPES: Final = tuple(EVENT_PRIVILEGES)


class LogError(Exception):
    """A request the log refuses: the device's error code and parameter."""

    def __init__(self, code: int, param: str | None = None) -> None:
        super().__init__(code, param)
        self.code, self.param = code, param


@dataclass(frozen=True)
class LoggedEvent:
    """One event of the history, as ``log/pull`` shows it."""

    record_id: int
    name: str
    params: dict[str, JsonValue]
    utc_time: int
    up_time: int
    at: float  # the log's clock (monotonic) when it happened

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.record_id,
            "tzShift": 0,
            "utcTime": self.utc_time,
            "upTime": self.up_time,
            "event": self.name,
            "params": self.params,
        }


@dataclass
class Subscription:
    """One channel: its filter, the privileges of the account that opened it, its queue."""

    id: int
    events: frozenset[str]
    privileges: frozenset[str] | None  # None: the device asks for no authentication
    duration: float
    last_used: float
    queue: deque[dict[str, JsonValue]] = field(default_factory=deque)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    pulling: int = 0  # pulls waiting on it right now

    def wants(self, name: str) -> bool:
        if name not in self.events:
            return False
        needed = EVENT_PRIVILEGES.get(name)
        return needed is None or self.privileges is None or needed in self.privileges


class EventLog:
    """The device's event history and subscriptions."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        caps: Iterable[str] = EVENT_TYPES,
    ) -> None:
        self.clock, self.wall_clock = clock, wall_clock
        self.caps: tuple[str, ...] = tuple(caps)
        self.history: deque[LoggedEvent] = deque(maxlen=HISTORY_SIZE)
        self.subscriptions: dict[int, Subscription] = {}
        self._started = clock()
        self._record_ids = itertools.count(1)
        # Subscription ids go on across restarts, so that a client's old id is not reused.
        self._subscription_ids = itertools.count(1)

    # ----- what happens at the device ----------------------------------------------------------
    def record(self, name: str, params: Mapping[str, JsonValue]) -> LoggedEvent | None:
        """Log an event (None when the device does not log this type); queue it."""
        if name not in self.caps:
            return None
        now = self.clock()
        event = LoggedEvent(
            next(self._record_ids),
            name,
            dict(params),
            int(self.wall_clock()),
            int(now - self._started),
            now,
        )
        self.history.append(event)
        for subscription in self._live():
            if subscription.wants(name):
                subscription.queue.append(event.as_json())
                subscription.changed.set()
        return event

    def malformed_event(self) -> None:
        """Queue an entry that is no event in every subscription."""
        for subscription in self._live():
            subscription.queue.append({"id": next(self._record_ids), "event": 42})
            subscription.changed.set()

    def restart(self) -> None:
        """A device restart: the history and every subscription are gone."""
        self.forget()
        self.history.clear()
        self._started = self.clock()
        self._record_ids = itertools.count(1)

    def forget(self) -> None:
        """Close every subscription (a waiting pull answers error 12)."""
        for subscription in self.subscriptions.values():
            subscription.closed = True
            subscription.changed.set()
        self.subscriptions.clear()

    # ----- the API -----------------------------------------------------------------------------
    def subscribe(
        self, params: Mapping[str, str], privileges: frozenset[str] | None
    ) -> dict[str, JsonValue]:
        """``log/subscribe``: ``{"id": ...}``."""
        include = params.get("include") or "new"
        events = self._filter(params.get("filter"))
        duration = _whole(params.get("duration"), "duration", DEFAULT_DURATION, low=1)
        history: list[LoggedEvent] = []
        if include == "all":
            history = list(self.history)
        elif include.startswith("-"):
            seconds = _whole(include[1:], "include", 0)
            since = self.clock() - seconds
            history = [event for event in self.history if event.at >= since]
        elif include != "new":
            raise LogError(12, "include")
        self._expire()
        subscription = Subscription(
            next(self._subscription_ids), events, privileges, duration, self.clock()
        )
        subscription.queue.extend(
            event.as_json() for event in history if subscription.wants(event.name)
        )
        self.subscriptions[subscription.id] = subscription
        return {"id": subscription.id}

    async def pull(
        self, params: Mapping[str, str], stopping: asyncio.Event
    ) -> dict[str, JsonValue]:
        """``log/pull``: ``{"events": [...]}``, waiting up to ``timeout`` for one."""
        subscription = self._subscription(params)
        timeout = _whole(params.get("timeout"), "timeout", 0)
        subscription.pulling += 1
        try:
            deadline = self.clock() + timeout
            while not subscription.queue and not subscription.closed:
                left = deadline - self.clock()
                if left <= 0 or stopping.is_set():
                    break
                subscription.changed.clear()
                waiters = {
                    asyncio.ensure_future(subscription.changed.wait()),
                    asyncio.ensure_future(stopping.wait()),
                }
                try:
                    await asyncio.wait(waiters, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            subscription.pulling -= 1
            subscription.last_used = self.clock()
        if subscription.closed:
            raise LogError(12, "id")
        batch = [subscription.queue.popleft() for _ in range(min(BATCH, len(subscription.queue)))]
        return {"events": list(batch)}

    def unsubscribe(self, params: Mapping[str, str]) -> None:
        """``log/unsubscribe``."""
        subscription = self._subscription(params)
        subscription.closed = True
        subscription.changed.set()
        del self.subscriptions[subscription.id]

    # ----- helpers -----------------------------------------------------------------------------
    def _live(self) -> list[Subscription]:
        self._expire()
        return list(self.subscriptions.values())

    def _expire(self) -> None:
        now = self.clock()
        for subscription in list(self.subscriptions.values()):
            if not subscription.pulling and now - subscription.last_used > subscription.duration:
                subscription.closed = True
                del self.subscriptions[subscription.id]

    def _subscription(self, params: Mapping[str, str]) -> Subscription:
        text = params.get("id")
        if not text:
            raise LogError(11, "id")
        self._expire()
        try:
            subscription = self.subscriptions[int(text)]
        except ValueError, KeyError:
            raise LogError(12, "id") from None
        subscription.last_used = self.clock()
        return subscription

    def _filter(self, text: str | None) -> frozenset[str]:
        if not text:
            return frozenset(self.caps)
        names = frozenset(name.strip() for name in text.split(",") if name.strip())
        if not names or not names <= set(self.caps):
            raise LogError(12, "filter")
        return names


def _whole(text: str | None, param: str, default: int, *, low: int = 0) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise LogError(12, param) from None
    if not low <= value <= MAX_SECONDS:
        raise LogError(12, param)
    return value
