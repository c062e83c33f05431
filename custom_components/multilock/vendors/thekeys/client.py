"""Client for The Keys Wi-Fi gateway's local HTTP API.

A plain asyncio module with no Home Assistant imports. Follows the vendor page
"Command the lock via the gateway": unsigned read and maintenance endpoints, and
HMAC-signed ``open`` / ``close`` / ``locker_status``.

The gateway does one thing at a time and rejects a signed request whose timestamp is
not newer than the last one it accepted, so every request to one gateway goes through
one priority queue: user commands first, polls after, and at most one signed request
per wall-clock second.

The gateway answers "invalid hmac" (33) both to a wrong share code and to a timestamp not
newer than one it accepted from another client (another app whose clock is a few seconds
ahead). A 33 is the share code's fault only once a request signed ``MAX_TIMESTAMP_LEAD``
seconds ahead of the local clock (ahead of any timestamp the gateway can have seen lately)
is refused too: the request is signed again ``TIMESTAMP_PROBE_LEADS`` seconds ahead, the
smallest lead first, so as to get as little ahead of the other client as needed. A refused
timestamp is not one the gateway took: the next may be as old. When timestamps the gateway
took are already further ahead than that (the local clock stepped back), no such request can
be made: the refusal is a ``TimestampConflictError``, not a wrong share code.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import IntEnum
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import math
import time
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import aiohttp

from ...secret_text import SecretScrubber

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
FORM_HEADERS: Final = {"Content-Type": "application/x-www-form-urlencoded"}
# Back-off between attempts when the gateway answers "busy": about 3.5 s in all.
BUSY_RETRY_DELAYS: Final = (0.5, 1.0, 2.0)


class Priority(IntEnum):
    """Order in the gateway queue: a user's command goes ahead of queued polls."""

    COMMAND = 0
    POLL = 1


class LockState(IntEnum):
    """Codes of ``locker_status``."""

    UNKNOWN = 0x30
    CLOSED = 0x31
    OPEN = 0x32
    # Not in the seed page: real gateways say "Door jammed" when the motor could not finish.
    JAMMED = 0x33


@dataclass(frozen=True, slots=True)
class Locker:
    """A lock the gateway currently sees (``/lockers``)."""

    identifier: int
    rssi: int | None
    battery_mv: int | None


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """Firmware version and activity of the gateway (``/status``)."""

    version: str | None
    current_status: str | None


# Battery curve (the-keyspy's, the vendor publishes none): millivolts -> percent,
# linear between the points and clamped outside them.
BATTERY_CURVE_MV: Final = ((3600, 0.0), (7235, 45.0), (8000, 100.0))


def battery_percentage(millivolts: int) -> int:
    """Return the charge in percent for a battery voltage reported by ``/lockers``."""
    (low_mv, low_pct), *rest = BATTERY_CURVE_MV
    if millivolts <= low_mv:
        return round(low_pct)
    for high_mv, high_pct in rest:
        if millivolts <= high_mv:
            share = (millivolts - low_mv) / (high_mv - low_mv)
            return round(low_pct + share * (high_pct - low_pct))
        low_mv, low_pct = high_mv, high_pct
    return round(low_pct)


# --- Errors -------------------------------------------------------------------------


class TheKeysError(Exception):
    """Base of every error of this client.

    ``reason`` is a stable snake_case name of what happened, for callers that translate.
    """

    reason: ClassVar[str] = "unknown_error"


class TheKeysConnectionError(TheKeysError):
    """The gateway could not be reached."""

    reason = "cannot_connect"


class TheKeysTimeoutError(TheKeysConnectionError):
    """The gateway did not answer in time."""

    reason = "timeout"


class TheKeysMalformedReplyError(TheKeysError):
    """The gateway's reply is not what the API describes."""

    reason = "malformed_reply"


class TheKeysUnconfirmedError(TheKeysMalformedReplyError):
    """The gateway answered a command without saying that it was done.

    Such a reply (``{"status": "ok"}`` with no code, or no status at all) is no evidence
    that the lock moved: the lock's state is unknown until read again.
    """

    reason = "unconfirmed"


