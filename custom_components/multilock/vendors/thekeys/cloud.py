"""Client for The Keys cloud API (the vendor's API host), used to set up from an account.

A plain asyncio module with no Home Assistant imports: it takes an injected
``aiohttp.ClientSession``, raises its own exceptions and returns typed replies. It follows the
vendor notes ("Cloud ... for account onboarding") and the seed page's ``createWithAccessory``:

- ``POST /api/login_check`` (form ``_username`` = international phone number, ``_password``)
  answers the token as ``access_token`` (with ``expires_in``) or as ``token``: both are read.
- ``/fr/api/v2/<path>`` with ``Authorization: Bearer <token>``, in the envelope
  ``{"status": 200, "data": ..., "message": ...}``: the account's locks
  (``utilisateur/get/<phone>``), a gateway's last report and LAN address (``accessoire/get``),
  a lock's shares (``partage/all/serrure``) and share creation (``partage/create``).

Choices where the notes are silent:

- The password is kept in memory only when the caller asks (``keep_password``), for as long as
  it keeps the client (a config flow: the flow's duration), and only to sign in again when the
  token has expired (``expires_in`` passed, or a 401 on a call); ``forget_password`` drops it.
  Without it, an expired token raises ``TheKeysCloudSessionExpiredError``.
- A share listed without ``actif`` counts as active (creation makes shares active unless told
  otherwise); ``actif`` may be a boolean, a number or a text.
- ``id_serrure`` and accessory ids may be numbers or decimal texts; ``id_accessoire`` is a text.
- ``last_seen`` is an ISO 8601 date-time (UTC when it carries no offset) or epoch seconds;
  anything else counts as never seen.
- 5xx replies, time-outs and connection failures are "the cloud is unavailable"; a 401 on login
  is a wrong phone number or password; other 4xx replies are refusals (with their message).

Passwords, tokens and share codes are never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import logging
import re
import time
from typing import Any, ClassVar, Final
from urllib.parse import quote

import aiohttp

from ...secret_text import SecretScrubber

_LOGGER = logging.getLogger(__name__)

DEFAULT_CLOUD_URL: Final = "https://api.the-keys.fr"
LOGIN_PATH: Final = "/api/login_check"
API_PATH: Final = "/fr/api/v2/"
DEFAULT_TIMEOUT: Final = 15.0
# Sign in again this long before the token's announced expiry.
RENEW_MARGIN: Final = 60.0
ACCESSORY_GATEWAY: Final = 1
# The name of the share multilock creates and looks for (one per lock and gateway).
SHARE_NAME: Final = "multilock"
SHARE_DESCRIPTION: Final = "Home Assistant (multilock)"
NEVER: Final = datetime.min.replace(tzinfo=UTC)


def normalize_phone(text: str) -> str | None:
    """Return the phone number in international form (``+33612345678``), or None.

    Spaces, dots, dashes, slashes and brackets are ignored, ``00`` stands for ``+``, a French
    national number (ten digits starting with 0) gets ``+33`` and a national ``0`` written
    after ``+33`` is dropped.
    """
    compact = re.sub(r"[\s.\-/()]", "", text.replace("(0)", ""))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"0[1-9]\d{8}", compact):
        return "+33" + compact[1:]
    if compact.startswith("+330"):
        compact = "+33" + compact[4:]
    return compact if re.fullmatch(r"\+[1-9]\d{6,14}", compact) else None


# --- Errors -------------------------------------------------------------------------


class TheKeysCloudError(Exception):
    """Base of every error of this client.

    ``reason`` is a stable snake_case name of what happened, for callers that translate.
    """

    reason: ClassVar[str] = "cloud_error"


class TheKeysCloudAuthError(TheKeysCloudError):
    """The cloud refused the phone number and password."""

    reason = "invalid_auth"


class TheKeysCloudSessionExpiredError(TheKeysCloudError):
    """The token expired (or was refused) and could not be renewed."""

    reason = "session_expired"


class TheKeysCloudUnavailableError(TheKeysCloudError):
    """The cloud cannot be reached, did not answer in time, or answered a server error."""

    reason = "cloud_unavailable"


class TheKeysCloudMalformedError(TheKeysCloudError):
    """The cloud's reply is not what the API describes."""

    reason = "cloud_malformed"


