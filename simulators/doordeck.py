"""Simulator of the Doordeck cloud API (the vendor's side), written from the seed page and notes.

Shapes chosen where the documentation leaves a choice:
- ``GET /site`` → ``[{"id", "name", "colour", "longitude", "latitude", "radius", "created",
  "updated"}]`` (only sites holding a lock the user can see)
- ``GET /site/{id}/device`` → ``[{"id", "name", "colour", "role", "start", "end",
  "settings": {"unlockTime", "defaultName", "permittedAddresses", "usageRequirements", "tiles"},
  "state": {"connected"}}]``
- ``GET /device/{id}`` → the v3 shape (``settings.capabilities``,
  ``settings.directAccessEndpoints``, ``state.connected`` and ``state.locked`` only for locks
  that report it). Times (``start``/``end``) are epoch seconds or null.

Time: every time the server consults (``GET /time``, token lifetimes, certificate dates, the JWT
time window, a lock's automatic relock) is ``now() = clock() + clock_offset``; ``clock`` is
injectable (a test passes a fake one) and ``clock_offset`` may change at run time (a step mimics
NTP correcting the host's clock). Rate-limit windows use ``clock()`` alone, so such a step
neither frees nor freezes the limiter.

Rejections (``{"code": <float>, "message": ...}``; the integer part is the HTTP status):
- 401 is kept for credentials: missing/invalid/revoked/expired bearer token (401.1 to 401.5), bad
  login (401.6), wrong verification signature (401.7), foreign chain (401.8), expired leaf
  certificate (401.9), unregistered key (401.10), bad JWT signature (401.11).
- Clock problems: the notes do not say what the real server answers ("expect 400 or 401"), so the
  simulator answers in more than one shape (``clock_refusal``, ``CLOCK_REFUSALS``). By default
  (``None``) 400: nbf in the future 400.11, iat in the future 400.12, exp passed 400.13, leaf
  certificate not yet valid (server clock stepped back) 400.29. A ``ClockRefusal`` answers every
  one of them with its own status, code and message instead: ``"401"`` is 401 401.12 "jwt rejected:
  outside its validity window", ``"400"`` 400 400.6 "Operation rejected" (a code the simulator
  also uses for a bad ``alg``, and a message that names no clock: codes mean nothing to a
  client). ``SKEW`` seconds are tolerated. The time window of an operation is checked by the
  lock's clock: the server's plus ``SimLock.clock_offset`` (0; a fault ``GET /time`` cannot show).
- ``exp`` later than now + 60 s is not a rejection: the seed page answers 202 (queued).
- 409.1 jti replayed; 423.1 key registration needs a second factor; 423.2 a signed operation
  with a key that is no longer verified (``require_second_factor``) or the ``second_factor``
  fault; 425.1 pending; 429.1 ``rate_limited`` switch, 429.2 lock fault ``rate_limit``, 429.3
  per-account operation limit, 429.4 request limit (per account or address); 503.1 offline;
  504.1 slow. Every 429 carries ``Retry-After`` (whole seconds).
- Injected faults (``inject``) answer ``float(status)`` codes, or a raw HTML page (``html_error``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
import datetime as dt
from fnmatch import fnmatchcase
from functools import partial
from http import HTTPStatus
import json
import logging
import math
import os
from pathlib import Path
import re
import secrets
import signal
import time
from typing import Any, Literal, NamedTuple
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID
import jwt

SKEW = 5.0  # seconds of clock skew tolerated on nbf/iat
IMMEDIATE_WINDOW = 60.0  # operations expiring later than this are queued (202)
MAX_BATCH = 25
ROLES = ("ADMIN", "USER")
VERIFY_METHODS = ("EMAIL", "SMS", "TELEPHONE")
DIRECTORY_KEYS = ("email", "telephone", "localKey", "foreignKey", "identity")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
RateLimit = tuple[int, float]  # (operations, per seconds)
# Signed operations per account: at most 10 in any 1 s. The command line's default; the class
# defaults to no limit (pass ``rate_limit=DEFAULT_RATE_LIMIT``), as tests written before the limit
# share 25 to 60 users one ADD_USER at a time, unpaced.
DEFAULT_RATE_LIMIT: RateLimit = (10, 1.0)
SECOND_FACTOR_MESSAGE = "Second factor required: verify this key (POST /auth/certificate/verify)"
DEMO_ACCOUNT = "demo@example.com:password"
GUEST_ACCOUNT = ("guest@example.com", "guest")
# Always asks for a second factor to register a signing key; administers a lock of its own.
OFFICE_ACCOUNT = ("office@example.com", "office")
OFFICE_LOCK = "Office door"

_LOGGER = logging.getLogger(__name__)

Fault = Literal["offline", "slow", "rate_limit", "pending", "queued", "second_factor"]
_FAULTS: dict[str, tuple[int, float, str]] = {
    "offline": (503, 503.1, "Lock is offline"),
    "slow": (504, 504.1, "Lock did not respond in time"),
    "rate_limit": (429, 429.2, "Too many operations for this lock"),
    "pending": (425, 425.1, "An earlier operation is still pending"),
    "second_factor": (423, 423.2, SECOND_FACTOR_MESSAGE),
}
FaultKind = Literal["status", "html_error", "delay", "second_factor"]
_FAULT_STATUS: dict[str, int] = {"status": 503, "html_error": 502, "second_factor": 423}


@dataclass(frozen=True)
class ClockRefusal:
    """How a refused time window is answered (instead of the per-claim 400.11 to 400.29)."""

    status: int
    code: float
    message: str


CLOCK_REFUSALS: dict[str, ClockRefusal | None] = {
    "claims": None,
    "401": ClockRefusal(401, 401.12, "jwt rejected: outside its validity window"),
    "400": ClockRefusal(400, 400.6, "Operation rejected"),
}


class ApiError(Exception):
    """An error reply ``{"code": <float>, "message": ...}``."""

    def __init__(
        self, status: int, code: float, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after


class SimRequest(NamedTuple):
    method: str
    path: str
    status: int
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # simulator time (``now()``) the request arrived


@dataclass
class SimFault:
    """A fault injected with :meth:`DoordeckSimulator.inject` (see there)."""

    path: str
    kind: FaultKind
    status: int
    times: int | None  # requests left to fail; None: until removed
    method: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    message: str | None = None
    hits: int = 0  # requests this fault has answered

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if any(c in self.path for c in "*?["):
            return fnmatchcase(path, self.path)
        return path.startswith(self.path)


@dataclass
class SimAccount:
    id: str
    email: str
    password: str
    second_factor: bool = False
    telephone: str | None = None
    foreign_key: str | None = None
    identity: str | None = None
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate, repr=False)
    keys: list[bytes] = field(default_factory=list)  # registered (and verified) ephemeral keys
    unverified: list[bytes] = field(default_factory=list)  # keys that must pass the 2nd factor

    @property
    def public_key_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_key_b64(self) -> str:
        """Directory public key: base64 DER SubjectPublicKeyInfo."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()