class TheKeysBusyError(TheKeysError):
    """The gateway stayed busy (another action in progress) through every retry."""

    reason = "busy"


class TheKeysStatusError(TheKeysError):
    """The gateway answered with an error status."""

    reason = "unknown_status"
    description: ClassVar[str] = "The gateway reported an unknown error"

    def __init__(self, code: int, detail: str | None = None) -> None:
        """Keep the status code and the gateway's own detail text."""
        self.code = code
        self.detail = detail
        text = f"{self.description} (status {code})"
        super().__init__(f"{text}: {detail}" if detail else text)


class MissingParameterError(TheKeysStatusError):
    """A parameter is missing (timestamp, hash or identifier)."""

    reason = "missing_parameter"
    description = "A parameter is missing (timestamp, hash or identifier)"


class LockNotSharedError(TheKeysStatusError):
    """The lock is not shared with the gateway, so it cannot validate the hmac."""

    reason = "lock_not_shared"
    description = "The lock is not shared with the gateway, so it cannot validate the hmac"


class InvalidHmacError(TheKeysStatusError):
    """Invalid hmac."""

    reason = "invalid_hmac"
    description = "Invalid hmac"


class TimestampConflictError(TheKeysStatusError):
    """33, but no request could be signed ahead of every timestamp the gateway may have seen.

    Another client of the gateway signs with newer timestamps than this one; the share code
    is not in question. Nothing was done.
    """

    reason = "timestamp_conflict"
    description = (
        "The gateway refused the timestamp: another of its clients signs ahead of this one"
    )


class LockNotDetectedError(TheKeysStatusError):
    """The lock is not detected."""

    reason = "lock_not_detected"
    description = "The lock is not detected"


class LockNotCompatibleError(TheKeysStatusError):
    """Lock is not compatible."""

    reason = "lock_not_compatible"
    description = "Lock is not compatible"


class InvalidKeyError(TheKeysStatusError):
    """The gateway tried, but the lock refused the key."""

    reason = "invalid_key"
    description = "The gateway tried, but the lock refused the key"


class LockConnectionError(TheKeysStatusError):
    """Connection to the lock failed, was disconnected or timed out."""

    reason = "lock_connection_failed"
    description = "Connection to the lock failed, was disconnected or timed out"


class LockNeedsSynchronisationError(TheKeysStatusError):
    """The lock needs a synchronisation first."""

    reason = "lock_needs_sync"
    description = "The lock needs a synchronisation first"


class SyncLockNotSeenError(TheKeysStatusError):
    """Lock is not seen by the gateway."""

    reason = "sync_lock_not_seen"
    description = "Lock is not seen by the gateway"


class SyncLockNotCompatibleError(TheKeysStatusError):
    """Lock is not compatible with the gateway."""

    reason = "sync_lock_not_compatible"
    description = "Lock is not compatible with the gateway"


class SyncInvalidDataError(TheKeysStatusError):
    """The The Keys server returned invalid synchronisation data."""

    reason = "sync_invalid_data"
    description = "The The Keys server returned invalid synchronisation data"


class SyncLockConnectionError(TheKeysStatusError):
    """Connection error with the lock."""

    reason = "sync_connection_failed"
    description = "Connection error with the lock"


class InvalidFirmwareError(TheKeysStatusError):
    """Invalid firmware (download error)."""

    reason = "invalid_firmware"
    description = "Invalid firmware (download error)"


class FirmwareUnavailableError(TheKeysStatusError):
    """The server did not return the firmware."""

    reason = "firmware_unavailable"
    description = "The server did not return the firmware"