class TheKeysCloudRefusedError(TheKeysCloudError):
    """The cloud refused a request (a 4xx other than 401)."""

    reason = "cloud_refused"

    def __init__(self, status: int, message: str) -> None:
        """Keep the HTTP status and the cloud's message."""
        super().__init__(f"The Keys refused the request (HTTP {status}: {message})")
        self.status = status


class _TokenRefusedError(TheKeysCloudSessionExpiredError):
    """A 401 on an API call: the token is no longer accepted."""


# --- Replies ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloudAccessory:
    """An accessory linked to a lock; ``type == 1`` is a gateway."""

    id: int  # for accessoire/get and to match shares
    id_accessoire: str  # for partage/create
    name: str
    type: int

    @property
    def is_gateway(self) -> bool:
        """Whether this accessory is a gateway."""
        return self.type == ACCESSORY_GATEWAY


@dataclass(frozen=True, slots=True)
class CloudLock:
    """A lock of the account (``serrures[]``)."""

    id: int  # the cloud's id, for the share calls
    identifier: int  # ``id_serrure``: the identifier the gateway uses
    name: str
    accessories: tuple[CloudAccessory, ...] = ()

    @property
    def gateways(self) -> tuple[CloudAccessory, ...]:
        """The lock's gateways, in the cloud's order."""
        return tuple(accessory for accessory in self.accessories if accessory.is_gateway)


@dataclass(frozen=True, slots=True)
class AccessoryInfo:
    """What a gateway last reported to the cloud (``accessoire/get`` → ``info``)."""

    last_seen: datetime | None
    ip: str | None  # the LAN address (``host`` or ``host:port``), when known


@dataclass(frozen=True, slots=True)
class CloudShare:
    """A share between a lock and an accessory (``partages_accessoire[]``)."""

    id: int
    name: str
    code: str = field(repr=False)
    active: bool
    accessory_id: int | None
    id_accessoire: str | None

    def is_on(self, accessory: CloudAccessory) -> bool:
        """Whether the share is with ``accessory``."""
        if self.accessory_id is not None:
            return self.accessory_id == accessory.id
        return self.id_accessoire == accessory.id_accessoire


@dataclass(frozen=True, slots=True)
class ShareCode:
    """The code of the share of a lock with a gateway, and whether it was just created."""

    code: str = field(repr=False)
    created: bool


def pick_gateway(lock: CloudLock, infos: Mapping[int, AccessoryInfo]) -> CloudAccessory | None:
    """Return the lock's gateway seen most recently (the first listed on a tie), or None.

    ``infos``: the gateways' reports by accessory id; a gateway without one was never seen.
    """

    def seen(gateway: CloudAccessory) -> datetime:
        info = infos.get(gateway.id)
        return (info.last_seen if info is not None else None) or NEVER

    return max(lock.gateways, key=seen, default=None)


# --- Client -------------------------------------------------------------------------


