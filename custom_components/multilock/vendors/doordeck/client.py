"""Client for the Doordeck cloud API.

A plain asyncio module with no Home Assistant imports: it takes an injected
``aiohttp.ClientSession`` and raises its own exceptions. It follows the vendor page
"Batch Share A Lock (v2)" for signed operations (EdDSA JWTs carrying the certificate
chain in ``x5c``) and the public Doordeck documentation for sign-in, key registration
with its second factor, sites, locks and the user directory.

Choices the documentation leaves open:

* A user is looked up by Doordeck user id with ``{"localKey": id}``: Doordeck's own id of a
  user is its "local key"; ``foreignKey`` is a third-party id and ``identity`` an encrypted
  OpenID token.
* 503 and 504 mean "lock offline" / "lock did not answer" only for lock operations
  (``/execute``); anywhere else they are Doordeck's own service errors (``DoordeckApiError``).
* During ``complete_verification`` a 400, 403 or a 401 that survives a token refresh means the
  code was refused (``DoordeckVerificationError``), not that the account must sign in again.
* The key's expiry is the ``notAfter`` of the leaf (first) certificate of the chain.
* A lock without ``state.connected`` counts as connected; without ``unlockTime`` it gets
  ``DEFAULT_UNLOCK_TIME``; ``state.locked`` is reported as ``None`` unless it is a boolean.
* An authentication failure while sharing stops the remaining requests (they would all fail);
  so does a rate limit that a bounded wait and one retry did not lift (the users not asked for
  yet are reported ``ShareStatus.NOT_SENT``); every other failure is recorded for its users and
  sharing goes on.

Pacing and retries of signed operations (``/device/{id}/execute``):

* One client sends its signed operations one at a time, in the order they were asked for, at
  most ``operations_per_second`` (default 5, below the 10 a second a plausible server allows);
  the JWT is made just before its turn, so its ``iat`` is fresh. Operations on one lock wait for
  the previous one on that lock to finish, so that a retried unlock cannot overtake a later lock.
* A 429 holds every signed operation of the client for ``Retry-After`` (1 s when absent); the
  refused one is sent once more with a fresh JWT (new ``jti``, ``iat``, ``exp``), then the error
  is raised. A ``Retry-After`` longer than ``max_retry_wait`` (5 s) is not waited for: the error
  (``retry_after`` set) is raised at once, and operations asked for while that wait lasts are
  refused without being sent (``DoordeckRateLimitedError.sent`` False).
* Nobody documents how Doordeck refuses an operation for its time window (the notes expect 400
  or 401, with any code), so no code is read as "clock". A signed operation refused with 400 or
  401 is sent once more, signed again (new ``jti``, ``iat``, ``exp``), after its clock offset was
  measured again (``GET /time``) and, for a 401, the tokens refreshed; when the measured server
  time is before the leaf certificate's ``notBefore`` (the server's clock went back), the chain
  is first issued again for the same key (``POST /auth/certificate``). Still refused, it is
  ``DoordeckClockError`` when Doordeck's message speaks of time (``_CLOCK_WORDS``: "outside its
  validity window", "nbf", "expired"...), ``DoordeckAuthenticationError`` for any other 401 when
  the clock could be measured (sign in again), else ``DoordeckApiError``. A refused refresh
  token is always ``DoordeckAuthenticationError``: that is the sign-in problem.
* When ``GET /time`` fails, operations are signed with the last measured offset (0, the local
  clock, before any): a warning is logged once until the clock can be read again, and the next
  try comes after a minute rather than before every operation.
* An error reply that is not JSON (a proxy's HTML page) is summarised by its status and reason
  ("HTTP 502 Bad Gateway"), never quoted; a 503/504 that is not Doordeck's JSON comes from
  something in front of Doordeck, not from the lock, and is a plain ``DoordeckApiError``.

Tokens, keys, certificate chains, verification codes and the account email are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import hashlib
from http import HTTPStatus
import json
import logging
import math
import re
import time
from typing import Any, ClassVar, Final, TypeGuard
from urllib.parse import quote
import uuid

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import jwt

from ...http_headers import retry_after_seconds
from ...secret_text import SecretScrubber

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.doordeck.com"
DEFAULT_TIMEOUT: Final = 10.0
ACCEPT_JSON: Final = "application/json"
ACCEPT_V2: Final = "application/vnd.doordeck.api-v2+json"
ACCEPT_V3: Final = "application/vnd.doordeck.api-v3+json"
BATCH_LIMIT: Final = 25
OPERATION_LIFETIME: Final = 60  # seconds from iat to exp of a signed operation
KEY_RENEWAL_MARGIN: Final = timedelta(days=7)
TIME_OFFSET_MAX_AGE: Final = 15 * 60.0  # seconds
TIME_SYNC_RETRY: Final = 60.0  # seconds before GET /time is tried again after it failed
TIME_SYNC_TIMEOUT: Final = 5.0  # seconds: at most this long for GET /time before an operation
DEFAULT_UNLOCK_TIME: Final = 5.0
DEFAULT_OPERATIONS_PER_SECOND: Final = 5.0  # signed operations per client (account)
DEFAULT_MAX_RETRY_WAIT: Final = 5.0  # seconds: longest Retry-After waited for before a retry
DEFAULT_RETRY_AFTER: Final = 1.0  # seconds: the wait after a 429 without Retry-After
# A signed operation refused with one of these is checked again: refreshed (401), clock
# measured, signed again; what it was is decided only if that is refused too.
_RECHECKED_REFUSALS: Final = frozenset({400, 401})


class DoordeckError(Exception):
    """Base class of every error raised by this client."""


class DoordeckConnectionError(DoordeckError):
    """Doordeck could not be reached."""


class DoordeckTimeoutError(DoordeckConnectionError):
    """Doordeck did not answer within the client's timeout."""


