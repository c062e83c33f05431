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
  every other failure is recorded for its users and sharing goes on.

Tokens, keys, certificate chains and verification codes are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import json
import logging
import math
import time
from typing import Any, ClassVar, Final, TypeGuard
from urllib.parse import quote
import uuid

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import jwt

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
DEFAULT_UNLOCK_TIME: Final = 5.0


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

    def __init__(self, status: int, code: float | None = None, message: str | None = None) -> None:
        """Keep the status, the vendor's error code and its message."""
        self.status = status
        self.code = code
        self.message = message
        detail = f"HTTP {status}"
        if code is not None:
            detail += f", code {code:g}"
        if message:
            detail += f": {message}"
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
    """429: too many requests."""

    meaning = "Doordeck is rate limiting this account; too many requests"


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
    """What happened when sharing with one user; ``error`` is set when it failed."""

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

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise DoordeckMalformedReplyError(
                f"Doordeck answered HTTP {self.status} without the expected JSON object"
            )
        return self.body


class DoordeckClient:
    """Talks to the Doordeck cloud for one account."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: DoordeckCredentials | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        on_tokens_changed: Callable[[DoordeckTokens], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Set up the client, optionally resuming from stored credentials."""
        creds = credentials or DoordeckCredentials()
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._on_tokens_changed = on_tokens_changed
        self._clock = clock
        self._tokens = creds.tokens
        self._user_id = creds.user_id
        self._key = _load_key(creds.private_key)
        self._pending_key = _load_key(creds.pending_private_key)
        self._chain: tuple[str, ...] = ()
        self._expiry: datetime | None = None
        if self._key is not None and creds.certificate_chain:
            try:
                self._expiry = _leaf_expiry(creds.certificate_chain)
                self._chain = creds.certificate_chain
            except DoordeckMalformedReplyError:
                _LOGGER.warning("Stored Doordeck certificate chain is unreadable; renew the key")
        self._time_offset = 0.0
        self._time_measured_at: float | None = None
        self._refresh_lock = asyncio.Lock()

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
        return self._expiry - (now or datetime.now(UTC)) <= KEY_RENEWAL_MARGIN

    # -- authentication -----------------------------------------------------------------

    async def login(self, email: str, password: str) -> DoordeckTokens:
        """Sign in with email and password."""
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
        """Measure the offset between Doordeck's clock and ours (``GET /time``)."""
        before = self._clock()
        reply = await self._send("GET", "/time", {"Accept": ACCEPT_JSON})
        after = self._clock()
        _raise_for_status(reply)
        now_ms = reply.obj().get("now")
        if not _is_number(now_ms):
            raise DoordeckMalformedReplyError("Doordeck's time reply has no numeric 'now'")
        self._time_offset = now_ms / 1000 - (before + after) / 2
        self._time_measured_at = after
        return self._time_offset

    async def server_now(self) -> float:
        """Doordeck's current time (Unix seconds), re-measured when 15 minutes old."""
        measured = self._time_measured_at
        if measured is None or abs(self._clock() - measured) > TIME_OFFSET_MAX_AGE:
            await self.sync_time()
        return self._clock() + self._time_offset

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

    async def lock(self, lock_id: str) -> OperationResult:
        """Lock a lock."""
        return await self._execute(lock_id, {"type": "MUTATE_LOCK", "locked": True})

    async def unlock(self, lock_id: str) -> OperationResult:
        """Unlock a lock (it locks again by itself after its unlock time)."""
        return await self._execute(lock_id, {"type": "MUTATE_LOCK", "locked": False})

    async def share(self, lock: DoordeckLock, users: Sequence[ShareUser]) -> list[ShareOutcome]:
        """Share a lock; 25 users per request where the lock supports it, else one by one."""
        size = BATCH_LIMIT if lock.batch_sharing else 1
        outcomes: list[ShareOutcome] = []
        stop: DoordeckError | None = None
        for index in range(0, len(users), size):
            group = users[index : index + size]
            error = stop
            if stop is None:
                operation = (
                    {"type": "BATCH_ADD_USER", "users": [_share_entry(u) for u in group]}
                    if lock.batch_sharing
                    else {"type": "ADD_USER", **_share_entry(group[0])}
                )
                try:
                    result = await self._execute(lock.id, operation)
                except DoordeckError as err:
                    error = err
                    if isinstance(err, DoordeckAuthenticationError | DoordeckKeyNotRegisteredError):
                        stop = err
                else:
                    status = ShareStatus(result.value)
                    outcomes.extend(ShareOutcome(u.user_id, status) for u in group)
                    continue
            outcomes.extend(ShareOutcome(u.user_id, ShareStatus.FAILED, error) for u in group)
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
        key, chain, user_id = self._key, self._chain, self._user_id
        if key is None or not chain or user_id is None or self._expiry is None:
            raise DoordeckKeyNotRegisteredError("No signing key is registered with Doordeck yet")
        if self._expiry <= datetime.now(UTC):
            raise DoordeckKeyNotRegisteredError("The signing key's certificate has expired")

        async def make_jwt() -> str:  # a fresh jti on every attempt: a re-sent JWT is a replay
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

        _LOGGER.debug("Sending %s to lock %s", operation.get("type"), lock_id)
        reply = await self._call(
            "POST",
            f"/device/{quote(lock_id, safe='')}/execute",
            make_jwt=make_jwt,
            errors=_LOCK_ERRORS,
        )
        return OperationResult.QUEUED if reply.status == 202 else OperationResult.DONE

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
    ) -> _Reply:
        """Send an authenticated request; on 401 refresh the tokens and send it once more.

        ``errors`` maps statuses to this endpoint's exceptions (a 401 that survives the
        refresh is then the endpoint's own refusal, e.g. a wrong verification code).
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
        if reply.status == 401:
            async with self._refresh_lock:
                if self._tokens is tokens:  # nobody refreshed them meanwhile
                    await self.refresh_tokens()
            reply = await attempt(self._require_tokens())
        _raise_for_status(reply, errors)
        return reply

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        json_body: Any = None,
        data: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> _Reply:
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                headers=headers,
                json=json_body,
                data=data,
                params=params,
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as err:
            raise DoordeckTimeoutError(f"Doordeck did not answer {method} {path} in time") from err
        except aiohttp.ClientError as err:
            raise DoordeckConnectionError(f"Cannot reach Doordeck: {err}") from err
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        _LOGGER.debug("%s %s -> %s", method, path, status)
        return _Reply(status, body, text)

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
        data = reply.obj()
        chain = data.get("certificateChain")
        if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
            raise DoordeckMalformedReplyError("Doordeck's reply has no certificate chain")
        user_id = _req_str(data, "userId")
        self._expiry = _leaf_expiry(chain)
        self._key, self._chain, self._user_id = key, tuple(chain), user_id
        self._pending_key = None


def _raise_for_status(reply: _Reply, errors: _ErrorMap | None = None) -> None:
    if 200 <= reply.status < 300:
        return
    cls = (errors or {}).get(reply.status) or _STATUS_ERRORS.get(reply.status, DoordeckApiError)
    raise cls(reply.status, *_vendor_error(reply))


def _vendor_error(reply: _Reply) -> tuple[float | None, str | None]:
    """The vendor's ``{"code": 404.12, "message": "..."}``, or the reply text."""
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
    return None, reply.text.strip()[:200] or None


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


def _leaf_expiry(chain: Sequence[str]) -> datetime:
    """``notAfter`` of the leaf (first) certificate of a non-empty chain of DER certificates."""
    try:
        certificates = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in chain]
    except (ValueError, binascii.Error) as err:
        raise DoordeckMalformedReplyError("Doordeck's certificate chain is unreadable") from err
    return certificates[0].not_valid_after_utc


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
