"""Simulator of a 2N device's HTTP API (the vendor's side), written from 2N's pages and the notes.

Run it by hand with ``python -m simulators.two_n --protocol https``; ``--help`` lists every option
and the built-in account.

Served paths (anything else under the envelope answers error 2, a known path with another method
error 3):

- ``GET|POST /api/system/info`` — identity; needs no privilege (only valid credentials when the
  device asks for authentication).
- ``GET|POST /api/switch/caps``, ``/api/switch/status``, ``/api/switch/ctrl`` — privilege group
  ``switches_control`` for all three (2N's caps page names "Switch Monitoring"; the notes fold it
  into Switches Control, so does the simulator). A POST takes its parameters in the query or as
  an ``application/x-www-form-urlencoded`` body (the body wins).
- ``GET|PUT /api/mobilekey/config`` — privilege group ``access_control``; the seed page's rules.

Choices where the pages are silent:

- Authentication is one mode for the whole device. No ``Authorization`` header or wrong credentials
  → HTTP 401, error 9 and a fresh challenge; a header of the other scheme (Basic sent to a Digest
  device, or the reverse) → HTTP 401, error 8 ``invalid authentication method`` and the device's
  challenge. Digest: realm ``HTTP API``, ``qop="auth"``, MD5 only, ``opaque`` checked when sent;
  a correct answer computed on an expired, forgotten or already used (same ``nc``) nonce → 401
  with ``stale=true``. Nonces live ``nonce_lifetime`` seconds and are forgotten on ``stop()``.
- A path that is not served answers error 2 before authentication is looked at.
- Injected faults hit only requests that passed authentication and the privilege check (the
  request the device would really serve), so a Digest challenge round trip never uses one up.
- switch/ctrl: a disabled switch → error 4 ``function is disabled`` (param ``switch``; 2N's ctrl
  page says its firmware answers 14); a locked switch refuses on and trigger, a held one off and
  (bistable) trigger, with error 14 ``action failed``; lock/unlock/hold/release always succeed;
  ``timeout`` outside 1-86400 → error 12 (param ``timeout``); ``response=TEXT`` answers TEXT as in
  2N's page. switch/status lists every switch (disabled ones inactive) with ``held`` and, when a
  hold has a timeout, ``holdTimeout`` (whole seconds left).
- mobilekey/config PUT: a body that is not a JSON object → error 12; ``location`` not a string →
  12, longer than 127 characters (Python ``len``) → 13, ``keys`` not an array → 12, more than four
  → 12; no slot or location is written on any of those errors. A key is written only when ``type``
  (default ``rsa``) is ``rsa`` and ``key`` is strict base64 of a PKCS#1 DER RSA private key (any
  size), or ``type`` is ``ecc`` and ``key`` is a SEC1 DER EC private key; the DER must be the
  canonical encoding ``cryptography`` writes back (PKCS#8 is refused). A ``ctime`` that is not a
  JSON integer in 0..2^32-1 is stored as no ctime. A slot given as ``{}`` or an invalid key
  becomes empty; the reply is ``{"success": true}`` whatever was dropped.
- GET in the newer shape (``key_field="publicKey"``) gives ``publicKey`` (base64 DER
  SubjectPublicKeyInfo) instead of ``key`` and, when one is configured, ``pairingKey`` in the same
  format next to ``location`` and ``keys``. PUT keeps the seed's shape in both modes.
- HTTPS serves a self-signed ECDSA P-256 certificate (CN = serial number, SAN localhost,
  127.0.0.1, ::1) made at the first start and kept across restarts, like a device's.
  ``replace_certificate()`` loads a new one into the running server's SSL context (new TLS
  connections get it at once), closes idle kept-alive connections at once and busy ones after
  their reply, as a device restarting its web server would.
- system/info defaults follow 2N's example reply (``devType`` ``2-14-0-0``, ``variantId`` 14,
  ``customerId`` 0, ``firmwarePackage`` ``verso``, ``buildType`` ``release``); ``macAddr`` is
  ``7C-1E-B3`` and three bytes of the serial's SHA-256; ``swVersion`` is a 2.49 firmware in the
  seed's shape and 2.50 (the version that brought ``publicKey``) in the newer one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Mapping
import contextlib
from dataclasses import dataclass, field
import datetime as dt
from functools import partial
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import math
from pathlib import Path
import re
import secrets
import signal
import ssl
import sys
import tempfile
import time
from typing import Literal, NotRequired, Required, TypedDict, get_args
from urllib.parse import parse_qsl

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .server import serve
from .two_n_log import EventLog, LogError

_LOGGER = logging.getLogger(__name__)

type JsonValue = bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None
AuthMode = Literal["none", "basic", "digest"]
Protocol = Literal["http", "https"]
KeyField = Literal["key", "publicKey"]
SwitchMode = Literal["monostable", "bistable"]
SwitchType = Literal["normal", "security"]
FaultKind = Literal[
    "delay",
    "late_answer",
    "disconnect",
    "disconnect_after",
    "malformed",
    "http_error",
    "error_envelope",
    "put_partial",
    "put_partial_error",
    "put_partial_silent",
    "put_refuse_new",
    "put_ignored",
]

PARTIAL_PUTS: tuple[FaultKind, ...] = ("put_partial", "put_partial_error", "put_partial_silent")
AUTH_MODES: tuple[AuthMode, ...] = ("none", "basic", "digest")
PROTOCOLS: tuple[Protocol, ...] = ("http", "https")
KEY_FIELDS: tuple[KeyField, ...] = ("key", "publicKey")
SWITCH_MODES: tuple[SwitchMode, ...] = ("monostable", "bistable")
SWITCH_ACTIONS = ("on", "off", "trigger", "lock", "unlock", "hold", "release")
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
PRIVILEGES: tuple[str, ...] = ("system", "access_control", "switches_control", "camera")
MAX_ACCOUNTS = 5
MAX_LOCATION = 127
KEY_SLOTS = 4
HOLD_TIMEOUT_RANGE = (1, 86400)
REALM = "HTTP API"
MAC_PREFIX = "7C-1E-B3"
DEFAULT_SERIAL = "54-1046-0745"
DEFAULT_NAME = "2N IP Verso"
DEFAULT_USER, DEFAULT_PASSWORD = "admin", "2n-password"
DEFAULT_PORT = 8183

SYSTEM_INFO = "/api/system/info"
SWITCH_CAPS = "/api/switch/caps"
SWITCH_STATUS = "/api/switch/status"
SWITCH_CTRL = "/api/switch/ctrl"
MOBILEKEY_CONFIG = "/api/mobilekey/config"

ERROR_TEXTS: dict[int, str] = {
    1: "function is not supported",
    2: "invalid request path",
    3: "invalid request method",
    4: "function is disabled",
    7: "invalid connection type",
    8: "invalid authentication method",
    9: "authorization required",
    10: "insufficient user privileges",
    11: "missing mandatory parameter",
    12: "invalid parameter value",
    13: "parameter data too big",
    14: "processing error",
    15: "no data available",
    17: "parameter collision",
    18: "rejected",
}
_SECRET_FIELDS = frozenset({"key", "privateKey", "password", "pairingKey"})
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


# ----- reply shapes ----------------------------------------------------------------------------
class SystemInfo(TypedDict):
    """``result`` of ``api/system/info``."""

    deviceName: str
    variant: str
    serialNumber: str
    macAddr: str
    hwVersion: str
    swVersion: str
    buildType: str
    devType: str
    variantId: int
    customerId: int
    firmwarePackage: str


class SystemInfoUpdate(TypedDict, total=False):
    """Fields of :class:`SystemInfo` to override in the constructor."""

    deviceName: str
    variant: str
    serialNumber: str
    macAddr: str
    hwVersion: str
    swVersion: str
    buildType: str
    devType: str
    variantId: int
    customerId: int
    firmwarePackage: str


class SwitchCaps(TypedDict, total=False):
    """One entry of ``switch/caps``; a disabled switch has only ``switch`` and ``enabled``."""

    switch: Required[int]
    enabled: Required[bool]
    mode: SwitchMode
    switchOnDuration: float
    type: SwitchType


class SwitchStatus(TypedDict):
    """One entry of ``switch/status``."""

    switch: int
    active: bool
    locked: bool
    held: bool
    holdTimeout: NotRequired[int]


class SwitchCapsResult(TypedDict):
    switches: list[SwitchCaps]


class SwitchStatusResult(TypedDict):
    switches: list[SwitchStatus]


class KeyObject(TypedDict, total=False):
    """A key slot as GET shows it; ``{}`` for an empty slot."""

    type: str
    key: str
    publicKey: str
    ctime: int


class MobileKeyConfig(TypedDict):
    """``result`` of ``GET api/mobilekey/config``."""

    location: str
    keys: list[KeyObject]
    pairingKey: NotRequired[KeyObject]


class ApiErrorBody(TypedDict):
    code: int
    param: NotRequired[str]
    description: str


type Result = (
    SystemInfo | SwitchCapsResult | SwitchStatusResult | MobileKeyConfig | dict[str, JsonValue]
)


class Envelope(TypedDict):
    success: bool
    result: NotRequired[Result]
    error: NotRequired[ApiErrorBody]


class ApiError(Exception):
    """An error the device answers inside the envelope."""

    def __init__(
        self,
        code: int,
        param: str | None = None,
        *,
        description: str | None = None,
        status: int = 200,
        challenge: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code, self.param, self.status, self.challenge = code, param, status, challenge
        self.description = description or ERROR_TEXTS[code]

    def envelope(self) -> Envelope:
        error: ApiErrorBody = {"code": self.code, "description": self.description}
        if self.param is not None:
            error = {"code": self.code, "param": self.param, "description": self.description}
        return {"success": False, "error": error}


# ----- model -----------------------------------------------------------------------------------
@dataclass
class Account:
    """One HTTP API account (a device has at most five)."""

    username: str
    password: str = field(repr=False)
    privileges: frozenset[str] = frozenset(PRIVILEGES)


@dataclass
class SimSwitch:
    """One switch: its configuration (caps) and its state (status)."""

    switch: int
    enabled: bool = True
    mode: SwitchMode = "monostable"
    on_duration: float = 5.0  # seconds a monostable switch stays active (switchOnDuration)
    type: SwitchType = "normal"
    locked: bool = False
    held: bool = False
    hold_until: float | None = None  # time.monotonic() when a timed hold ends
    latched: bool = False  # bistable state
    active_until: float = 0.0  # time.monotonic() when a monostable activation ends
    activations: int = 0  # times it was switched on (on, trigger, hold) by the API

    def is_held(self, now: float) -> bool:
        return self.held and (self.hold_until is None or now < self.hold_until)

    def is_active(self, now: float) -> bool:
        if not self.enabled or self.locked:
            return False
        if self.is_held(now):
            return True
        return self.latched if self.mode == "bistable" else now < self.active_until

    def caps(self) -> SwitchCaps:
        if not self.enabled:
            return {"switch": self.switch, "enabled": False}
        duration = self.on_duration
        return {
            "switch": self.switch,
            "enabled": True,
            "mode": self.mode,
            "switchOnDuration": int(duration) if duration == int(duration) else duration,
            "type": self.type,
        }

    def status(self, now: float) -> SwitchStatus:
        held = self.is_held(now)
        reply: SwitchStatus = {
            "switch": self.switch,
            "active": self.is_active(now),
            "locked": self.locked,
            "held": held,
        }
        if held and self.hold_until is not None:
            reply["holdTimeout"] = math.ceil(self.hold_until - now)
        return reply


@dataclass(frozen=True)
class MobileKey:
    """A stored mobile key (Bluetooth authentication) with its private DER."""

    type: str  # "rsa", "ecc" or "unknown"
    private_der: bytes = field(repr=False)
    ctime: int | None = None

    @classmethod
    def generate(cls, key_type: str = "rsa", ctime: int | None = None) -> MobileKey:
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if key_type == "ecc":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return cls(key_type, der, ctime)

    @property
    def key_b64(self) -> str:
        return base64.b64encode(self.private_der).decode()

    @property
    def public_der(self) -> bytes | None:
        """DER SubjectPublicKeyInfo of the public half; None when the DER is not a key."""
        try:
            private = serialization.load_der_private_key(self.private_der, None)
        except ValueError, TypeError, UnsupportedAlgorithm:
            return None
        return private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def as_object(self, key_field: KeyField) -> KeyObject:
        reply: KeyObject = {"type": self.type}
        if key_field == "key":
            reply["key"] = self.key_b64
        elif (public := self.public_der) is not None:
            reply["publicKey"] = base64.b64encode(public).decode()
        if self.ctime is not None:
            reply["ctime"] = self.ctime
        return reply


@dataclass
class RecordedRequest:
    """One request as the device received it; secrets are masked, passwords never kept."""

    method: str
    path: str
    query: dict[str, str]
    username: str | None  # the name the client authenticated (or tried to) with
    body: JsonValue  # parsed JSON (or form) with key material masked; None when empty
    received_at: float  # time.monotonic()
    authenticated: bool = False  # credentials accepted (always True when auth is "none")
    status: int | None = None  # HTTP status; None while running or when the connection was cut
    error_code: int | None = None  # 2N error code of the reply, if any
    fault: FaultKind | None = None


@dataclass
class _Fault:
    kind: FaultKind
    path: str | None
    remaining: int | None
    seconds: float | None
    keys_written: int
    method: str | None = None
    skip: int = 0  # matching requests still to let through before the fault starts


@dataclass
class _Nonce:
    issued_at: float
    used: set[int] = field(default_factory=set)


@dataclass
class _Call:
    request: web.Request
    params: dict[str, str]
    body: bytes
    record: RecordedRequest
    fault: _Fault | None


type _Outcome = Result | web.StreamResponse | None
type _Handler = Callable[[_Call], Awaitable[_Outcome]]


@dataclass(frozen=True)
class _Route:
    methods: tuple[str, ...]
    privilege: str | None
    handler: _Handler


class _Disconnect(Exception):
    """Cut the connection instead of answering."""


# ----- helpers ---------------------------------------------------------------------------------
def api_path(path: str) -> str:
    """``switch/ctrl``, ``api/switch/ctrl`` and ``/api/switch/ctrl`` all name one path."""
    path = path.strip().lstrip("/")
    return "/" + (path if path.startswith("api/") else "api/" + path)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _mask(value: object) -> str:
    if isinstance(value, str) and value:
        digest = hashlib.sha256(value.encode()).hexdigest()[:8]
        return f"{value[:4]}…[{len(value)} chars, sha256 {digest}]"
    return "…"


def _masked(value: object) -> JsonValue:
    if isinstance(value, dict):
        return {
            str(name): _mask(item) if name in _SECRET_FIELDS else _masked(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _parse_auth_params(text: str) -> dict[str, str]:
    return {
        match.group(1).lower(): (
            re.sub(r"\\(.)", r"\1", match.group(2))
            if match.group(2) is not None
            else match.group(3)
        )
        for match in _AUTH_PARAM.finditer(text)
    }


def _valid_private_der(der: bytes, key_type: str) -> bool:
    """PKCS#1 RSA (type rsa) or SEC1 EC (type ecc) private key, canonical DER."""
    try:
        private = serialization.load_der_private_key(der, None)
    except ValueError, TypeError, UnsupportedAlgorithm:
        return False
    if not isinstance(
        private, rsa.RSAPrivateKey if key_type == "rsa" else ec.EllipticCurvePrivateKey
    ):
        return False
    written = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return written == der