@dataclass
class SimSite:
    id: str
    name: str


@dataclass
class SimShare:
    role: str
    start: float | None = None
    end: float | None = None

    def active(self, now: float) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or now < self.end)


@dataclass
class SimOperation:
    type: str
    operation: dict[str, Any]
    user_id: str
    jti: str | None
    status: Literal["applied", "queued"]
    applied: bool
    at: float = 0.0  # simulator time (``now()``) it was accepted
    seq: int = 0  # order of acceptance across all locks (1, 2, ...)


@dataclass
class SimLock:
    id: str
    site_id: str
    name: str
    clock: Callable[[], float] = field(repr=False)
    unlock_time: float = 5.0
    batch_sharing: bool = True
    connected: bool = True
    reports_locked: bool = False
    fault: Fault | None = None
    users: dict[str, SimShare] = field(default_factory=dict)
    operations: list[SimOperation] = field(default_factory=list)  # accepted, in order
    refused: list[float] = field(default_factory=list)  # times (now()) of 429s by the limiter
    clock_offset: float = 0.0  # the lock's clock, which checks operations' times, minus now()
    _locked: bool = field(default=True, repr=False)
    relock_at: float | None = None

    @property
    def locked(self) -> bool:
        if self.relock_at is not None and self.clock() >= self.relock_at:
            self._locked, self.relock_at = True, None
        return self._locked

    @locked.setter
    def locked(self, value: bool) -> None:
        self._locked = value
        self.relock_at = None if value else self.clock() + self.unlock_time


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _when(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _make_cert(
    subject: str,
    issuer: x509.Name,
    key: Ed25519PublicKey,
    signer: Ed25519PrivateKey,
    *,
    start: float,
    end: float,
    path_length: int | None,  # None for a leaf
) -> x509.Certificate:
    ca = path_length is not None
    usage = x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_when(start))
        .not_valid_after(_when(end))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(usage, critical=True)
    )
    return builder.sign(signer, None)


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _load_ed25519(b64: Any, what: str) -> Ed25519PublicKey:
    """Decode a base64 DER SubjectPublicKeyInfo Ed25519 key, or raise a 400."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(str(b64), validate=True))
    except (ValueError, binascii.Error, TypeError) as err:
        raise ApiError(400, 400.2, f"{what} is not a base64 DER public key") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ApiError(400, 400.2, f"{what} is not an Ed25519 public key")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64url(part: str) -> bytes:
    if not _B64URL.match(part):
        raise ApiError(400, 400.3, "JWT parts must be unpadded base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _admit(window: deque[float], limit: RateLimit, now: float) -> float | None:
    """Sliding-window log: record ``now`` and return None, or the seconds until a slot frees."""
    operations, per = limit
    while window and window[0] <= now - per:
        window.popleft()
    if len(window) >= operations:
        return max(window[0] + per - now, 0.0) if window else per
    window.append(now)
    return None


def _retry_after(seconds: float) -> str:
    """``Retry-After`` is whole seconds (RFC 9110): round up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def html_error_page(status: int) -> str:
    """A long raw HTML error page, as a proxy or load balancer in front of an API sends."""
    title = f"{status} {_phrase(status)}"
    filler = "\n".join(
        f"<!-- a padding to disable MSIE and Chrome friendly error page {i:02d} -->"
        for i in range(12)
    )
    return (
        f"<html><head><title>{title}</title></head>\n<body>\n"
        f"<center><h1>{title}</h1></center>\n"
        "<p>The server encountered a temporary error and could not complete your request.</p>\n"
        "<p>Please try again in 30 seconds.</p>\n"
        "<hr><center>nginx</center>\n</body>\n</html>\n"
        f"{filler}\n"
    )