class TheKeysCloud:
    """One signed-in session of a The Keys account."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str = DEFAULT_CLOUD_URL,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Talk to the cloud at ``base_url`` (no request is sent before ``login``)."""
        self._session = session
        self._base_url = base_url.strip().rstrip("/")
        self._timeout = timeout
        self._clock = clock
        self._phone = ""
        self._password: str | None = None
        self._token: str | None = None
        self._renew_at: float | None = None
        # The phone number, password, tokens and share codes: the cloud's texts may quote them.
        self._secrets = SecretScrubber()

    @property
    def phone(self) -> str:
        """The account's phone number, as signed in with."""
        return self._phone

    @property
    def keeps_password(self) -> bool:
        """Whether the password is held to sign in again."""
        return self._password is not None

    async def login(self, phone: str, password: str, *, keep_password: bool = False) -> None:
        """Sign in; keep the password in memory (to renew the token) only when asked."""
        await self._sign_in(phone, password)
        self._phone = phone
        self._password = password if keep_password else None

    def forget_password(self) -> None:
        """Drop the password: an expired token is no longer renewed."""
        self._password = None

    async def locks(self) -> list[CloudLock]:
        """Return the account's locks with their accessories."""
        data = _object(await self._api("GET", f"utilisateur/get/{quote(self._phone, safe='+')}"))
        return [_lock(item) for item in _list(data.get("serrures"), "serrures")]

    async def accessory_info(self, accessory_id: int) -> AccessoryInfo:
        """Return what the accessory last reported: when, and its LAN address."""
        data = _object(await self._api("GET", f"accessoire/get/{accessory_id}"))
        info = data.get("info")
        if not isinstance(info, dict):
            return AccessoryInfo(None, None)
        ip = info.get("ip")
        return AccessoryInfo(
            _date_time(info.get("last_seen")),
            ip.strip() if isinstance(ip, str) and ip.strip() else None,
        )

    async def gateway_infos(self, locks: Iterable[CloudLock]) -> dict[int, AccessoryInfo]:
        """Return the report of every gateway of ``locks`` (each asked for once)."""
        infos: dict[int, AccessoryInfo] = {}
        for lock in locks:
            for gateway in lock.gateways:
                if gateway.id not in infos:
                    infos[gateway.id] = await self.accessory_info(gateway.id)
        return infos

    async def shares(self, lock_id: int) -> list[CloudShare]:
        """Return the lock's shares with accessories."""
        data = _object(await self._api("GET", f"partage/all/serrure/{lock_id}"))
        items = _list(data.get("partages_accessoire"), "partages_accessoire")
        return [_share(item) for item in items]

    async def create_share(
        self, lock_id: int, id_accessoire: str, name: str, *, description: str = ""
    ) -> str:
        """Create an active share of the lock with the accessory; return its code."""
        form = {
            "partage_accessoire[nom]": name,
            "partage_accessoire[description]": description,
            "partage_accessoire[actif]": "1",
            "partage_accessoire[iddesc]": "remote",
        }
        path = f"partage/create/{lock_id}/accessoire/{quote(id_accessoire, safe='')}"
        code = _object(await self._api("POST", path, form)).get("code")
        if not isinstance(code, str) or not code:
            raise TheKeysCloudMalformedError("The created share has no code")
        self._secrets.add(code)
        return code

    async def share_code(
        self,
        lock: CloudLock,
        gateway: CloudAccessory,
        *,
        name: str = SHARE_NAME,
        description: str = SHARE_DESCRIPTION,
    ) -> ShareCode:
        """Return the code of the lock's active share ``name`` with the gateway.

        The newest such share is reused; one is created only when there is none, so that
        asking again never piles up shares.
        """
        wanted = name.strip().casefold()
        found = [
            share
            for share in await self.shares(lock.id)
            if share.active
            and share.code
            and share.is_on(gateway)
            and share.name.strip().casefold() == wanted
        ]
        if found:
            code = max(found, key=lambda share: share.id).code
            self._secrets.add(code)
            return ShareCode(code, created=False)
        code = await self.create_share(
            lock.id, gateway.id_accessoire, name, description=description
        )
        return ShareCode(code, created=True)

    # Requests.

    async def _sign_in(self, phone: str, password: str) -> None:
        self._secrets.add(phone, password)
        form = {"_username": phone, "_password": password}
        reply = await self._request("POST", self._base_url + LOGIN_PATH, form, None)
        token = reply.get("access_token") or reply.get("token")
        if not isinstance(token, str):
            raise TheKeysCloudMalformedError("The sign-in reply carries no token")
        expires_in = reply.get("expires_in")
        self._secrets.add(token)
        self._token = token
        self._renew_at = (
            self._clock() + float(expires_in) - RENEW_MARGIN
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else None
        )

    async def _renew(self) -> None:
        """Sign in again with the kept password (a refusal: the session is over)."""
        if self._password is None:
            raise TheKeysCloudSessionExpiredError("The session expired; sign in again")
        _LOGGER.debug("Signing in to The Keys again: the token expired")
        try:
            await self._sign_in(self._phone, self._password)
        except TheKeysCloudAuthError as err:
            raise TheKeysCloudSessionExpiredError(
                "The session expired and signing in again was refused"
            ) from err

    async def _api(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        if self._token is None:
            raise TheKeysCloudSessionExpiredError("Not signed in")
        # With the password at hand, a token about to expire is renewed before it is used.
        renew_at = self._renew_at
        if self._password is not None and renew_at is not None and self._clock() >= renew_at:
            await self._renew()
        try:
            return await self._authorized(method, path, form)
        except _TokenRefusedError:
            await self._renew()
            try:
                return await self._authorized(method, path, form)
            except _TokenRefusedError as err:
                raise TheKeysCloudSessionExpiredError("The renewed token was refused") from err

    async def _authorized(self, method: str, path: str, form: dict[str, str] | None) -> Any:
        url = self._base_url + API_PATH + path
        reply = await self._request(method, url, form, self._token)
        if "data" not in reply:
            raise TheKeysCloudMalformedError(f"The reply to {path} has no data")
        return reply["data"]

    async def _request(
        self, method: str, url: str, form: dict[str, str] | None, token: str | None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        path = url.removeprefix(self._base_url)
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._session.request(method, url, data=form, headers=headers) as response,
            ):
                status = response.status
                text = await response.text()
        except TimeoutError as err:
            raise TheKeysCloudUnavailableError(f"The Keys did not answer {path} in time") from err
        except aiohttp.ClientError as err:
            raise TheKeysCloudUnavailableError(f"Cannot reach The Keys ({err})") from err
        reply = _json_object(text)
        # The envelope may carry an error status in a 200 reply as well.
        envelope = reply.get("status") if reply is not None else None
        if status == 200 and isinstance(envelope, int) and envelope >= 400:
            status = envelope
        if status == 401:
            if token is None:
                raise TheKeysCloudAuthError("The Keys refused the phone number or password")
            raise _TokenRefusedError("The Keys refused the token")
        if status >= 500:
            raise TheKeysCloudUnavailableError(f"The Keys answered {path} with HTTP {status}")
        if status >= 400:
            message = reply.get("message") if reply is not None else None
            raise TheKeysCloudRefusedError(
                status, self._secrets.scrub(str(message or "no message"))
            )
        if reply is None:
            raise TheKeysCloudMalformedError(f"The reply to {path} is not a JSON object")
        return reply


# --- Parsing ------------------------------------------------------------------------


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TheKeysCloudMalformedError("The reply's data is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    """A list of the reply; absent or null is an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TheKeysCloudMalformedError(f"{what} is not a list")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise TheKeysCloudMalformedError(f"{what} is not a number")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "off", "no")
    return bool(value)


def _date_time(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _accessory(value: object) -> CloudAccessory:
    item = _object(value)
    return CloudAccessory(
        id=_int(item.get("id"), "accessoire.id"),
        id_accessoire=_text(item.get("id_accessoire")),
        name=_text(item.get("nom")),
        type=_int(item.get("type"), "accessoire.type"),
    )


def _lock(value: object) -> CloudLock:
    item = _object(value)
    identifier = _int(item.get("id_serrure"), "id_serrure")
    return CloudLock(
        id=_int(item.get("id"), "serrure.id"),
        identifier=identifier,
        name=_text(item.get("nom")) or f"Lock {identifier}",
        accessories=tuple(
            _accessory(_object(link).get("accessoire"))
            for link in _list(item.get("accessoires"), "accessoires")
        ),
    )


def _share(value: object) -> CloudShare:
    item = _object(value)
    accessory = item.get("accessoire")
    accessory = accessory if isinstance(accessory, dict) else {}
    accessory_id = accessory.get("id")
    return CloudShare(
        id=_int(item.get("id"), "partage.id"),
        name=_text(item.get("nom")),
        code=_text(item.get("code")),
        active=_truthy(item.get("actif", True)),
        accessory_id=None if accessory_id is None else _int(accessory_id, "accessoire.id"),
        id_accessoire=_text(accessory.get("id_accessoire")) or None,
    )
