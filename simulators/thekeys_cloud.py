"""Simulator of The Keys cloud API (the vendor's API host), for account onboarding.

Written from the seed page (share creation) and the vendor notes ("Cloud ... for account
onboarding"). It shares its data model with :mod:`simulators.thekeys`: a cloud gateway may be
backed by a ``TheKeysGatewaySimulator``; a share created in the cloud for lock L on gateway G is
accepted by G's simulator (the lock is added to it when missing), and ``accessoire/get`` answers
that simulator's ``host:port`` as the gateway's ``ip``.

API (``/api/login_check`` and ``/fr/api/v2/...``):

- ``POST /api/login_check`` form ``_username`` (international phone, ``+33…``), ``_password`` →
  ``{"access_token": JWT, "expires_in": 7200}`` or, with ``token_field="token"``,
  ``{"token": JWT}``. Wrong phone or password → 401 ``{"code": 401, "message": "Invalid
  credentials."}``. A national number (``06…``) is unknown here: normalising is the client's job.
- every ``/fr/api/v2/`` call needs ``Authorization: Bearer <token>``: none → 401 ``JWT Token not
  found``, unknown → 401 ``Invalid JWT Token``, older than ``token_ttl`` (default 2 h) or after
  ``expire_tokens()`` → 401 ``{"code": 401, "message": "Expired JWT Token"}``.
- envelope ``{"status": 200, "data": ..., "message": null}``; errors use the same envelope with
  the HTTP status in ``status`` and ``data`` null (400 missing field, 403 another account's phone,
  404 unknown or not the account's lock/accessory/path, 405 wrong method).
- ``GET utilisateur/get/<phone>`` → ``data.serrures[]``: ``{id, id_serrure, nom, etat, battery,
  accessoires: [{id, accessoire: {id, id_accessoire, nom, type}, info}]}``.
- ``GET accessoire/get/<accessoire.id>`` → ``data: {id, id_accessoire, nom, type, info:
  {last_seen, ip}}``.
- ``GET partage/all/serrure/<serrure.id>`` → ``data: {partages_utilisateur: [],
  partages_accessoire: [{id, nom, code, actif, description, iddesc, date_debut, date_fin,
  heure_debut, heure_fin, accessoire: {id, id_accessoire, nom, type}}]}``.
- ``POST partage/create/<serrure.id>/accessoire/<id_accessoire>`` form ``partage_accessoire[nom]``
  (required), ``[description]``, optional ``[actif]`` and ``[iddesc]`` → ``data: {id, code}``, a
  new random 16-character share code.

Choices where the notes are silent (the simulator's own; clients must not rely on them):

- three different numbers: the link id (``accessoires[].id``), the accessory id
  (``accessoire.id``, for ``accessoire/get``) and ``id_accessoire`` (a string such as
  ``"TKGW0001"``, for ``partage/create``); the lock's cloud ``id`` differs from ``id_serrure``.
- ``id_serrure`` is an integer (``string_identifiers = True`` writes it as a string).
- ``accessoires[].info`` in the listing is null (``accessory_info_in_listing = True`` fills it
  with ``{last_seen, ip}``): a client reads the address from ``accessoire/get``.
- ``last_seen`` is ISO 8601 with the UTC offset (``2026-01-01T12:00:00+00:00``); a gateway with no
  fixed ``last_seen`` was seen 5 s ago (gateways report every 5 s). ``ip`` is ``host:port``, null,
  or absent (``IpMode.ABSENT``).
- ``etat`` is "closed", "open", "jammed" or "unknown", read from the gateway simulator when the
  lock is on one; ``battery`` is in millivolts, likewise.
- ``[actif]`` absent means active; ``0``, ``false``, ``off``, ``no`` or empty mean inactive. An
  inactive share's code is not accepted by the gateway simulator.
- A gateway simulator accepts every active cloud share of that lock on it (the newest becomes
  ``SimulatedLock.share_code``, the others ``extra_codes``) plus any code set on it by hand.
- Accessory ``type`` 1 is a gateway (notes); the demo's keypad uses type 2 (made up).
- Only the ``fr`` locale is routed (``/fr/api/v2/``), as in the notes.

Fault kinds (``inject_fault(path_prefix, kind, times)``): ``http_500`` (HTML body), ``unavailable``
(503, HTML body), ``delay`` (wait ``seconds`` on the event loop, then answer normally),
``disconnect`` (drop the connection, nothing done), ``malformed`` (truncated JSON).

Run ``python -m simulators.thekeys_cloud --help`` for the built-in demo account.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import datetime as dt
import enum
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import signal
import string
import time
from typing import Literal, NoReturn, TypedDict

from aiohttp import web

from simulators.thekeys import (
    REQUEST_LOGGER as GATEWAY_REQUEST_LOGGER,
    STATE_CLOSED,
    STATE_JAMMED,
    STATE_OPEN,
    JSONValue,
    ReplyShape,
    TheKeysGatewaySimulator,
    add_log_file,
    mask,
)

from .server import serve

_LOGGER = logging.getLogger(__name__)
REQUEST_LOGGER = logging.getLogger("simulators.thekeys_cloud.requests")

DEFAULT_PORT = 8185
DEFAULT_GATEWAY_PORT = 8186  # as scripts/develop runs it, beside the gateway simulator's 8181
TOKEN_TTL = 2 * 3600.0
ACCESSORY_GATEWAY = 1
ACCESSORY_KEYPAD = 2  # made up: any type other than 1 is not a gateway
LIVE_LAG = 5.0  # a gateway without a fixed last_seen reported this many seconds ago
V2_PREFIX = "/fr/api/v2/"
LOGIN_PATH = "/api/login_check"
CLOUD_FAULT_KINDS = frozenset({"http_500", "unavailable", "delay", "disconnect", "malformed"})
SHARE_CODE_ALPHABET = string.ascii_letters + string.digits

DEMO_PHONE = "+33612345678"
DEMO_PASSWORD = "multilock-demo"
EMPTY_PHONE = "+33698765432"  # an account with no lock
EMPTY_PASSWORD = "no-locks-here"
DEMO_FRONT_DOOR, DEMO_FRONT_CODE = 45961123, "Zmo1sps2OVyCFtl1"
DEMO_BACK_DOOR = 45961124
DEMO_CELLAR = 45961125
DEMO_SHARE_NAME = "multilock"

type TokenField = Literal["access_token", "token"]
type Clock = Callable[[], float]
type Data = dict[str, JSONValue]


class IpMode(enum.Enum):
    """How ``accessoire/get`` reports a gateway's ``ip`` when no address is fixed."""

    FROM_SIMULATOR = "from simulator"  # host:port of the running gateway simulator, else null
    ABSENT = "absent"  # no "ip" key at all