def parse_rate_limit(text: str) -> RateLimit | None:
    """``"10/1"`` (10 a second), ``"100/60"`` or ``"off"`` → ``(operations, seconds)`` or None."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    operations, sep, per = text.partition("/")
    try:
        limit = (int(operations), float(per) if sep else 1.0)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected N/SECONDS or off, got {text!r}") from err
    if limit[0] < 1 or limit[1] <= 0:
        raise argparse.ArgumentTypeError(f"expected N >= 1 and SECONDS > 0, got {text!r}")
    return limit


class DoordeckSimulator:
    """In-process Doordeck cloud: accounts, sites, locks, key certificates, signed operations."""

    def __init__(
        self,
        *,
        leaf_ttl: float = 30 * 86400,
        auth_token_ttl: float = 3600,
        clock_offset: float = 0.0,
        clock: Callable[[], float] = time.time,
        rate_limit: RateLimit | None = None,
        request_rate_limit: RateLimit | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Create the simulator (not started: see :meth:`start`).

        ``clock`` gives epoch seconds (``time.time`` or a test's fake); ``clock_offset`` is added
        to it for everything the server dates. ``rate_limit`` bounds signed operations
        (``/device/{id}/execute``) per account: at most ``operations`` in any ``per`` seconds
        (sliding window), else 429 with ``Retry-After``; ``request_rate_limit`` does the same
        for every request (per account, or per client address before sign-in). None (default)
        disables either; ``DEFAULT_RATE_LIMIT`` is the command line's plausible (10, 1.0). Both
        may change at run time. ``log_path``: append one line per request (and each
        second-factor code sent).
        """
        self.leaf_ttl, self.auth_token_ttl = leaf_ttl, auth_token_ttl
        self.clock = clock
        self.clock_offset = clock_offset
        self.rate_limit, self.request_rate_limit = rate_limit, request_rate_limit
        self.log_path = Path(log_path) if log_path is not None else None
        self.refresh_token_ttl = 30 * 86400.0
        self.accounts: dict[str, SimAccount] = {}
        self.sites: dict[str, SimSite] = {}
        self.locks: dict[str, SimLock] = {}
        self.requests: list[SimRequest] = []
        self.used_jtis: set[str] = set()
        self.rate_limited = False  # switch: answer every request 429
        self.rate_limited_count = 0  # requests answered 429, whatever the cause
        self.fail_time = False  # switch: GET /time fails with fail_time_status
        self.fail_time_status = 500
        self.clock_refusal: ClockRefusal | None = None  # None: 400.11 to 400.29, see the module
        self.faults: list[SimFault] = []
        self.verify_reply_json = False
        self.url = ""
        self._op_windows: dict[str, deque[float]] = {}  # account id -> accepted operation times
        self._request_windows: dict[str, deque[float]] = {}  # account id / address -> times
        self._op_seq = 0
        self._codes: dict[str, list[str]] = {}  # user id -> codes sent
        self._pending: dict[str, tuple[bytes, str]] = {}  # user id -> (raw key, code)
        # Each lock's audit trail, oldest first (GET /device/{id}/log: end of this module).
        self.audit: dict[str, list[AuditRecord]] = {}
        self.audit_page_size = AUDIT_PAGE_SIZE
        self._secret = secrets.token_bytes(64)
        self._auth_gen = self._refresh_gen = 0
        self._runner: web.AppRunner | None = None
        now = self.now()
        self._root_key, self._int_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        root_cn = "Doordeck Simulator Root CA"
        self.root = _make_cert(
            root_cn,
            _name(root_cn),
            self._root_key.public_key(),
            self._root_key,
            start=now - 86400,
            end=now + 3650 * 86400,
            path_length=1,
        )
        self.intermediate = _make_cert(
            "Doordeck Simulator Intermediate CA",
            self.root.subject,
            self._int_key.public_key(),
            self._root_key,
            start=now - 86400,
            end=now + 3650 * 86400,
            path_length=0,
        )

    # ------------------------------------------------------------------ control API
    def now(self) -> float:
        """Simulator clock (epoch seconds): ``clock() + clock_offset``."""
        return self.clock() + self.clock_offset

    def add_account(
        self, email: str, password: str, *, second_factor: bool = False, user_id: str | None = None
    ) -> SimAccount:
        account = SimAccount(user_id or str(uuid.uuid4()), email, password, second_factor)
        self.accounts[account.id] = account
        return account

    def add_site(self, name: str, site_id: str | None = None) -> SimSite:
        site = SimSite(site_id or str(uuid.uuid4()), name)
        self.sites[site.id] = site
        return site

    def add_lock(
        self,
        site_id: str,
        name: str,
        *,
        lock_id: str | None = None,
        unlock_time: float = 5.0,
        batch_sharing: bool = True,
        connected: bool = True,
        reports_locked: bool = False,
        access: dict[str, str] | None = None,
    ) -> SimLock:
        if site_id not in self.sites:
            raise KeyError(site_id)
        lock = SimLock(
            lock_id or str(uuid.uuid4()),
            site_id,
            name,
            self.now,
            unlock_time,
            batch_sharing,
            connected,
            reports_locked,
        )
        lock.users = {uid: SimShare(role) for uid, role in (access or {}).items()}
        self.locks[lock.id] = lock
        return lock

    def remove_lock(self, lock_id: str) -> None:
        del self.locks[lock_id]

    def grant(self, lock_id: str, user_id: str, role: str = "ADMIN") -> None:
        self.locks[lock_id].users[user_id] = SimShare(role)

    def sent_codes(self, email: str) -> list[str]:
        account = self._by_email(email)
        return list(self._codes.get(account.id, [])) if account else []

    def expire_auth_tokens(self) -> None:
        self._auth_gen += 1

    def revoke_refresh_tokens(self) -> None:
        self._refresh_gen += 1

    def registered_keys(self, user_id: str) -> list[bytes]:
        return list(self.accounts[user_id].keys)

    def count(self, path_prefix: str) -> int:
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    def require_second_factor(self, user_id: str) -> None:
        """The account's keys lose their verification: signed operations answer 423.2 and
        registering a key (again) answers 423.1 until the verify/check flow is done."""
        account = self.accounts[user_id]
        account.second_factor = True
        account.unverified.extend(k for k in account.keys if k not in account.unverified)
        account.keys.clear()

    def inject(
        self,
        path: str,
        kind: FaultKind = "status",
        *,
        status: int | None = None,
        times: int | None = None,
        method: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        message: str | None = None,
    ) -> SimFault:
        """Make requests whose path starts with ``path`` (or matches it as a glob such as
        ``/device/*/execute``) fail, before any other check, for ``times`` requests (None: until
        :meth:`clear_faults`). The first matching fault answers.

        - ``status`` (default 503): ``{"code": float(status), "message": ...}``; a 429 or 503
          carries ``Retry-After`` (``retry_after``, default 1 s).
        - ``html_error`` (default 502): a long raw ``text/html`` error page, as a proxy sends.
        - ``delay``: wait ``delay`` seconds, then answer normally (a client's timeout fires).
        - ``second_factor``: 423 ``{"code": 423.2, "message": "Second factor required..."}``.

        ``delay`` also delays the other kinds.
        """
        fault = SimFault(
            path,
            kind,
            status if status is not None else _FAULT_STATUS.get(kind, 200),
            times,
            method,
            retry_after,
            delay,
            message,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/time", self._time)
        app.router.add_post("/auth/token", self._login)
        app.router.add_post("/auth/token/refresh", self._refresh)
        app.router.add_post("/auth/certificate", self._certificate)
        app.router.add_post("/auth/certificate/verify", self._cert_verify)
        app.router.add_post("/auth/certificate/check", self._cert_check)
        app.router.add_get("/site", self._sites)
        app.router.add_get("/site/{site_id}/device", self._site_devices)
        app.router.add_get("/device/{lock_id}", self._device)
        app.router.add_post("/device/{lock_id}/execute", self._execute)
        app.router.add_post("/directory/query", self._directory)
        app.router.add_post("/share/invite/{email}", self._invite)
        app.router.add_get("/device/{lock_id}/log", partial(audit_trail, self))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ plumbing
    def _log(self, line: str) -> None:
        """Append a line to the log file (never tokens, passwords or request bodies)."""
        if self.log_path is None:
            return
        stamp = _when(self.now()).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"{stamp} {line}\n")

    def _fault_for(self, request: web.Request) -> SimFault | None:
        fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
        if fault is not None:
            fault.hits += 1
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        return fault

    @staticmethod
    def _fault_reply(fault: SimFault) -> web.StreamResponse | None:
        """The reply of a fault, or None to go on with the request (``delay``)."""
        if fault.kind == "delay":
            return None
        if fault.kind == "html_error":
            return web.Response(
                status=fault.status, text=html_error_page(fault.status), content_type="text/html"
            )
        if fault.kind == "second_factor":
            raise ApiError(fault.status, 423.2, fault.message or SECOND_FACTOR_MESSAGE)
        retry = fault.retry_after
        if retry is None and fault.status in (429, 503):
            retry = 1.0
        message = fault.message or _phrase(fault.status)
        raise ApiError(fault.status, float(fault.status), message, retry_after=retry)

    def _client_key(self, request: web.Request) -> str:
        """Who a request counts against: the bearer token's account, else the client address."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                claims = jwt.decode(
                    token.strip(),
                    self._secret,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
                )
            except jwt.InvalidTokenError:
                pass
            else:
                return f"account:{claims.get('sub')}"
        return f"address:{request.remote}"

    def _admit_operation(self, account: SimAccount, lock: SimLock | None) -> None:
        """Per-account limit on signed operations (429.3)."""
        if self.rate_limit is None:
            return
        window = self._op_windows.setdefault(account.id, deque())
        wait = _admit(window, self.rate_limit, self.clock())
        if wait is not None:
            if lock is not None:
                lock.refused.append(self.now())
            operations, per = self.rate_limit
            raise ApiError(
                429,
                429.3,
                f"Rate limit exceeded: at most {operations} operations per {per:g} s per account",
                retry_after=wait,
            )

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self._fault_for(request)
        if fault is not None:
            if fault.delay > 0:
                await asyncio.sleep(fault.delay)
            reply = self._fault_reply(fault)
            if reply is not None:
                return reply
        if self.rate_limited:
            raise ApiError(429, 429.1, "Rate limit exceeded")
        if self.request_rate_limit is not None:
            window = self._request_windows.setdefault(self._client_key(request), deque())
            wait = _admit(window, self.request_rate_limit, self.clock())
            if wait is not None:
                operations, per = self.request_rate_limit
                raise ApiError(
                    429,
                    429.4,
                    f"Rate limit exceeded: at most {operations} requests per {per:g} s",
                    retry_after=wait,
                )
        return await handler(request)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        at = self.now()
        note = ""
        try:
            response = await self._dispatch(request, handler)
        except ApiError as err:
            response = web.json_response(
                {"code": err.code, "message": err.message}, status=err.status
            )
            if err.status == 429 or err.retry_after is not None:
                response.headers["Retry-After"] = _retry_after(err.retry_after or 1.0)
            note = f" {err.code:g} {err.message}"
        except web.HTTPException as err:  # router 404 / 405
            response = web.json_response(
                {"code": float(err.status), "message": err.reason}, status=err.status
            )
        if response.status == 429:
            self.rate_limited_count += 1
        self.requests.append(
            SimRequest(
                request.method,
                request.path,
                response.status,
                request.query_string,
                dict(request.headers),
                body,
                at,
            )
        )
        _LOGGER.debug("%s %s %s%s", request.method, request.path, response.status, note)
        self._log(f"{request.method} {request.path} {response.status}{note}")
        return response

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, 400.1, "Body must be JSON") from err
        if not isinstance(data, dict):
            raise ApiError(400, 400.1, "Body must be a JSON object")
        return data

    def _by_email(self, email: str) -> SimAccount | None:
        return next((a for a in self.accounts.values() if a.email.lower() == email.lower()), None)

    def _token(self, account: SimAccount, kind: str, ttl: float, gen: int) -> str:
        now = self.now()
        claims = {
            "sub": account.id,
            "email": account.email,
            "iat": int(now),
            "exp": int(now + ttl),
            "typ": kind,
            "gen": gen,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def _tokens(self, account: SimAccount) -> dict[str, str]:
        return {
            "authToken": self._token(account, "auth", self.auth_token_ttl, self._auth_gen),
            "refreshToken": self._token(
                account, "refresh", self.refresh_token_ttl, self._refresh_gen
            ),
        }

    def _bearer(self, request: web.Request, kind: str = "auth") -> SimAccount:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, 401.1, "Missing bearer token")
        try:
            claims = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError as err:
            raise ApiError(401, 401.2, "Invalid token") from err
        gen = self._auth_gen if kind == "auth" else self._refresh_gen
        if claims.get("typ") != kind or claims.get("gen") != gen:
            raise ApiError(401, 401.3, f"Unknown or revoked {kind} token")
        if not _number(claims.get("exp")) or claims["exp"] <= self.now():
            raise ApiError(401, 401.4, "Token expired")
        account = self.accounts.get(str(claims.get("sub")))
        if account is None:
            raise ApiError(401, 401.5, "Unknown user")
        return account

    def _chain(self, account: SimAccount, key: Ed25519PublicKey) -> dict[str, Any]:
        now = self.now()
        leaf = _make_cert(
            account.id,
            self.intermediate.subject,
            key,
            self._int_key,
            start=now - 60,
            end=now + self.leaf_ttl,
            path_length=None,
        )
        return {
            "certificateChain": [_der_b64(leaf), _der_b64(self.intermediate)],
            "userId": account.id,
        }

    def _lock_for(self, account: SimAccount, lock_id: str) -> tuple[SimLock, SimShare]:
        lock = self.locks.get(lock_id)
        if lock is None:
            raise ApiError(404, 404.1, "Lock not found")
        share = lock.users.get(account.id)
        if share is None or not share.active(self.now()):
            raise ApiError(403, 403.1, "User does not have access to this lock")
        return lock, share

    # ------------------------------------------------------------------ auth
    async def _time(self, request: web.Request) -> web.Response:
        if self.fail_time:
            status = self.fail_time_status
            raise ApiError(status, float(status), _phrase(status))
        return web.json_response({"now": int(self.now() * 1000)})

    async def _login(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        account = self._by_email(str(data.get("email", "")))
        if account is None or data.get("password") != account.password:
            raise ApiError(401, 401.6, "Invalid email or password")
        return web.json_response(self._tokens(account))

    async def _refresh(self, request: web.Request) -> web.Response:
        return web.json_response(self._tokens(self._bearer(request, "refresh")))

    async def _certificate(self, request: web.Request) -> web.Response:
        account = self._bearer(request)
        key = _load_ed25519((await self._json(request)).get("ephemeralKey"), "ephemeralKey")
        if _raw(key) not in account.keys:
            if account.second_factor or _raw(key) in account.unverified:
                raise ApiError(423, 423.1, "Ephemeral key requires secondary authentication")
            account.keys.append(_raw(key))
        return web.json_response(self._chain(account, key))

    async def _cert_verify(self, request: web.Request) -> web.Response:
        account = self._bearer(request)
        method = request.query.get("method", "EMAIL")
        if method not in VERIFY_METHODS:
            raise ApiError(400, 400.4, f"Unsupported verification method {method}")
        key = _load_ed25519((await self._json(request)).get("ephemeralKey"), "ephemeralKey")
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._codes.setdefault(account.id, []).append(code)
        self._pending[account.id] = (_raw(key), code)
        line = f"Second-factor code for {account.email}: {code} (sent by {method})"
        _LOGGER.info("%s", line)
        self._log(line)
        if self.verify_reply_json:
            return web.json_response({"method": method})
        return web.Response(status=204)

    async def _cert_check(self, request: web.Request) -> web.Response:
        account = self._bearer(request)
        data = await self._json(request)
        pending = self._pending.get(account.id)
        if pending is None:
            raise ApiError(400, 400.5, "No verification in progress")
        raw, code = pending
        key = Ed25519PublicKey.from_public_bytes(raw)
        try:
            key.verify(
                base64.b64decode(str(data.get("verificationSignature")), validate=True),
                code.encode(),
            )
        except (InvalidSignature, ValueError, binascii.Error) as err:
            raise ApiError(401, 401.7, "Verification signature does not match the code") from err
        del self._pending[account.id]
        if raw in account.unverified:
            account.unverified.remove(raw)
        if raw not in account.keys:
            account.keys.append(raw)
        return web.json_response(self._chain(account, key))

    # ------------------------------------------------------------------ sites & devices
    async def _sites(self, request: web.Request) -> web.Response:
        account, now = self._bearer(request), self.now()
        visible = {
            lock.site_id
            for lock in self.locks.values()
            if (s := lock.users.get(account.id)) and s.active(now)
        }
        return web.json_response(
            [
                {
                    "id": site.id,
                    "name": site.name,
                    "colour": "#2196F3",
                    "longitude": 0.0,
                    "latitude": 0.0,
                    "radius": 100,
                    "created": 0,
                    "updated": 0,
                }
                for site in self.sites.values()
                if site.id in visible
            ]
        )

    async def _site_devices(self, request: web.Request) -> web.Response:
        account, now = self._bearer(request), self.now()
        site_id = request.match_info["site_id"]
        if site_id not in self.sites:
            raise ApiError(404, 404.2, "Site not found")
        result = []
        for lock in self.locks.values():
            share = lock.users.get(account.id)
            if lock.site_id == site_id and share and share.active(now):
                result.append(
                    {
                        "id": lock.id,
                        "name": lock.name,
                        "colour": "#2196F3",
                        "role": share.role,
                        "start": share.start,
                        "end": share.end,
                        "settings": {
                            "unlockTime": float(lock.unlock_time),
                            "defaultName": lock.name,
                            "permittedAddresses": [],
                            "usageRequirements": {},
                            "tiles": [],
                        },
                        "state": {"connected": lock.connected},
                    }
                )
        return web.json_response(result)

    async def _device(self, request: web.Request) -> web.Response:
        lock, share = self._lock_for(self._bearer(request), request.match_info["lock_id"])
        state: dict[str, bool] = {"connected": lock.connected}
        if lock.reports_locked:
            state["locked"] = lock.locked
        capability = "SUPPORTED" if lock.batch_sharing else "UNSUPPORTED"
        return web.json_response(
            {
                "id": lock.id,
                "name": lock.name,
                "colour": "#2196F3",
                "role": share.role,
                "start": share.start,
                "end": share.end,
                "favourite": False,
                "settings": {
                    "unlockTime": float(lock.unlock_time),
                    "defaultName": lock.name,
                    "permittedAddresses": [],
                    "usageRequirements": {},
                    "tiles": [],
                    "hidden": False,
                    "directAccessEndpoints": [],
                    "capabilities": {
                        "BATCH_SHARING_25": capability,
                        "CONFIGURABLE_UNLOCK_TIME": "SUPPORTED",
                    },
                },
                "state": state,
            }
        )

    # ------------------------------------------------------------------ signed operations
    def _verify_jwt(self, token: str, account: SimAccount, lock: SimLock) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise ApiError(400, 400.3, "Malformed JWT: expected header.payload.signature")
        try:
            header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        except (ValueError, binascii.Error) as err:
            raise ApiError(400, 400.3, "Malformed JWT: header/payload are not JSON") from err
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ApiError(400, 400.3, "Malformed JWT: header/payload must be objects")
        if header.get("alg") != "EdDSA":
            raise ApiError(400, 400.6, "JWT header alg must be EdDSA")
        if header.get("typ") != "JWT":
            raise ApiError(400, 400.7, "JWT header typ must be JWT")
        x5c = header.get("x5c")
        if not isinstance(x5c, list) or not 2 <= len(x5c) <= 3:
            raise ApiError(400, 400.8, "JWT header x5c must be the certificate chain")
        try:
            certs = [
                x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c
            ]
        except (ValueError, TypeError, binascii.Error) as err:
            raise ApiError(400, 400.8, "x5c entries must be base64 DER certificates") from err
        leaf, now = certs[0], self.now() + lock.clock_offset
        if certs[1:] != [self.intermediate, self.root][: len(certs) - 1]:
            raise ApiError(401, 401.8, "x5c chain does not lead to the Doordeck intermediate")
        try:
            leaf.verify_directly_issued_by(self.intermediate)
        except (ValueError, TypeError, InvalidSignature) as err:
            raise ApiError(401, 401.8, "x5c leaf was not issued by Doordeck") from err
        if now > leaf.not_valid_after_utc.timestamp():
            raise ApiError(401, 401.9, "x5c leaf certificate is expired")
        if now + SKEW < leaf.not_valid_before_utc.timestamp():
            raise self._clock_refused(
                400.29, "x5c leaf certificate is not yet valid (check the clock)"
            )
        key = leaf.public_key()
        if isinstance(key, Ed25519PublicKey) and _raw(key) in account.unverified:
            raise ApiError(423, 423.2, SECOND_FACTOR_MESSAGE)
        if not isinstance(key, Ed25519PublicKey) or _raw(key) not in account.keys:
            raise ApiError(401, 401.10, "x5c leaf key is not a registered key of this user")
        try:
            key.verify(_b64url(parts[2]), f"{parts[0]}.{parts[1]}".encode())
        except InvalidSignature as err:
            raise ApiError(401, 401.11, "JWT signature is invalid") from err
        return self._check_claims(claims, account, lock, now)

    def _check_claims(
        self, claims: dict[str, Any], account: SimAccount, lock: SimLock, now: float
    ) -> dict[str, Any]:
        if claims.get("iss") != account.id:
            raise ApiError(403, 403.2, "JWT iss must be the user's id")
        if claims.get("sub") != lock.id:
            raise ApiError(400, 400.9, "JWT sub must be the lock's id")
        for name in ("nbf", "iat", "exp"):
            if not _number(claims.get(name)):
                raise ApiError(400, 400.10, f"JWT {name} is missing or not a number")
        if claims["nbf"] > now + SKEW:
            raise self._clock_refused(400.11, "JWT nbf is in the future (check the clock)")
        if claims["iat"] > now + SKEW:
            raise self._clock_refused(400.12, "JWT iat is in the future (check the clock)")
        if claims["exp"] <= now:
            raise self._clock_refused(400.13, "JWT has expired (check the clock)")
        jti = claims.get("jti")
        if jti is not None and not isinstance(jti, str):
            raise ApiError(400, 400.14, "JWT jti must be a string")
        if jti in self.used_jtis:
            raise ApiError(409, 409.1, "JWT jti was already used")
        if jti is not None:
            self.used_jtis.add(jti)
        return claims

    def _clock_refused(self, code: float, message: str) -> ApiError:
        """The refusal of a time window: 400 ``code`` ``message``, or ``clock_refusal``'s."""
        shape = self.clock_refusal
        if shape is None:
            return ApiError(400, code, message)
        return ApiError(shape.status, shape.code, shape.message)

    def _share_entry(self, entry: Any) -> tuple[str, SimShare]:
        if not isinstance(entry, dict):
            raise ApiError(400, 400.15, "User entry must be an object")
        account = self.accounts.get(str(entry.get("user")))
        if account is None:
            raise ApiError(400, 400.16, f"Unknown user {entry.get('user')}")
        if _raw(_load_ed25519(entry.get("publicKey"), "publicKey")) != account.public_key_raw:
            raise ApiError(400, 400.17, f"publicKey does not match user {account.id}")
        role = entry.get("role") or "USER"
        start, end = entry.get("start"), entry.get("end")
        if role not in ROLES:
            raise ApiError(400, 400.18, "role must be ADMIN or USER")
        if any(v is not None and not _number(v) for v in (start, end)):
            raise ApiError(400, 400.19, "start/end must be Unix timestamps or null")
        if start is not None and end is not None and end <= start:
            raise ApiError(400, 400.19, "end must be after start")
        return account.id, SimShare(role, start, end)

    def _prepare(self, op: Any, share: SimShare, lock: SimLock) -> Callable[[], None]:
        """Validate an operation, returning the function that applies it."""
        kind = op.get("type") if isinstance(op, dict) else None
        if not isinstance(op, dict) or kind not in (
            "MUTATE_LOCK",
            "ADD_USER",
            "BATCH_ADD_USER",
            "REMOVE_USER",
        ):
            raise ApiError(400, 400.20, "operation.type is missing or unsupported")
        if kind != "MUTATE_LOCK" and share.role != "ADMIN":
            raise ApiError(403, 403.3, f"{kind} requires the ADMIN role")
        if kind == "MUTATE_LOCK":
            locked = op.get("locked")
            if not isinstance(locked, bool):
                raise ApiError(400, 400.21, "operation.locked must be a boolean")
            return lambda: setattr(lock, "locked", locked)
        if kind == "REMOVE_USER":
            ids = op.get("users")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                raise ApiError(400, 400.22, "operation.users must be a list of user ids")

            def remove() -> None:
                for uid in ids:
                    lock.users.pop(uid, None)

            return remove
        if kind == "ADD_USER":
            entries = [self._share_entry(op)]
        else:
            if not lock.batch_sharing:
                raise ApiError(400, 400.23, "Lock does not support BATCH_SHARING_25")
            users = op.get("users")
            if not isinstance(users, list) or not 1 <= len(users) <= MAX_BATCH:
                raise ApiError(400, 400.24, f"operation.users must hold 1 to {MAX_BATCH} users")
            entries = [self._share_entry(u) for u in users]
            if len({uid for uid, _ in entries}) != len(entries):
                raise ApiError(400, 400.25, "operation.users lists a user twice")
        return lambda: lock.users.update(entries)

    async def _execute(self, request: web.Request) -> web.Response:
        account = self._bearer(request)
        # Counted before anything else is checked; a refused JWT is not consumed (jti unused).
        self._admit_operation(account, self.locks.get(request.match_info["lock_id"]))
        lock, share = self._lock_for(account, request.match_info["lock_id"])
        if request.content_type != "application/jwt":
            raise ApiError(400, 400.26, "content-type must be application/jwt")
        claims = self._verify_jwt((await request.text()).strip(), account, lock)
        op = claims.get("operation")
        apply = self._prepare(op, share, lock)
        assert isinstance(op, dict)
        now = self.now()
        record = SimOperation(
            op["type"], op, account.id, claims.get("jti"), "applied", True, now, self._op_seq + 1
        )
        if lock.fault == "queued":
            record.status, record.applied = "queued", False
            self._record(lock, record)
            return web.Response(status=202)
        if not lock.connected:
            raise ApiError(*_FAULTS["offline"])
        if lock.fault is not None:
            raise ApiError(*_FAULTS[lock.fault])
        apply()
        audit_operation(self, lock, account, op)
        queued = (
            claims["exp"] - claims["iat"] > IMMEDIATE_WINDOW
            or claims["exp"] - (now + lock.clock_offset) > IMMEDIATE_WINDOW + SKEW
        )
        if queued:
            record.status = "queued"
        self._record(lock, record)
        return web.Response(status=202 if queued else 204)

    def _record(self, lock: SimLock, record: SimOperation) -> None:
        self._op_seq = record.seq
        lock.operations.append(record)

    # ------------------------------------------------------------------ directory
    async def _directory(self, request: web.Request) -> web.Response:
        self._bearer(request)
        data = await self._json(request)
        given = [k for k in DIRECTORY_KEYS if data.get(k) is not None]
        if len(given) != 1 or not isinstance(data[given[0]], str):
            raise ApiError(400, 400.27, f"Query needs exactly one of {', '.join(DIRECTORY_KEYS)}")
        key, value = given[0], data[given[0]]
        attrs: dict[str, Callable[[SimAccount], str | None]] = {
            "email": lambda a: a.email.lower(),
            "telephone": lambda a: a.telephone,
            "localKey": lambda a: a.id,
            "foreignKey": lambda a: a.foreign_key,
            "identity": lambda a: a.identity,
        }
        wanted = value.lower() if key == "email" else value
        account = next((a for a in self.accounts.values() if attrs[key](a) == wanted), None)
        if account is None:
            raise ApiError(404, 404.3, "User not found")
        return web.json_response({"id": account.id, "publicKey": account.public_key_b64})

    async def _invite(self, request: web.Request) -> web.Response:
        self._bearer(request)
        email = request.match_info["email"]
        if "@" not in email:
            raise ApiError(400, 400.28, "Invalid email address")
        account = self._by_email(email) or self.add_account(email, secrets.token_urlsafe(16))
        return web.json_response({"id": account.id, "publicKey": account.public_key_b64})


