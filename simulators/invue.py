"""Simulator of the InVue LIVE Lock provisioning API (the vendor's side), from the seed pages alone.

Run it by hand with ``python -m simulators.invue`` (``--help`` lists the built-in account).

The API (``/v1/dlock``) turns a lock's enrolment code into a *Key Certificate*: compact JSON
``{"type","issuer","valid","expires","data","key","signature"}`` (keys in that order, written with
``json.dumps(..., separators=(",", ":"))``), sent either as that JSON object or base64-encoded.

Choices made where the pages leave them open:

- ``key`` is 256 bytes derived from the serial number and enrolment code (SHAKE-256 keyed with a
  per-simulator secret); ``valid``/``expires`` are 0 (no bound) unless :attr:`key_valid` /
  :attr:`key_expires` say otherwise (epoch seconds); ``data`` is ``{}``.
- ``signature`` is RSA PKCS#1 v1.5 / SHA-256 by the owner's Customer Intermediate Certificate key
  over :func:`canonical_signed_bytes`: the UTF-8 compact JSON of ``type, valid, expires, data,
  key`` in that order (``issuer`` and ``signature`` left out). ``issuer`` is left out because the
  seed's two response forms carry different issuers ("wingman" base64, "customer" JSON) for one
  signature; the simulator does the same (:attr:`issuer_base64`, :attr:`issuer_json`).
- Error bodies are ``{"status": <code>, "msg": <text>}``, the shape of the seed's success envelope.
- A serial number is registered once, across owners: the same owner enrolling again gets
  :attr:`duplicate_status` (400; the page does not say, 409 Conflict is as plausible), another
  owner gets 403 on POST; GET/DELETE of a lock registered to someone else answer 404 ("The
  lock was not registered to the owner of the API key").
- A request without ``base64`` gets :attr:`default_base64` (False: the seed's GET answers base64
  only when the parameter "is present and equals true"). POST reads the body field, GET the query.
- The enrolment code must be exactly the code of a lock added with :meth:`add_lock`; an unknown
  serial, a wrong or empty code, or a ``type`` other than "" and the lock's own type answer 400.
- The ``certificate`` field must be the API key owner's certificate name, otherwise 403.
- POST needs ``Content-Type: application/json`` (otherwise 400). PUT/PATCH (and any other method the
  resource does not have) answer 405 before authentication.
- Enrolment still works when the owner's intermediate has expired: "the renewal of the Customer
  Intermediate Certificate does not affect the issuance of Key Certificates". Renewal re-certifies
  the same RSA key, so existing Key Certificates still verify.
- :meth:`InVueApiSimulator.set_down` models a cloud outage as the provider's front end answering
  503 with an HTML page to every request; ``stop()`` then ``start()`` (same port) gives refused
  connections instead.

Modes for what the pages leave open (all off by default):

- :attr:`validate_serials`: serial numbers must have the documented shape (16 hex digits); any
  other answers 400 once the API key is accepted (a key check with a made-up serial then fails).
- :attr:`echo_secrets`: error messages quote the request's API key and enrolment code, as a
  careless API does.
- The ``rate_limited`` fault answers 429 with ``Retry-After`` (:attr:`retry_after_date`: an HTTP
  date instead of seconds) and keeps answering 429 to that API key until the wait is over on
  the simulator's ``clock``: a client that comes back too early is refused again.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
import datetime as dt
from email.utils import formatdate
import hashlib
import json
import logging
import math
from pathlib import Path
import re
import secrets
import signal
import time
from typing import Literal, get_args

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .server import serve

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 8184
DEFAULT_OWNER = "Demo Retail Ltd"
ROOT_NAME = "InVue Simulator Root CA"
COLLECTION = "/v1/dlock"
MSG_OK = "DLock registered successfully"  # the seed repeats it for GET too
_RESOURCE = re.compile(r"^/v1/dlock/([^/]+)$")
_SERIAL_SHAPE = re.compile(r"[0-9a-fA-F]{16}")

FaultKind = Literal[
    "delay",
    "disconnect",
    "disconnect_after",
    "http_error",
    "malformed",
    "unavailable",
    "rate_limited",
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
KeyFactory = Callable[[], rsa.RSAPrivateKey]

_HTML_500 = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>500 Internal Server Error</h1></body></html>"
)
_HTML_503 = (
    "<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable"
    "</h1><p>The server is temporarily unable to service your request.</p></body></html>"
)
# The seed's example enrolment code (base64 of 256 bytes), used by the CLI for its example serial.
SEED_SERIAL = "0000051a00000005"
SEED_ENROLMENT_CODE = (
    "Uyu7y0bmu5sTdGwN1GcJHK3MnPYGc1n2fuYFz8TbVgbvRNk7tgfxE1eLLrWium0T+64Ra4KOzZy1u/Ha+i/UeoGdBk+t"
    "Y/Kle/Nr8e2gkksl1BMpijWSY/tvhFBqFhcUPbkCagN6ep2azG2Ir8y8r5IySY9mwHZlRbfQxsM43LdcpDcYK9m0WO0A"
    "7fGEmB+cZ7u9uLuqkJ04oNC+4p1X4N9n4yMdvUF3SQLQOgFHfjkv0w67+TJq5J4uY/6x6G+2kwAFROO4VJgaAG/CO7GJ"
    "Z/xIDxe52PgGj6AwojCqRMBZUXvDrC8Hg/JCQdjPSyv5T+MvFXMucoCdwpvr09Lu4A=="
)


# ----- helpers -----------------------------------------------------------------------------------
def _segments(hex_text: str) -> str:
    """Three dot-separated 33-character hex segments, the shape of the seed's bearer token."""
    return ".".join(hex_text[i * 33 : (i + 1) * 33] for i in range(3))