# ----- reply shapes ------------------------------------------------------------------------------
class AccessoryRef(TypedDict):
    id: int
    id_accessoire: str
    nom: str
    type: int


class AccessoryInfo(TypedDict, total=False):
    last_seen: str | None
    ip: str | None


class AccessoryLink(TypedDict):
    id: int
    accessoire: AccessoryRef
    info: AccessoryInfo | None


class Serrure(TypedDict):
    id: int
    id_serrure: int | str
    nom: str
    etat: str
    battery: int
    accessoires: list[AccessoryLink]


class Utilisateur(TypedDict):
    id: int
    username: str
    tel: str
    firstname: str
    lastname: str
    email: str
    locale: str
    serrures: list[Serrure]


class Accessoire(TypedDict):
    id: int
    id_accessoire: str
    nom: str
    type: int
    info: AccessoryInfo


class PartageAccessoire(TypedDict):
    id: int
    nom: str
    code: str
    actif: bool
    description: str
    iddesc: str | None
    date_debut: None
    date_fin: None
    heure_debut: None
    heure_fin: None
    accessoire: AccessoryRef


class Partages(TypedDict):
    partages_utilisateur: list[JSONValue]
    partages_accessoire: list[PartageAccessoire]


class CreatedShare(TypedDict):
    id: int
    code: str


type Payload = Utilisateur | Accessoire | Partages | CreatedShare