# ---------------------------------------------------------------------- CLI
def demo(
    sim: DoordeckSimulator, accounts: list[str], locks: int, second_factor: bool = False
) -> list[SimLock]:
    """A demo site with ``locks`` locks administered by every ``email:password`` account.

    Lock 1 reports its locked state; lock 2 (if any) lacks BATCH_SHARING_25.
    """
    users = []
    for spec in accounts:
        email, _, password = spec.partition(":")
        users.append(sim.add_account(email, password, second_factor=second_factor))
    site = sim.add_site("Demo site")
    return [
        sim.add_lock(
            site.id,
            f"Demo lock {i + 1}",
            reports_locked=i == 0,
            batch_sharing=i != 1,
            access={u.id: "ADMIN" for u in users},
        )
        for i in range(locks)
    ]


def office_account(sim: DoordeckSimulator) -> SimAccount:
    """The built-in account that asks for a second factor, with its site "Office" and lock."""
    office = sim.add_account(*OFFICE_ACCOUNT, second_factor=True)
    site = sim.add_site("Office")
    sim.add_lock(site.id, OFFICE_LOCK, reports_locked=True, access={office.id: "ADMIN"})
    return office


async def _serve(args: argparse.Namespace) -> None:
    sim = DoordeckSimulator(
        leaf_ttl=args.leaf_ttl,
        auth_token_ttl=args.auth_token_ttl,
        clock_offset=args.clock_offset,
        rate_limit=args.rate_limit,
        request_rate_limit=args.request_rate_limit,
        log_path=args.log,
    )
    if args.fail_time is not None:
        sim.fail_time, sim.fail_time_status = True, args.fail_time
    sim.clock_refusal = CLOCK_REFUSALS[args.clock_refusal]
    locks = demo(sim, args.account or [DEMO_ACCOUNT], args.locks, args.second_factor)
    guest = sim.add_account(*GUEST_ACCOUNT)
    office = office_account(sim)
    await sim.start(args.host, args.port)
    print(
        json.dumps({"url": sim.url, "locks": {lk.id: lk.name for lk in locks}, "guest": guest.id}),
        flush=True,
    )
    emails = ", ".join(a.email for a in sim.accounts.values() if a not in (guest, office))
    _LOGGER.info("Doordeck simulator on %s; accounts: %s", sim.url, emails)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


