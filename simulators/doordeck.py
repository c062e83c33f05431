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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
import datetime as dt
import json
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

Fault = Literal["offline", "slow", "rate_limit", "pending", "queued"]
_FAULTS: dict[str, tuple[int, float, str]] = {
    "offline": (503, 503.1, "Lock is offline"),
    "slow": (504, 504.1, "Lock did not respond in time"),
    "rate_limit": (429, 429.2, "Too many operations for this lock"),
    "pending": (425, 425.1, "An earlier operation is still pending"),
}


class ApiError(Exception):
    """An error reply ``{"code": <float>, "message": ...}``."""

    def __init__(self, status: int, code: float, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SimRequest(NamedTuple):
    method: str
    path: str
    status: int
    query: str
    headers: dict[str, str]
    body: bytes


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
    operations: list[SimOperation] = field(default_factory=list)
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


class DoordeckSimulator:
    """In-process Doordeck cloud: accounts, sites, locks, key certificates, signed operations."""

    def __init__(
        self,
        *,
        leaf_ttl: float = 30 * 86400,
        auth_token_ttl: float = 3600,
        clock_offset: float = 0.0,
    ) -> None:
        self.leaf_ttl, self.auth_token_ttl = leaf_ttl, auth_token_ttl
        self.clock_offset = clock_offset
        self.refresh_token_ttl = 30 * 86400.0
        self.accounts: dict[str, SimAccount] = {}
        self.sites: dict[str, SimSite] = {}
        self.locks: dict[str, SimLock] = {}
        self.requests: list[SimRequest] = []
        self.used_jtis: set[str] = set()
        self.rate_limited = False
        self.verify_reply_json = False
        self.url = ""
        self._codes: dict[str, list[str]] = {}  # user id -> codes sent
        self._pending: dict[str, tuple[bytes, str]] = {}  # user id -> (raw key, code)
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
        """Simulator clock (epoch seconds)."""
        return time.time() + self.clock_offset

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
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        try:
            if self.rate_limited:
                raise ApiError(429, 429.1, "Rate limit exceeded")
            response: web.StreamResponse = await handler(request)
        except ApiError as err:
            response = web.json_response(
                {"code": err.code, "message": err.message}, status=err.status
            )
            if err.status == 429:
                response.headers["Retry-After"] = "1"
        except web.HTTPException as err:  # router 404 / 405
            response = web.json_response(
                {"code": float(err.status), "message": err.reason}, status=err.status
            )
        self.requests.append(
            SimRequest(
                request.method,
                request.path,
                response.status,
                request.query_string,
                dict(request.headers),
                body,
            )
        )
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
            if account.second_factor:
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
        leaf, now = certs[0], self.now()
        if certs[1:] != [self.intermediate, self.root][: len(certs) - 1]:
            raise ApiError(401, 401.8, "x5c chain does not lead to the Doordeck intermediate")
        try:
            leaf.verify_directly_issued_by(self.intermediate)
        except (ValueError, TypeError, InvalidSignature) as err:
            raise ApiError(401, 401.8, "x5c leaf was not issued by Doordeck") from err
        if not leaf.not_valid_before_utc.timestamp() <= now <= leaf.not_valid_after_utc.timestamp():
            raise ApiError(401, 401.9, "x5c leaf certificate is expired or not yet valid")
        key = leaf.public_key()
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
            raise ApiError(400, 400.11, "JWT nbf is in the future (check the clock)")
        if claims["iat"] > now + SKEW:
            raise ApiError(400, 400.12, "JWT iat is in the future (check the clock)")
        if claims["exp"] <= now:
            raise ApiError(400, 400.13, "JWT has expired (check the clock)")
        jti = claims.get("jti")
        if jti is not None and not isinstance(jti, str):
            raise ApiError(400, 400.14, "JWT jti must be a string")
        if jti in self.used_jtis:
            raise ApiError(409, 409.1, "JWT jti was already used")
        if jti is not None:
            self.used_jtis.add(jti)
        return claims

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
        lock, share = self._lock_for(account, request.match_info["lock_id"])
        if request.content_type != "application/jwt":
            raise ApiError(400, 400.26, "content-type must be application/jwt")
        claims = self._verify_jwt((await request.text()).strip(), account, lock)
        op = claims.get("operation")
        apply = self._prepare(op, share, lock)
        assert isinstance(op, dict)
        now = self.now()
        record = SimOperation(op["type"], op, account.id, claims.get("jti"), "applied", True)
        if lock.fault == "queued":
            record.status, record.applied = "queued", False
            lock.operations.append(record)
            return web.Response(status=202)
        if not lock.connected:
            raise ApiError(*_FAULTS["offline"])
        if lock.fault is not None:
            raise ApiError(*_FAULTS[lock.fault])
        apply()
        queued = (
            claims["exp"] - claims["iat"] > IMMEDIATE_WINDOW
            or claims["exp"] - now > IMMEDIATE_WINDOW + SKEW
        )
        if queued:
            record.status = "queued"
        lock.operations.append(record)
        return web.Response(status=202 if queued else 204)

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


async def _serve(args: argparse.Namespace) -> None:
    sim = DoordeckSimulator(leaf_ttl=args.leaf_ttl, clock_offset=args.clock_offset)
    locks = demo(sim, args.account or ["demo@example.com:password"], args.locks, args.second_factor)
    guest = sim.add_account("guest@example.com", "guest")
    await sim.start(args.host, args.port)
    print(
        json.dumps({"url": sim.url, "locks": {lk.id: lk.name for lk in locks}, "guest": guest.id}),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Doordeck cloud API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8182)
    parser.add_argument("--account", action="append", help="email:password (repeatable)")
    parser.add_argument("--locks", type=int, default=3)
    parser.add_argument("--second-factor", action="store_true")
    parser.add_argument("--leaf-ttl", type=float, default=30 * 86400)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