def _ctime(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
        return value
    return None


def _parse_key(entry: object) -> MobileKey | None:
    """A key object of a PUT, or None when the device would silently not write it."""
    if not isinstance(entry, dict):
        return None
    key_type, data = entry.get("type", "rsa"), entry.get("key")
    if key_type not in ("rsa", "ecc") or not isinstance(data, str):
        return None
    try:
        der = base64.b64decode(data, validate=True)
    except binascii.Error:
        return None
    if not _valid_private_der(der, key_type):
        return None
    return MobileKey(key_type, der, _ctime(entry.get("ctime")))


def _self_signed_certificate(common_name: str) -> tuple[bytes, bytes, bytes]:
    """(certificate DER, certificate PEM, key PEM) of a new self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "2N device simulator"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        cert.public_bytes(serialization.Encoding.DER),
        cert.public_bytes(serialization.Encoding.PEM),
        key_pem,
    )


def default_switches() -> list[SimSwitch]:
    """Switch 1 monostable 5 s, switch 2 bistable, switches 3 and 4 disabled."""
    return [
        SimSwitch(1, mode="monostable", on_duration=5.0),
        SimSwitch(2, mode="bistable"),
        SimSwitch(3, enabled=False),
        SimSwitch(4, enabled=False),
    ]


# ----- the device ------------------------------------------------------------------------------
class TwoNDeviceSimulator:
    """An aiohttp server answering like a 2N intercom's HTTP API (system, switches, mobile key)."""

    def __init__(
        self,
        *,
        auth: AuthMode = "digest",
        accounts: Mapping[str, tuple[str, Iterable[str]]] | None = None,
        protocol: Protocol = "http",
        serial: str = DEFAULT_SERIAL,
        name: str = DEFAULT_NAME,
        mac: str | None = None,
        info: SystemInfoUpdate | None = None,
        switches: Iterable[SimSwitch] | None = None,
        key_field: KeyField = "key",
        location: str | None = None,
        pairing_key: MobileKey | None = None,
        nonce_lifetime: float = 300.0,
        fault_delay: float = 10.0,
        log_path: str | Path | None = None,
        log_service: LogService = "enabled",
        camera: bool = True,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}")
        if key_field not in KEY_FIELDS:
            raise ValueError(f"key_field must be one of {KEY_FIELDS}")
        self.auth: AuthMode = auth
        self.protocol: Protocol = protocol
        self.key_field: KeyField = key_field
        self.accounts: dict[str, Account] = {}
        for username, (password, privileges) in (
            accounts if accounts is not None else {DEFAULT_USER: (DEFAULT_PASSWORD, PRIVILEGES)}
        ).items():
            self.set_account(username, password, privileges)
        if mac is None:
            digest = hashlib.sha256(serial.encode()).digest()
            mac = MAC_PREFIX + "".join(f"-{byte:02X}" for byte in digest[:3])
        self.info: SystemInfo = {
            "deviceName": name,
            "variant": "2N IP Verso",
            "serialNumber": serial,
            "macAddr": mac,
            "hwVersion": "570v1",
            "swVersion": "2.50.0.76.2" if key_field == "publicKey" else "2.49.1.71.3",
            "buildType": "release",
            "devType": "2-14-0-0",
            "variantId": 14,
            "customerId": 0,
            "firmwarePackage": "verso",
        }
        self.info.update(info or {})
        self.switches: dict[int, SimSwitch] = {
            item.switch: item for item in (default_switches() if switches is None else switches)
        }
        self.location: str = serial if location is None else location
        self.mobile_keys: list[MobileKey | None] = [None] * KEY_SLOTS
        self.pairing_key = pairing_key
        self.nonce_lifetime = nonce_lifetime
        self.fault_delay = fault_delay
        self.log_path = None if log_path is None else Path(log_path)
        self.requests: list[RecordedRequest] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._cert: tuple[bytes, bytes, bytes] | None = None  # DER, PEM, key PEM
        self._nonces: dict[str, _Nonce] = {}
        self._opaque = secrets.token_hex(16)
        self._faults: list[_Fault] = []
        self._stopping = asyncio.Event()
        self._serving: set[asyncio.BaseTransport] = set()  # connections inside a request
        self._routes: dict[str, _Route] = {
            SYSTEM_INFO: _Route(("GET", "POST"), None, self._system_info),
            SWITCH_CAPS: _Route(("GET", "POST"), "switches_control", self._switch_caps),
            SWITCH_STATUS: _Route(("GET", "POST"), "switches_control", self._switch_status),
            SWITCH_CTRL: _Route(("GET", "POST"), "switches_control", self._switch_ctrl),
            MOBILEKEY_CONFIG: _Route(("GET", "PUT"), "access_control", self._mobilekey_config),
        }
        # The event log, the camera and the control endpoint: at the end of this module.
        self.log_service: LogService = log_service
        self.camera = camera
        self.event_log = EventLog()
        self._reported: dict[int, bool] = {}  # switch states the log last reported
        self._switch_timers: set[asyncio.TimerHandle] = set()  # when timed states end
        self._routes.update(_event_routes(self))

    # ----- control -----------------------------------------------------------------------------
    def set_account(self, username: str, password: str, privileges: Iterable[str]) -> Account:
        """Add or change an account; at most five, privilege groups from ``PRIVILEGES``."""
        groups = frozenset(privileges)
        if unknown := groups - set(PRIVILEGES):
            raise ValueError(f"unknown privilege groups {sorted(unknown)}; known: {PRIVILEGES}")
        if username not in self.accounts and len(self.accounts) >= MAX_ACCOUNTS:
            raise ValueError(f"a 2N device has at most {MAX_ACCOUNTS} HTTP API accounts")
        if not username or ":" in username:
            raise ValueError("a username is not empty and has no ':'")
        account = Account(username, password, groups)
        self.accounts[username] = account
        return account

    def remove_account(self, username: str) -> None:
        self.accounts.pop(username, None)

    def expire_nonces(self) -> None:
        """Forget every Digest nonce: the next request with one gets a ``stale=true`` challenge."""
        self._nonces.clear()

    def set_keys(self, keys: Iterable[MobileKey | None]) -> None:
        """Store up to four keys from slot 1 on; the rest of the slots become empty."""
        slots = list(keys)
        if len(slots) > KEY_SLOTS:
            raise ValueError(f"at most {KEY_SLOTS} keys")
        self.mobile_keys = slots + [None] * (KEY_SLOTS - len(slots))

    def inject_fault(
        self,
        path: str | None,
        kind: FaultKind,
        times: int | None = 1,
        *,
        seconds: float | None = None,
        keys_written: int = 1,
        method: str | None = None,
        skip: int = 0,
    ) -> None:
        """Spoil the next ``times`` (None: every) served requests to ``path`` (None: any path).

        ``method`` limits the fault to one method; ``skip`` lets that many matching requests
        through first (a fault for the third read, say). Faults apply in the order injected.

        ``delay`` waits ``seconds`` (default ``fault_delay``) then acts and answers normally;
        ``late_answer`` acts at once and answers after ``seconds`` (a client that gave up before
        never learns that the device acted); ``disconnect`` cuts the connection before acting,
        ``disconnect_after`` after acting; ``malformed`` answers non-JSON; ``http_error`` answers
        HTTP 500 with an HTML page; ``error_envelope`` answers error 14 without acting.
        Mobile key PUT only: ``put_partial`` (cut), ``put_partial_error`` (error 14) and
        ``put_partial_silent`` (success, as if all was written) write the location and the first
        ``keys_written`` slots of the request, leaving the other slots as they were;
        ``put_refuse_new`` answers success but does not write the keys it does not hold already
        (as it does with an invalid key: their slots become empty); ``put_ignored`` answers success
        and writes nothing.
        aiohttp's client sends an idempotent request (GET, PUT) a second time when the connection
        is cut, so a cut meant to reach such a client needs ``times=2`` (and a Digest retry
        replays the nonce count, which the device answers 401 ``stale=true``); a POST is not
        sent again.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 or None")
        target = None if path is None else api_path(path)
        if skip < 0:
            raise ValueError("skip must be 0 or more")
        verb = None if method is None else method.upper()
        self._faults.append(_Fault(kind, target, times, seconds, keys_written, verb, skip))

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, path: str, method: str | None = None) -> int:
        """Requests received for ``path`` (any form of :func:`api_path`), challenges included."""
        target = api_path(path)
        return sum(
            1
            for request in self.requests
            if request.path == target and (method is None or request.method == method.upper())
        )

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # ----- certificate -------------------------------------------------------------------------
    @property
    def certificate_der(self) -> bytes:
        if self._cert is None:
            raise RuntimeError("no certificate yet: HTTPS makes one at the first start")
        return self._cert[0]

    @property
    def certificate_pem(self) -> str:
        if self._cert is None:
            raise RuntimeError("no certificate yet: HTTPS makes one at the first start")
        return self._cert[1].decode()

    @property
    def certificate_sha256(self) -> bytes:
        """SHA-256 of the DER certificate the server presents (for ``aiohttp.Fingerprint``)."""
        return hashlib.sha256(self.certificate_der).digest()

    @property
    def certificate_fingerprint(self) -> str:
        return ":".join(f"{byte:02X}" for byte in self.certificate_sha256)

    def replace_certificate(self) -> bytes:
        """Serve a new self-signed certificate from now on; returns its SHA-256.

        New TLS connections get it at once; idle kept-alive connections are closed at once and
        busy ones after their reply, as a device restarting its web server would.
        """
        self._cert = _self_signed_certificate(self.info["serialNumber"])
        if self._ssl_context is not None:
            self._load_certificate(self._ssl_context)
        if self._runner is not None and self._runner.server is not None:
            for connection in self._runner.server.connections:
                if connection.transport in self._serving:
                    connection.close()  # after the reply it is writing
                else:
                    connection.force_close()  # idle keep-alive connection
        return self.certificate_sha256

    def _load_certificate(self, context: ssl.SSLContext) -> None:
        assert self._cert is not None
        with tempfile.TemporaryDirectory(prefix="two-n-sim-") as folder:
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_bytes(self._cert[1])
            key_file.write_bytes(self._cert[2])
            context.load_cert_chain(cert_file, key_file)

    # ----- server ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port; port 0 picks a free port, or reuses the previous one on restart."""
        if self._runner is not None:
            raise RuntimeError("simulator already running")
        if port == 0 and self.port and host == self.host:
            port = self.port  # the device comes back at the address the user configured
        context: ssl.SSLContext | None = None
        if self.protocol == "https":
            if self._cert is None:
                self._cert = _self_signed_certificate(self.info["serialNumber"])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._load_certificate(context)
        self._stopping = asyncio.Event()
        self._runner, self.port = await serve(
            self._handle, host, port, ssl_context=context, client_max_size=256 * 1024
        )
        self._ssl_context = context
        self.host = host
        self.event_log.record("DeviceState", {"state": "startup"})

    async def stop(self) -> None:
        """Stop listening (a reboot: Digest nonces are forgotten, configuration is kept)."""
        self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._ssl_context = None
        self._nonces.clear()
        self.event_log.restart()
        for timer in self._switch_timers:
            timer.cancel()
        self._switch_timers.clear()

    async def __aenter__(self) -> TwoNDeviceSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----- plumbing ----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await _control(self, request)
        body = await request.read()
        params = dict(request.query)
        parsed: object = None
        if body and request.method == "POST" and request.content_type.endswith("urlencoded"):
            form = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
            params = {**params, **form}
            parsed = form
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = f"<{len(body)} bytes, not JSON>"
        record = RecordedRequest(
            request.method,
            request.path,
            dict(params),
            None,
            _masked(parsed),
            time.monotonic(),
        )
        self.requests.append(record)
        transport = request.transport
        if transport is not None:
            self._serving.add(transport)
        try:
            response = await self._serve(request, _Call(request, params, body, record, None))
        except _Disconnect:
            if transport is not None:
                transport.abort()
            self._log(record, "connection cut")
            return web.Response(status=204)  # never reaches the client
        finally:
            if transport is not None:
                self._serving.discard(transport)
        record.status = response.status
        self._log(record, f"HTTP {response.status}")
        return response

    async def _serve(self, request: web.Request, call: _Call) -> web.StreamResponse:
        record = call.record
        try:
            route = self._routes.get(request.path)
            if route is None:
                raise ApiError(2)
            if request.method not in route.methods:
                raise ApiError(3)
            account = self._authenticate(request, record)
            privilege = route.privilege
            if (
                privilege is not None
                and account is not None
                and privilege not in account.privileges
            ):
                raise ApiError(10, privilege)
            call.fault = fault = self._take_fault(request.path, request.method)
            if fault is not None:
                record.fault = fault.kind
                early = await self._early_fault(fault)
                if early is not None:
                    return early
            outcome = await route.handler(call)
            if fault is not None and fault.kind == "disconnect_after":
                raise _Disconnect
            if fault is not None and fault.kind == "late_answer":
                await self._wait(fault)
        except ApiError as err:
            record.error_code = err.code
            response = web.json_response(err.envelope(), status=err.status)
            if err.challenge is not None:
                response.headers["WWW-Authenticate"] = err.challenge
            return response
        if isinstance(outcome, web.StreamResponse):
            return outcome
        envelope: Envelope = {"success": True}
        if outcome is not None:
            envelope["result"] = outcome
        return web.json_response(envelope)

    def _take_fault(self, path: str, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path is not None and fault.path != path:
                continue
            if fault.kind.startswith("put_") and (path != MOBILEKEY_CONFIG or method != "PUT"):
                continue
            if fault.method is not None and fault.method != method:
                continue
            if fault.skip:
                fault.skip -= 1
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault
        return None

    async def _early_fault(self, fault: _Fault) -> web.StreamResponse | None:
        """The reply of a fault that replaces the device's work; None to go on serving."""
        if fault.kind == "delay":
            await self._wait(fault)
            return None
        if fault.kind == "disconnect":
            raise _Disconnect
        if fault.kind == "malformed":
            return web.Response(
                text='{"success": true, "result": ', content_type="application/json"
            )
        if fault.kind == "http_error":
            html = "<html><body><h1>500 Internal Server Error</h1></body></html>"
            return web.Response(status=500, text=html, content_type="text/html")
        if fault.kind == "error_envelope":
            raise ApiError(14)
        return None  # disconnect_after and put_partial*: the handler's business

    async def _wait(self, fault: _Fault) -> None:
        """Wait the fault's seconds (``fault_delay`` by default), or until the device stops."""
        seconds = self.fault_delay if fault.seconds is None else fault.seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _log(self, record: RecordedRequest, outcome: str) -> None:
        query = "&".join(f"{key}={value}" for key, value in record.query.items())
        parts = [
            f"{record.method} {record.path}{'?' + query if query else ''}",
            f"user={record.username or '-'}",
        ]
        if record.body is not None and record.method in ("PUT", "POST"):
            parts.append(f"body={json.dumps(record.body, ensure_ascii=False)}")
        parts.append(f"-> {outcome}")
        if record.error_code is not None:
            parts.append(f"error {record.error_code}")
        if record.fault is not None:
            parts.append(f"fault={record.fault}")
        line = " ".join(parts)
        _LOGGER.info("%s", line)
        if self.log_path is not None:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"{stamp} {line}\n")

    # ----- authentication ----------------------------------------------------------------------
    def _challenge(self, stale: bool = False) -> str:
        now = time.monotonic()
        for nonce, state in list(self._nonces.items()):
            if now - state.issued_at > self.nonce_lifetime:
                del self._nonces[nonce]
        if self.auth == "basic":
            return f'Basic realm="{REALM}"'
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = _Nonce(now)
        return (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", opaque="{self._opaque}", '
            f"algorithm=MD5{', stale=true' if stale else ''}"
        )

    def _unauthorized(self, code: int = 9, *, stale: bool = False) -> ApiError:
        return ApiError(code, status=401, challenge=self._challenge(stale))

    def _authenticate(self, request: web.Request, record: RecordedRequest) -> Account | None:
        """The account of a request (None when the device asks for none), or raise 401."""
        if self.auth == "none":
            record.authenticated = True
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.strip().partition(" ")
        if not scheme:
            raise self._unauthorized()
        if scheme.lower() != self.auth:
            raise self._unauthorized(8)
        if self.auth == "basic":
            account = self._check_basic(credentials, record)
        else:
            account = self._check_digest(request, credentials, record)
        record.authenticated = True
        return account

    def _check_basic(self, credentials: str, record: RecordedRequest) -> Account:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except binascii.Error, UnicodeDecodeError:
            raise self._unauthorized() from None
        username, _, password = decoded.partition(":")
        record.username = username
        account = self.accounts.get(username)
        if account is None or not hmac.compare_digest(account.password.encode(), password.encode()):
            raise self._unauthorized()
        return account

    def _check_digest(
        self, request: web.Request, credentials: str, record: RecordedRequest
    ) -> Account:
        fields = _parse_auth_params(credentials)
        record.username = fields.get("username")
        needed = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        account = self.accounts.get(fields.get("username", ""))
        if (
            account is None
            or any(name not in fields for name in needed)
            or fields["realm"] != REALM
            or fields["qop"] != "auth"
            or fields.get("algorithm", "MD5").upper() != "MD5"
            or fields.get("opaque", self._opaque) != self._opaque
            or fields["uri"] not in (request.raw_path, request.path_qs)
        ):
            raise self._unauthorized()
        ha1 = _md5(f"{account.username}:{REALM}:{account.password}")
        ha2 = _md5(f"{request.method}:{fields['uri']}")
        nonce, nc, cnonce = fields["nonce"], fields["nc"], fields["cnonce"]
        expected = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        if not hmac.compare_digest(expected, fields["response"].lower()):
            raise self._unauthorized()
        try:
            count = int(nc, 16)
        except ValueError:
            raise self._unauthorized() from None
        state = self._nonces.get(nonce)
        if (
            state is None
            or time.monotonic() - state.issued_at > self.nonce_lifetime
            or count in state.used
        ):
            raise self._unauthorized(stale=True)
        state.used.add(count)
        return account

    # ----- vendor behaviour --------------------------------------------------------------------
    async def _system_info(self, call: _Call) -> SystemInfo:
        return self.info.copy()

    def _switch_param(self, params: Mapping[str, str], required: bool) -> SimSwitch | None:
        text = params.get("switch")
        if text is None or text == "":
            if required:
                raise ApiError(11, "switch")
            return None
        try:
            number = int(text)
        except ValueError:
            raise ApiError(12, "switch") from None
        if number not in self.switches:
            raise ApiError(12, "switch")
        return self.switches[number]

    def _chosen(self, params: Mapping[str, str]) -> list[SimSwitch]:
        one = self._switch_param(params, required=False)
        return [one] if one is not None else sorted(self.switches.values(), key=lambda s: s.switch)

    async def _switch_caps(self, call: _Call) -> SwitchCapsResult:
        return {"switches": [item.caps() for item in self._chosen(call.params)]}

    async def _switch_status(self, call: _Call) -> SwitchStatusResult:
        now = time.monotonic()
        return {"switches": [item.status(now) for item in self._chosen(call.params)]}

    async def _switch_ctrl(self, call: _Call) -> _Outcome:
        params = call.params
        item = self._switch_param(params, required=True)
        assert item is not None
        action = params.get("action")
        if not action:
            raise ApiError(11, "action")
        if action not in SWITCH_ACTIONS:
            raise ApiError(12, "action")
        timeout: int | None = None
        if action == "hold" and params.get("timeout"):
            try:
                timeout = int(params["timeout"])
            except ValueError:
                raise ApiError(12, "timeout") from None
            low, high = HOLD_TIMEOUT_RANGE
            if not low <= timeout <= high:
                raise ApiError(12, "timeout")
        if not item.enabled:
            raise ApiError(4, "switch")
        self._act(item, action, timeout)
        _report_switch(self, item)
        if text := params.get("response"):
            return web.Response(text=text)
        return None

    def _act(self, item: SimSwitch, action: str, timeout: int | None) -> None:
        """Apply an action; lock, unlock, hold and release always succeed (2N's ctrl page)."""
        now = time.monotonic()
        failed = ApiError(14, description="action failed")
        if action == "lock":
            item.locked, item.latched, item.active_until = True, False, 0.0
        elif action == "unlock":
            item.locked = False
        elif action == "release":
            item.held, item.hold_until = False, None
        elif action == "hold":
            item.held, item.hold_until = True, None if timeout is None else now + timeout
            item.activations += int(not item.locked)
        elif item.locked:
            if action != "off":
                raise failed  # a locked switch is off and cannot be switched on
        elif item.is_held(now):
            if action == "off" or (action == "trigger" and item.mode == "bistable"):
                raise failed  # a held switch is on and cannot be switched off
        elif action == "off":
            item.latched, item.active_until = False, 0.0
        elif item.mode == "bistable":
            item.latched = True if action == "on" else not item.latched
            item.activations += int(item.latched)
        else:  # monostable on / trigger: active for switchOnDuration, then off by itself
            item.active_until = now + item.on_duration
            item.activations += 1

    async def _mobilekey_config(self, call: _Call) -> _Outcome:
        if call.request.method == "GET":
            config: MobileKeyConfig = {
                "location": self.location,
                "keys": [
                    {} if slot is None else slot.as_object(self.key_field)
                    for slot in self.mobile_keys
                ],
            }
            if self.key_field == "publicKey" and self.pairing_key is not None:
                config["pairingKey"] = self.pairing_key.as_object("publicKey")
            return config
        try:
            data: object = json.loads(call.body)
        except ValueError:
            raise ApiError(12) from None
        if not isinstance(data, dict):
            raise ApiError(12)
        location = data.get("location")
        if "location" in data:
            if not isinstance(location, str):
                raise ApiError(12, "location")
            if len(location) > MAX_LOCATION:
                raise ApiError(13, "location")
        slots: list[MobileKey | None] | None = None
        if "keys" in data:
            entries = data["keys"]
            if not isinstance(entries, list) or len(entries) > KEY_SLOTS:
                raise ApiError(12, "keys")
            slots = [_parse_key(entry) for entry in entries]
            slots += [None] * (KEY_SLOTS - len(slots))
        fault = call.fault
        kind = None if fault is None else fault.kind
        if kind == "put_ignored":
            return None
        if isinstance(location, str):
            self.location = location
        if slots is not None:
            written = KEY_SLOTS
            if fault is not None and kind in PARTIAL_PUTS:
                written = max(0, min(fault.keys_written, KEY_SLOTS))
            if kind == "put_refuse_new":
                held = {key.private_der for key in self.mobile_keys if key is not None}
                slots = [key if key is None or key.private_der in held else None for key in slots]
            self.mobile_keys[:written] = slots[:written]
        if kind == "put_partial":
            raise _Disconnect
        if kind == "put_partial_error":
            raise ApiError(14)
        return None


# ----- command line ------------------------------------------------------------------------------
def _user_spec(text: str) -> tuple[str, str, frozenset[str]]:
    username, sep, rest = text.partition(":")
    if not username or not sep:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD[:PRIV,...], got {text!r}")
    password, privileges = rest, frozenset(PRIVILEGES)
    head, sep, tail = rest.rpartition(":")
    groups = [group.strip() for group in tail.split(",") if group.strip()]
    if sep and (not tail or tail == "all" or all(group in PRIVILEGES for group in groups)):
        password = head
        privileges = frozenset(PRIVILEGES) if tail == "all" else frozenset(groups)
    return username, password, privileges


def _switch_spec(text: str) -> SimSwitch:
    parts = text.split(":")
    try:
        number = int(parts[0])
    except ValueError:
        raise argparse.ArgumentTypeError(f"switch number expected in {text!r}") from None
    mode = parts[1] if len(parts) > 1 else "monostable"
    if mode == "disabled":
        return SimSwitch(number, enabled=False)
    if mode not in SWITCH_MODES:
        raise argparse.ArgumentTypeError(f"mode is monostable, bistable or disabled: {text!r}")
    seconds = 5.0
    kind: SwitchType = "normal"
    for extra in parts[2:]:
        if extra == "security":
            kind = "security"
        else:
            try:
                seconds = float(extra)
            except ValueError:
                raise argparse.ArgumentTypeError(f"bad SECONDS in {text!r}") from None
    return SimSwitch(number, mode=mode, on_duration=seconds, type=kind)


def build_parser() -> argparse.ArgumentParser:
    privileges = ", ".join(PRIVILEGES)
    parser = argparse.ArgumentParser(
        prog="python -m simulators.two_n",
        description=(
            "Simulate a 2N intercom's HTTP API: api/system/info, api/switch/caps|status|ctrl, "
            "api/mobilekey/config, the event log api/log/caps|subscribe|pull|unsubscribe and "
            "api/camera/caps|snapshot, with None, Basic or Digest authentication over HTTP or "
            "HTTPS."
        ),
        epilog=(
            f"Built-in account (used when no --user is given): {DEFAULT_USER}:{DEFAULT_PASSWORD} "
            f"with every privilege group ({privileges}). Privilege groups: system (keypad, "
            "call and input events of the log; api/system/info needs no privilege), "
            "access_control (api/mobilekey/config; card, code, mobile key and fingerprint "
            "events), switches_control (api/switch/*; switch events), camera (api/camera/*). "
            "Example: python -m simulators.two_n --protocol https --user "
            "door:secret:switches_control --user keys:secret2:access_control. "
            "What happens at the door (a doorbell press, a card, a code, a mobile key, a "
            "fingerprint, the door, an input, a switch) is put in the event log by POST "
            f"{CONTROL_EVENT} (JSON) or from a shell: python -m simulators.two_n inject --help"
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="TCP port, 0 for any free port (default: %(default)s)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="http",
        help="http, or https with a self-signed certificate made at start whose SHA-256 "
        "fingerprint is printed (default: %(default)s)",
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="digest",
        help="HTTP authentication the device asks for: none, basic or digest (RFC 7616, MD5, "
        "qop=auth; a real device's default) (default: %(default)s)",
    )
    parser.add_argument(
        "--user",
        type=_user_spec,
        action="append",
        default=[],
        metavar="NAME:PASSWORD[:PRIV,...]",
        help=f"an HTTP API account (repeatable, at most {MAX_ACCOUNTS}); PRIV is a comma list of "
        f"{privileges} or 'all' (the default); an empty list gives no privilege. Any --user "
        f"replaces the built-in {DEFAULT_USER}:{DEFAULT_PASSWORD}",
    )
    parser.add_argument(
        "--serial",
        default=DEFAULT_SERIAL,
        help="serial number (system/info, default mobile key location) (default: %(default)s)",
    )
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help="deviceName in system/info (default: %(default)s)"
    )
    parser.add_argument(
        "--mac", help=f"macAddr in system/info (default: {MAC_PREFIX}-.. derived from the serial)"
    )
    parser.add_argument(
        "--switch",
        type=_switch_spec,
        action="append",
        default=[],
        metavar="N:MODE[:SECONDS][:security]",
        help="a switch (repeatable): MODE monostable (active SECONDS, default 5, then off by "
        "itself), bistable or disabled. Any --switch replaces the default: 1 monostable 5 s, "
        "2 bistable, 3 and 4 disabled",
    )
    parser.add_argument(
        "--key-field",
        choices=KEY_FIELDS,
        default="key",
        help="GET api/mobilekey/config shape: 'key' (the seed page: private keys) or "
        "'publicKey' (newer firmware: public halves, and pairingKey) (default: %(default)s)",
    )
    parser.add_argument(
        "--location", help="initial mobile key location (default: the serial number)"
    )
    parser.add_argument(
        "--pairing-key",
        action="store_true",
        help="hold a random RSA pairing key (shown as pairingKey with --key-field publicKey)",
    )
    parser.add_argument(
        "--nonce-lifetime",
        type=float,
        default=300.0,
        help="seconds a Digest nonce stays valid before it is answered stale=true "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--log-service",
        choices=LOG_SERVICES,
        default="enabled",
        help="the event log (api/log/*): enabled; disabled (every call answers error 4, as a "
        "device whose Logging service is off or unlicensed); absent (error 2, as a firmware "
        "without it) (default: %(default)s)",
    )
    parser.add_argument(
        "--no-camera",
        action="store_true",
        help="a device without a camera (api/camera/* answer error 2)",
    )
    parser.add_argument(
        "--log",
        metavar="FILE",
        help="append one line per request to FILE (passwords never, key material masked)",
    )
    return parser


def simulator_from_args(args: argparse.Namespace) -> TwoNDeviceSimulator:
    users: list[tuple[str, str, frozenset[str]]] = args.user
    if len(users) > MAX_ACCOUNTS:
        raise ValueError(f"at most {MAX_ACCOUNTS} accounts")
    switches: list[SimSwitch] = args.switch
    return TwoNDeviceSimulator(
        auth=args.auth,
        accounts={name: (password, groups) for name, password, groups in users} or None,
        protocol=args.protocol,
        serial=args.serial,
        name=args.name,
        mac=args.mac,
        switches=switches or None,
        key_field=args.key_field,
        location=args.location,
        pairing_key=MobileKey.generate() if args.pairing_key else None,
        nonce_lifetime=args.nonce_lifetime,
        log_path=args.log,
        log_service=args.log_service,
        camera=not args.no_camera,
    )


def describe(simulator: TwoNDeviceSimulator) -> list[str]:
    """The lines printed at start: URL, certificate fingerprint, accounts, switches."""
    lines = [f"2N device simulator at {simulator.url} (authentication: {simulator.auth})"]
    if simulator.protocol == "https":
        lines.append(f"certificate SHA-256 {simulator.certificate_fingerprint}")
    for account in simulator.accounts.values():
        builtin = account.username == DEFAULT_USER and account.password == DEFAULT_PASSWORD
        password = account.password if builtin else _mask(account.password)
        groups = ", ".join(sorted(account.privileges)) or "no privilege"
        lines.append(f"account {account.username} password {password}: {groups}")
    for item in sorted(simulator.switches.values(), key=lambda s: s.switch):
        what = "disabled" if not item.enabled else f"{item.mode} {item.type}"
        if item.enabled and item.mode == "monostable":
            what += f" {item.on_duration:g} s"
        lines.append(f"switch {item.switch}: {what}")
    lines.append(
        f"event log {simulator.log_service}, camera {'yes' if simulator.camera else 'no'}; "
        f"events to inject: POST {simulator.url}{CONTROL_EVENT}"
    )
    return lines


async def _serve(args: argparse.Namespace) -> None:
    simulator = simulator_from_args(args)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await simulator.start(args.host, args.port)
    print("\n".join(describe(simulator)), flush=True)
    try:
        await stopped.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["inject"]:
        inject_main(arguments[1:])
        return
    args = build_parser().parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


# ----- event log, camera and the control endpoint ----------------------------------------------
# The event log's model is simulators.two_n_log; here are its routes, the camera's, the switch
# events, and what a test or a person injects (``inject``, ``POST /sim/event``, or
# ``python -m simulators.two_n inject``).
#
# Choices where the pages are silent:
# - ``log_service="disabled"`` answers every api/log call error 4 (the Logging service switched
#   off or not licensed); ``"absent"`` serves no api/log path (error 2, an older firmware).
# - Switch events: SwitchStateChanged ``{"switch": N, "state": bool}`` whenever a switch's
#   active state changes, by the API or at the door, and when a monostable activation or a
#   timed hold ends.
# - ``pull_error`` and ``pull_cut`` spoil the next pull: error 14, or the connection cut after
#   the device dequeued its events (they are lost on the way).
# - What each injected happening logs (``session`` links the events of one happening):
#   doorbell: KeyPressed and KeyReleased ``{"key": "%N"}``, then CallStateChanged
#   ``{"direction": "outgoing", "state": "connecting"|"ringing", "peer", "session", "call"}``;
#   card: CardEntered ``{"direction", "reader", "uid", "valid", "ap", "session"}``; code:
#   CodeEntered ``{"code", "valid", "ap", "session"}``; mobile key: MobKeyEntered
#   ``{"direction", "action", "authid", "valid", "ap", "session"}``; fingerprint:
#   FingerEntered ``{"direction", "valid", "ap", "session"}``; each valid one followed, when a
#   user is named, by UserAuthenticated ``{"ap", "session", "name", "uuid"}``. ``authid`` is
#   the first 16 hex digits of the SHA-256 of the public half (SubjectPublicKeyInfo DER) of
#   the location key in the slot the phone used; a phone is refused when that slot is empty.
#   door: DoorStateChanged ``{"state": "opened"|"closed"}``, DoorOpenTooLong and
#   UnauthorizedDoorOpen ``{"state": "in"}``; input: InputChanged ``{"port", "state"}``.
# - The camera: resolutions 160x120, 320x240, 640x480 and 1280x960, source ``internal``; a
#   snapshot is one small JPEG whatever the resolution; width and height must be one of them
#   (missing: error 11, other: 12).
LogService = Literal["enabled", "disabled", "absent"]
LOG_SERVICES: tuple[LogService, ...] = get_args(LogService)
LOG_CAPS = "/api/log/caps"
LOG_SUBSCRIBE = "/api/log/subscribe"
LOG_PULL = "/api/log/pull"
LOG_UNSUBSCRIBE = "/api/log/unsubscribe"
CAMERA_CAPS = "/api/camera/caps"
CAMERA_SNAPSHOT = "/api/camera/snapshot"
CAMERA_RESOLUTIONS = ((160, 120), (320, 240), (640, 480), (1280, 960))
CONTROL_PREFIX = "/sim/"
CONTROL_EVENT = "/sim/event"
CONTROL_REQUESTS = "/sim/requests"
HAPPENINGS = (
    "doorbell",
    "card",
    "code",
    "mobile_key",
    "fingerprint",
    "door",
    "input",
    "switch",
    "reboot",
    "forget_subscriptions",
    "malformed_event",
    "pull_error",
    "pull_cut",
)
DOOR_STATES = ("opened", "closed", "open_too_long", "forced")
_SESSIONS = itertools.count(1)
_RESTARTS: set[asyncio.Task[list[dict[str, JsonValue]]]] = set()  # reboots asked by control
SNAPSHOT_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNyw"
    "tQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT0"
    "9PT09PT09PT09PT09PT09PT09PT0//wAARCAAYACADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFB"
    "gcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcY"
    "GRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKW"
    "mp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQ"
    "AAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzU"
    "vAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImK"
    "kpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAM"
    "BAAIRAxEAPwDDq1Dp13PEssUW5G6HcB/WqtdRo3/ILh/4F/6Ea7cbiJUKalHucmHpKpKzMN9LvY42d4cKoJJ3DgfnVO"
    "uvvf8AjxuP+uTfyrkKnA4meIi3LoViKMaTSQV1Gjf8guH/AIF/6EaKKyzX+CvX9GXgv4j9Ce9/48bj/rk38q5Ciioyn"
    "4JepWN+JH//2Q=="
)