EPILOG = f"""\
built-in accounts:
  {DEMO_ACCOUNT.replace(":", "  password: ", 1)}
      (only when no --account is given) administers every demo lock
  {GUEST_ACCOUNT[0]}  password: {GUEST_ACCOUNT[1]}
      has no lock; share one with it to try sharing
  {OFFICE_ACCOUNT[0]}  password: {OFFICE_ACCOUNT[1]}
      always asks for a second factor (see below) and administers its own
      lock "{OFFICE_LOCK}" (site "Office"): sign in with it to try the second factor

The demo site holds --locks locks: lock 1 reports its locked state, lock 2 lacks
BATCH_SHARING_25 (one ADD_USER per user). On start the simulator prints one JSON line
on stdout: {{"url": ..., "locks": {{id: name}}, "guest": <guest user id>}}.

A second factor: registering a signing key answers 423, and the code the client then
asks for (POST /auth/certificate/verify) is logged on stderr and in --log, as
"Second-factor code for {OFFICE_ACCOUNT[0]}: 123456". {OFFICE_ACCOUNT[0]} always
needs one; with --second-factor, every account does.

example:
  python -m simulators.doordeck --port 8182 --second-factor --log .develop/doordeck-requests.log
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m simulators.doordeck``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.doordeck",
        description="Doordeck cloud API simulator (the vendor's side, on plain HTTP): accounts,\n"
        "a demo site with locks, key certificates, signed lock operations and sharing.\n"
        "In the integration's sign-in form, open the 'Server' section and enter the printed url.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=int, default=8182, help="port, 0 for any free one (default: %(default)s)")
    add(
        "--account",
        action="append",
        metavar="EMAIL:PASSWORD",
        help=f"an account administering every demo lock; repeatable (default: {DEMO_ACCOUNT})",
    )
    add("--locks", type=int, default=3, help="demo locks on the demo site (default: %(default)s)")
    add(
        "--second-factor",
        action="store_true",
        help="the accounts need a second factor (code logged) to register a signing key",
    )
    add(
        "--leaf-ttl",
        type=float,
        default=30 * 86400,
        metavar="SECONDS",
        help="lifetime of the key certificates issued (default: %(default)s = 30 days)",
    )
    add(
        "--auth-token-ttl",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="lifetime of auth tokens; refresh tokens last 30 days (default: %(default)s)",
    )
    add(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds added to this host's clock for the server's clock (GET /time, token and "
        "JWT time checks); e.g. -120 for a server 2 minutes behind (default: %(default)s)",
    )
    add(
        "--clock-refusal",
        choices=list(CLOCK_REFUSALS),
        default="claims",
        help="how an operation's refused time window is answered: 'claims' 400 with 400.11 (nbf), "
        "400.12 (iat), 400.13 (exp), 400.29 (certificate); '401' 401 'jwt rejected: outside its "
        "validity window'; '400' 400 400.6 'Operation rejected' (default: %(default)s)",
    )
    add(
        "--rate-limit",
        type=parse_rate_limit,
        default=DEFAULT_RATE_LIMIT,
        metavar="N/SECONDS",
        help="signed operations (/device/{id}/execute) allowed per account in any window of "
        "SECONDS, else 429 with Retry-After; 'off' to disable (default: 10/1)",
    )
    add(
        "--request-rate-limit",
        type=parse_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="the same for every request (per account, or per address before sign-in) "
        "(default: off)",
    )
    add(
        "--fail-time",
        type=int,
        nargs="?",
        const=500,
        default=None,
        metavar="STATUS",
        help="GET /time fails with STATUS (404 or 500; 500 when STATUS is left out)",
    )
    add(
        "--log",
        metavar="FILE",
        help="append one line per request (time, method, path, status, error code and message; "
        "never tokens, passwords or bodies) and each second-factor code sent",
    )
    add("--verbose", action="store_true", help="also log every request on stderr")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.verbose:  # request lines are DEBUG records of this module only
        _LOGGER.setLevel(logging.DEBUG)
    asyncio.run(_serve(args))


# ---------------------------------------------------------------------- the audit trail
# ``GET /device/{id}/log?start=<epoch s>&end=<epoch s>`` (Accept: the v2 media type) →
# ``[{"timestamp", "type", "user", "email", "displayName", "message"}]``, newest first.
#
# Choices where the notes are silent:
# - Only the lock's administrators read it (403.4 otherwise); another Accept than v2 → 406.1.
# - ``start`` and ``end`` are required whole seconds (400.30), ``end`` not before ``start``
#   and at most 31 days after it (400.31); entries from ``start`` to ``end`` inclusive.
# - An answer holds at most ``audit_page_size`` entries (the newest of the window): a client
#   pages back by asking again with an earlier ``end``.
# - ``timestamp`` is seconds since 1970 (with milliseconds); ``displayName`` is the part of
#   the email before the @; ``user``, ``email`` and ``displayName`` are null for what the lock
#   reports itself (``add_audit_entry`` without a user).
# - Operations are logged when applied: MUTATE_LOCK as DOOR_LOCK or DOOR_UNLOCK, each user
#   shared with as LOCK_SHARED, each user revoked as LOCK_REVOKED.
AUDIT_PAGE_SIZE = 50
AUDIT_MAX_WINDOW = 31 * 86400
AUDIT_TYPES = (
    "DOOR_OPEN",
    "DOOR_CLOSE",
    "DOOR_UNLOCK",
    "DOOR_LOCK",
    "OWNER_ASSIGNED",
    "DEVICE_CONNECTED",
    "DEVICE_DISCONNECTED",
    "LOCK_SHARED",
    "LOCK_REVOKED",
    "USER_PROMOTED",
    "USER_DEMOTED",
    "SETTING_CHANGED",
    "TILE_ASSOCIATED",
    "TILE_DISASSOCIATED",
    "DEVICE_DECOMMISSIONED",
)
ACCEPT_AUDIT = "application/vnd.doordeck.api-v2+json"


@dataclass(frozen=True)
class AuditRecord:
    """One entry of a lock's audit trail."""

    timestamp: float
    type: str
    user: str | None = None
    email: str | None = None
    display_name: str | None = None
    message: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "type": self.type,
            "user": self.user,
            "email": self.email,
            "displayName": self.display_name,
            "message": self.message,
        }