# ----- data model --------------------------------------------------------------------------------
@dataclass(eq=False)
class CloudAccessory:
    """An accessory of an account; ``type == 1``: a gateway, maybe backed by a simulator."""

    id: int
    id_accessoire: str
    name: str
    type: int = ACCESSORY_GATEWAY
    simulator: TheKeysGatewaySimulator | None = None
    last_seen: float | None = None  # epoch seconds; None: LIVE_LAG seconds before now
    ip: str | IpMode | None = IpMode.FROM_SIMULATOR  # str: fixed; None: null


@dataclass(eq=False)
class CloudLink:
    """A lock's link to one accessory (``accessoires[].id``)."""

    id: int
    accessory: CloudAccessory


@dataclass(eq=False)
class CloudShare:
    """A share of a lock with an accessory (``partages_accessoire[]``)."""

    id: int
    name: str
    code: str = field(repr=False)
    accessory: CloudAccessory
    active: bool = True
    description: str = ""
    iddesc: str | None = None


@dataclass(eq=False)
class CloudLock:
    """A lock of an account (``serrures[]``)."""

    id: int  # cloud id
    identifier: int  # id_serrure, the identifier the gateway uses
    name: str
    links: list[CloudLink] = field(default_factory=list)
    shares: list[CloudShare] = field(default_factory=list)
    battery: int = 7800  # used when no gateway simulator knows the lock
    etat: str = "closed"  # likewise

    @property
    def gateways(self) -> list[CloudAccessory]:
        return [link.accessory for link in self.links if link.accessory.type == ACCESSORY_GATEWAY]


@dataclass(eq=False)
class CloudAccount:
    id: int
    phone: str
    password: str = field(repr=False)
    first_name: str = "Demo"
    last_name: str = "User"
    locks: list[CloudLock] = field(default_factory=list)
    accessories: list[CloudAccessory] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"user{self.id}@example.com"


@dataclass
class CloudRequest:
    """One request as the cloud received it."""

    seq: int
    method: str
    path: str
    form: dict[str, str]
    at: float  # cloud clock at arrival
    status: int | None = None  # HTTP status; None for a disconnect
    fault: str | None = None
    phone: str | None = None  # the authenticated account (or the login's _username)


@dataclass
class _Token:
    phone: str
    expires_at: float


@dataclass
class _CloudFault:
    prefix: str
    kind: str
    remaining: int | None
    seconds: float


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, envelope: bool = True) -> None:
        super().__init__(message)
        self.status, self.message, self.envelope = status, message, envelope

    def response(self) -> web.Response:
        if self.envelope:
            body: Data = {"status": self.status, "data": None, "message": self.message}
        else:
            body = {"code": self.status, "message": self.message}
        return web.json_response(body, status=self.status)


def _unauthorized(message: str) -> NoReturn:
    raise _ApiError(401, message, envelope=False)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).isoformat()


def new_share_code() -> str:
    return "".join(secrets.choice(SHARE_CODE_ALPHABET) for _ in range(16))


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "off", "no")


def _etat(state: int) -> str:
    return {STATE_CLOSED: "closed", STATE_OPEN: "open", STATE_JAMMED: "jammed"}.get(
        state, "unknown"
    )


_HTML = "<html><body><h1>{status} {reason}</h1></body></html>"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"utilisateur/get/(?P<phone>[^/]+)"), "_utilisateur"),
    ("GET", re.compile(r"accessoire/get/(?P<accessory>\d+)"), "_accessoire"),
    ("GET", re.compile(r"partage/all/serrure/(?P<lock>\d+)"), "_partages"),
    (
        "POST",
        re.compile(r"partage/create/(?P<lock>\d+)/accessoire/(?P<id_accessoire>[^/]+)"),
        "_create_share",
    ),
)