def _event_routes(sim: TwoNDeviceSimulator) -> dict[str, _Route]:
    routes: dict[str, _Route] = {}
    if sim.log_service != "absent":
        methods = ("GET", "POST")
        routes[LOG_CAPS] = _Route(methods, None, partial(_log_caps, sim))
        routes[LOG_SUBSCRIBE] = _Route(methods, None, partial(_log_subscribe, sim))
        routes[LOG_PULL] = _Route(methods, None, partial(_log_pull, sim))
        routes[LOG_UNSUBSCRIBE] = _Route(methods, None, partial(_log_unsubscribe, sim))
    if sim.camera:
        routes[CAMERA_CAPS] = _Route(("GET", "POST"), "camera", _camera_caps)
        routes[CAMERA_SNAPSHOT] = _Route(("GET", "POST"), "camera", _camera_snapshot)
    return routes


def _log_service(sim: TwoNDeviceSimulator) -> None:
    if sim.log_service == "disabled":
        raise ApiError(4)


async def _log_caps(sim: TwoNDeviceSimulator, call: _Call) -> _Outcome:
    _log_service(sim)
    return {"events": list(sim.event_log.caps)}


async def _log_subscribe(sim: TwoNDeviceSimulator, call: _Call) -> _Outcome:
    _log_service(sim)
    privileges: frozenset[str] | None = None
    if sim.auth != "none":
        account = sim.accounts.get(call.record.username or "")
        privileges = frozenset() if account is None else account.privileges
    try:
        return sim.event_log.subscribe(call.params, privileges)
    except LogError as err:
        raise ApiError(err.code, err.param) from None