def random_api_key() -> str:
    return _segments(secrets.token_hex(50))


def derived_api_key(owner: str) -> str:
    """The API key the CLI gives ``owner``: stable across restarts."""
    return _segments(hashlib.sha512(f"invue-simulator-api-key:{owner}".encode()).hexdigest())


def derived_enrolment_code(serial: str) -> str:
    """A realistic enrolment code (base64 of 256 bytes), stable for a serial number."""
    digest = hashlib.shake_256(f"invue-simulator-enrolment:{serial}".encode()).digest(256)
    return base64.b64encode(digest).decode()


def _mask(secret: str | None) -> str:
    if not secret:
        return "-"
    return f"{secret[:4]}…({len(secret)})"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def canonical_signed_bytes(
    type_: str, valid: int, expires: int, data: Mapping[str, str], key: str
) -> bytes:
    """The bytes a Key Certificate's ``signature`` covers.

    UTF-8 of ``json.dumps({"type", "valid", "expires", "data", "key"}, separators=(",", ":"))``,
    keys in that order (not sorted), default ``ensure_ascii``; ``issuer`` and ``signature`` are
    excluded.
    """
    fields = {"type": type_, "valid": valid, "expires": expires, "data": dict(data), "key": key}
    return json.dumps(fields, separators=(",", ":")).encode()


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    subject: x509.Name,
    key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    not_valid_after: dt.datetime,
    path_length: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    not_valid_before = min(now - dt.timedelta(days=1), not_valid_after - dt.timedelta(days=365))
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_valid_before)
        .not_valid_after(not_valid_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# ----- model -------------------------------------------------------------------------------------
@dataclass
class KeyCertificate:
    """A lock's Key Certificate, as stored; ``issuer`` is chosen by the response form."""

    key: str  # base64 of 256 bytes
    signature: str  # base64 of the 256-byte RSA signature over canonical_signed_bytes()
    valid: int = 0
    expires: int = 0
    type: str = "key"
    data: dict[str, str] = field(default_factory=dict)

    def signed_bytes(self) -> bytes:
        return canonical_signed_bytes(self.type, self.valid, self.expires, self.data, self.key)

    def as_json(self, issuer: str) -> dict[str, object]:
        """The native JSON form, keys in the seed's order."""
        return {
            "type": self.type,
            "issuer": issuer,
            "valid": self.valid,
            "expires": self.expires,
            "data": dict(self.data),
            "key": self.key,
            "signature": self.signature,
        }

    def as_base64(self, issuer: str) -> str:
        """Base64 of the compact JSON: the form the Mobile SDK expects."""
        return _b64(json.dumps(self.as_json(issuer), separators=(",", ":")).encode())


@dataclass
class Owner:
    """A certificate owner: the identity behind API keys, with its Customer Intermediate."""

    name: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate


@dataclass
class PhysicalLock:
    """A lock that exists in the world and can be enrolled with its code."""

    serial: str
    enrolment_code: str = field(repr=False)
    lock_type: str = ""


@dataclass
class Registration:
    """A serial number registered (provisioned) to an owner."""

    serial: str
    owner: str
    lock_type: str
    certificate: KeyCertificate
    registered_at: float


@dataclass
class RecordedRequest:
    """One request as the API received it (in memory only; secrets are not masked here)."""

    method: str
    path: str
    query: dict[str, str]
    owner: str | None  # owner of a valid API key, else None
    headers: dict[str, str]
    body: bytes
    received_at: float  # the simulator's clock (time.time unless given)
    status: int | None = None  # None: disconnected
    fault: str | None = None


@dataclass
class _Fault:
    prefix: str
    kind: str
    remaining: int | None
    seconds: float
    method: str | None


class ApiError(Exception):
    """An error answered as ``{"status": <code>, "msg": <text>}``."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.msg = status, msg


@dataclass
class _Enrolment:
    serial: str
    lock_type: str
    certificate: str
    enrolment_code: str
    base64: bool | None


def _parse_enrolment(raw: bytes) -> _Enrolment:
    try:
        body: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, "The request body must be JSON") from err
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    values: dict[str, str] = {}
    for name in ("serial_no", "type", "certificate", "enrolment_code"):
        value = body.get(name)
        if not isinstance(value, str):
            raise ApiError(400, f"{name} is missing or not a string")
        values[name] = value
    if not values["serial_no"]:
        raise ApiError(400, "serial_no is empty")
    if not values["certificate"]:
        raise ApiError(400, "certificate is empty")
    if not values["enrolment_code"]:
        raise ApiError(400, "No installer code")
    want = body.get("base64")
    if want is not None and not isinstance(want, bool):
        raise ApiError(400, "base64 must be a boolean")
    return _Enrolment(
        values["serial_no"], values["type"], values["certificate"], values["enrolment_code"], want
    )


# ----- simulator ---------------------------------------------------------------------------------
class InVueApiSimulator:
    """An aiohttp server behaving like the InVue LIVE Lock provisioning API (``/v1/dlock``)."""

    def __init__(
        self,
        *,
        default_base64: bool = False,
        key_factory: KeyFactory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_base64 = default_base64
        self.duplicate_status = 400
        self.validate_serials = False
        self.echo_secrets = False
        self.retry_after_date = False
        self._clock = clock
        self._held_until: dict[str | None, float] = {}  # API key -> end of its 429 wait
        self.issuer_base64 = "wingman"  # the seed's base64 example
        self.issuer_json = "customer"  # the seed's JSON example
        self.key_valid = 0
        self.key_expires = 0
        self.owners: dict[str, Owner] = {}
        self.api_keys: dict[str, str] = {}  # api key -> owner name
        self.revoked: set[str] = set()
        self.locks: dict[str, PhysicalLock] = {}
        self.registrations: dict[str, Registration] = {}
        self.requests: list[RecordedRequest] = []
        self.down = False
        self.host = "127.0.0.1"
        self.port = 0
        self._new_key = key_factory or _generate_key
        self._secret = secrets.token_bytes(32)
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._root_key = self._new_key()
        root_name = _name(ROOT_NAME, "InVue")
        self.root = _ca_certificate(
            root_name,
            self._root_key.public_key(),
            root_name,
            self._root_key,
            not_valid_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=20 * 365),
            path_length=1,
        )

    # ----- accounts and certificates -------------------------------------------------------------
    def add_account(
        self,
        owner: str,
        *,
        api_key: str | None = None,
        valid_days: float = 365.0,
        not_valid_after: dt.datetime | None = None,
    ) -> str:
        """Issue an API key bound to ``owner``; the first one creates the owner's intermediate.

        ``not_valid_after`` (or ``valid_days`` from now, negative for an expired one) dates the
        intermediate; it is ignored when the owner already exists (see :meth:`renew_intermediate`).
        """
        if owner not in self.owners:
            key = self._new_key()
            self.owners[owner] = Owner(
                owner, key, self._intermediate(owner, key, valid_days, not_valid_after)
            )
        api_key = api_key or random_api_key()
        self.api_keys[api_key] = owner
        self.revoked.discard(api_key)
        return api_key

    def revoke_api_key(self, api_key: str) -> None:
        """The key answers 401 from now on."""
        self.revoked.add(api_key)

    def renew_intermediate(
        self, owner: str, *, valid_days: float = 365.0, not_valid_after: dt.datetime | None = None
    ) -> x509.Certificate:
        """Re-certify the owner's key with new dates; issued Key Certificates still verify."""
        account = self.owners[owner]
        account.certificate = self._intermediate(
            owner, account.private_key, valid_days, not_valid_after
        )
        return account.certificate

    def intermediate_certificate(self, owner: str) -> x509.Certificate:
        return self.owners[owner].certificate

    def intermediate_pem(self, owner: str, *, with_root: bool = False) -> str:
        """The owner's Customer Intermediate Certificate in PEM (optionally then the root's)."""
        pem = self.owners[owner].certificate.public_bytes(serialization.Encoding.PEM).decode()
        return pem + self.root_pem() if with_root else pem

    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode()

    def _intermediate(
        self,
        owner: str,
        key: rsa.RSAPrivateKey,
        valid_days: float,
        not_valid_after: dt.datetime | None,
    ) -> x509.Certificate:
        if not_valid_after is None:
            not_valid_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=valid_days)
        return _ca_certificate(
            _name(owner, owner),
            key.public_key(),
            self.root.subject,
            self._root_key,
            not_valid_after=not_valid_after,
            path_length=0,
        )

    # ----- locks ---------------------------------------------------------------------------------
    def add_lock(
        self, serial: str, enrolment_code: str | None = None, lock_type: str = ""
    ) -> PhysicalLock:
        """A physical lock that reports ``enrolment_code`` (derived from the serial when None)."""
        code = enrolment_code or derived_enrolment_code(serial)
        lock = PhysicalLock(serial, code, lock_type)
        self.locks[serial] = lock
        return lock

    def remove_lock(self, serial: str) -> None:
        self.locks.pop(serial, None)

    def enrol(self, serial: str, owner: str, lock_type: str | None = None) -> KeyCertificate:
        """Register ``serial`` to ``owner`` directly (the lock is added if unknown)."""
        lock = self.locks.get(serial) or self.add_lock(serial)
        registration = self._register(
            lock, owner, lock.lock_type if lock_type is None else lock_type
        )
        return registration.certificate

    def registration(self, serial: str) -> Registration | None:
        return self.registrations.get(serial)

    def _register(self, lock: PhysicalLock, owner: str, lock_type: str) -> Registration:
        material = b"\0".join((self._secret, lock.serial.encode(), lock.enrolment_code.encode()))
        key = _b64(hashlib.shake_256(material).digest(256))
        certificate = KeyCertificate(key, "", self.key_valid, self.key_expires)
        signature = self.owners[owner].private_key.sign(
            certificate.signed_bytes(), padding.PKCS1v15(), hashes.SHA256()
        )
        certificate.signature = _b64(signature)
        registration = Registration(lock.serial, owner, lock_type, certificate, time.time())
        self.registrations[lock.serial] = registration
        return registration

    # ----- faults and records --------------------------------------------------------------------
    def inject_fault(
        self,
        path_prefix: str,
        kind: FaultKind,
        times: int | None = 1,
        *,
        seconds: float = 1.0,
        method: str | None = None,
    ) -> None:
        """Spoil the next ``times`` requests (None: until cleared) to paths under ``path_prefix``.

        ``delay`` waits ``seconds`` then answers normally; ``disconnect`` drops the connection
        before doing anything; ``disconnect_after`` does the work (an enrolment is registered) and
        then drops the connection instead of replying; ``http_error`` answers 500 with an HTML
        page; ``malformed`` answers 200 with a body that is not JSON; ``unavailable`` answers 503
        with an HTML page; ``rate_limited`` answers 429 with ``Retry-After: seconds`` and answers
        429 to every request with the same API key until ``seconds`` have passed. ``method``
        limits the fault to one HTTP method. aiohttp clients retry an idempotent request (GET,
        DELETE) once after a dropped connection: ``times=2`` makes such a
        GET fail.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 or None")
        self._faults.append(
            _Fault(path_prefix, kind, times, seconds, method.upper() if method else None)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_down(self, down: bool = True) -> None:
        """Cloud outage: every request answers 503 with an HTML page until ``set_down(False)``."""
        self.down = down

    def count(self, path: str, method: str | None = None, *, prefix: bool = False) -> int:
        """Requests received for ``path`` (exactly, or every path under it with ``prefix``)."""
        return sum(
            1
            for r in self.requests
            if (r.path.startswith(path) if prefix else r.path == path)
            and (method is None or r.method == method.upper())
        )

    # ----- server --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port; port 0 picks a free port, or reuses the previous one on restart."""
        if self._runner is not None:
            raise RuntimeError("simulator already running")
        if port == 0 and self.port and host == self.host:
            port = self.port
        self._runner, self.port = await serve(self._handle, host, port)
        self.host = host

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> InVueApiSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.prefix) and fault.method in (None, method):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _token(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _owner_of(self, token: str | None) -> str | None:
        if token is None or token in self.revoked:
            return None
        return self.api_keys.get(token)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        token = self._token(request)
        record = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            self._owner_of(token),
            dict(request.headers),
            body,
            self._clock(),
        )
        self.requests.append(record)
        response = await self._respond(request, record, token)
        dropped = record.fault in ("disconnect", "disconnect_after")
        record.status = None if dropped else response.status
        self._log(record, token)
        return response

    async def _respond(
        self, request: web.Request, record: RecordedRequest, token: str | None
    ) -> web.StreamResponse:
        if self.down:
            record.fault = "down"
            return web.Response(status=503, text=_HTML_503, content_type="text/html")
        held = self._held_until.get(token, -math.inf) - self._clock()
        if held > 0:
            record.fault = "rate_limited"
            return self._rate_limited(held)
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "rate_limited":
                self._held_until[token] = self._clock() + fault.seconds
                return self._rate_limited(fault.seconds)
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            elif fault.kind != "disconnect_after":
                return self._faulty(fault.kind, request)
        response = await self._answer(request, record, token)
        if fault is not None and fault.kind == "disconnect_after":
            return self._faulty("disconnect", request)  # done, but the reply is lost
        return response

    async def _answer(
        self, request: web.Request, record: RecordedRequest, token: str | None
    ) -> web.StreamResponse:
        try:
            return await self._dispatch(request, record, token)
        except ApiError as err:
            msg = err.msg + (self._echo(record, token) if self.echo_secrets else "")
            response = web.json_response({"status": err.status, "msg": msg}, status=err.status)
            if err.status == 405:
                response.headers["Allow"] = "POST" if request.path == COLLECTION else "GET, DELETE"
            if err.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="api.invue.com"'
            return response

    def _rate_limited(self, seconds: float) -> web.Response:
        wait = math.ceil(seconds)
        retry_after = (
            formatdate(math.ceil(self._clock() + seconds), usegmt=True)
            if self.retry_after_date
            else str(wait)
        )
        return web.json_response(
            {"status": 429, "msg": f"Too many requests: retry in {wait} s"},
            status=429,
            headers={"Retry-After": retry_after},
        )

    @staticmethod
    def _echo(record: RecordedRequest, token: str | None) -> str:
        """What a careless API quotes back: the request's API key and enrolment code."""
        try:
            body: object = json.loads(record.body) if record.body else None
        except ValueError, UnicodeDecodeError:
            body = None
        code = body.get("enrolment_code") if isinstance(body, dict) else None
        return f" (request: accessToken={token}, enrolment_code={code})"

    @staticmethod
    def _faulty(kind: str, request: web.Request) -> web.StreamResponse:
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)  # never reaches the client
        if kind == "malformed":
            return web.Response(
                text='{"status": 200, "msg": "DLock registered', content_type="application/json"
            )
        if kind == "unavailable":
            return web.Response(status=503, text=_HTML_503, content_type="text/html")
        return web.Response(status=500, text=_HTML_500, content_type="text/html")

    async def _dispatch(
        self, request: web.Request, record: RecordedRequest, token: str | None
    ) -> web.StreamResponse:
        method, path = request.method, request.path
        match = _RESOURCE.match(path)
        if path == COLLECTION:
            if method != "POST":
                raise ApiError(405, "No such method")
            return self._enrol(request, record, token)
        if match is None:
            raise ApiError(404, "Not Found")
        if method not in ("GET", "DELETE"):
            raise ApiError(405, "No such method")
        owner = self._authorise(record, token)
        serial = match.group(1)
        self._check_serial(serial)
        registration = self.registrations.get(serial)
        if registration is None or registration.owner != owner:
            raise ApiError(404, "The Lock Serial Number was not found")
        if method == "DELETE":
            del self.registrations[serial]
            return web.Response(status=204)
        want = request.query.get("base64")
        as_base64 = self.default_base64 if want is None else want.lower() == "true"
        return self._certificate_reply(registration, as_base64)

    def _check_serial(self, serial: str) -> None:
        if self.validate_serials and not _SERIAL_SHAPE.fullmatch(serial):
            raise ApiError(400, "Invalid serial number: 16 hexadecimal digits expected")

    def _authorise(self, record: RecordedRequest, token: str | None) -> str:
        if token is None:
            raise ApiError(401, "Missing bearer accessToken")
        if record.owner is None:
            raise ApiError(401, "The accessToken is invalid or has been revoked")
        return record.owner

    def _enrol(
        self, request: web.Request, record: RecordedRequest, token: str | None
    ) -> web.Response:
        owner = self._authorise(record, token)
        if request.content_type != "application/json":
            raise ApiError(400, "Content-Type must be application/json")
        enrolment = _parse_enrolment(record.body)
        self._check_serial(enrolment.serial)
        if enrolment.certificate != owner:
            raise ApiError(403, "The certificate is not one of the owner of the accessToken")
        existing = self.registrations.get(enrolment.serial)
        if existing is not None and existing.owner != owner:
            raise ApiError(403, "The lock is registered to another owner")
        if existing is not None:
            raise ApiError(self.duplicate_status, "The Lock Serial Number is already registered")
        lock = self.locks.get(enrolment.serial)
        if lock is None or not secrets.compare_digest(
            lock.enrolment_code.encode(), enrolment.enrolment_code.encode()
        ):
            raise ApiError(400, "Invalid installer code")
        if enrolment.lock_type and lock.lock_type and enrolment.lock_type != lock.lock_type:
            raise ApiError(400, "The type does not match the lock")
        registration = self._register(lock, owner, enrolment.lock_type or lock.lock_type)
        as_base64 = self.default_base64 if enrolment.base64 is None else enrolment.base64
        return self._certificate_reply(registration, as_base64)

    def _certificate_reply(self, registration: Registration, as_base64: bool) -> web.Response:
        certificate = registration.certificate
        key: object = (
            certificate.as_base64(self.issuer_base64)
            if as_base64
            else certificate.as_json(self.issuer_json)
        )
        return web.json_response({"status": 200, "msg": MSG_OK, "data": {"key": key}})

    def _log(self, record: RecordedRequest, token: str | None) -> None:
        detail = ""
        if record.method == "POST" and record.body:
            try:
                body: object = json.loads(record.body)
            except ValueError, UnicodeDecodeError:
                body = None
            if isinstance(body, dict):
                code = body.get("enrolment_code")
                masked = _mask(code if isinstance(code, str) else None)
                detail = (
                    f" serial_no={body.get('serial_no')} type={body.get('type')!r}"
                    f" certificate={body.get('certificate')!r} enrolment_code={masked}"
                    f" base64={body.get('base64')}"
                )
            else:
                detail = f" body=<{len(record.body)} bytes, not a JSON object>"
        query = "&".join(f"{k}={v}" for k, v in record.query.items())
        _LOGGER.info(
            "%s %s%s owner=%s key=%s%s -> %s%s",
            record.method,
            record.path,
            f"?{query}" if query else "",
            record.owner or "-",
            _mask(token),
            detail,
            "disconnected" if record.status is None else record.status,
            f" (fault {record.fault})" if record.fault else "",
        )