class TheKeysCloudSimulator:
    """An aiohttp server behaving like The Keys cloud API, sharing locks with gateway simulators."""

    def __init__(
        self,
        gateways: Sequence[TheKeysGatewaySimulator] = (),
        *,
        phone: str = DEMO_PHONE,
        password: str = DEMO_PASSWORD,
        token_ttl: float = TOKEN_TTL,
        token_field: TokenField = "access_token",
        clock: Clock = time.time,
    ) -> None:
        """Make the cloud (not started: see :meth:`start`).

        With ``gateways``, an account ``phone``/``password`` is made owning one cloud gateway per
        simulator and one cloud lock per lock those simulators hold (no share yet). Otherwise
        the cloud is empty: build it with ``add_account``, ``add_gateway``, ``add_lock``,
        ``add_share`` (or use :func:`build_demo`).
        """
        if token_field not in ("access_token", "token"):
            raise ValueError("token_field must be 'access_token' or 'token'")
        self.token_ttl = token_ttl
        self.token_field: TokenField = token_field
        self.clock = clock
        self.string_identifiers = False
        self.accessory_info_in_listing = False
        self.accounts: dict[str, CloudAccount] = {}
        self.requests: list[CloudRequest] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_CloudFault] = []
        self._ids = itertools.count(1)
        self._jwt_key = secrets.token_bytes(32)
        if gateways:
            account = self.add_account(phone, password)
            locks: dict[int, list[CloudAccessory]] = {}
            for number, simulator in enumerate(gateways, start=1):
                accessory = self.add_gateway(
                    account, simulator=simulator, name=f"Passerelle {number}"
                )
                for identifier in simulator.locks:
                    locks.setdefault(identifier, []).append(accessory)
            for identifier, accessories in locks.items():
                self.add_lock(account, identifier, f"Serrure {identifier}", gateways=accessories)

    # ----- model -------------------------------------------------------------------------------
    def _next_id(self, base: int) -> int:
        return base + next(self._ids)

    def add_account(
        self, phone: str, password: str, *, first_name: str = "Demo", last_name: str = "User"
    ) -> CloudAccount:
        """An account known by its international phone number (``+33…``)."""
        if not phone.startswith("+"):
            raise ValueError("the cloud knows accounts by international number (+33…)")
        account = CloudAccount(self._next_id(100), phone, password, first_name, last_name)
        self.accounts[phone] = account
        return account

    def add_gateway(
        self,
        account: CloudAccount,
        *,
        simulator: TheKeysGatewaySimulator | None = None,
        name: str = "Passerelle",
        id_accessoire: str | None = None,
        last_seen: float | None = None,
        ip: str | IpMode | None = IpMode.FROM_SIMULATOR,
        type: int = ACCESSORY_GATEWAY,  # the vendor's field name
    ) -> CloudAccessory:
        """An accessory of `account` (a gateway unless `type` says otherwise)."""
        accessory_id = self._next_id(2000)
        accessory = CloudAccessory(
            accessory_id,
            id_accessoire or f"TKGW{accessory_id:04d}",
            name,
            type,
            simulator,
            last_seen,
            ip,
        )
        account.accessories.append(accessory)
        return accessory

    def add_lock(
        self,
        account: CloudAccount,
        identifier: int,
        name: str,
        *,
        gateways: Sequence[CloudAccessory] = (),
        battery: int = 7800,
        etat: str = "closed",
    ) -> CloudLock:
        """A lock of `account` linked to `gateways` (accessories of the same account)."""
        lock = CloudLock(self._next_id(1000), identifier, name, battery=battery, etat=etat)
        account.locks.append(lock)
        for accessory in gateways:
            self.link(lock, accessory)
        return lock

    def link(self, lock: CloudLock, accessory: CloudAccessory) -> CloudLink:
        """Link an accessory to a lock; a gateway simulator then sees the lock (unshared)."""
        link = CloudLink(self._next_id(5000), accessory)
        lock.links.append(link)
        self._push(lock, accessory)
        return link

    def add_share(
        self,
        lock: CloudLock,
        accessory: CloudAccessory,
        name: str,
        *,
        code: str | None = None,
        active: bool = True,
        description: str = "",
        iddesc: str | None = None,
    ) -> CloudShare:
        """A share of `lock` with `accessory`, as ``partage/create`` makes one."""
        share = CloudShare(
            self._next_id(9000),
            name,
            code or new_share_code(),
            accessory,
            active,
            description,
            iddesc,
        )
        lock.shares.append(share)
        self._push(lock, accessory)
        return share

    def set_share_active(self, lock: CloudLock, share: CloudShare, active: bool) -> None:
        share.active = active
        self._push(lock, share.accessory)

    def find_lock(self, identifier: int) -> CloudLock | None:
        for account in self.accounts.values():
            for lock in account.locks:
                if lock.identifier == identifier:
                    return lock
        return None

    def _push(self, lock: CloudLock, accessory: CloudAccessory) -> None:
        """Make the gateway simulator accept exactly the active shares (and hand-set codes)."""
        simulator = accessory.simulator
        if simulator is None or accessory.type != ACCESSORY_GATEWAY:
            return
        target = simulator.locks.get(lock.identifier)
        if target is None:
            target = simulator.add_lock(lock.identifier, None, battery=lock.battery)
        mine = [share for share in lock.shares if share.accessory is accessory]
        known = {share.code for share in mine}
        manual = [code for code in target.codes if code not in known]
        codes = [share.code for share in reversed(mine) if share.active] + manual
        target.share_code = codes[0] if codes else None
        target.extra_codes = codes[1:]

    # ----- control -----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (401 "Expired JWT Token")."""
        for token in self._tokens.values():
            token.expires_at = float("-inf")

    def inject_fault(
        self, path_prefix: str, kind: str, times: int | None = 1, *, seconds: float = 0.0
    ) -> None:
        """Spoil the next `times` requests (None: until cleared) whose path starts with prefix."""
        if kind not in CLOUD_FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(CLOUD_FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 or None")
        self._faults.append(_CloudFault(path_prefix, kind, times, seconds))

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, path: str) -> int:
        """Requests whose path starts with `path`."""
        return sum(1 for request in self.requests if request.path.startswith(path))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ----- server ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("simulator already running")
        self._runner, self.port = await serve(self._handle, host, port)
        self.host = host

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> TheKeysCloudSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _take_fault(self, path: str) -> _CloudFault | None:
        for fault in self._faults:
            if path.startswith(fault.prefix):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {
                key: value
                for key, value in (await request.post()).items()
                if isinstance(value, str)
            }
        record = CloudRequest(len(self.requests), request.method, request.path, form, self.now())
        self.requests.append(record)
        fault = self._take_fault(request.path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            else:
                return self._finish(record, self._faulty_response(fault.kind, request), "")
        note = ""
        try:
            response, note = await self._dispatch(request, record, form)
        except _ApiError as err:
            response, note = err.response(), err.message
        return self._finish(record, response, note)

    def _finish(
        self, record: CloudRequest, response: web.StreamResponse, note: str
    ) -> web.StreamResponse:
        record.status = None if record.fault == "disconnect" else response.status
        shown = {key: "****" if key == "_password" else value for key, value in record.form.items()}
        REQUEST_LOGGER.info(
            "#%d %s %s %s -> %s%s%s",
            record.seq,
            record.method,
            record.path,
            json.dumps(shown, ensure_ascii=False) if shown else "",
            "dropped" if record.status is None else record.status,
            f" fault {record.fault}" if record.fault else "",
            f" {note}" if note else "",
        )
        return response

    def _faulty_response(self, kind: str, request: web.Request) -> web.StreamResponse:
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)  # never reaches the client
        if kind == "malformed":
            return web.Response(text='{"status": 200, "data": {', content_type="application/json")
        status, reason = (503, "Service Unavailable") if kind == "unavailable" else (500, "")
        html = _HTML.format(status=status, reason=reason or "Internal Server Error")
        return web.Response(status=status, text=html, content_type="text/html")

    async def _dispatch(
        self, request: web.Request, record: CloudRequest, form: dict[str, str]
    ) -> tuple[web.StreamResponse, str]:
        path = request.path
        if path == LOGIN_PATH:
            if request.method != "POST":
                raise _ApiError(405, "Method Not Allowed")
            return self._login(record, form)
        if not path.startswith(V2_PREFIX):
            raise _ApiError(404, "No route found")
        account = self._bearer(request)
        record.phone = account.phone
        rest = path.removeprefix(V2_PREFIX)
        for method, pattern, name in _ROUTES:
            match = pattern.fullmatch(rest)
            if match is None:
                continue
            if request.method != method:
                raise _ApiError(405, "Method Not Allowed")
            note = ""
            payload: Payload
            if name == "_utilisateur":
                payload = self._utilisateur(account, match["phone"])
            elif name == "_accessoire":
                payload = self._accessoire(account, int(match["accessory"]))
            elif name == "_partages":
                payload = self._partages(account, int(match["lock"]))
            else:
                created = self._create_share(
                    account, int(match["lock"]), match["id_accessoire"], form
                )
                payload, note = created, f"code={mask(created['code'])}"
            return web.json_response({"status": 200, "data": payload, "message": None}), note
        raise _ApiError(404, "No route found")

    # ----- authentication ----------------------------------------------------------------------
    def _jwt(self, phone: str, issued: float, expires: float) -> str:
        def part(data: dict[str, JSONValue]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        head = part({"typ": "JWT", "alg": "HS256"})
        body = part(
            {
                "iat": int(issued),
                "exp": int(expires),
                "roles": ["ROLE_USER"],
                "username": phone,
                "jti": secrets.token_hex(8),
            }
        )
        signature = hmac.new(self._jwt_key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def _login(self, record: CloudRequest, form: dict[str, str]) -> tuple[web.Response, str]:
        phone, password = form.get("_username", ""), form.get("_password", "")
        record.phone = phone or None
        account = self.accounts.get(phone)
        if account is None or not hmac.compare_digest(account.password, password):
            _unauthorized("Invalid credentials.")
        now = self.now()
        token = self._jwt(phone, now, now + self.token_ttl)
        self._tokens[token] = _Token(phone, now + self.token_ttl)
        body: Data = (
            {"token": token}
            if self.token_field == "token"
            else {"access_token": token, "expires_in": int(self.token_ttl)}
        )
        return web.json_response(body), f"{self.token_field}={mask(token)}"

    def _bearer(self, request: web.Request) -> CloudAccount:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _unauthorized("JWT Token not found")
        session = self._tokens.get(token.strip())
        if session is None:
            _unauthorized("Invalid JWT Token")
        if self.now() >= session.expires_at:
            _unauthorized("Expired JWT Token")
        account = self.accounts.get(session.phone)
        if account is None:
            _unauthorized("Invalid JWT Token")
        return account

    # ----- endpoints ---------------------------------------------------------------------------
    def _lock_of(self, account: CloudAccount, lock_id: int) -> CloudLock:
        for lock in account.locks:
            if lock.id == lock_id:
                return lock
        raise _ApiError(404, "Serrure introuvable")

    @staticmethod
    def _ref(accessory: CloudAccessory) -> AccessoryRef:
        return {
            "id": accessory.id,
            "id_accessoire": accessory.id_accessoire,
            "nom": accessory.name,
            "type": accessory.type,
        }

    def _info(self, accessory: CloudAccessory) -> AccessoryInfo:
        seen = accessory.last_seen if accessory.last_seen is not None else self.now() - LIVE_LAG
        info: AccessoryInfo = {"last_seen": _iso(seen)}
        ip = accessory.ip
        if ip is IpMode.FROM_SIMULATOR:
            simulator = accessory.simulator
            info["ip"] = simulator.address if simulator is not None and simulator.port else None
        elif ip is not IpMode.ABSENT:
            info["ip"] = ip
        return info

    def _serrure(self, lock: CloudLock) -> Serrure:
        battery, etat = lock.battery, lock.etat
        for accessory in lock.gateways:
            known = accessory.simulator.locks.get(lock.identifier) if accessory.simulator else None
            if known is not None:
                battery, etat = known.battery, _etat(known.reported_state)
                break
        return {
            "id": lock.id,
            "id_serrure": str(lock.identifier) if self.string_identifiers else lock.identifier,
            "nom": lock.name,
            "etat": etat,
            "battery": battery,
            "accessoires": [
                {
                    "id": link.id,
                    "accessoire": self._ref(link.accessory),
                    "info": self._info(link.accessory) if self.accessory_info_in_listing else None,
                }
                for link in lock.links
            ],
        }

    def _utilisateur(self, account: CloudAccount, phone: str) -> Utilisateur:
        if phone != account.phone:
            if phone in self.accounts:
                raise _ApiError(403, "Access Denied.")
            raise _ApiError(404, "Utilisateur introuvable")
        return {
            "id": account.id,
            "username": account.phone,
            "tel": account.phone,
            "firstname": account.first_name,
            "lastname": account.last_name,
            "email": account.email,
            "locale": "fr",
            "serrures": [self._serrure(lock) for lock in account.locks],
        }

    def _accessoire(self, account: CloudAccount, accessory_id: int) -> Accessoire:
        for accessory in account.accessories:
            if accessory.id == accessory_id:
                return {**self._ref(accessory), "info": self._info(accessory)}
        raise _ApiError(404, "Accessoire introuvable")

    def _partages(self, account: CloudAccount, lock_id: int) -> Partages:
        lock = self._lock_of(account, lock_id)
        return {
            "partages_utilisateur": [],
            "partages_accessoire": [
                {
                    "id": share.id,
                    "nom": share.name,
                    "code": share.code,
                    "actif": share.active,
                    "description": share.description,
                    "iddesc": share.iddesc,
                    "date_debut": None,
                    "date_fin": None,
                    "heure_debut": None,
                    "heure_fin": None,
                    "accessoire": self._ref(share.accessory),
                }
                for share in lock.shares
            ],
        }

    def _create_share(
        self, account: CloudAccount, lock_id: int, id_accessoire: str, form: dict[str, str]
    ) -> CreatedShare:
        lock = self._lock_of(account, lock_id)
        accessory = next(
            (
                link.accessory
                for link in lock.links
                if link.accessory.id_accessoire == id_accessoire
            ),
            None,
        )
        if accessory is None:
            raise _ApiError(404, "Accessoire introuvable")
        name = form.get("partage_accessoire[nom]", "").strip()
        if not name:
            raise _ApiError(400, "partage_accessoire[nom]: cette valeur ne doit pas être vide")
        share = self.add_share(
            lock,
            accessory,
            name,
            active=_truthy(form.get("partage_accessoire[actif]", "1")),
            description=form.get("partage_accessoire[description]", ""),
            iddesc=form.get("partage_accessoire[iddesc]") or None,
        )
        return {"id": share.id, "code": share.code}


# ----- demo ------------------------------------------------------------------------------------
def build_demo(
    gateway: TheKeysGatewaySimulator,
    *,
    clock: Clock = time.time,
    token_ttl: float = TOKEN_TTL,
    token_field: TokenField = "access_token",
) -> TheKeysCloudSimulator:
    """The built-in demo cloud (see the command line's help), its live gateway on `gateway`.

    Account DEMO_PHONE / DEMO_PASSWORD:
    - "Porte d'entrée" (45961123) on two gateways: "Passerelle salon" (the simulator, seen 5 s ago)
      and "Ancienne passerelle" (no known address, last seen 3 days ago). Shares: an inactive
      "multilock" on the salon gateway, an active "multilock" on the old gateway, and the active
      "multilock" on the salon gateway with code Zmo1sps2OVyCFtl1 (found, never recreated).
    - "Porte du garage" (45961124): a keypad (type 2) listed before the salon gateway; an active
      "Jeedom" share only, so a client creates its own share.
    - "Cave" (45961125): no gateway at all.
    Account EMPTY_PHONE / EMPTY_PASSWORD: no lock.
    """
    cloud = TheKeysCloudSimulator(token_ttl=token_ttl, token_field=token_field, clock=clock)
    account = cloud.add_account(DEMO_PHONE, DEMO_PASSWORD, first_name="Camille", last_name="Martin")
    cloud.add_account(EMPTY_PHONE, EMPTY_PASSWORD, first_name="Sans", last_name="Serrure")
    salon = cloud.add_gateway(
        account, simulator=gateway, name="Passerelle salon", id_accessoire="TKGW0001"
    )
    old = cloud.add_gateway(
        account,
        name="Ancienne passerelle",
        id_accessoire="TKGW0002",
        last_seen=clock() - 3 * 86400,
        ip=None,
    )
    keypad = cloud.add_gateway(
        account, name="Digicode", id_accessoire="TKKP0001", type=ACCESSORY_KEYPAD, ip=None
    )
    front = cloud.add_lock(account, DEMO_FRONT_DOOR, "Porte d'entrée", gateways=[salon, old])
    cloud.add_share(front, salon, DEMO_SHARE_NAME, active=False, iddesc="remote")
    cloud.add_share(front, old, DEMO_SHARE_NAME, iddesc="remote")
    cloud.add_share(front, salon, DEMO_SHARE_NAME, code=DEMO_FRONT_CODE, iddesc="remote")
    back = cloud.add_lock(account, DEMO_BACK_DOOR, "Porte du garage", gateways=[keypad, salon])
    cloud.add_share(back, salon, "Jeedom", description="box domotique")
    cloud.add_lock(account, DEMO_CELLAR, "Cave")
    return cloud


# ----- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.thekeys_cloud",
        description=(
            "Simulate The Keys cloud API (login, locks, gateways, shares) together with the "
            "gateway simulator it points to, for account onboarding."
        ),
        epilog=(
            f"Built-in test account: phone {DEMO_PHONE}, password {DEMO_PASSWORD} "
            f"(an account with no lock: {EMPTY_PHONE} / {EMPTY_PASSWORD}). Its locks: "
            f'"Porte d\'entrée" {DEMO_FRONT_DOOR} on the live gateway TKGW0001 "Passerelle '
            f'salon" (and on TKGW0002, last seen 3 days ago, address unknown) with an active '
            f"share '{DEMO_SHARE_NAME}' (code {DEMO_FRONT_CODE}); \"Porte du garage\" "
            f'{DEMO_BACK_DOOR} on TKGW0001 with no share of ours yet; "Cave" {DEMO_CELLAR} '
            f"with no gateway (picking it is refused). Ports: the cloud on --port (base URL "
            f"http://127.0.0.1:{DEFAULT_PORT} by default, API under /fr/api/v2/), TKGW0001's "
            f"gateway simulator on --gateway-port ({DEFAULT_GATEWAY_PORT} by default), the "
            f"address the cloud reports for TKGW0001."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address the cloud and the gateway listen on (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help="port of the cloud API (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--gateway-port", type=int, default=DEFAULT_GATEWAY_PORT,
        help="port of the demo gateway simulator (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--gateway-ip", metavar="HOST:PORT",
        help="address the cloud reports for the demo gateway (default: where it listens)",
    )  # fmt: skip
    parser.add_argument(
        "--token-ttl", type=float, default=TOKEN_TTL,
        help="seconds a login token stays valid (default: %(default)s, 2 hours)",
    )  # fmt: skip
    parser.add_argument(
        "--token-field", choices=("access_token", "token"), default="access_token",
        help="how login returns the token: {\"access_token\", \"expires_in\"} or {\"token\"} "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--reply-shape", choices=("seed", "real"), default="seed",
        help="reply shape of the gateway simulator, see python -m simulators.thekeys --help "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--action-seconds", type=float, default=0.0,
        help="how long the gateway's actions keep it busy (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--log", metavar="FILE",
        help="append one line per request (cloud and gateway) to FILE; passwords hidden, "
        "tokens, share codes and hashes masked to their first 4 characters",
    )  # fmt: skip
    return parser


async def _serve(args: argparse.Namespace) -> None:
    shape: ReplyShape = args.reply_shape
    gateway = TheKeysGatewaySimulator(action_seconds=args.action_seconds, reply_shape=shape)
    cloud = build_demo(gateway, token_ttl=args.token_ttl, token_field=args.token_field)
    if args.gateway_ip:
        for account in cloud.accounts.values():
            for accessory in account.accessories:
                if accessory.simulator is gateway:
                    accessory.ip = args.gateway_ip
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await gateway.start(args.host, args.gateway_port)
    try:
        await cloud.start(args.host, args.port)
        _LOGGER.info(
            "The Keys cloud simulator at %s (account %s), gateway simulator at %s",
            cloud.url,
            DEMO_PHONE,
            gateway.url,
        )
        await stopped.wait()
    finally:
        await cloud.stop()
        await gateway.stop()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.log:
        add_log_file(args.log, REQUEST_LOGGER, GATEWAY_REQUEST_LOGGER)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