async def _log_pull(sim: TwoNDeviceSimulator, call: _Call) -> _Outcome:
    _log_service(sim)
    stopping = sim._stopping
    try:
        batch = await sim.event_log.pull(call.params, stopping)
    except LogError as err:
        raise ApiError(err.code, err.param) from None
    if stopping.is_set():
        raise _Disconnect  # the device restarts while the pull waits: the connection drops
    return batch


async def _log_unsubscribe(sim: TwoNDeviceSimulator, call: _Call) -> _Outcome:
    _log_service(sim)
    try:
        sim.event_log.unsubscribe(call.params)
    except LogError as err:
        raise ApiError(err.code, err.param) from None
    return None


async def _camera_caps(call: _Call) -> _Outcome:
    return {
        "jpegResolution": [{"width": wide, "height": high} for wide, high in CAMERA_RESOLUTIONS],
        "sources": [{"source": "internal"}],
    }


async def _camera_snapshot(call: _Call) -> _Outcome:
    size = []
    for name in ("width", "height"):
        text = call.params.get(name)
        if not text:
            raise ApiError(11, name)
        try:
            size.append(int(text))
        except ValueError:
            raise ApiError(12, name) from None
    if tuple(size) not in CAMERA_RESOLUTIONS:
        raise ApiError(12, "width")
    if call.params.get("source", "internal") != "internal":
        raise ApiError(12, "source")
    return web.Response(body=SNAPSHOT_JPEG, content_type="image/jpeg")


