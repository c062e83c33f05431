"""Simulator of The Keys local Wi-Fi gateway (the vendor's side), written from the seed page alone.

Run it by hand with ``python -m simulators.thekeys`` (two demo locks, see ``--help``) or
``python -m simulators.thekeys --lock 45961123:Zmo1sps2OVyCFtl1``.

Reply shapes (``reply_shape``): the seed page shows one shape, public clients written against real
gateways read another (see the vendor notes). ``"seed"`` / ``"real"``:

- lock action success: ``{"status": "0", "code": "ok"}`` / ``{"status": "ok", "code": 0}``
- error N: ``{"status": N, "code": "<text>"}`` / ``{"status": "ko", "code": N}``
- missing parameter: ``{"status": 400, "code": "missing ts"}`` / ``{"status": "ko", "code": 400}``
- ``locker_status``: ``{"status": "0", "code": 49}`` / ``{"status": "Door closed", "code": 49,
  "version": 81, "position": 1, "rssi": -60, "battery": 7800}``
- busy: ``{"status": "500", "message": "busy"}`` in both (the notes give no other form).

``/lockers``, ``/status``, ``/synchronize`` and ``/update`` success are the same in both shapes.

Choices where neither the seed nor the notes say (the simulator's own; clients must not rely
on them):

- ``locker_status`` texts in the real shape: ``"Unknown status"`` (code 48 = 0x30, the seed's
  own words), ``"Door closed"`` (49), ``"Door open"`` (50), ``"Door jammed"`` (51 = 0x33, a code
  the seed does not list). The seed shape knows only 0x30-0x32: a jammed lock reports 0x30 there.
- ``position`` in the real ``locker_status``: 1 bolt out (closed), 0 bolt in (open), null when the
  state is unknown or jammed. ``version`` is the lock's firmware version; ``battery`` is in mV.
- A jammed lock (``SimulatedLock.jammed`` or ``state == STATE_JAMMED``) accepts the signed open /
  close, runs the motor for ``action_seconds`` and fails with 37 ("other error": the lock did not
  finish); it stays jammed until the test clears it.
- ``status_code_format`` ("int", "decimal", "hex") applies to the ``locker_status`` code in both
  shapes.

Fault kinds (``inject_fault``): ``delay`` (wait, then behave normally), ``disconnect`` (drop the
connection unanswered, nothing done), ``malformed`` (truncated JSON), ``wrong_shape`` (a list or an
object without "status"), ``http_error`` / ``http_500`` (HTTP 500 with an HTML body, any path),
``ok_without_code`` (``{"status": "ok"}`` and nothing done: a reply that proves nothing) and
``late_reply`` (the request is carried out, the reply leaves only after ``seconds``, during
which the gateway stays busy). Fault delays run on the event loop's clock (``asyncio.sleep``)
because they exist to trip a client's timeout; action and status durations use the injectable
``sleep``.

The gateway clock is ``clock() + clock_offset``; it drives the timestamp rule (a signed request must
carry a ts newer than the last accepted one and within ``max_clock_skew`` of the gateway clock),
the busy window of ``set_busy`` and the times recorded in ``RecordedRequest.at``/``replied_at``.

Another client of the gateway (``other_client_signs_ahead``): an app whose clock is ``seconds``
ahead of the gateway's, signing requests all the time, for ``duration`` seconds of the gateway
clock. It is modelled at its most eager: whenever a signed request arrives, the other client has
just been accepted with ``int(now() + seconds)`` (``last_accepted_ts`` moves up to it, unless a
newer one was accepted), so a ts not newer than that is refused with 33, as any ts not newer
than the last accepted one is. Its own requests are not recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import hashlib
import hmac
import json
import logging
import signal
import time
from typing import Literal, TypedDict, Unpack

from aiohttp import web

from .server import serve

_LOGGER = logging.getLogger(__name__)
# One line per request, share codes and hashes masked; `--log FILE` appends these lines to FILE.
REQUEST_LOGGER = logging.getLogger("simulators.thekeys.requests")

STATE_UNKNOWN, STATE_CLOSED, STATE_OPEN = 0x30, 0x31, 0x32
STATE_JAMMED = 0x33  # the simulator's choice: the seed lists 0x30-0x32 only
FAULT_KINDS = frozenset(
    {
        "delay",
        "disconnect",
        "malformed",
        "wrong_shape",
        "http_error",
        "http_500",
        "ok_without_code",
        "late_reply",
    }
)
STATUS_CODE_FORMATS = frozenset({"int", "decimal", "hex"})
REPLY_SHAPES = ("seed", "real")
LATE_REPLY_SECONDS = 5.0  # default delay of a late_reply fault
# scripts/develop's gateway (its "Front door" and "Back door"): other locks than those of the
# The Keys cloud simulator's demo account, which the account set-up adds.
DEMO_LOCKS: tuple[tuple[int, str], ...] = (
    (45961101, "Lp4wQx9zRt2mKd7s"),
    (45961102, "Vn3cHj8yTb5qWe1u"),
)

type ReplyShape = Literal["seed", "real"]
type JSONValue = str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None
type Reply = dict[str, JSONValue]
type Clock = Callable[[], float]
type Sleep = Callable[[float], Awaitable[None]]

_SIGNED_ERRORS = {
    32: "lock not shared",
    33: "invalid hmac",
    34: "lock not detected",
    35: "lock not compatible",
    36: "invalid key",
    37: "connection error",
    38: "synchronization needed",
}
_SYNC_ERRORS = {
    1: "lock not detected",
    2: "lock not compatible",
    3: "invalid data",
    4: "connection error",
}
_UPDATE_ERRORS = {1: "invalid firmware", 2: "generic error"}
# Activity label -> /status "current_status" text; other actions leave it "Scanning...".
_STATUS_TEXT = {"synchronize": "Synchronizing", "update": "Updating"}
# locker_status text of the real shape, by state code.
STATE_TEXTS = {
    STATE_UNKNOWN: "Unknown status",
    STATE_CLOSED: "Door closed",
    STATE_OPEN: "Door open",
    STATE_JAMMED: "Door jammed",
}
_POSITIONS = {STATE_CLOSED: 1, STATE_OPEN: 0}
_HTML_500 = "<html><body><h1>500 Internal Server Error</h1></body></html>"


def _busy() -> Reply:
    return {"status": "500", "message": "busy"}


def mask(secret: str | None) -> str:
    """First 4 characters and an ellipsis: enough to tell secrets apart in a log."""
    return "-" if not secret else secret[:4] + "…"


class LockFields(TypedDict, total=False):
    """Optional fields of `TheKeysGatewaySimulator.add_lock`."""

    state: int
    battery: int
    rssi: int
    in_range: bool
    compatible: bool
    refuses_key: bool
    connection_fails: bool
    needs_sync: bool
    jammed: bool
    version: int
    extra_codes: list[str]


@dataclass
class SimulatedLock:
    """One lock the gateway may see over Bluetooth."""

    identifier: int
    share_code: str | None = field(repr=False)  # None: not shared with this gateway (status 32)
    state: int = STATE_CLOSED  # 0x30 unknown, 0x31 closed, 0x32 open (0x33 jammed)
    battery: int = 7800  # millivolts, as /lockers reports
    rssi: int = -60
    in_range: bool = True  # False: absent from /lockers, 34 / sync 1
    compatible: bool = True  # False: 35 / sync 2
    refuses_key: bool = False  # 36
    connection_fails: bool = False  # 37 / sync 4
    needs_sync: bool = False  # 38 until locker/synchronize
    jammed: bool = False  # open/close fail (37); locker_status "Door jammed" (real shape)
    version: int = 81  # lock firmware version, in the real locker_status reply
    extra_codes: list[str] = field(default_factory=list, repr=False)  # other accepted shares

    @property
    def is_jammed(self) -> bool:
        return self.jammed or self.state == STATE_JAMMED

    @property
    def reported_state(self) -> int:
        """The state the lock reports: STATE_JAMMED while jammed, else `state`."""
        return STATE_JAMMED if self.is_jammed else self.state

    @property
    def codes(self) -> list[str]:
        """Every share code the gateway accepts for this lock."""
        return [code for code in (self.share_code, *self.extra_codes) if code]


@dataclass
class RecordedRequest:
    """One request as the gateway received it."""

    method: str
    path: str
    form: dict[str, str]
    received_at: float  # time.monotonic(), comparable across processes of the machine
    reply: Reply | None = None  # None while in progress or when a fault replaced the reply
    ts_accepted: bool = False  # the HMAC + timestamp check passed and ts became last_accepted_ts
    fault: str | None = None  # kind of injected fault applied to this request
    seq: int = 0  # arrival order at the gateway, from 0
    at: float = 0.0  # gateway clock (clock() + clock_offset) at arrival
    replied_at: float | None = None  # gateway clock when the reply left; None: no reply (yet)
    state_after: int | None = None  # reported_state of the named lock once handled; None: no lock
    shape: ReplyShape = "seed"  # reply shape in force when the request arrived

    @property
    def identifier(self) -> int | None:
        try:
            return int(self.form["identifier"])
        except KeyError, ValueError:
            return None


@dataclass
class _Fault:
    kind: str
    remaining: int | None
    paths: frozenset[str] | None
    seconds: float


@dataclass(frozen=True)
class _Route:
    method: str
    label: str | None  # activity while it runs; None: never busy (and never answers busy)
    handler: Callable[[RecordedRequest], Awaitable[Reply]]
    fields: tuple[str, ...] = ()  # required form fields, checked in this order after "busy"


class TheKeysGatewaySimulator:
    """An aiohttp server behaving like The Keys gateway: one action at a time, signed commands."""

    def __init__(
        self,
        *,
        version: str = "17",
        action_seconds: float = 0.0,
        status_seconds: float = 0.0,
        status_code_format: str = "int",
        max_clock_skew: float = 30.0,
        reply_shape: ReplyShape = "seed",
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if status_code_format not in STATUS_CODE_FORMATS:
            raise ValueError(f"status_code_format must be one of {sorted(STATUS_CODE_FORMATS)}")
        if reply_shape not in REPLY_SHAPES:
            raise ValueError(f"reply_shape must be one of {list(REPLY_SHAPES)}")
        self.version = version
        self.action_seconds = action_seconds
        self.status_seconds = status_seconds
        self.status_code_format = status_code_format
        self.max_clock_skew = max_clock_skew
        self.reply_shape: ReplyShape = reply_shape
        self.clock = clock  # the gateway clock is clock() + clock_offset
        self.sleep = sleep  # waits action_seconds / status_seconds
        self.clock_offset = 0.0  # seconds added to clock() to give the gateway's clock
        self.locks: dict[int, SimulatedLock] = {}
        self.update_error: int | None = None
        self.sync_invalid_data = False
        self.requests: list[RecordedRequest] = []
        self.last_accepted_ts: int | None = None
        self.other_client_ahead = 0.0  # seconds; 0: no other client signs
        self.other_client_until = float("inf")  # gateway clock when the other client stops
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._activity: str | None = None
        self._busy_until = float("-inf")
        self._faults: list[_Fault] = []
        self._wrong_shapes = 0
        ident, signed = ("identifier",), ("identifier", "ts", "hash")
        self._routes = {
            "/lockers": _Route("GET", None, self._lockers),
            "/status": _Route("GET", None, self._status),
            "/synchronize": _Route("GET", "synchronize", self._gateway_action),
            "/update": _Route("GET", "update", self._gateway_action),
            "/locker/synchronize": _Route("POST", "synchronize", self._locker_synchronize, ident),
            "/locker/update": _Route("POST", "update", self._locker_update, ident),
            "/open": _Route("POST", "open", self._signed, signed),
            "/close": _Route("POST", "close", self._signed, signed),
            "/locker_status": _Route("POST", "locker_status", self._signed, signed),
        }

    # ----- control -----------------------------------------------------------------------------
    def add_lock(
        self, identifier: int, share_code: str | None, **fields: Unpack[LockFields]
    ) -> SimulatedLock:
        lock = SimulatedLock(identifier, share_code, **fields)
        self.locks[identifier] = lock
        return lock

    def remove_lock(self, identifier: int) -> None:
        self.locks.pop(identifier, None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    def now(self) -> float:
        """The gateway's clock: clock() + clock_offset."""
        return self.clock() + self.clock_offset

    @property
    def activity(self) -> str | None:
        """The action in progress ("open", "synchronize", ...), None when idle."""
        return self._activity

    @property
    def busy(self) -> bool:
        return self._activity is not None or self.now() < self._busy_until

    def set_busy(self, seconds: float) -> None:
        """Be busy for `seconds` of the gateway clock, as if another app were using the gateway."""
        self._busy_until = max(self._busy_until, self.now() + seconds)

    def other_client_signs_ahead(self, seconds: float, duration: float | None = None) -> None:
        """Another client signs with a clock ``seconds`` ahead, for ``duration`` seconds of the
        gateway clock (None: until called again with 0); see the module."""
        self.other_client_ahead = seconds
        self.other_client_until = float("inf") if duration is None else self.now() + duration

    def inject_fault(
        self,
        kind: str,
        *,
        count: int | None = 1,
        paths: set[str] | None = None,
        seconds: float | None = None,
    ) -> None:
        """Spoil the next `count` requests (None: until cleared) to `paths` (None: any path).

        `seconds` is the wait of ``delay`` (default 0) and of ``late_reply`` (default 5 s).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 or None")
        if seconds is None:
            seconds = LATE_REPLY_SECONDS if kind == "late_reply" else 0.0
        self._faults.append(
            _Fault(kind, count, None if paths is None else frozenset(paths), seconds)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, path: str) -> int:
        return sum(1 for request in self.requests if request.path == path)

    def history(self, identifier: int | None = None) -> list[RecordedRequest]:
        """Requests in arrival order, only those naming `identifier` when given."""
        return [r for r in self.requests if identifier is None or r.identifier == identifier]

    # ----- server ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port; port 0 picks a free port, or reuses the previous one on restart."""
        if self._runner is not None:
            raise RuntimeError("simulator already running")
        if port == 0 and self.port and host == self.host:
            port = self.port  # the gateway comes back at the address the user configured
        self._runner, self.port = await serve(self._handle, host, port)
        self.host = host

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._activity = None

    async def __aenter__(self) -> TheKeysGatewaySimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.paths is None or path in fault.paths:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _state_of(self, record: RecordedRequest) -> int | None:
        identifier = record.identifier
        lock = None if identifier is None else self.locks.get(identifier)
        return None if lock is None else lock.reported_state

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {
                key: value
                for key, value in (await request.post()).items()
                if isinstance(value, str)
            }
        record = RecordedRequest(
            request.method,
            path,
            form,
            time.monotonic(),
            seq=len(self.requests),
            at=self.now(),
            shape=self.reply_shape,
        )
        self.requests.append(record)
        route = self._routes.get(path)
        if route is None or route.method != request.method:
            status = 404 if route is None else 405
            return self._finish(
                record,
                web.Response(
                    status=status, text="Not Found" if status == 404 else "Method Not Allowed"
                ),
                f"HTTP {status}",
            )
        late = 0.0
        fault = self._take_fault(path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "late_reply":
                late = fault.seconds
            elif fault.kind == "ok_without_code":  # nothing done, nothing proved
                record.reply = {"status": "ok"}
                return self._finish(record, web.json_response(record.reply), "fault ok")
            else:
                return self._finish(
                    record, self._faulty_response(fault.kind, request), f"fault {fault.kind}"
                )
        missing = next((name for name in route.fields if not form.get(name)), None)
        if route.label is not None and self.busy:
            reply = _busy()
        elif missing is not None:
            reply = self._missing(missing)
        elif route.label is None:
            reply = await route.handler(record)
            record.state_after = self._state_of(record)
        else:
            self._activity = route.label  # one action at a time: set before the first await
            try:
                reply = await route.handler(record)
                record.state_after = self._state_of(record)
                if late > 0:  # done, but the reply leaves late: still busy meanwhile
                    await asyncio.sleep(late)
                    late = 0.0
            finally:
                self._activity = None
        if late > 0:  # a reply that needed no action (busy, missing field, /lockers...)
            await asyncio.sleep(late)
        record.reply = reply
        return self._finish(record, web.json_response(reply), json.dumps(reply))

    def _finish(
        self, record: RecordedRequest, response: web.StreamResponse, outcome: str
    ) -> web.StreamResponse:
        if record.state_after is None:
            record.state_after = self._state_of(record)
        if record.fault != "disconnect":
            record.replied_at = self.now()
        form = record.form
        REQUEST_LOGGER.info(
            "#%d %s %s identifier=%s ts=%s hash=%s -> %s",
            record.seq,
            record.method,
            record.path,
            form.get("identifier", "-"),
            form.get("ts", "-"),
            mask(form.get("hash")),
            outcome,
        )
        return response

    def _faulty_response(self, kind: str, request: web.Request) -> web.StreamResponse:
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)  # never reaches the client
        if kind == "malformed":
            return web.Response(text='{"status": "0", "code": ', content_type="application/json")
        if kind == "wrong_shape":  # alternately a list and an object without "status"
            self._wrong_shapes += 1
            body = '["ok"]' if self._wrong_shapes % 2 else '{"result": "ok"}'
            return web.Response(text=body, content_type="application/json")
        return web.Response(status=500, text=_HTML_500, content_type="text/html")

    # ----- reply shapes ------------------------------------------------------------------------
    def _ok(self) -> Reply:
        if self.reply_shape == "real":
            return {"status": "ok", "code": 0}
        return {"status": "0", "code": "ok"}

    def _error(self, code: int, texts: dict[int, str]) -> Reply:
        if self.reply_shape == "real":
            return {"status": "ko", "code": code}
        return {"status": code, "code": texts[code]}

    def _missing(self, name: str) -> Reply:
        if self.reply_shape == "real":
            return {"status": "ko", "code": 400}
        return {"status": 400, "code": f"missing {name}"}

    def _render_state(self, state: int) -> int | str:
        if self.status_code_format == "decimal":
            return str(state)
        if self.status_code_format == "hex":
            return f"0x{state:02x}"
        return state

    def _locker_status(self, lock: SimulatedLock) -> Reply:
        state = lock.reported_state
        if self.reply_shape == "seed":
            seed_state = state if state in (STATE_CLOSED, STATE_OPEN) else STATE_UNKNOWN
            return {"status": "0", "code": self._render_state(seed_state)}
        if state not in STATE_TEXTS:
            state = STATE_UNKNOWN
        return {
            "status": STATE_TEXTS[state],
            "code": self._render_state(state),
            "version": lock.version,
            "position": _POSITIONS.get(state),
            "rssi": lock.rssi,
            "battery": lock.battery,
        }

    # ----- vendor behaviour --------------------------------------------------------------------
    async def _work(self, seconds: float) -> None:
        if seconds > 0:
            await self.sleep(seconds)

    def _seen(self, identifier: str) -> SimulatedLock | None:
        try:
            lock = self.locks.get(int(identifier))
        except ValueError:
            return None
        return lock if lock is not None and lock.in_range else None

    def _check_signature(self, codes: list[str], ts: str, given: str) -> bool:
        now = self.now()
        if self.other_client_ahead and now < self.other_client_until:
            other = int(now + self.other_client_ahead)  # the other client was just accepted
            self.last_accepted_ts = max(other, self.last_accepted_ts or other)
        if not (ts.isascii() and ts.isdigit()):
            return False
        value = int(ts)
        if self.last_accepted_ts is not None and value <= self.last_accepted_ts:
            return False
        if abs(value - now) > self.max_clock_skew:
            return False
        for code in codes:
            digest = hmac.new(code.encode(), ts.encode("ascii"), hashlib.sha256).digest()
            if hmac.compare_digest(base64.b64encode(digest), given.encode()):
                self.last_accepted_ts = value
                return True
        return False

    async def _lockers(self, record: RecordedRequest) -> Reply:
        devices: list[JSONValue] = [
            {"identifier": lock.identifier, "rssi": lock.rssi, "battery": lock.battery}
            for lock in self.locks.values()
            if lock.in_range
        ]
        return {"status": "ok", "devices": devices}

    async def _status(self, record: RecordedRequest) -> Reply:
        text = _STATUS_TEXT.get(self._activity or "", "Scanning...")
        return {"version": self.version, "current_status": text}

    async def _gateway_action(self, record: RecordedRequest) -> Reply:
        await self._work(self.action_seconds)
        if record.path == "/update" and self.update_error is not None:
            return self._error(self.update_error, _UPDATE_ERRORS)
        return {"status": "ok", "code": 0}

    async def _locker_synchronize(self, record: RecordedRequest) -> Reply:
        lock = self._seen(record.form["identifier"])
        if lock is None:
            return self._error(1, _SYNC_ERRORS)
        await self._work(self.action_seconds)
        if not lock.compatible:
            return self._error(2, _SYNC_ERRORS)
        if self.sync_invalid_data:
            return self._error(3, _SYNC_ERRORS)
        if lock.connection_fails:
            return self._error(4, _SYNC_ERRORS)
        lock.needs_sync = False
        return self._ok()

    async def _locker_update(self, record: RecordedRequest) -> Reply:
        lock = self._seen(record.form["identifier"])
        await self._work(self.action_seconds)
        if lock is None or not lock.compatible or lock.connection_fails:
            return self._error(2, _UPDATE_ERRORS)
        if self.update_error is not None:
            return self._error(self.update_error, _UPDATE_ERRORS)
        lock.state = STATE_UNKNOWN  # the lock has just booted on its new firmware
        return self._ok()

    async def _signed(self, record: RecordedRequest) -> Reply:
        path, form = record.path, record.form
        lock = self._seen(form["identifier"])
        if lock is None:
            return self._error(34, _SIGNED_ERRORS)
        codes = lock.codes
        if not codes:
            return self._error(32, _SIGNED_ERRORS)
        if not self._check_signature(codes, form["ts"], form["hash"]):
            return self._error(33, _SIGNED_ERRORS)
        record.ts_accepted = True
        await self._work(self.status_seconds if path == "/locker_status" else self.action_seconds)
        for code, failed in (
            (35, not lock.compatible),
            (36, lock.refuses_key),
            (37, lock.connection_fails),
            (38, lock.needs_sync),
        ):
            if failed:
                return self._error(code, _SIGNED_ERRORS)
        if path == "/locker_status":
            return self._locker_status(lock)
        if lock.is_jammed:  # the motor could not finish
            return self._error(37, _SIGNED_ERRORS)
        lock.state = STATE_OPEN if path == "/open" else STATE_CLOSED
        return self._ok()


