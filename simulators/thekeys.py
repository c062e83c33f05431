"""Simulator of The Keys local Wi-Fi gateway (the vendor's side), written from the seed page alone.

Run it by hand with ``python -m simulators.thekeys --lock 45961123:Zmo1sps2OVyCFtl1``.
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
import logging
import signal
import time
from typing import Any

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

STATE_UNKNOWN, STATE_CLOSED, STATE_OPEN = 0x30, 0x31, 0x32
FAULT_KINDS = frozenset({"delay", "disconnect", "malformed", "wrong_shape", "http_error"})
STATUS_CODE_FORMATS = frozenset({"int", "decimal", "hex"})

Reply = dict[str, Any]
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


def _busy() -> Reply:
    return {"status": "500", "message": "busy"}


def _ok() -> Reply:
    return {"status": "0", "code": "ok"}


def _error(code: int, texts: dict[int, str]) -> Reply:
    return {"status": code, "code": texts[code]}


def _mask(secret: str | None) -> str:
    return "-" if not secret else secret[:4] + "…"


@dataclass
class SimulatedLock:
    """One lock the gateway may see over Bluetooth."""

    identifier: int
    share_code: str | None = field(repr=False)  # None: not shared with this gateway (status 32)
    state: int = STATE_CLOSED  # 0x30 unknown, 0x31 closed, 0x32 open
    battery: int = 7800  # millivolts, as /lockers reports
    rssi: int = -60
    in_range: bool = True  # False: absent from /lockers, 34 / sync 1
    compatible: bool = True  # False: 35 / sync 2
    refuses_key: bool = False  # 36
    connection_fails: bool = False  # 37 / sync 4
    needs_sync: bool = False  # 38 until locker/synchronize


@dataclass
class RecordedRequest:
    """One request as the gateway received it."""

    method: str
    path: str
    form: dict[str, str]
    received_at: float  # time.monotonic()
    reply: Reply | None = None  # None while in progress or when a fault replaced the reply
    ts_accepted: bool = False  # the HMAC + timestamp check passed and ts became last_accepted_ts
    fault: str | None = None  # kind of injected fault applied to this request


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
    ) -> None:
        if status_code_format not in STATUS_CODE_FORMATS:
            raise ValueError(f"status_code_format must be one of {sorted(STATUS_CODE_FORMATS)}")
        self.version = version
        self.action_seconds = action_seconds
        self.status_seconds = status_seconds
        self.status_code_format = status_code_format
        self.max_clock_skew = max_clock_skew
        self.clock_offset = 0.0  # seconds added to time.time() to give the gateway's clock
        self.locks: dict[int, SimulatedLock] = {}
        self.update_error: int | None = None
        self.sync_invalid_data = False
        self.requests: list[RecordedRequest] = []
        self.last_accepted_ts: int | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._activity: str | None = None
        self._busy_until = 0.0
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
    def add_lock(self, identifier: int, share_code: str | None, **fields: Any) -> SimulatedLock:
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
    def busy(self) -> bool:
        return self._activity is not None or time.monotonic() < self._busy_until

    def set_busy(self, seconds: float) -> None:
        """Be busy for `seconds`, as if another app were using the gateway."""
        self._busy_until = max(self._busy_until, time.monotonic() + seconds)

    def inject_fault(
        self,
        kind: str,
        *,
        count: int | None = 1,
        paths: set[str] | None = None,
        seconds: float = 0.0,
    ) -> None:
        """Spoil the next `count` requests (None: until cleared) to `paths` (None: any path)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 or None")
        self._faults.append(
            _Fault(kind, count, None if paths is None else frozenset(paths), seconds)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, path: str) -> int:
        return sum(1 for request in self.requests if request.path == path)

    # ----- server ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port; port 0 picks a free port, or reuses the previous one on restart."""
        if self._runner is not None:
            raise RuntimeError("simulator already running")
        if port == 0 and self.port and host == self.host:
            port = self.port  # the gateway comes back at the address the user configured
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host, self.port = host, int(runner.addresses[0][1])

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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {
                key: value
                for key, value in (await request.post()).items()
                if isinstance(value, str)
            }
        record = RecordedRequest(request.method, path, form, time.monotonic())
        self.requests.append(record)
        route = self._routes.get(path)
        if route is None or route.method != request.method:
            status = 404 if route is None else 405
            self._log(record, f"HTTP {status}")
            return web.Response(
                status=status, text="Not Found" if status == 404 else "Method Not Allowed"
            )
        fault = self._take_fault(path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            else:
                self._log(record, f"fault {fault.kind}")
                return self._faulty_response(fault.kind, request)
        missing = next((name for name in route.fields if not form.get(name)), None)
        if route.label is not None and self.busy:
            reply = _busy()
        elif missing is not None:
            reply = {"status": 400, "code": f"missing {missing}"}
        elif route.label is None:
            reply = await route.handler(record)
        else:
            self._activity = route.label  # one action at a time: set before the first await
            try:
                reply = await route.handler(record)
            finally:
                self._activity = None
        record.reply = reply
        self._log(record, str(reply))
        return web.json_response(reply)

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
        html = "<html><body><h1>500 Internal Server Error</h1></body></html>"
        return web.Response(status=500, text=html, content_type="text/html")

    def _log(self, record: RecordedRequest, outcome: str) -> None:
        form = record.form
        _LOGGER.info(
            "%s %s identifier=%s ts=%s hash=%s -> %s",
            record.method,
            record.path,
            form.get("identifier", "-"),
            form.get("ts", "-"),
            _mask(form.get("hash")),
            outcome,
        )

    # ----- vendor behaviour --------------------------------------------------------------------
    async def _work(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def _seen(self, identifier: str) -> SimulatedLock | None:
        try:
            lock = self.locks.get(int(identifier))
        except ValueError:
            return None
        return lock if lock is not None and lock.in_range else None

    def _render_state(self, state: int) -> int | str:
        if self.status_code_format == "decimal":
            return str(state)
        if self.status_code_format == "hex":
            return f"0x{state:02x}"
        return state

    def _check_signature(self, share_code: str, ts: str, given: str) -> bool:
        if not (ts.isascii() and ts.isdigit()):
            return False
        value = int(ts)
        if self.last_accepted_ts is not None and value <= self.last_accepted_ts:
            return False
        if abs(value - (time.time() + self.clock_offset)) > self.max_clock_skew:
            return False
        digest = hmac.new(share_code.encode(), ts.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest), given.encode()):
            return False
        self.last_accepted_ts = value
        return True

    async def _lockers(self, record: RecordedRequest) -> Reply:
        devices = [
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
            return _error(self.update_error, _UPDATE_ERRORS)
        return {"status": "ok", "code": 0}

    async def _locker_synchronize(self, record: RecordedRequest) -> Reply:
        lock = self._seen(record.form["identifier"])
        if lock is None:
            return _error(1, _SYNC_ERRORS)
        await self._work(self.action_seconds)
        if not lock.compatible:
            return _error(2, _SYNC_ERRORS)
        if self.sync_invalid_data:
            return _error(3, _SYNC_ERRORS)
        if lock.connection_fails:
            return _error(4, _SYNC_ERRORS)
        lock.needs_sync = False
        return _ok()

    async def _locker_update(self, record: RecordedRequest) -> Reply:
        lock = self._seen(record.form["identifier"])
        await self._work(self.action_seconds)
        if lock is None or not lock.compatible or lock.connection_fails:
            return _error(2, _UPDATE_ERRORS)
        if self.update_error is not None:
            return _error(self.update_error, _UPDATE_ERRORS)
        lock.state = STATE_UNKNOWN  # the lock has just booted on its new firmware
        return _ok()

    async def _signed(self, record: RecordedRequest) -> Reply:
        path, form = record.path, record.form
        lock = self._seen(form["identifier"])
        if lock is None:
            return _error(34, _SIGNED_ERRORS)
        if lock.share_code is None:
            return _error(32, _SIGNED_ERRORS)
        if not self._check_signature(lock.share_code, form["ts"], form["hash"]):
            return _error(33, _SIGNED_ERRORS)
        record.ts_accepted = True
        await self._work(self.status_seconds if path == "/locker_status" else self.action_seconds)
        for code, failed in (
            (35, not lock.compatible),
            (36, lock.refuses_key),
            (37, lock.connection_fails),
            (38, lock.needs_sync),
        ):
            if failed:
                return _error(code, _SIGNED_ERRORS)
        if path == "/locker_status":
            return {"status": "0", "code": self._render_state(lock.state)}
        lock.state = STATE_OPEN if path == "/open" else STATE_CLOSED
        return _ok()


# ----- command line ------------------------------------------------------------------------------
def _lock_spec(text: str) -> tuple[int, str | None]:
    identifier, _, code = text.partition(":")
    return int(identifier), code or None


async def _serve(args: argparse.Namespace) -> None:
    simulator = TheKeysGatewaySimulator(
        version=args.version,
        action_seconds=args.action_seconds,
        status_seconds=args.status_seconds,
        status_code_format=args.status_code_format,
        max_clock_skew=args.max_clock_skew,
    )
    for identifier, code in args.lock:
        simulator.add_lock(identifier, code)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await simulator.start(args.host, args.port)
    _LOGGER.info(
        "The Keys gateway simulator at %s with locks %s", simulator.url, sorted(simulator.locks)
    )
    try:
        await stopped.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulate The Keys local Wi-Fi gateway.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument(
        "--lock", type=_lock_spec, action="append", default=[], metavar="ID:SHARE_CODE",
        help="a lock in range; leave SHARE_CODE empty for a lock not shared with the gateway",
    )  # fmt: skip
    parser.add_argument("--action-seconds", type=float, default=0.0)
    parser.add_argument("--status-seconds", type=float, default=0.0)
    parser.add_argument("--status-code-format", choices=sorted(STATUS_CODE_FORMATS), default="int")
    parser.add_argument("--max-clock-skew", type=float, default=30.0)
    parser.add_argument("--version", default="17", help="firmware version reported by /status")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