def _report_switch(sim: TwoNDeviceSimulator, item: SimSwitch) -> None:
    """Log the switch's new state when it changed; look again when a timed state ends."""
    if not sim.running or sim.log_service != "enabled":
        return
    now = time.monotonic()
    active = item.is_active(now)
    if sim._reported.get(item.switch, False) != active:
        sim._reported[item.switch] = active
        sim.event_log.record("SwitchStateChanged", {"switch": item.switch, "state": active})
    ends = [end for end in (item.active_until, item.hold_until) if end is not None and end > now]
    if ends:

        def again() -> None:
            sim._switch_timers.discard(timer)
            _report_switch(sim, item)

        timer = asyncio.get_running_loop().call_later(min(ends) - now + 0.001, again)
        sim._switch_timers.add(timer)


def _authid(sim: TwoNDeviceSimulator, slot: int) -> str | None:
    """The ``authid`` of a phone using the location key in ``slot`` (None: empty slot)."""
    key = sim.mobile_keys[slot - 1] if 1 <= slot <= KEY_SLOTS else None
    public = None if key is None else key.public_der
    return None if public is None else hashlib.sha256(public).hexdigest()[:16]


async def inject(
    sim: TwoNDeviceSimulator,
    what: str,
    *,
    button: int = 1,
    user: str | None = None,
    valid: bool = True,
    slot: int = 1,
    switch: int | None = None,
    state: str | bool | None = None,
    port: str = "input1",
    uid: str = "3F00A2C1",
    code: str = "1234",
) -> list[dict[str, JsonValue]]:
    """Make something happen at the device; return the events it logged (with ``at``, the
    ``time.monotonic()`` of each).

    ``what``: one of ``HAPPENINGS``. ``valid``: the credential is accepted; ``user``: the name
    the device reports for it; ``switch``: the switch an accepted credential opens (or the
    switch of ``what="switch"``, with ``state`` on or off: a switch switched at the device).
    ``state``: for ``door`` one of ``DOOR_STATES``, for ``input`` on or off.
    """
    if what not in HAPPENINGS:
        raise ValueError(f"what happens is one of {', '.join(HAPPENINGS)}, not {what!r}")
    before = len(sim.event_log.history)
    session = next(_SESSIONS)
    if what == "doorbell":
        _log(sim, "KeyPressed", {"key": f"%{button}"})
        _log(sim, "KeyReleased", {"key": f"%{button}"})
        for call_state in ("connecting", "ringing"):
            peer = f"sip:{button}@{sim.host}"
            _log(
                sim,
                "CallStateChanged",
                {"direction": "outgoing", "state": call_state, "peer": peer, "session": session},
            )
    elif what in ("card", "code", "mobile_key", "fingerprint"):
        accepted = _credential(sim, what, session, valid=valid, slot=slot, uid=uid, code=code)
        if accepted and user is not None:
            uuid = hashlib.sha256(user.encode()).hexdigest()[:32]
            authenticated: dict[str, JsonValue] = {"ap": 0, "session": session, "name": user}
            _log(sim, "UserAuthenticated", authenticated | {"uuid": uuid})
        if accepted and switch is not None:
            _switch_at_door(sim, switch, on=True)
    elif what == "door":
        door = state if isinstance(state, str) else "opened"
        if door not in DOOR_STATES:
            raise ValueError(f"a door state is one of {', '.join(DOOR_STATES)}")
        if door in ("opened", "closed"):
            _log(sim, "DoorStateChanged", {"state": door})
        else:
            name = "DoorOpenTooLong" if door == "open_too_long" else "UnauthorizedDoorOpen"
            _log(sim, name, {"state": "in"})
    elif what == "input":
        _log(sim, "InputChanged", {"port": port, "state": state not in (False, "off")})
    elif what == "switch":
        _switch_at_door(sim, switch or 1, on=state not in (False, "off"))
    elif what == "reboot":
        await sim.stop()
        await sim.start(sim.host, sim.port)
        before = 0
    elif what == "forget_subscriptions":
        sim.event_log.forget()
    elif what == "malformed_event":
        sim.event_log.malformed_event()
    else:  # the next pull fails: error 14, or its answer is lost on the way (events gone)
        sim.inject_fault(LOG_PULL, "error_envelope" if what == "pull_error" else "disconnect_after")
    return [{**event.as_json(), "at": event.at} for event in list(sim.event_log.history)[before:]]