ACTION_ERRORS: Final[Mapping[int, type[TheKeysStatusError]]] = {
    400: MissingParameterError,
    32: LockNotSharedError,
    33: InvalidHmacError,
    34: LockNotDetectedError,
    35: LockNotCompatibleError,
    36: InvalidKeyError,
    37: LockConnectionError,
    38: LockNeedsSynchronisationError,
}
SYNC_ERRORS: Final[Mapping[int, type[TheKeysStatusError]]] = {
    400: MissingParameterError,
    1: SyncLockNotSeenError,
    2: SyncLockNotCompatibleError,
    3: SyncInvalidDataError,
    4: SyncLockConnectionError,
}
UPDATE_ERRORS: Final[Mapping[int, type[TheKeysStatusError]]] = {
    400: MissingParameterError,
    1: InvalidFirmwareError,
    2: FirmwareUnavailableError,
}

# Texts of ``locker_status`` replies from real gateways, for when the code is unreadable.
STATE_TEXTS: Final[Mapping[str, LockState]] = {
    "unknown status": LockState.UNKNOWN,
    "door closed": LockState.CLOSED,
    "door open": LockState.OPEN,
    "door jammed": LockState.JAMMED,
}
# How long a request waits at most for a timestamp newer than the last one it sent. More
# than a second means the local clock stepped back (or this client signs ahead of another):
# it then signs with the second after the last one, one a second, instead of waiting for the
# clock to catch up.
MAX_TIMESTAMP_WAIT: Final = 1.0
# A 33 is a wrong share code only if a request signed this many seconds ahead of the local
# clock is refused too; before that, the smaller leads are tried, in this order.
MAX_TIMESTAMP_LEAD: Final = 30
TIMESTAMP_PROBE_LEADS: Final = (2, 8, MAX_TIMESTAMP_LEAD)


# --- Queue ----------------------------------------------------------------------------