# ----- command line ------------------------------------------------------------------------------
DEFAULT_LOCKS: tuple[tuple[str, str | None, str], ...] = (
    (SEED_SERIAL, SEED_ENROLMENT_CODE, "CAM"),
    ("0000051a00000000", None, "CAM"),
    ("0000051a00000006", None, ""),
)


def _lock_spec(text: str) -> tuple[str, str | None, str]:
    serial, _, rest = text.partition(":")
    code, _, lock_type = rest.partition(":")
    if not serial:
        raise argparse.ArgumentTypeError("expected SERIAL[:CODE[:TYPE]]")
    return serial, code or None, lock_type


def _enrolled_spec(text: str) -> tuple[str, str | None]:
    serial, _, owner = text.partition(":")
    if not serial:
        raise argparse.ArgumentTypeError("expected SERIAL[:OWNER]")
    return serial, owner or None


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError("expected true or false")
    return text.lower() == "true"


def _default_locks_help() -> str:
    lines = []
    for serial, code, lock_type in DEFAULT_LOCKS:
        lines.append(f"  {serial}  {f'type {lock_type}' if lock_type else 'no type'}")
        lines.append(f"    {code or derived_enrolment_code(serial)}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    epilog = f"""\
built-in account (used when no --owner is given):
  certificate owner  "{DEFAULT_OWNER}"
  API key            {derived_api_key(DEFAULT_OWNER)}
Every owner's API key is derived from its name, so it stays the same across restarts.

default locks (used when no --lock is given), each with its enrolment code (what the
lock gives the mobile SDK; the first is the seed page's example, the others derive from
the serial number, so they stay the same across restarts; also printed on start):
{_default_locks_help()}

example:
  python -m simulators.invue --write-intermediate /tmp/invue-intermediate.pem
  curl -H 'Authorization: Bearer {derived_api_key(DEFAULT_OWNER)}' \\
       'http://127.0.0.1:{DEFAULT_PORT}/v1/dlock/{SEED_SERIAL}?base64=true'
"""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.invue",
        description="Simulate the InVue LIVE Lock provisioning API (POST/GET/DELETE /v1/dlock).",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help="port to listen on (%(default)s; 0 picks a free one)",
    )  # fmt: skip
    parser.add_argument(
        "--owner", action="append", default=[], metavar="NAME",
        help=f"a certificate owner with an API key and a Customer Intermediate Certificate "
        f"(repeatable; default: the built-in \"{DEFAULT_OWNER}\")",
    )  # fmt: skip
    parser.add_argument(
        "--lock", type=_lock_spec, action="append", default=[], metavar="SERIAL[:CODE[:TYPE]]",
        help="a physical lock that can be enrolled with CODE (repeatable; an empty CODE is "
        "derived from the serial; default: the three locks below)",
    )  # fmt: skip
    parser.add_argument(
        "--enrolled", type=_enrolled_spec, action="append", default=[], metavar="SERIAL[:OWNER]",
        help="register SERIAL at start to OWNER (default: the first owner); the lock is added "
        "if no --lock names it (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--intermediate-days", type=float, default=365.0, metavar="N",
        help="the intermediate certificates expire N days from now (%(default)s; "
        "negative: already expired)",
    )  # fmt: skip
    parser.add_argument(
        "--write-intermediate", type=Path, metavar="FILE",
        help="write the first owner's Customer Intermediate Certificate (PEM) to FILE, "
        "to paste or upload into the integration",
    )  # fmt: skip
    parser.add_argument(
        "--base64-default", type=_bool, default=False, metavar="true|false",
        help="Key Certificate form when a request does not say (default false: native JSON)",
    )  # fmt: skip
    parser.add_argument(
        "--duplicate-status", type=int, choices=(400, 409), default=400,
        help="status of a serial number registered twice (%(default)s; the page does not say)",
    )  # fmt: skip
    parser.add_argument(
        "--validate-serials", action="store_true",
        help="answer 400 to serial numbers that are not 16 hex digits",
    )  # fmt: skip
    parser.add_argument(
        "--log", type=Path, metavar="FILE",
        help="also append the request log (API keys and enrolment codes masked) to FILE",
    )  # fmt: skip
    return parser


def _setup(args: argparse.Namespace) -> InVueApiSimulator:
    simulator = InVueApiSimulator(default_base64=args.base64_default)
    simulator.duplicate_status = args.duplicate_status
    simulator.validate_serials = args.validate_serials
    owners: list[str] = args.owner or [DEFAULT_OWNER]
    for owner in owners:
        simulator.add_account(
            owner, api_key=derived_api_key(owner), valid_days=args.intermediate_days
        )
    for serial, code, lock_type in args.lock or DEFAULT_LOCKS:
        simulator.add_lock(serial, code, lock_type)
    for serial, owner in args.enrolled:
        simulator.add_account(owner or owners[0], api_key=derived_api_key(owner or owners[0]))
        simulator.enrol(serial, owner or owners[0])
    if args.write_intermediate is not None:
        args.write_intermediate.write_text(simulator.intermediate_pem(owners[0]))
    return simulator


def _banner(simulator: InVueApiSimulator, args: argparse.Namespace) -> str:
    lines = [f"InVue LIVE Lock API simulator listening on {simulator.url}"]
    keys: dict[str, list[str]] = {}
    for api_key, owner in simulator.api_keys.items():
        keys.setdefault(owner, []).append(api_key)
    for name, account in simulator.owners.items():
        expiry = account.certificate.not_valid_after_utc.isoformat()
        lines.append(f'owner "{name}": API key {", ".join(keys[name])}')
        lines.append(f"  intermediate certificate expires {expiry}")
    if args.write_intermediate is not None:
        lines.append(f"  intermediate PEM written to {args.write_intermediate}")
    for lock in simulator.locks.values():
        registration = simulator.registrations.get(lock.serial)
        state = f'enrolled by "{registration.owner}"' if registration else "not enrolled"
        lines.append(f"lock {lock.serial} type {lock.lock_type or '-'} ({state})")
        lines.append(f"  enrolment code {lock.enrolment_code}")
    lines.append("Press Ctrl+C to stop.")
    return "\n".join(lines)


async def _serve(args: argparse.Namespace) -> None:
    simulator = _setup(args)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await simulator.start(args.host, args.port)
    print(_banner(simulator, args), flush=True)
    try:
        await stopped.wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.log is not None:
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