def _log(sim: TwoNDeviceSimulator, name: str, params: dict[str, JsonValue]) -> None:
    sim.event_log.record(name, params)


def _credential(
    sim: TwoNDeviceSimulator,
    what: str,
    session: int,
    *,
    valid: bool,
    slot: int,
    uid: str,
    code: str,
) -> bool:
    """Log a card, code, mobile key or finger at the reader; return whether it is accepted."""
    params: dict[str, JsonValue] = {"ap": 0, "session": session}
    if what == "card":
        name = "CardEntered"
        params |= {"direction": "in", "reader": "internal", "uid": uid}
    elif what == "code":
        name = "CodeEntered"
        params |= {"code": code}
    elif what == "mobile_key":
        name = "MobKeyEntered"
        authid = _authid(sim, slot)
        valid = valid and authid is not None
        params |= {"direction": "in", "action": "tap", "authid": authid or secrets.token_hex(8)}
    else:
        name = "FingerEntered"
        params |= {"direction": "in"}
    _log(sim, name, params | {"valid": valid})
    return valid


def _switch_at_door(sim: TwoNDeviceSimulator, number: int, *, on: bool) -> None:
    item = sim.switches.get(number)
    if item is None or not item.enabled:
        raise ValueError(f"switch {number} is not an enabled switch")
    action = "off" if not on else "trigger" if item.mode == "monostable" else "on"
    sim._act(item, action, None)
    _report_switch(sim, item)