def add_audit_entry(
    sim: DoordeckSimulator,
    lock_id: str,
    kind: str,
    *,
    user: SimAccount | None = None,
    at: float | None = None,
    message: str | None = None,
) -> AuditRecord:
    """Log something in a lock's audit trail (``at``: the simulator's time, default now)."""
    if kind not in AUDIT_TYPES:
        raise ValueError(f"audit entry types are {', '.join(AUDIT_TYPES)}, not {kind!r}")
    lock = sim.locks[lock_id]
    name = None if user is None else user.email.split("@")[0]
    record = AuditRecord(
        timestamp=round(sim.now() if at is None else at, 3),
        type=kind,
        user=None if user is None else user.id,
        email=None if user is None else user.email,
        display_name=name,
        message=message or f"{kind.replace('_', ' ').capitalize()} ({name or lock.name})",
    )
    trail = sim.audit.setdefault(lock_id, [])
    trail.append(record)
    trail.sort(key=lambda entry: entry.timestamp)
    return record


def audit_operation(
    sim: DoordeckSimulator, lock: SimLock, account: SimAccount, operation: dict[str, Any]
) -> None:
    """Log a signed operation that was applied."""
    kind = operation.get("type")
    if kind == "MUTATE_LOCK":
        add_audit_entry(
            sim, lock.id, "DOOR_LOCK" if operation.get("locked") else "DOOR_UNLOCK", user=account
        )
        return
    if kind == "REMOVE_USER":
        users = [str(user) for user in operation.get("users", [])]
        entry_type = "LOCK_REVOKED"
    elif kind == "ADD_USER":
        users, entry_type = [str(operation.get("user"))], "LOCK_SHARED"
    else:
        users = [str(item.get("user")) for item in operation.get("users", [])]
        entry_type = "LOCK_SHARED"
    for user in users:
        other = sim.accounts.get(user)
        target = other.email.split("@")[0] if other is not None else user
        add_audit_entry(sim, lock.id, entry_type, user=account, message=f"{entry_type}: {target}")


async def audit_trail(sim: DoordeckSimulator, request: web.Request) -> web.Response:
    """``GET /device/{id}/log``."""
    lock, share = sim._lock_for(sim._bearer(request), request.match_info["lock_id"])
    if share.role != "ADMIN":
        raise ApiError(403, 403.4, "Only the lock's administrators read its audit trail")
    if request.headers.get("Accept") != ACCEPT_AUDIT:
        raise ApiError(406, 406.1, f"The audit trail is served as {ACCEPT_AUDIT}")
    try:
        start, end = int(request.query["start"]), int(request.query["end"])
    except (KeyError, ValueError) as err:
        raise ApiError(400, 400.30, "start and end must be epoch seconds") from err
    if end < start or end - start > AUDIT_MAX_WINDOW:
        raise ApiError(400, 400.31, "end must be after start, at most 31 days later")
    window = [entry for entry in sim.audit.get(lock.id, []) if start <= entry.timestamp < end + 1]
    newest = list(reversed(window))[: sim.audit_page_size]
    return web.json_response([entry.as_json() for entry in newest])


if __name__ == "__main__":
    main()