# ----- command line ------------------------------------------------------------------------------
def _lock_spec(text: str) -> tuple[int, str | None]:
    identifier, _, code = text.partition(":")
    return int(identifier), code or None


def add_log_file(path: str, *loggers: logging.Logger) -> logging.Handler:
    """Append one line per request of `loggers` to the file at `path`."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


async def _serve(args: argparse.Namespace) -> None:
    simulator = TheKeysGatewaySimulator(
        version=args.version,
        action_seconds=args.action_seconds,
        status_seconds=args.status_seconds,
        status_code_format=args.status_code_format,
        max_clock_skew=args.max_clock_skew,
        reply_shape=args.reply_shape,
    )
    simulator.clock_offset = args.clock_offset
    if args.other_client_ahead:
        simulator.other_client_signs_ahead(args.other_client_ahead)
    for identifier, code in args.lock or DEMO_LOCKS:
        simulator.add_lock(identifier, code, jammed=identifier in args.jammed)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await simulator.start(args.host, args.port)
    _LOGGER.info(
        "The Keys gateway simulator at %s with locks %s (%s replies)",
        simulator.url,
        sorted(simulator.locks),
        simulator.reply_shape,
    )
    try:
        await stopped.wait()
    finally:
        await simulator.stop()


def build_parser() -> argparse.ArgumentParser:
    demo = ", ".join(f"{identifier} (share code {code})" for identifier, code in DEMO_LOCKS)
    parser = argparse.ArgumentParser(
        prog="python -m simulators.thekeys",
        description="Simulate The Keys local Wi-Fi gateway (the vendor's side) on an HTTP port.",
        epilog=(
            f"Without --lock, the demo locks are in range and shared: {demo}. "
            "Sign requests as the seed page does: ts = str(int(time.time())), "
            "hash = base64(HMAC-SHA256(key=share code, msg=ts))."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8181, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--lock", type=_lock_spec, action="append", default=[], metavar="ID:SHARE_CODE",
        help="a lock in range (repeatable; replaces the demo locks); leave SHARE_CODE empty "
        "for a lock not shared with the gateway (status 32)",
    )  # fmt: skip
    parser.add_argument(
        "--jammed", type=int, action="append", default=[], metavar="ID",
        help="make this lock jammed: open/close fail with 37, locker_status says 'Door jammed' "
        "(real shape) or 0x30 (seed shape); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--reply-shape", choices=REPLY_SHAPES, default="seed",
        help="'seed': replies as the seed page shows ({\"status\": \"0\", \"code\": \"ok\"}); "
        "'real': as public clients see real gateways ({\"status\": \"ok\", \"code\": 0}, "
        "errors {\"status\": \"ko\", \"code\": N}, locker_status with a 'Door ...' text) "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--action-seconds", type=float, default=0.0,
        help="how long open/close/synchronize/update keep the gateway busy (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--status-seconds", type=float, default=0.0,
        help="how long a locker_status keeps the gateway busy (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--status-code-format", choices=sorted(STATUS_CODE_FORMATS), default="int",
        help="how locker_status writes its code: int 49, decimal string \"49\" or hex string "
        "\"0x31\" (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--max-clock-skew", type=float, default=30.0,
        help="seconds a signed request's ts may differ from the gateway clock before it is "
        "refused with 33 (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--clock-offset", type=float, default=0.0,
        help="seconds added to this machine's clock to give the gateway's clock, to simulate "
        "a gateway whose clock is off (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--other-client-ahead", type=float, default=0.0, metavar="SECONDS",
        help="another client of the gateway signs all the time with a clock SECONDS ahead: "
        "a ts not newer than its own is refused with 33 (default: %(default)s, none)",
    )  # fmt: skip
    parser.add_argument(
        "--version",
        default="17",
        help="firmware version reported by /status (default: %(default)s)",
    )
    parser.add_argument(
        "--log", metavar="FILE",
        help="append one line per request to FILE (hashes and share codes masked to 4 characters)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.log:
        add_log_file(args.log, REQUEST_LOGGER)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