class _PriorityLock:
    """A mutex handed to the waiter with the lowest priority value, FIFO within one."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: Priority) -> AsyncIterator[None]:
        if self._held:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._order), waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # it was handed to us just as we were cancelled
                raise
        self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():
                waiter.set_result(None)  # ownership passes on without unlocking
                return
        self._held = False


# --- Client ---------------------------------------------------------------------------


class TheKeysGateway:
    """One The Keys gateway on the local network.

    Share one instance per gateway between every user of that gateway: the queue and
    the last timestamp belong to the gateway, not to a caller.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        busy_retry_delays: tuple[float, ...] = BUSY_RETRY_DELAYS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Talk to the gateway at ``host`` (an address with an optional port)."""
        self._session = session
        self.host = host
        # One deadline for the whole request, answer read included (aiohttp's own timer).
        self._timeout = aiohttp.ClientTimeout(total=timeout, ceil_threshold=math.inf)
        self._busy_retry_delays = busy_retry_delays
        self._clock = clock
        self._sleep = sleep
        self._queue = _PriorityLock()
        # Another client (a previous one of this program, another app) may have used the
        # current second: this one signs from the next second on.
        self._last_timestamp = int(clock())
        self._last_signed_at = 0.0  # when (clock) the last signed request was signed
        self._secrets = SecretScrubber()  # the share codes used: the gateway knows them too

    # Unsigned endpoints.

    async def lockers(self, priority: Priority = Priority.POLL) -> list[Locker]:
        """Return the locks the gateway currently sees."""
        reply = await self._request("GET", "lockers", priority=priority)
        devices = reply.get("devices")
        if not isinstance(devices, list):
            raise TheKeysMalformedReplyError("lockers: 'devices' is not a list")
        try:
            return [
                Locker(
                    identifier=int(device["identifier"]),
                    rssi=_optional_int(device.get("rssi")),
                    battery_mv=_optional_int(device.get("battery")),
                )
                for device in devices
            ]
        except (KeyError, TypeError, ValueError) as err:
            raise TheKeysMalformedReplyError(f"lockers: bad device entry ({err})") from err

    async def status(self, priority: Priority = Priority.POLL) -> GatewayStatus | None:
        """Return the firmware version and activity, or None before firmware 17."""
        try:
            reply = await self._request("GET", "status", priority=priority)
        except _NotFoundError:
            return None
        version = reply.get("version")
        current = reply.get("current_status")
        return GatewayStatus(
            version=None if version is None else str(version),
            current_status=None if current is None else str(current),
        )

    async def synchronize(self, priority: Priority = Priority.COMMAND) -> None:
        """Synchronise the gateway with The Keys' server."""
        await self._request("GET", "synchronize", priority=priority)

    async def update(self, priority: Priority = Priority.COMMAND) -> None:
        """Update the gateway's firmware (even when already up to date)."""
        await self._request("GET", "update", priority=priority, errors=UPDATE_ERRORS)

    async def synchronize_lock(
        self, identifier: int, priority: Priority = Priority.COMMAND
    ) -> None:
        """Synchronise one lock."""
        await self._request(
            "POST",
            "locker/synchronize",
            form={"identifier": str(identifier)},
            priority=priority,
            errors=SYNC_ERRORS,
        )

    async def update_lock(self, identifier: int, priority: Priority = Priority.COMMAND) -> None:
        """Update one lock's firmware."""
        await self._request(
            "POST",
            "locker/update",
            form={"identifier": str(identifier)},
            priority=priority,
            errors=UPDATE_ERRORS,
        )

    # Signed endpoints.

    async def open(
        self, identifier: int, share_code: str, priority: Priority = Priority.COMMAND
    ) -> None:
        """Open (unlock) a lock."""
        await self._signed("open", identifier, share_code, priority)

    async def close(
        self, identifier: int, share_code: str, priority: Priority = Priority.COMMAND
    ) -> None:
        """Close (lock) a lock."""
        await self._signed("close", identifier, share_code, priority)

    async def lock_status(
        self, identifier: int, share_code: str, priority: Priority = Priority.POLL
    ) -> LockState:
        """Return the lock's state."""
        reply = await self._signed("locker_status", identifier, share_code, priority)
        return _lock_state_of(reply)

    async def _signed(
        self, path: str, identifier: int, share_code: str, priority: Priority
    ) -> dict[str, Any]:
        form = {"identifier": str(identifier)}
        try:
            return await self._signed_request(path, form, share_code, priority)
        except LockNeedsSynchronisationError:
            _LOGGER.debug("Lock %s needs a synchronisation before %s", identifier, path)
            await self.synchronize_lock(identifier, priority)
            return await self._signed_request(path, form, share_code, priority)

    async def _signed_request(
        self, path: str, form: dict[str, str], share_code: str, priority: Priority
    ) -> dict[str, Any]:
        """Send a signed request; after a 33, sign it again further ahead (see the module)."""
        lead = 0
        while True:
            try:
                reply = await self._request(
                    "POST", path, form=form, share_code=share_code, priority=priority, lead=lead
                )
            except InvalidHmacError:
                if lead >= MAX_TIMESTAMP_LEAD:
                    raise  # refused ahead of anything the gateway can have seen: the share code
                lead = next(ahead for ahead in TIMESTAMP_PROBE_LEADS if ahead > lead)
                if self._last_timestamp + 1 > int(self._clock()) + MAX_TIMESTAMP_LEAD:
                    raise TimestampConflictError(33) from None
                _LOGGER.debug(
                    "Gateway %s refused the timestamp of %s; signing %d s ahead",
                    self.host,
                    path,
                    lead,
                )
                continue
            if lead:
                _LOGGER.info(
                    "Gateway %s accepted %s signed %d s ahead: another of its clients signs with "
                    "newer timestamps than this one",
                    self.host,
                    path,
                    lead,
                )
            return reply

    # Plumbing.

    async def _request(
        self,
        method: str,
        path: str,
        *,
        priority: Priority,
        form: dict[str, str] | None = None,
        share_code: str | None = None,
        errors: Mapping[int, type[TheKeysStatusError]] = ACTION_ERRORS,
        lead: int = 0,
    ) -> dict[str, Any]:
        """Send one request through the queue, retrying busy replies with back-off.

        ``lead``: sign at least this many seconds ahead of the local clock, at once.
        """
        for delay in (*self._busy_retry_delays, None):
            reply = await self._send_in_turn(method, path, form, share_code, priority, lead)
            if not _is_busy(reply):
                return _checked(path, reply, errors)
            if delay is None:
                break
            _LOGGER.debug("Gateway %s busy on %s, retrying in %s s", self.host, path, delay)
            await self._sleep(delay)
        raise TheKeysBusyError(f"The gateway is busy (other action in progress) for {path}")

    async def _send_in_turn(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None,
        share_code: str | None,
        priority: Priority,
        lead: int = 0,
    ) -> dict[str, Any]:
        """Send once the gateway is ours and, for a signed request, a timestamp is free.

        A signed request waits for its timestamp outside the queue, so that a command
        arriving meanwhile takes the next timestamp instead of waiting behind a poll that
        waits for it; whoever finds its timestamp taken on its turn waits again. One signed
        ``lead`` seconds ahead does not wait: its timestamp is ahead of every other.
        """
        waits = share_code is not None and not lead
        while True:
            if waits and (wait := self._wait_for_timestamp(priority)) > 0:
                await self._sleep(wait)
            async with self._queue.hold(priority):
                body = dict(form or {})
                last_timestamp = self._last_timestamp
                if share_code is not None:
                    if waits and self._wait_for_timestamp(priority) > 0:
                        continue  # another request took it meanwhile
                    body.update(self._signature(share_code, lead))
                reply = await self._send(method, path, body)
                if share_code is not None and _refused_signature(reply):
                    # The gateway did not take this timestamp: it only requires newer ones
                    # than it accepted. Nobody signed meanwhile (we hold the queue).
                    self._last_timestamp = last_timestamp
                return reply

    def _wait_for_timestamp(self, priority: Priority) -> float:
        """Seconds until this request may be signed with a timestamp newer than the last.

        A command may go as soon as the next second starts. A poll goes one second after
        the previous signed request: polls of many gateways then keep the pace each started
        with instead of all going at the turn of every second. Timestamps ahead of the local
        clock (it stepped back, or they sign ahead of another client of the gateway) go one a
        second at most, whatever the priority, so that they get no further ahead.
        """
        now = self._clock()
        since_last = now - self._last_signed_at
        if since_last < 0:
            since_last = math.inf  # the clock stepped back: no telling how long ago that was
        wait = self._last_timestamp + 1 - now
        if wait > MAX_TIMESTAMP_WAIT:
            wait = 1 - since_last  # ahead: _signature takes the second after the last
        elif priority is not Priority.COMMAND:
            wait = max(wait, 1 - since_last)
        return max(0.0, wait)

    def _signature(self, share_code: str, lead: int = 0) -> dict[str, str]:
        """Sign with the current second (plus ``lead``), newer than any sent to this gateway.

        Called while holding the queue, once ``_wait_for_timestamp`` is zero (or with a
        ``lead``): each timestamp is newer than every one the gateway took from this client
        (a refused one may come again), from the future only after the local clock stepped
        back (then the second after the last one, which the gateway's clock has already
        passed) or after another client of the gateway was found signing ahead.
        """
        now = self._clock()
        timestamp = max(int(now) + lead, self._last_timestamp + 1)
        self._last_timestamp = timestamp
        self._last_signed_at = now
        text = str(timestamp)
        self._secrets.add(share_code)
        digest = hmac.new(share_code.encode(), text.encode("ascii"), hashlib.sha256).digest()
        return {"ts": text, "hash": base64.b64encode(digest).decode("ascii")}

    async def _send(self, method: str, path: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"http://{self.host}/{path}"
        # The form encoded here as aiohttp would (the same bytes), without the multipart
        # writer and random boundary aiohttp makes for a dict on every request.
        post = method == "POST"
        try:
            async with self._session.request(
                method,
                url,
                data=urlencode(form).encode("ascii") if post else None,
                headers=FORM_HEADERS if post else None,
                timeout=self._timeout,
            ) as response:
                text = await response.text()
                status = response.status
        except TimeoutError as err:
            raise TheKeysTimeoutError(f"The gateway did not answer {path} in time") from err
        except aiohttp.ClientError as err:
            raise TheKeysConnectionError(f"Cannot reach the gateway ({err})") from err
        if status == 404:
            raise _NotFoundError(f"The gateway does not know {path}")
        if status >= 400:
            raise TheKeysMalformedReplyError(f"The gateway answered {path} with HTTP {status}")
        try:
            # Its texts may end up in an error: a share code quoted back is scrubbed.
            reply = self._secrets.scrub_values(json.loads(text))
        except ValueError as err:
            raise TheKeysMalformedReplyError(f"The gateway's reply to {path} is not JSON") from err
        if not isinstance(reply, dict):
            raise TheKeysMalformedReplyError(f"The gateway's reply to {path} is not an object")
        return reply


class _NotFoundError(TheKeysMalformedReplyError):
    """HTTP 404: the endpoint does not exist on this firmware."""


def _is_busy(reply: dict[str, Any]) -> bool:
    return str(reply.get("status")) == "500" and str(reply.get("message", "")).lower() == "busy"


def _refused_signature(reply: dict[str, Any]) -> bool:
    """Whether a signed request was refused for its hmac or timestamp (33)."""
    return _error_number(str(reply.get("status")).strip().lower(), reply.get("code")) == 33


def _checked(
    path: str, reply: dict[str, Any], errors: Mapping[int, type[TheKeysStatusError]]
) -> dict[str, Any]:
    """Return a reply that says the request was done, or raise what it says instead.

    Both shapes are accepted: the seed page's (``{"status": "0", "code": "ok"}``, errors
    ``{"status": 33, "code": "invalid hmac"}``) and real gateways'
    (``{"status": "ok", "code": 0}``, errors ``{"status": "ko", "code": 33}``,
    ``locker_status`` ``{"status": "Door closed", "code": 49, ...}``).
    """
    status, code = reply.get("status"), reply.get("code")
    status_text = str(status).strip().lower()
    if path in ("lockers", "status") and status_text in ("none", "ok", "0"):
        return reply  # read endpoints carry their data, with or without an envelope
    error = _error_number(status_text, code)
    if error is not None:
        raise errors.get(error, TheKeysStatusError)(
            error, None if code is None or status_text == "ko" else str(code)
        )
    if path == "locker_status" and status is not None:
        return reply  # the state is read from it (_lock_state_of)
    if (status_text, str(code).strip().lower()) in (("0", "ok"), ("ok", "0")):
        return reply
    raise TheKeysUnconfirmedError(
        f"The gateway answered {path} without saying it was done ({_summary(reply)})"
    )


def _error_number(status_text: str, code: object) -> int | None:
    """The error a reply reports: in ``code`` after "ko", else a number in ``status``."""
    if status_text == "ko":
        number = _optional_number(code)
        return 0 if number is None else number
    number = _optional_number(status_text)
    return None if number in (None, 0) else number


def _optional_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _summary(reply: dict[str, Any]) -> str:
    return ", ".join(f"{key}={reply[key]!r}" for key in ("status", "code") if key in reply)


def _lock_state_of(reply: dict[str, Any]) -> LockState:
    """Read the state from ``code`` (integer, decimal or hex), else from the status text."""
    try:
        return _parse_lock_state(reply.get("code"))
    except TheKeysMalformedReplyError:
        state = STATE_TEXTS.get(str(reply.get("status")).strip().lower())
        if state is None:
            raise
        return state


def _parse_lock_state(value: object) -> LockState:
    """Read 0x30..0x33 given as an integer, a decimal string or a hex string."""
    try:
        if isinstance(value, bool):
            raise TypeError("boolean")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str):
            text = value.strip().lower()
            number = int(text, 16) if text.startswith("0x") else int(text)
        else:
            raise TypeError(type(value).__name__)
        return LockState(number)
    except (TypeError, ValueError) as err:
        raise TheKeysMalformedReplyError(f"Unknown lock status code {value!r}") from err


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise TypeError(f"not a number: {value!r}")
    return int(value)