async def _control(sim: TwoNDeviceSimulator, request: web.Request) -> web.StreamResponse:
    """``POST /sim/event`` ``{"what": ..., ...}`` (``inject``'s arguments) → the events;
    ``GET /sim/requests`` → ``{"total": N}``, the API requests received so far."""
    if request.path == CONTROL_REQUESTS and request.method == "GET":
        return web.json_response({"total": len(sim.requests)})
    if request.path != CONTROL_EVENT or request.method != "POST":
        return web.json_response({"error": f"POST {CONTROL_EVENT} only"}, status=404)
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object is expected")
        what = str(body.pop("what"))
        if what == "reboot":  # after this answer: the restart closes every connection
            restart = asyncio.get_running_loop().create_task(inject(sim, what))
            _RESTARTS.add(restart)
            restart.add_done_callback(_RESTARTS.discard)
            return web.json_response({"events": []})
        events = await inject(sim, what, **body)
    except (ValueError, KeyError, TypeError) as err:
        return web.json_response({"error": str(err)}, status=400)
    _LOGGER.info("Injected %s: %s", what, ", ".join(str(event["event"]) for event in events))
    return web.json_response({"events": events})


def inject_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.two_n inject",
        description="Make something happen at a running simulated 2N device (its event log "
        f"gets it): POST {CONTROL_EVENT} with what the options say; prints the events logged.",
        epilog="Examples: python -m simulators.two_n inject doorbell --button 1; "
        "... inject card --user Alice --switch 1 (a card that opens the door of switch 1); "
        "... inject card --refused; ... inject mobile_key --slot 2 --user Bob; "
        "... inject door --state forced; ... inject switch --switch 2 --state on; "
        "... inject reboot",
    )
    parser.add_argument("what", choices=HAPPENINGS, help="what happens at the device")
    parser.add_argument(
        "--url",
        default=f"http://127.0.0.1:{DEFAULT_PORT}",
        help="the simulator (default: %(default)s; an https one's certificate is not checked)",
    )
    parser.add_argument("--button", type=int, default=1, help="doorbell: the call button")
    parser.add_argument("--user", help="card, code, mobile_key, fingerprint: the user's name")
    parser.add_argument("--refused", action="store_true", help="the credential is refused")
    parser.add_argument("--slot", type=int, default=1, help="mobile_key: the key's slot (1-4)")
    parser.add_argument(
        "--switch", type=int, help="the switch an accepted credential opens; switch: which"
    )
    parser.add_argument("--state", help=f"door: {', '.join(DOOR_STATES)}; input, switch: on or off")
    parser.add_argument("--port", default="input1", help="input: which one")
    parser.add_argument("--uid", default="3F00A2C1", help="card: its UID")
    return parser


def inject_main(argv: list[str]) -> None:
    import urllib.request  # noqa: PLC0415 (only this command speaks to a simulator)

    args = inject_parser().parse_args(argv)
    body: dict[str, JsonValue] = {
        "what": args.what,
        "button": args.button,
        "user": args.user,
        "valid": not args.refused,
        "slot": args.slot,
        "switch": args.switch,
        "state": args.state,
        "port": args.port,
        "uid": args.uid,
    }
    request = urllib.request.Request(
        args.url.rstrip("/") + CONTROL_EVENT,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # loopback simulator
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            print(response.read().decode())
    except OSError as err:
        sys.exit(f"{args.url}: {err}")


if __name__ == "__main__":
    main()
