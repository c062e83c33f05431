"""2N: the device's event log, pushed to Home Assistant.

The full poll (at set-up, then every ten minutes) reads which events the device logs
(``api/log/caps``). Where it has a log, one subscription per loaded entry
(``api/log/subscribe``) is pulled without a pause (``api/log/pull`` waits up to a minute for
an event) in a background task the entry owns: it starts once set-up is done (set-up never
waits for it), and at unload it is cancelled and the subscription closed.

What the log says becomes:

* events of the device's event entities: the doorbell (a call button pressed, an outgoing
  call started), access (a card, a code, a Bluetooth mobile key, a fingerprint, accepted or
  refused, with the user's name when the device reports one) and the door (opened, closed,
  open too long, forced open, an input switched);
* the door switches' new states, shown at once (``SwitchStateChanged``); while the
  subscription is healthy the switches are polled every five minutes instead of 15 s.

A keypad's digits are never shown nor logged (they are PIN codes), nor a code entered.

A lost subscription (the device restarted, forgot or expired it, the network dropped, the
pull failed) is opened again at once, then with a back-off of 1 s doubling up to a minute;
the new one is filled once with the device's history since the last answered pull
(``include=-<seconds>``, at most an hour), and every event is delivered once: an event
already delivered (the same time, up-time, type and parameters, counted) is not again. After
a restart of Home Assistant the log is read from then on (``include=new``): nothing is
replayed. A device that refuses its log (the service disabled or unlicensed, another
connection type or authentication for it) raises a repair issue saying so, keeps being
polled every 15 s, and is asked again at every full poll, as is one without a log (older
firmware). The ``event_log`` diagnostic sensor shows the subscription's state.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
import math
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from ...const import LOGGER
from ...coordinator import DeviceDescription, MultilockDevice
from ...event import DeviceEvent, EventAttribute, async_fire_device_event
from ...issues import async_clear_issue, async_raise_issue
from .client import (
    LogBatch,
    LogEvent,
    MobileKeyConfig,
    TwoNApiError,
    TwoNError,
    TwoNHttpError,
    TwoNMalformedReplyError,
)
from .const import UPDATE_INTERVAL, VENDOR, issue_id

if TYPE_CHECKING:
    from .coordinator import TwoNCoordinator, TwoNData

# Seconds a pull waits for an event; a subscription not pulled for SUBSCRIPTION_DURATION
# is closed by the device (so one lost pull costs the device little).
PULL_WAIT: Final = 60
SUBSCRIPTION_DURATION: Final = 120
# Back-off after a second failure in a row: 1 s, doubling up to a minute.
FIRST_BACKOFF: Final = 1.0
MAX_BACKOFF: Final = 60.0
# The history asked for after a gap: since the last answered pull, plus a margin, at most.
GAP_MARGIN: Final = 5
MAX_GAP: Final = 3600
# Seconds an accepted credential waits for the device's UserAuthenticated (the user's name).
USER_WAIT: Final = 1
# Switch polling while the subscription reports the switches.
PUSH_UPDATE_INTERVAL: Final = timedelta(minutes=5)
# Events delivered that are remembered (to deliver a replayed one once): at most this many.
REMEMBERED: Final = 20_000

EVENT_LOG_ISSUE: Final = "event_log_refused"

# Device kinds: the subscription's state, the camera, and one per event entity.
EVENT_LOG_KIND: Final = "event_log"
CAMERA_KIND: Final = "camera"
DOORBELL: Final = "doorbell"
ACCESS: Final = "access"
DOOR: Final = "door"
# The key of the event entity on each of those devices.
EVENT_KEY: Final = "event"

SWITCH_CHANGED: Final = "SwitchStateChanged"
USER_AUTHENTICATED: Final = "UserAuthenticated"
# The credential events and the method each names.
CREDENTIALS: Final[Mapping[str, str]] = {
    "CardEntered": "card",
    "CodeEntered": "code",
    "MobKeyEntered": "mobile_key",
    "FingerEntered": "fingerprint",
}
# The log's event types behind each event entity.
SOURCES: Final[Mapping[str, frozenset[str]]] = {
    DOORBELL: frozenset({"KeyPressed", "CallStateChanged"}),
    ACCESS: frozenset({*CREDENTIALS, USER_AUTHENTICATED}),
    DOOR: frozenset(
        {"DoorStateChanged", "DoorOpenTooLong", "UnauthorizedDoorOpen", "InputChanged"}
    ),
}
HANDLED: Final = frozenset({SWITCH_CHANGED}.union(*SOURCES.values()))

# The event types of each event entity (translated in strings.json).
DOORBELL_TYPES: Final = ("ring", "call_started")
ACCESS_TYPES: Final = ("granted", "refused")
DOOR_TYPES: Final = (
    "opened",
    "closed",
    "open_too_long",
    "forced_open",
    "input_on",
    "input_off",
)


class EventLogState(StrEnum):
    """The state of the subscription (the ``event_log`` sensor's states)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    REFUSED = "refused"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class EventLogStatus:
    """What is known of the device's event log.

    ``event_types``: the types multilock handles that the device logs (empty until its
    ``log/caps`` was read); ``reason``: why it is refused, or the last failure;
    ``reconnects``: subscriptions lost and opened again since set-up.
    """

    state: EventLogState = EventLogState.CONNECTING
    event_types: tuple[str, ...] = ()
    reason: str | None = None
    reconnects: int = 0
    connected_since: datetime | None = None


class EventLogRefusedError(Exception):
    """The device refuses its log (``supported``: it has one) for a reason people can act on."""

    def __init__(self, err: TwoNApiError, *, supported: bool) -> None:
        """Keep the device's error."""
        super().__init__(str(err))
        self.error = err
        self.supported = supported


def _still_open(err: TwoNError) -> bool:
    """Whether a failed pull left its subscription open on a device that answers."""
    if isinstance(err, TwoNApiError):
        return err.param != "id"  # not "this subscription is unknown"
    return isinstance(err, TwoNMalformedReplyError | TwoNHttpError)


def _refusal(err: TwoNError) -> EventLogRefusedError | None:
    """The refusal ``err`` is when it says the log is not available to this account."""
    if not isinstance(err, TwoNApiError):
        return None
    if err.code in (1, 2):
        return EventLogRefusedError(err, supported=False)
    if err.code in (4, 7, 8, 10):
        return EventLogRefusedError(err, supported=True)
    return None


# --- the devices and what the log's events mean ---------------------------------------------


def push_devices(
    coordinator: TwoNCoordinator, info: DeviceDescription, data: TwoNData
) -> list[MultilockDevice[Any]]:
    """The subscription's state, one device per event entity the device has events for, and
    the camera: each on the 2N device itself (the same description)."""
    serial = coordinator.serial
    status = data.event_log
    devices: list[MultilockDevice[Any]] = [
        MultilockDevice(
            key=f"{serial}-event-log",
            kind=EVENT_LOG_KIND,
            name=f"{coordinator.device_name} event log",
            info=info,
            data=status,
        )
    ]
    refused = status.state is EventLogState.REFUSED
    for entity, sources in SOURCES.items():
        if sources.intersection(status.event_types):
            devices.append(
                MultilockDevice(
                    key=event_device_key(serial, entity),
                    kind=entity,
                    name=f"{coordinator.device_name} {entity}",
                    info=info,
                    data=status,
                    problem=f"the device refuses its event log: {status.reason}"
                    if refused
                    else None,
                )
            )
    if data.camera is not None and data.camera.resolutions:
        devices.append(
            MultilockDevice(
                key=f"{serial}-{CAMERA_KIND}",
                kind=CAMERA_KIND,
                name=f"{coordinator.device_name} camera",
                info=info,
                data=data.camera,
            )
        )
    return devices


def event_device_key(serial: str, entity: str) -> str:
    """The device key of an event entity's device."""
    return f"{serial}-{entity}"


@dataclass(frozen=True, slots=True)
class _Happened:
    entity: str
    event_type: str
    attributes: dict[str, EventAttribute]


@dataclass(slots=True)
class _Credential:
    method: str
    attributes: dict[str, EventAttribute]
    deadline: float


class EventTranslator:
    """Turns the log's events into what the event entities show.

    An accepted credential waits up to ``USER_WAIT`` for the UserAuthenticated event of the
    same session, which names the user (``flush`` gives those whose wait is over).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with nothing pending."""
        self._clock = clock
        self._pending: dict[object, _Credential] = {}
        self._calls: deque[object] = deque(maxlen=32)

    @property
    def waiting(self) -> bool:
        """Whether an accepted credential waits for its user's name."""
        return bool(self._pending)

    def translate(self, event: LogEvent, keys: MobileKeyConfig | None) -> list[_Happened]:
        """What ``event`` shows (nothing for what no entity shows)."""
        params = event.params
        occurred = event.occurred
        base: dict[str, EventAttribute] = {
            "occurred_at": None if occurred is None else occurred.isoformat()
        }
        name = event.name
        if name == "KeyPressed":
            key = params.get("key")
            # Only call buttons (%1, %2...): a keypad's digits are a PIN being typed.
            if isinstance(key, str) and key.startswith("%") and key[1:].isdigit():
                return [_Happened(DOORBELL, "ring", base | {"button": int(key[1:])})]
            return []
        if name == "CallStateChanged":
            return self._call(params, base)
        if name in CREDENTIALS:
            return self._credential(CREDENTIALS[name], params, base, keys)
        if name == USER_AUTHENTICATED:
            return self._authenticated(params)
        return _door(name, params, base)

    def flush(self, *, everything: bool = False) -> list[_Happened]:
        """The accepted credentials whose wait for a user's name is over."""
        now = self._clock()
        done = [
            session
            for session, credential in self._pending.items()
            if everything or credential.deadline <= now
        ]
        return [self._granted(self._pending.pop(session), None) for session in done]

    def _call(
        self, params: Mapping[str, object], base: dict[str, EventAttribute]
    ) -> list[_Happened]:
        session = params.get("session")
        if params.get("direction") != "outgoing" or params.get("state") not in (
            "connecting",
            "ringing",
        ):
            return []
        if session is not None and session in self._calls:
            return []  # the same call, ringing after connecting
        self._calls.append(session)
        return [_Happened(DOORBELL, "call_started", base)]

    def _credential(
        self,
        method: str,
        params: Mapping[str, object],
        base: dict[str, EventAttribute],
        keys: MobileKeyConfig | None,
    ) -> list[_Happened]:
        valid = params.get("valid")
        if not isinstance(valid, bool):
            return []
        attributes = base | {"method": method}
        if method == "mobile_key":
            attributes |= _mobile_key(params.get("authid"), keys)
        if not valid:
            return [_Happened(ACCESS, "refused", attributes)]
        # Another credential of the same session first: the earlier one is done waiting.
        session = params.get("session")
        happened = [self._granted(old, None)] if (old := self._pending.pop(session, None)) else []
        self._pending[session] = _Credential(method, attributes, self._clock() + USER_WAIT)
        return happened

    def _authenticated(self, params: Mapping[str, object]) -> list[_Happened]:
        name = params.get("name")
        user = name if isinstance(name, str) and name else None
        session = params.get("session")
        credential = self._pending.pop(session, None)
        if credential is None and len(self._pending) == 1 and session is None:
            credential = self._pending.pop(next(iter(self._pending)))
        if credential is None:
            return [_Happened(ACCESS, "granted", {"user": user})]
        return [self._granted(credential, user)]

    @staticmethod
    def _granted(credential: _Credential, user: str | None) -> _Happened:
        return _Happened(ACCESS, "granted", credential.attributes | {"user": user})


def _door(
    name: str, params: Mapping[str, object], base: dict[str, EventAttribute]
) -> list[_Happened]:
    state = params.get("state")
    if name == "DoorStateChanged" and state in ("opened", "closed"):
        return [_Happened(DOOR, str(state), base)]
    if name in ("DoorOpenTooLong", "UnauthorizedDoorOpen") and state in (None, "in"):
        kind = "open_too_long" if name == "DoorOpenTooLong" else "forced_open"
        return [_Happened(DOOR, kind, base)]
    if name == "InputChanged" and isinstance(state, bool):
        port = params.get("port")
        attributes = base | {"input": port if isinstance(port, str) else None}
        return [_Happened(DOOR, "input_on" if state else "input_off", attributes)]
    return []


def _mobile_key(authid: object, keys: MobileKeyConfig | None) -> dict[str, EventAttribute]:
    """Name the location key a phone used by its slot and fingerprint, when it is known."""
    if not isinstance(authid, str) or not authid:
        return {}
    wanted = authid.lower()
    for key in [] if keys is None else keys.keys:
        if key.fingerprint.startswith(wanted) and len(wanted) >= 8:
            return {"key_slot": key.slot, "key_fingerprint": key.fingerprint[:16]}
    return {"authid": authid}


class _Delivered:
    """The events delivered lately, counted, so that one replayed is delivered once."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[object, ...]] = Counter()
        self._order: deque[tuple[tuple[object, ...], float]] = deque()
        self._seen: Counter[tuple[object, ...]] = Counter()

    def new_subscription(self) -> None:
        """A new subscription starts: what it gives is compared with what was delivered."""
        self._seen = Counter()

    def first_time(self, event: LogEvent, now: float) -> bool:
        """Whether ``event`` was not delivered yet (and remember it when so)."""
        identity = event.identity()
        self._seen[identity] += 1
        if self._seen[identity] <= self._counts[identity]:
            return False
        self._counts[identity] += 1
        self._order.append((identity, now))
        while self._order and (
            len(self._order) > REMEMBERED or self._order[0][1] < now - MAX_GAP - GAP_MARGIN
        ):
            old, _ = self._order.popleft()
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        return True


# --- the subscription ---------------------------------------------------------------------


class TwoNEventLog:
    """The subscription of one device's entry: opens it, pulls it, delivers what it says."""

    def __init__(self, coordinator: TwoNCoordinator) -> None:
        """Belong to the coordinator (its client, its entry)."""
        self._coordinator = coordinator
        self.status = EventLogStatus()
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self._subscription: int | None = None
        # Since when (monotonic) events may be missing: the first subscription's start, then
        # each answered pull.
        self._since: float | None = None
        self._delivered = _Delivered()
        self._translator = EventTranslator()
        self.skipped = 0  # unreadable entries the device sent
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # the back-off's pauses

    def start(self) -> None:
        """Subscribe in the background where the device has a log; stop at unload."""
        self._started = True
        self._coordinator.config_entry.async_on_unload(self.async_stop)
        self._subscribe_when_possible()

    async def async_read_caps(self) -> None:
        """Read which events the device logs (the full poll does, unless subscribed)."""
        if self._task is not None and not self._task.done():
            return
        try:
            logged = set(await self._coordinator.client.log_caps())
        except TwoNError as err:
            if (refusal := _refusal(err)) is not None:
                self._refused(refusal)
            else:  # the poll itself tells whether the device is reachable
                LOGGER.debug("%s: cannot read its event log's capabilities: %s", self._name, err)
            return
        self._set_status(event_types=tuple(sorted(HANDLED & logged)))
        self._subscribe_when_possible()

    def _subscribe_when_possible(self) -> None:
        if not self._started or not self.status.event_types:
            return
        if self._task is not None and not self._task.done():
            return
        if self.status.state in (EventLogState.REFUSED, EventLogState.UNSUPPORTED):
            self._set_status(state=EventLogState.CONNECTING)
        self._task = self._coordinator.config_entry.async_create_background_task(
            self._coordinator.hass, self._run(), f"two_n event log {self._coordinator.serial}"
        )

    @property
    def _name(self) -> str:
        return self._coordinator.device_name

    async def async_stop(self) -> None:
        """Stop pulling and close the subscription."""
        self._started = False
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for happened in self._translator.flush(everything=True):
            self._fire(happened)
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            with suppress(TwoNError, TimeoutError):
                async with asyncio.timeout(2):
                    await self._coordinator.client.log_unsubscribe(subscription)

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        client = self._coordinator.client
        include = "new"  # after a (re)start of Home Assistant: nothing is replayed
        failures = 0
        while True:
            try:
                opened = time.monotonic()
                self._subscription = await client.log_subscribe(
                    include=include, events=self.status.event_types, duration=SUBSCRIPTION_DURATION
                )
                if self._since is None:
                    self._since = opened
                self._delivered.new_subscription()
                failures = 0
                self._connected()
                await self._pull_forever(self._subscription)
            except TwoNError as err:
                if (refusal := _refusal(err)) is not None:
                    self._refused(refusal)
                    return
                failures += 1
                await self._lost(err, failures)
                include = self._gap()

    async def _pull_forever(self, subscription: int) -> None:
        client = self._coordinator.client
        while True:
            wait = USER_WAIT if self._translator.waiting else PULL_WAIT
            batch = await client.log_pull(subscription, wait=wait)
            self._since = time.monotonic()
            self._deliver(batch)

    async def _lost(self, err: TwoNError, failures: int) -> None:
        """The subscription is lost: open another at once, then after a growing pause."""
        old, self._subscription = self._subscription, None
        if failures == 1:
            LOGGER.debug(
                "%s: the event log subscription was lost (%s); opening another",
                self._coordinator.device_name,
                err,
            )
            self._set_status(reconnects=self.status.reconnects + 1, reason=str(err))
            if old is not None and _still_open(err):
                # The device answered: let it drop the subscription now, not when it expires.
                with suppress(TwoNError):
                    await self._coordinator.client.log_unsubscribe(old)
            return
        if self.status.state is not EventLogState.RECONNECTING:
            LOGGER.info(
                "%s: cannot open the event log (%s); polling the switches every %s s until "
                "it is back",
                self._coordinator.device_name,
                err,
                int(UPDATE_INTERVAL.total_seconds()),
            )
        self._set_status(state=EventLogState.RECONNECTING, reason=str(err), connected_since=None)
        await self.sleep(min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 2)))

    def _gap(self) -> str:
        """``include`` for a new subscription: the history since the last answered pull."""
        if self._since is None:
            return "new"
        seconds = math.ceil(time.monotonic() - self._since) + GAP_MARGIN
        return f"-{min(seconds, MAX_GAP)}"

    # -- delivery ----------------------------------------------------------------------------

    def _deliver(self, batch: LogBatch) -> None:
        if batch.skipped:
            self.skipped += batch.skipped
            LOGGER.debug(
                "%s sent %s unreadable event(s): skipped",
                self._coordinator.device_name,
                batch.skipped,
            )
        now = time.monotonic()
        keys = None if self._coordinator.data is None else self._coordinator.data.mobile_keys
        for event in batch.events:
            if not self._delivered.first_time(event, now):
                continue
            if event.name == SWITCH_CHANGED:
                self._switch_changed(event)
                continue
            for happened in self._translator.translate(event, keys):
                self._fire(happened)
        for happened in self._translator.flush():
            self._fire(happened)

    def _switch_changed(self, event: LogEvent) -> None:
        number, state = event.params.get("switch"), event.params.get("state")
        if isinstance(number, int) and not isinstance(number, bool) and isinstance(state, bool):
            self._coordinator.async_switch_reported(number, state)

    def _fire(self, happened: _Happened) -> None:
        async_fire_device_event(
            self._coordinator.hass,
            event_device_key(self._coordinator.serial, happened.entity),
            DeviceEvent(EVENT_KEY, happened.event_type, happened.attributes),
        )

    # -- state -------------------------------------------------------------------------------

    def _connected(self) -> None:
        if self.status.state is not EventLogState.CONNECTED:
            if self.status.state is EventLogState.RECONNECTING:
                LOGGER.info("%s: the event log is back", self._coordinator.device_name)
            self._set_status(
                state=EventLogState.CONNECTED, reason=None, connected_since=dt_util.utcnow()
            )
        async_clear_issue(self._coordinator.hass, self._issue_id)

    def _refused(self, err: EventLogRefusedError) -> None:
        coordinator = self._coordinator
        self._subscription = None
        if err.supported:
            state = EventLogState.REFUSED
            if self.status.state is not EventLogState.REFUSED:
                LOGGER.warning(
                    "%s refuses its event log (%s): doorbell, access and door events will not "
                    "show, and the switches are polled every %s s",
                    coordinator.device_name,
                    err.error,
                    int(UPDATE_INTERVAL.total_seconds()),
                )
            async_raise_issue(
                coordinator.hass,
                vendor=VENDOR,
                kind=EVENT_LOG_ISSUE,
                issue_id=self._issue_id,
                fixable=False,
                severity=ir.IssueSeverity.WARNING,
                placeholders={
                    "name": coordinator.device_name,
                    "username": str(coordinator.config_entry.data.get("username") or ""),
                    "error": str(err.error),
                },
                data={"entry_id": coordinator.config_entry.entry_id},
            )
        else:
            state = EventLogState.UNSUPPORTED
            LOGGER.debug("%s has no event log: %s", coordinator.device_name, err)
        self._set_status(state=state, reason=str(err.error), connected_since=None)

    @property
    def _issue_id(self) -> str:
        return issue_id(EVENT_LOG_ISSUE, self._coordinator.config_entry.entry_id)

    def _set_status(self, **changes: Any) -> None:
        status = replace(self.status, **changes)
        if status == self.status:
            return
        self.status = status
        self._coordinator.async_event_log_changed(status)


def poll_interval(status: EventLogStatus, *, switches_read: bool) -> timedelta:
    """How often the switches are polled: seldom while the log reports their changes."""
    healthy = status.state is EventLogState.CONNECTED and SWITCH_CHANGED in status.event_types
    return PUSH_UPDATE_INTERVAL if healthy and switches_read else UPDATE_INTERVAL