class DoordeckMalformedReplyError(DoordeckError):
    """Doordeck answered with something this client cannot read."""


class DoordeckKeyNotRegisteredError(DoordeckError):
    """No signing key with a valid certificate chain is available."""


class DoordeckApiError(DoordeckError):
    """Doordeck refused a request: HTTP status, vendor code and message."""

    meaning: ClassVar[str] = "Doordeck refused the request"

    def __init__(
        self,
        status: int,
        code: float | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Keep the status, the vendor's error code, its message and ``Retry-After`` (s)."""
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        detail = f"HTTP {status}"
        if code is not None:
            detail += f", code {code:g}"
        if message and code is None and message == _phrase(status):
            detail += f" {message}"  # "HTTP 502 Bad Gateway"
        elif message:
            detail += f": {message}"
        if retry_after is not None:
            detail += f"; retry after {max(1, math.ceil(retry_after))} s"
        super().__init__(f"{self.meaning} ({detail})")


class DoordeckAuthenticationError(DoordeckApiError):
    """401: the sign-in or the refresh token was refused."""

    meaning = "Doordeck did not accept the credentials; sign in again"


class DoordeckUserNotFoundError(DoordeckApiError):
    """404 from the user directory."""

    meaning = "No Doordeck user matches this look-up"


class DoordeckReplayError(DoordeckApiError):
    """409: the operation's request id (jti) was already used."""

    meaning = "Doordeck rejected the operation as a replay: its request id was already used"


class DoordeckVerificationError(DoordeckApiError):
    """The second-factor code (its signature) was refused."""

    meaning = "Doordeck did not accept the verification code"


class DoordeckSecondFactorRequired(DoordeckApiError):
    """423: the signing key must be verified with a second factor."""

    meaning = "Doordeck requires a second factor to verify the signing key"


class DoordeckOperationPendingError(DoordeckApiError):
    """425: an earlier operation on this lock is still pending."""

    meaning = "An earlier operation on this lock is still pending"


class DoordeckRateLimitedError(DoordeckApiError):
    """429: too many requests; ``retry_after`` is how long Doordeck asked to wait (seconds).

    ``sent`` is False when the client refused the operation itself, without sending it,
    because Doordeck had asked for a longer wait than the client waits for.
    """

    meaning = "Doordeck is rate limiting this account; too many requests"

    def __init__(
        self,
        status: int,
        code: float | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        """Keep what ``DoordeckApiError`` keeps, and whether the request was sent."""
        super().__init__(status, code, message, retry_after=retry_after)
        self.sent = sent


class DoordeckClockError(DoordeckApiError):
    """Doordeck refused a signed operation's time window: the clocks disagree.

    A 400 or 401 whose message speaks of time, still refused after the clock offset was
    measured again (and the tokens refreshed) and the operation signed again; it is never an
    authentication problem.
    """

    meaning = "Doordeck refused the operation's time: its clock and ours disagree"


class DoordeckLockOfflineError(DoordeckApiError):
    """503 from a lock operation: the lock is offline."""

    meaning = "The lock is offline"


class DoordeckLockTimeoutError(DoordeckApiError):
    """504 from a lock operation: the lock did not answer in time."""

    meaning = "The lock did not answer in time"


type _ErrorMap = Mapping[int, type[DoordeckApiError]]
_STATUS_ERRORS: Final[_ErrorMap] = {
    401: DoordeckAuthenticationError,
    409: DoordeckReplayError,
    423: DoordeckSecondFactorRequired,
    425: DoordeckOperationPendingError,
    429: DoordeckRateLimitedError,
}
# Per endpoint, over _STATUS_ERRORS: 503/504 from a lock operation are the lock's.
_LOCK_ERRORS: Final[_ErrorMap] = {503: DoordeckLockOfflineError, 504: DoordeckLockTimeoutError}
_LOGIN_ERRORS: Final[_ErrorMap] = dict.fromkeys((401, 403), DoordeckAuthenticationError)
_REFRESH_ERRORS: Final[_ErrorMap] = dict.fromkeys((400, 401, 403), DoordeckAuthenticationError)
_CHECK_ERRORS: Final[_ErrorMap] = dict.fromkeys((400, 401, 403), DoordeckVerificationError)
_LOOKUP_ERRORS: Final[_ErrorMap] = {404: DoordeckUserNotFoundError}


class VerificationMethod(StrEnum):
    """How Doordeck sends the second-factor code."""

    EMAIL = "EMAIL"
    SMS = "SMS"
    TELEPHONE = "TELEPHONE"


class OperationResult(StrEnum):
    """Outcome of a signed operation: 200/204 done, 202 queued for the device."""

    DONE = "done"
    QUEUED = "queued"


class ShareStatus(StrEnum):
    """Outcome of sharing a lock with one user."""

    DONE = "done"
    QUEUED = "queued"
    FAILED = "failed"
    NOT_SENT = "not_sent"  # not asked for: sharing stopped at a rate limit (see ``error``)


@dataclass(frozen=True, slots=True)
class DoordeckTokens:
    """The account's auth token and refresh token (both JWTs)."""

    auth_token: str = field(repr=False)
    refresh_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DoordeckCredentials:
    """Everything the client needs to resume: tokens, signing key(s), chain and user id.

    ``pending_private_key`` is a key registered but still awaiting its second factor.
    Private keys are the raw 32 Ed25519 bytes; the chain holds base64 DER certificates.
    """

    tokens: DoordeckTokens | None = None
    private_key: bytes | None = field(default=None, repr=False)
    certificate_chain: tuple[str, ...] = field(default=(), repr=False)
    user_id: str | None = None
    pending_private_key: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form (see ``from_dict``)."""
        return {
            "auth_token": self.tokens.auth_token if self.tokens else None,
            "refresh_token": self.tokens.refresh_token if self.tokens else None,
            "private_key": _b64(self.private_key) if self.private_key else None,
            "pending_private_key": (
                _b64(self.pending_private_key) if self.pending_private_key else None
            ),
            "certificate_chain": list(self.certificate_chain),
            "user_id": self.user_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DoordeckCredentials:
        """Rebuild credentials from ``to_dict``'s output; missing entries are left empty."""
        auth, refresh = data.get("auth_token"), data.get("refresh_token")
        chain = data.get("certificate_chain") or []
        user_id = data.get("user_id")
        if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
            raise DoordeckError("Stored certificate chain is not a list of strings")
        return cls(
            tokens=(
                DoordeckTokens(auth, refresh)
                if isinstance(auth, str) and isinstance(refresh, str)
                else None
            ),
            private_key=_stored_key(data.get("private_key")),
            certificate_chain=tuple(chain),
            user_id=user_id if isinstance(user_id, str) else None,
            pending_private_key=_stored_key(data.get("pending_private_key")),
        )


@dataclass(frozen=True, slots=True)
class DoordeckLock:
    """A lock of the account, from its site listing and ``GET /device/{id}``."""

    id: str
    name: str
    role: str
    unlock_time: float
    batch_sharing: bool
    connected: bool
    locked: bool | None
    start: int | None
    end: int | None


@dataclass(frozen=True, slots=True)
class DoordeckUser:
    """A user found in the directory, with the public key to share locks with."""

    id: str
    public_key: str


@dataclass(frozen=True, slots=True)
class ShareUser:
    """A user to share a lock with; ``start``/``end`` are Unix timestamps (None: open)."""

    user_id: str
    public_key: str
    role: str = "USER"
    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        """Reject a role Doordeck does not know and an end before the start."""
        if self.role not in ("USER", "ADMIN"):
            raise ValueError(f"Role must be USER or ADMIN, not {self.role!r}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("The end of access must come after its start")


@dataclass(frozen=True, slots=True)
class ShareOutcome:
    """What happened when sharing with one user; ``error`` is set when it failed or was not sent."""

    user_id: str
    status: ShareStatus
    error: DoordeckError | None = None

    @property
    def reason(self) -> str | None:
        """Plain-words reason of a failure."""
        return str(self.error) if self.error else None


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: Any  # parsed JSON; None when empty or not JSON
    text: str
    content_type: str = ""
    retry_after: float | None = None  # seconds, from the Retry-After header

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise DoordeckMalformedReplyError(
                f"Doordeck answered HTTP {self.status} without the expected JSON object"
            )
        return self.body


type Sleep = Callable[[float], Awaitable[None]]


class _Pacer:
    """Lets signed operations out one at a time, in the order they asked, at a bounded pace.

    At most one every ``interval`` seconds (0: no pacing), and none while Doordeck asked to
    wait (``hold``). A wait longer than ``max_wait`` is not waited for: the operation is
    refused without being sent.
    """

    def __init__(
        self, interval: float, max_wait: float, monotonic: Callable[[], float], sleep: Sleep
    ) -> None:
        self._interval, self._max_wait = interval, max_wait
        self._monotonic, self._sleep = monotonic, sleep
        self._gate = asyncio.Lock()  # first come, first served
        self._next_send = -math.inf
        self._hold_until = -math.inf

    def hold(self, seconds: float) -> None:
        """Doordeck asked to wait: nothing goes out for ``seconds``."""
        self._hold_until = max(self._hold_until, self._monotonic() + seconds)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this operation's turn; the request must be sent right after the block."""
        async with self._gate:
            while True:
                now = self._monotonic()
                held = self._hold_until - now
                if held > self._max_wait:
                    raise DoordeckRateLimitedError(
                        429,
                        None,
                        "not sent: Doordeck asked this account to wait",
                        retry_after=held,
                        sent=False,
                    )
                until = max(self._next_send, self._hold_until)
                if until <= now:
                    break
                await self._sleep(until - now)
                if self._hold_until <= until:  # no longer hold came meanwhile
                    break
            yield
            self._next_send = self._monotonic() + self._interval


@dataclass(slots=True)
class _LockQueue:
    """Operations on one lock, one after another: ``users`` counts those holding or waiting."""

    gate: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class DoordeckClient:
    """Talks to the Doordeck cloud for one account.

    ``clock`` (Unix seconds), ``monotonic`` and ``sleep`` are injectable so that tests need not
    wait; a test with a fake clock passes the same fake as ``clock`` and ``monotonic``.
    ``operations_per_second`` paces signed operations (None: no pacing); ``max_retry_wait`` is
    the longest ``Retry-After`` waited for before a rate-limited operation is sent once more.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: DoordeckCredentials | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        on_tokens_changed: Callable[[DoordeckTokens], None] | None = None,
        clock: Callable[[], float] = time.time,
        operations_per_second: float | None = DEFAULT_OPERATIONS_PER_SECOND,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Set up the client, optionally resuming from stored credentials."""
        if operations_per_second is not None and not (
            math.isfinite(operations_per_second) and operations_per_second > 0
        ):
            raise ValueError("operations_per_second must be a positive number or None")
        if not (math.isfinite(max_retry_wait) and max_retry_wait >= 0):
            raise ValueError("max_retry_wait must be a number of seconds, 0 or more")
        creds = credentials or DoordeckCredentials()
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._time_timeout = aiohttp.ClientTimeout(total=min(timeout, TIME_SYNC_TIMEOUT))
        self._on_tokens_changed = on_tokens_changed
        self._clock = clock
        self._max_retry_wait = max_retry_wait
        self._pacer = _Pacer(
            1.0 / operations_per_second if operations_per_second else 0.0,
            max_retry_wait,
            monotonic,
            sleep,
        )
        self._lock_queues: dict[str, _LockQueue] = {}
        self._tokens = creds.tokens
        self._user_id = creds.user_id
        self._key = _load_key(creds.private_key)
        self._pending_key = _load_key(creds.pending_private_key)
        self._chain: tuple[str, ...] = ()
        self._expiry: datetime | None = None
        self._not_before: datetime | None = None  # of the leaf certificate
        if self._key is not None and creds.certificate_chain:
            try:
                self._not_before, self._expiry = _leaf_validity(creds.certificate_chain)
                self._chain = creds.certificate_chain
            except DoordeckMalformedReplyError:
                _LOGGER.warning("Stored Doordeck certificate chain is unreadable; renew the key")
        self._time_offset = 0.0
        self._time_measured_at: float | None = None
        self._time_failed_at: float | None = None  # last failed GET /time (local clock)
        self._time_warned = False  # a warning was logged since GET /time last worked
        self._time_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._secrets = SecretScrubber(current=self._secrets_held)  # an error may quote them

    # -- state --------------------------------------------------------------------------

    @property
    def credentials(self) -> DoordeckCredentials:
        """Everything to persist so that a new client can resume."""
        return DoordeckCredentials(
            tokens=self._tokens,
            private_key=_raw(self._key) if self._key else None,
            certificate_chain=self._chain,
            user_id=self._user_id,
            pending_private_key=_raw(self._pending_key) if self._pending_key else None,
        )

    @property
    def tokens(self) -> DoordeckTokens | None:
        """The current tokens, if signed in."""
        return self._tokens

    @property
    def user_id(self) -> str | None:
        """The Doordeck user id, known once a key has been registered."""
        return self._user_id

    @property
    def certificate_expiry(self) -> datetime | None:
        """When the leaf certificate of the signing key expires (UTC)."""
        return self._expiry

    @property
    def awaiting_verification(self) -> bool:
        """True while a new key awaits registration or its second factor."""
        return self._pending_key is not None

    @property
    def time_offset(self) -> float:
        """Seconds to add to the local clock to get Doordeck's time."""
        return self._time_offset

    def key_needs_renewal(self, now: datetime | None = None) -> bool:
        """True without a certificate chain or when its leaf has 7 days or less left."""
        if self._expiry is None or not self._chain:
            return True
        return self._expiry - (now or self._utcnow()) <= KEY_RENEWAL_MARGIN

    # -- authentication -----------------------------------------------------------------

    async def login(self, email: str, password: str) -> DoordeckTokens:
        """Sign in with email and password."""
        self._secrets.add(email, password)
        reply = await self._send(
            "POST",
            "/auth/token",
            {"Accept": ACCEPT_V2},
            json_body={"email": email, "password": password},
        )
        _raise_for_status(reply, _LOGIN_ERRORS)
        data = reply.obj()
        tokens = DoordeckTokens(_req_str(data, "authToken"), _req_str(data, "refreshToken"))
        self._set_tokens(tokens)
        return tokens

    async def refresh_tokens(self) -> DoordeckTokens:
        """Exchange the refresh token for new tokens."""
        current = self._require_tokens()
        reply = await self._send(
            "POST",
            "/auth/token/refresh",
            {"Accept": ACCEPT_JSON, "Authorization": f"Bearer {current.refresh_token}"},
        )
        _raise_for_status(reply, _REFRESH_ERRORS)
        data = reply.obj()
        tokens = DoordeckTokens(
            _req_str(data, "authToken"), _opt_str(data, "refreshToken") or current.refresh_token
        )
        self._set_tokens(tokens)
        return tokens

    # -- server time --------------------------------------------------------------------

    async def sync_time(self) -> float:
        """Measure the offset between Doordeck's clock and ours (``GET /time``); raises."""
        return await self._sync_time(self._timeout)

    async def server_now(self) -> float:
        """Doordeck's current time (Unix seconds), re-measured when 15 minutes old.

        Never fails: when ``GET /time`` does, the last measured offset is used (see
        ``time_offset``), a warning is logged once and the next try comes a minute later.
        """
        if self._time_due():
            async with self._time_lock:  # callers arriving together share one measurement
                if self._time_due():
                    await self._measure_time()
        return self._clock() + self._time_offset

    async def _sync_time(self, client_timeout: aiohttp.ClientTimeout) -> float:
        before = self._clock()
        reply = await self._send(
            "GET", "/time", {"Accept": ACCEPT_JSON}, client_timeout=client_timeout
        )
        after = self._clock()
        _raise_for_status(reply)
        now_ms = reply.obj().get("now")
        if not _is_number(now_ms):
            raise DoordeckMalformedReplyError("Doordeck's time reply has no numeric 'now'")
        self._time_offset = now_ms / 1000 - (before + after) / 2
        self._time_measured_at = after
        self._time_failed_at = None
        if self._time_warned:
            self._time_warned = False
            _LOGGER.info("Doordeck's clock can be read again (offset %+.1f s)", self._time_offset)
        return self._time_offset

    def _time_due(self) -> bool:
        now = self._clock()
        failed = self._time_failed_at
        if failed is not None and abs(now - failed) < TIME_SYNC_RETRY:
            return False
        measured = self._time_measured_at
        return measured is None or abs(now - measured) > TIME_OFFSET_MAX_AGE

    async def _measure_time(self) -> bool:
        """``sync_time``, falling back to the offset known so far when it fails (False)."""
        try:
            await self._sync_time(self._time_timeout)
        except DoordeckError as err:
            self._time_failed_at = self._clock()
            if not self._time_warned:
                self._time_warned = True
                _LOGGER.warning(
                    "Cannot read Doordeck's clock (GET /time: %s); signing operations with %s",
                    _summary(err),
                    "the local clock"
                    if self._time_measured_at is None
                    else f"the offset measured last ({self._time_offset:+.1f} s)",
                )
            return False
        return True

    # -- signing key --------------------------------------------------------------------

    async def register_key(self) -> None:
        """Register the signing key (generated if there is none) and store its chain.

        Raises ``DoordeckSecondFactorRequired`` when Doordeck wants a second factor: call
        ``start_verification`` and ``complete_verification``; the key stays pending meanwhile.
        """
        key = self._pending_key or self._key
        if key is None:
            key = self._pending_key = Ed25519PrivateKey.generate()
        try:
            reply = await self._call(
                "POST", "/auth/certificate", json_body={"ephemeralKey": _public_key(key)}
            )
        except DoordeckSecondFactorRequired:
            self._pending_key = key
            raise
        self._activate(key, reply)

    async def renew_key(self) -> None:
        """Register a fresh key; the current key and chain stay in use until it is confirmed."""
        self._pending_key = Ed25519PrivateKey.generate()
        await self.register_key()

    async def start_verification(
        self, method: VerificationMethod | str = VerificationMethod.EMAIL
    ) -> str:
        """Ask Doordeck to send a code for the pending key; return the method it used."""
        key = self._require_pending()
        reply = await self._call(
            "POST",
            "/auth/certificate/verify",
            params={"method": str(method)},
            json_body={"ephemeralKey": _public_key(key)},
        )
        used = reply.body.get("method") if isinstance(reply.body, dict) else None
        return used if isinstance(used, str) else str(method)

    async def complete_verification(self, code: str) -> None:
        """Prove the code with the pending key's signature; the key becomes the signing key."""
        key = self._require_pending()
        signature = _b64(key.sign(code.strip().encode()))
        reply = await self._call(
            "POST",
            "/auth/certificate/check",
            json_body={"verificationSignature": signature},
            errors=_CHECK_ERRORS,
        )
        self._activate(key, reply)

    # -- locks --------------------------------------------------------------------------

    async def list_locks(self, *, details: bool = True) -> list[DoordeckLock]:
        """Every lock of every site (one call per site).

        With ``details`` each lock's ``GET /device/{id}`` is added (one more call per lock);
        without, the site listing alone is read: it has no capabilities and no
        ``state.locked``, so ``batch_sharing`` is False and ``locked`` None.
        """
        sites = _items((await self._call("GET", "/site")).body, "sites")
        locks: dict[str, DoordeckLock] = {}
        for site in sites:
            site_id = _req_str(site, "siteId", "id")
            reply = await self._call("GET", f"/site/{quote(site_id, safe='')}/device")
            for device in _items(reply.body, "devices"):
                lock_id = _req_str(device, "id", "deviceId")
                if lock_id not in locks:
                    locks[lock_id] = (
                        await self.get_lock(lock_id, device)
                        if details
                        else _parse_lock(lock_id, device)
                    )
        return list(locks.values())

    async def get_lock(
        self, lock_id: str, listing: Mapping[str, Any] | None = None
    ) -> DoordeckLock:
        """One lock's details (``GET /device/{id}``, API v3), over its site listing entry."""
        reply = await self._call("GET", f"/device/{quote(lock_id, safe='')}", accept=ACCEPT_V3)
        return _parse_lock(lock_id, {**(listing or {}), **reply.obj()})

    async def audit_log(self, lock_id: str, start: int, end: int) -> list[AuditEntry]:
        """The lock's audit trail from ``start`` to ``end`` (seconds since 1970), API v2.

        Doordeck answers newest first and may cut a long answer short (the caller pages
        back with an earlier ``end``). Unreadable entries are skipped.
        """
        reply = await self._call(
            "GET",
            f"/device/{quote(lock_id, safe='')}/log",
            accept=ACCEPT_V2,
            params={"start": str(start), "end": str(end)},
        )
        return [entry for item in _items(reply.body, "log") if (entry := _audit_entry(item))]

    async def lock(self, lock_id: str) -> OperationResult:
        """Lock a lock."""
        return await self._execute(lock_id, {"type": "MUTATE_LOCK", "locked": True})

    async def unlock(self, lock_id: str) -> OperationResult:
        """Unlock a lock (it locks again by itself after its unlock time)."""
        return await self._execute(lock_id, {"type": "MUTATE_LOCK", "locked": False})

    async def share(self, lock: DoordeckLock, users: Sequence[ShareUser]) -> list[ShareOutcome]:
        """Share a lock; 25 users per request where the lock supports it, else one by one.

        An authentication failure fails the users not asked for yet without asking (they
        would all fail). A 429 is waited out (``Retry-After``, bounded) and the request sent
        once more; if it is still refused, the users not asked for yet are ``NOT_SENT``.
        """
        size = BATCH_LIMIT if lock.batch_sharing else 1
        outcomes: list[ShareOutcome] = []
        stop: DoordeckError | None = None
        not_sent: DoordeckRateLimitedError | None = None
        for index in range(0, len(users), size):
            group = users[index : index + size]
            status, error = ShareStatus.FAILED, stop
            if stop is None and not_sent is not None:
                status, error = ShareStatus.NOT_SENT, not_sent
            elif stop is None:
                operation = (
                    {"type": "BATCH_ADD_USER", "users": [_share_entry(u) for u in group]}
                    if lock.batch_sharing
                    else {"type": "ADD_USER", **_share_entry(group[0])}
                )
                try:
                    result = await self._execute(lock.id, operation)
                except DoordeckRateLimitedError as err:
                    not_sent = err
                    status = ShareStatus.FAILED if err.sent else ShareStatus.NOT_SENT
                    error = err
                except DoordeckError as err:
                    error = err
                    if isinstance(err, DoordeckAuthenticationError | DoordeckKeyNotRegisteredError):
                        stop = err
                else:
                    done = ShareStatus(result.value)
                    outcomes.extend(ShareOutcome(u.user_id, done) for u in group)
                    continue
            outcomes.extend(ShareOutcome(u.user_id, status, error) for u in group)
        return outcomes

    async def revoke(self, lock_id: str, user_ids: Sequence[str]) -> OperationResult:
        """Remove users' access to a lock."""
        return await self._execute(lock_id, {"type": "REMOVE_USER", "users": list(user_ids)})

    async def lookup_user(
        self, *, email: str | None = None, user_id: str | None = None
    ) -> DoordeckUser:
        """Find a user by email or Doordeck user id (sent as ``localKey``)."""
        if (email is None) == (user_id is None):
            raise ValueError("Give exactly one of email or user_id")
        query = {"email": email} if email is not None else {"localKey": user_id}
        reply = await self._call("POST", "/directory/query", json_body=query, errors=_LOOKUP_ERRORS)
        data = reply.obj()
        return DoordeckUser(_req_str(data, "id", "userId"), _req_str(data, "publicKey"))

    # -- internals ----------------------------------------------------------------------

    async def _execute(self, lock_id: str, operation: Mapping[str, Any]) -> OperationResult:
        """Sign and send an operation: paced, once more after a 429 or a 400/401 refusal.

        A refusal (400, 401) is decided only once the operation, signed again, is refused
        again after the tokens were refreshed (401) and the clock measured again: see the
        module's notes. Nothing here awaits before the operation has its place in the lock's
        queue and the pacer's: operations go out in the order they were asked for.
        """
        self._require_key()
        kind = operation.get("type")
        path = f"/device/{quote(lock_id, safe='')}/execute"

        async def make_jwt() -> str:  # a fresh jti on every attempt: a re-sent JWT is a replay
            async with self._pacer.turn():
                key, chain, user_id = self._require_key()
                now = math.floor(await self.server_now())
                payload = {
                    "iss": user_id,
                    "sub": lock_id,
                    "nbf": now,
                    "iat": now,
                    "exp": now + OPERATION_LIFETIME,
                    "jti": str(uuid.uuid4()),
                    "operation": dict(operation),
                }
                headers = {"x5c": list(chain), "typ": "JWT"}
                return jwt.encode(payload, key, algorithm="EdDSA", headers=headers)

        async with self._one_at_a_time(lock_id):
            rate_retried = refreshed = measured = clock_read = False
            while True:
                _LOGGER.debug("Sending %s to lock %s", kind, lock_id)
                tokens = self._require_tokens()
                try:
                    reply = await self._call(
                        "POST", path, make_jwt=make_jwt, errors=_LOCK_ERRORS, signed=True
                    )
                except DoordeckRateLimitedError as err:
                    wait = DEFAULT_RETRY_AFTER if err.retry_after is None else err.retry_after
                    if err.sent:
                        self._pacer.hold(wait)  # the limit is the account's: everyone waits
                    if rate_retried or wait > self._max_retry_wait:
                        raise
                    rate_retried = True
                    _LOGGER.info(
                        "Doordeck is rate limiting this account: %s to lock %s goes again in %g s",
                        kind,
                        lock_id,
                        wait,
                    )
                except DoordeckApiError as err:
                    if err.status not in _RECHECKED_REFUSALS or (
                        measured and (refreshed or err.status != 401)
                    ):
                        if isinstance(err, DoordeckAuthenticationError) and not clock_read:
                            # The clock could not be measured again: no proof of a sign-in problem.
                            raise DoordeckApiError(err.status, err.code, err.message) from err
                        raise
                    _LOGGER.debug(
                        "Doordeck refused %s to lock %s (%s); checking tokens and clock",
                        kind,
                        lock_id,
                        _summary(err),
                    )
                    if err.status == 401 and not refreshed:
                        refreshed = True
                        await self._refresh_after(tokens)  # refused: the sign-in problem
                    if not measured:
                        measured = True
                        async with self._time_lock:
                            clock_read = await self._measure_time()
                        if clock_read and self._leaf_not_yet_valid():
                            await self._reissue_certificate()
                else:
                    return OperationResult.QUEUED if reply.status == 202 else OperationResult.DONE

    def _leaf_not_yet_valid(self) -> bool:
        """Whether Doordeck's clock, as measured, is before the leaf certificate's notBefore."""
        return (
            self._not_before is not None
            and self._not_before.timestamp() > self._clock() + self._time_offset
        )

    @asynccontextmanager
    async def _one_at_a_time(self, lock_id: str) -> AsyncIterator[None]:
        """Operations on one lock run one after another, in the order they were asked for."""
        queue = self._lock_queues.get(lock_id)
        if queue is None:
            queue = self._lock_queues[lock_id] = _LockQueue()
        queue.users += 1
        try:
            async with queue.gate:
                yield
        finally:
            queue.users -= 1
            if queue.users == 0:
                del self._lock_queues[lock_id]

    def _require_key(self) -> tuple[Ed25519PrivateKey, tuple[str, ...], str]:
        key, chain, user_id = self._key, self._chain, self._user_id
        if key is None or not chain or user_id is None or self._expiry is None:
            raise DoordeckKeyNotRegisteredError("No signing key is registered with Doordeck yet")
        if self._expiry <= self._utcnow():
            raise DoordeckKeyNotRegisteredError("The signing key's certificate has expired")
        return key, chain, user_id

    async def _reissue_certificate(self) -> None:
        """Ask for a new chain for the signing key (registered already: no second factor)."""
        key = self._key
        if key is None:
            return
        reply = await self._call(
            "POST", "/auth/certificate", json_body={"ephemeralKey": _public_key(key)}
        )
        self._store_chain(key, reply)

    def _utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        accept: str = ACCEPT_JSON,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        make_jwt: Callable[[], Awaitable[str]] | None = None,
        errors: _ErrorMap | None = None,
        signed: bool = False,
    ) -> _Reply:
        """Send an authenticated request; on 401 refresh the tokens and send it once more.

        ``errors`` maps statuses to this endpoint's exceptions (a 401 that survives the
        refresh is then the endpoint's own refusal, e.g. a wrong verification code).
        ``signed``: a signed operation, sent once; ``_execute`` decides on its refusals.
        """

        async def attempt(tokens: DoordeckTokens) -> _Reply:
            headers = {"Accept": accept, "Authorization": f"Bearer {tokens.auth_token}"}
            data = None
            if make_jwt is not None:
                data = await make_jwt()
                headers["Content-Type"] = "application/jwt"
            return await self._send(
                method, path, headers, json_body=json_body, data=data, params=params
            )

        tokens = self._require_tokens()
        reply = await attempt(tokens)
        if reply.status == 401 and not signed:
            await self._refresh_after(tokens)
            reply = await attempt(self._require_tokens())
        _raise_for_status(reply, errors, signed=signed)
        return reply

    async def _refresh_after(self, refused: DoordeckTokens) -> None:
        """Refresh the tokens after a 401 to ``refused``, unless someone did meanwhile."""
        async with self._refresh_lock:
            if self._tokens is refused:
                await self.refresh_tokens()

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        json_body: Any = None,
        data: str | None = None,
        params: Mapping[str, str] | None = None,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> _Reply:
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                headers=headers,
                json=json_body,
                data=data,
                params=params,
                timeout=client_timeout or self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
                content_type = response.content_type
                retry_after = retry_after_seconds(
                    response.headers.get("Retry-After"), self._clock() + self._time_offset
                )
        except TimeoutError as err:
            raise DoordeckTimeoutError(f"Doordeck did not answer {method} {path} in time") from err
        except aiohttp.ClientError as err:
            raise DoordeckConnectionError(f"Cannot reach Doordeck: {err}") from err
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        if status >= 400:  # an error may quote what was sent
            text, body = self._secrets.scrub(text), self._secrets.scrub_values(body)
        _LOGGER.debug("%s %s -> %s", method, path, status)
        return _Reply(status, body, text, content_type, retry_after)

    def _secrets_held(self) -> Iterator[str | None]:
        """The tokens and signing keys (base64 of the raw keys, as stored)."""
        if self._tokens is not None:
            yield from (self._tokens.auth_token, self._tokens.refresh_token)
        for key in (self._key, self._pending_key):
            if key is not None:
                yield _b64(_raw(key))

    def _set_tokens(self, tokens: DoordeckTokens) -> None:
        self._tokens = tokens
        if self._on_tokens_changed is not None:
            self._on_tokens_changed(tokens)

    def _require_tokens(self) -> DoordeckTokens:
        if self._tokens is None:
            raise DoordeckAuthenticationError(401, None, "not signed in")
        return self._tokens

    def _require_pending(self) -> Ed25519PrivateKey:
        key = self._pending_key or self._key
        if key is None:
            raise DoordeckKeyNotRegisteredError("No key awaits verification; register one first")
        self._pending_key = key
        return key

    def _activate(self, key: Ed25519PrivateKey, reply: _Reply) -> None:
        self._store_chain(key, reply)
        self._pending_key = None

    def _store_chain(self, key: Ed25519PrivateKey, reply: _Reply) -> None:
        data = reply.obj()
        chain = data.get("certificateChain")
        if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
            raise DoordeckMalformedReplyError("Doordeck's reply has no certificate chain")
        user_id = _req_str(data, "userId")
        self._not_before, self._expiry = _leaf_validity(chain)
        self._key, self._chain, self._user_id = key, tuple(chain), user_id


def _raise_for_status(
    reply: _Reply, errors: _ErrorMap | None = None, *, signed: bool = False
) -> None:
    if 200 <= reply.status < 300:
        return
    code, message = _vendor_error(reply)
    cls = (errors or {}).get(reply.status) or _STATUS_ERRORS.get(reply.status, DoordeckApiError)
    if cls in (DoordeckLockOfflineError, DoordeckLockTimeoutError) and not isinstance(
        reply.body, dict
    ):
        cls = DoordeckApiError  # not Doordeck's JSON: a proxy's 503/504, not the lock's
    if signed and reply.status in _RECHECKED_REFUSALS and _speaks_of_time(message):
        cls = DoordeckClockError
    raise cls(reply.status, code, message, retry_after=reply.retry_after)


# Words of a refused time window (nbf/iat/exp, certificate dates, "validity window", "clock").
# Only the message is read: Doordeck's codes for it are not documented.
_CLOCK_WORDS: Final = re.compile(
    r"clock|\btime|validity|not (?:yet )?valid|\bexpir|\b(?:nbf|iat|exp)\b|not before|future|skew",
    re.IGNORECASE,
)


def _speaks_of_time(message: str | None) -> bool:
    """Whether a refusal's message is about time: clock-shaped."""
    return message is not None and _CLOCK_WORDS.search(message) is not None


_HTML: Final = re.compile(r"^\s*<(?:!doctype|html|head|body|\?xml)", re.IGNORECASE)
_MAX_TEXT_ERROR: Final = 120


def _vendor_error(reply: _Reply) -> tuple[float | None, str | None]:
    """The vendor's ``{"code": 404.12, "message": "..."}``, or a short summary of the reply.

    A page (HTML) is never quoted: its summary is the status's standard reason phrase ("Bad
    Gateway"); other text is cut to its first line, at most ``_MAX_TEXT_ERROR`` characters.
    """
    if isinstance(reply.body, dict):
        code, message = reply.body.get("code"), reply.body.get("message")
        if isinstance(code, str):
            try:
                code = float(code)
            except ValueError:
                code = None
        return (
            float(code) if _is_number(code) else None,
            message if isinstance(message, str) else None,
        )
    text = reply.text.strip()
    if not text:
        return None, None
    if "html" in reply.content_type or "xml" in reply.content_type or _HTML.match(text):
        return None, _phrase(reply.status)
    line = " ".join(text.splitlines()[0].split())
    if len(line) > _MAX_TEXT_ERROR:
        line = line[: _MAX_TEXT_ERROR - 1] + "…"
    return None, line or None


def _phrase(status: int) -> str:
    """The standard reason phrase of a status ("Bad Gateway"), or "Error"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _summary(err: DoordeckError) -> str:
    """A short account of an error for a log line: status and code, never a reply body."""
    if isinstance(err, DoordeckApiError):
        return f"HTTP {err.status}" + (f", code {err.code:g}" if err.code is not None else "")
    if isinstance(err, DoordeckTimeoutError):
        return "no answer in time"
    if isinstance(err, DoordeckConnectionError):
        return "cannot connect"
    if isinstance(err, DoordeckMalformedReplyError):
        return "unreadable reply"
    return type(err).__name__


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _req_str(data: Mapping[str, Any], *keys: str) -> str:
    value = _opt_str(data, *keys)
    if value is None:
        raise DoordeckMalformedReplyError(f"Doordeck's reply lacks {' or '.join(keys)}")
    return value


def _opt_str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _items(body: Any, wrapper: str) -> list[dict[str, Any]]:
    """A list of objects, bare or wrapped as ``{wrapper: [...]}``; non-objects are skipped."""
    if isinstance(body, dict):
        body = body.get(wrapper)
    if not isinstance(body, list):
        raise DoordeckMalformedReplyError(f"Doordeck's reply is not a list of {wrapper}")
    return [item for item in body if isinstance(item, dict)]


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> int | None:
    """Unix seconds from a number (seconds or milliseconds) or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    if not _is_number(value):
        return None
    return int(value / 1000 if value > 1e11 else value)


def _parse_lock(lock_id: str, data: Mapping[str, Any]) -> DoordeckLock:
    settings, state = _mapping(data, "settings"), _mapping(data, "state")
    capabilities = settings.get("capabilities", data.get("capabilities"))
    if isinstance(capabilities, dict):
        batch = str(capabilities.get("BATCH_SHARING_25", "")).upper() in ("SUPPORTED", "TRUE")
    else:
        batch = isinstance(capabilities, list) and "BATCH_SHARING_25" in capabilities
    unlock_time = settings.get("unlockTime", data.get("unlockTime"))
    connected, locked = state.get("connected"), state.get("locked")
    return DoordeckLock(
        id=lock_id,
        name=_opt_str(data, "name") or lock_id,
        role=(_opt_str(data, "role") or "USER").upper(),
        unlock_time=(
            float(unlock_time)
            if _is_number(unlock_time) and unlock_time >= 0
            else DEFAULT_UNLOCK_TIME
        ),
        batch_sharing=batch,
        connected=connected if isinstance(connected, bool) else True,
        locked=locked if isinstance(locked, bool) else None,
        start=_timestamp(data.get("start")),
        end=_timestamp(data.get("end")),
    )


def _share_entry(user: ShareUser) -> dict[str, Any]:
    entry: dict[str, Any] = {"user": user.user_id, "publicKey": user.public_key, "role": user.role}
    if user.start is not None:
        entry["start"] = user.start
    if user.end is not None:
        entry["end"] = user.end
    return entry


def _leaf_validity(chain: Sequence[str]) -> tuple[datetime, datetime]:
    """``notBefore`` and ``notAfter`` of the leaf (first) certificate of a non-empty chain."""
    try:
        certificates = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in chain]
    except (ValueError, binascii.Error) as err:
        raise DoordeckMalformedReplyError("Doordeck's certificate chain is unreadable") from err
    return certificates[0].not_valid_before_utc, certificates[0].not_valid_after_utc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _public_key(key: Ed25519PrivateKey) -> str:
    """Base64 DER SubjectPublicKeyInfo (RFC 8410) of the key's public half."""
    return _b64(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _load_key(raw: bytes | None) -> Ed25519PrivateKey | None:
    if raw is None:
        return None
    try:
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as err:
        raise DoordeckError("Stored private key is not a raw 32-byte Ed25519 key") from err


def _stored_key(value: Any) -> bytes | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (TypeError, ValueError) as err:
        raise DoordeckError("Stored private key is not base64") from err
    if len(raw) != 32:
        raise DoordeckError("Stored private key is not a raw 32-byte Ed25519 key")
    return raw


# --- the audit trail ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of a lock's audit trail: when, what (``DOOR_UNLOCK``...), and who.

    ``user_id``, ``email`` and ``display_name`` are None for what the lock itself reports.
    Personal data: never in a ``repr`` (a log line), only where its user reads it.
    """

    timestamp: float
    type: str
    user_id: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    display_name: str | None = field(default=None, repr=False)
    message: str | None = field(default=None, repr=False)

    @property
    def who(self) -> str | None:
        """The user as people name them: the display name, else the email."""
        return self.display_name or self.email

    def fingerprint(self) -> str:
        """A digest telling this entry from others (Doordeck gives entries no id)."""
        fields = (self.timestamp, self.type, self.user_id, self.email, self.display_name)
        text = json.dumps([*fields, self.message], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _audit_entry(item: Mapping[str, Any]) -> AuditEntry | None:
    when = item.get("timestamp")
    if isinstance(when, str):
        parsed = _timestamp(when)
        when = parsed
    kind = item.get("type")
    if not _is_number(when) or not isinstance(kind, str) or not kind:
        return None
    seconds = float(when) / 1000 if when > 1e11 else float(when)
    return AuditEntry(
        timestamp=seconds,
        type=kind.upper(),
        user_id=_opt_str(item, "user", "userId"),
        email=_opt_str(item, "email"),
        display_name=_opt_str(item, "displayName"),
        message=_opt_str(item, "message"),
    )
