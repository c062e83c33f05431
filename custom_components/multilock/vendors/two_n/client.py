"""Client for the HTTP API of 2N devices: system info, door switches and mobile keys.

A plain asyncio module with no Home Assistant imports: it takes an injected
``aiohttp.ClientSession`` and raises its own exceptions. It follows 2N's page
"api mobilekey config" (the contract for mobile keys) and the notes on the rest of the API
(``system/info``, ``switch/caps``, ``switch/status``, ``switch/ctrl``, the error envelope,
authentication, newer firmware shapes).

Transport:

* HTTPS by default, HTTP allowed. Digest authentication (2N's default) is aiohttp's
  ``DigestAuthMiddleware`` (one per client, so that its nonce is reused: after the first
  challenge every request authenticates at once); Basic is its ``Authorization`` header; "none"
  sends no credentials. Digest is never computed here. A refusal whose challenge names another
  scheme than the one configured is ``TwoNAuthMethodError`` naming the scheme the device wants,
  not a refused password.
* A request with side effects is sent once: ``switch/ctrl`` goes as a POST form (2N accepts it;
  aiohttp repeats a GET by itself when the connection drops before the answer, which opened a
  door twice), and neither it nor a ``mobilekey/config`` PUT is repeated by aiohttp (a
  middleware turns the drop into an error). A connection that closed after the request went
  out is ``TwoNAnswerLostError``: the device may have acted on it. Nothing here retries a
  command; the caller reads the device again.
* Certificates are verified against the session's (the system's) store, or pinned: the
  SHA-256 of the certificate the device presented at set-up, checked with
  ``aiohttp.Fingerprint``. A different certificate is ``TwoNCertificateChangedError``
  carrying both fingerprints; nothing is sent to it. ``fetch_certificate_sha256`` reads the
  presented certificate's fingerprint without sending anything (an impossible pin makes
  aiohttp stop after the TLS handshake and report what it got).

Mobile keys, "nothing lost":

* A GET is read tolerantly: ``key`` (the seed: the private key) or ``publicKey`` (newer
  firmware: the public half), type ``rsa``, ``ecc`` or anything else (``unknown``), four slots
  (fewer are padded with empty ones). Every key is named by its slot, its creation time and the
  SHA-256 of its public half (``SubjectPublicKeyInfo`` DER): the same key has the same
  fingerprint whichever half the device shows. Key material is never in a ``repr``, a log line
  or an error message.
* Every write starts from what the device held just before (``before``, read by the caller)
  and is read back and compared slot by slot (fingerprint, creation time, and type where one was
  sent) and the location. The device's answer to a PUT says nothing (an invalid key is silently
  not written, a shorter array empties the missing slots), so the read-back decides. A PUT that
  failed in transit or with a processing error (14) may have written part of the request (the
  device writes slot after slot): when the read-back differs, the same PUT is sent once more (it
  states the whole configuration). When the device still differs, what it held before is
  written back (every key whose private half is known: from the GET, from ``known``, or from
  the keys just written) and read back; ``TwoNKeyMismatchError`` then says what the device holds
  and whether it is everything it held before (``restored``) or which keys are gone (``lost``).
* Rotation: a new 1024-bit RSA key (PKCS#1 DER, base64, made by ``generate_mobile_key``, which
  callers run off the event loop) goes first, the present keys follow in slot order, and only
  when all four slots are full is one dropped: the oldest by creation time (a key without one
  counts as the oldest, as the device shows it as 1970), the later slot on a tie. The location
  is written back unchanged. Each kept key needs its private half: from the GET, or from
  ``known`` (the private keys the caller wrote earlier, by fingerprint). When one is missing,
  nothing is written (``TwoNKeyMaterialMissingError``).
* Copying from a device that holds no key is refused before anything is written
  (``TwoNNothingToCopyError``): it would empty every slot of the destination.

Choices where the pages are silent:

* Privilege groups are named after the endpoint (``mobilekey/config``: Access Control;
  ``switch/*``: Switches Control), whatever ``param`` the device puts in error 10.
* A key type other than ``rsa`` and ``ecc`` is written back without a type (the device then
  assumes RSA); a creation time outside 0..2^32-1 counts as none.
* An answer that is not the JSON envelope is ``TwoNMalformedReplyError``, or
  ``TwoNHttpError`` when its HTTP status is an error; HTTP 401 without an envelope is an
  authentication error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
from http import HTTPStatus
import json
import logging
from typing import Any, ClassVar, Final

import aiohttp
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from ...secret_text import SecretScrubber

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
KEY_SLOTS: Final = 4
MAX_LOCATION: Final = 127
RSA_KEY_SIZE: Final = 1024
MAX_CTIME: Final = 0xFFFFFFFF
_IMPOSSIBLE_PIN: Final = aiohttp.Fingerprint(bytes(32))

SYSTEM_INFO: Final = "system/info"
SWITCH_CAPS: Final = "switch/caps"
SWITCH_STATUS: Final = "switch/status"
SWITCH_CTRL: Final = "switch/ctrl"
MOBILEKEY_CONFIG: Final = "mobilekey/config"
LOG_CAPS: Final = "log/caps"
LOG_SUBSCRIBE: Final = "log/subscribe"
LOG_PULL: Final = "log/pull"
LOG_UNSUBSCRIBE: Final = "log/unsubscribe"
CAMERA_CAPS: Final = "camera/caps"
CAMERA_SNAPSHOT: Final = "camera/snapshot"

ACCESS_CONTROL: Final = "Access Control"
SWITCHES_CONTROL: Final = "Switches Control"
CAMERA_MONITORING: Final = "Camera Monitoring"
# The privilege group each endpoint needs (2N's pages; system/info and log/* need none:
# the log leaves out the events the account may not monitor).
PRIVILEGE_GROUPS: Final[Mapping[str, str]] = {
    SWITCH_CAPS: SWITCHES_CONTROL,
    SWITCH_STATUS: SWITCHES_CONTROL,
    SWITCH_CTRL: SWITCHES_CONTROL,
    MOBILEKEY_CONFIG: ACCESS_CONTROL,
    CAMERA_CAPS: CAMERA_MONITORING,
    CAMERA_SNAPSHOT: CAMERA_MONITORING,
}

# The device's error codes and what they mean (the notes' table).
ERROR_MEANINGS: Final[Mapping[int, str]] = {
    1: "function not supported",
    2: "invalid request path",
    3: "invalid request method",
    4: "function disabled",
    7: "invalid connection type (HTTP or HTTPS)",
    8: "invalid authentication method",
    9: "authorisation required",
    10: "insufficient privileges",
    11: "missing mandatory parameter",
    12: "invalid parameter value",
    13: "parameter data too big",
    14: "processing error",
    15: "no data available",
    17: "parameter collision",
    18: "rejected",
}


class Protocol(StrEnum):
    """How the device is reached."""

    HTTPS = "https"
    HTTP = "http"


class AuthMethod(StrEnum):
    """How requests authenticate (the device's HTTP API setting)."""

    DIGEST = "digest"
    BASIC = "basic"
    NONE = "none"


class SwitchAction(StrEnum):
    """Actions of ``switch/ctrl`` this client sends."""

    ON = "on"
    OFF = "off"
    TRIGGER = "trigger"


# --- errors ---------------------------------------------------------------------------------


class TwoNError(Exception):
    """Base class of every error raised by this client."""


class TwoNConnectionError(TwoNError):
    """The device could not be reached."""


class TwoNTimeoutError(TwoNConnectionError):
    """The device did not answer within the client's timeout (it may have acted)."""


class TwoNAnswerLostError(TwoNConnectionError):
    """The connection closed after the request was sent: the device may have acted on it."""


class TwoNCertificateError(TwoNConnectionError):
    """The device's certificate is not trusted by the system's store."""


class TwoNCertificateChangedError(TwoNError):
    """The device presented another certificate than the pinned one; nothing was sent."""

    def __init__(self, pinned: bytes, presented: bytes) -> None:
        """Keep both SHA-256 fingerprints."""
        self.pinned = pinned
        self.presented = presented
        super().__init__(
            f"The device presented another certificate (SHA-256 {format_fingerprint(presented)})"
            f" than the one pinned at set-up ({format_fingerprint(pinned)})"
        )


class TwoNMalformedReplyError(TwoNError):
    """The device answered with something this client cannot read."""


class TwoNHttpError(TwoNError):
    """The device (or something in front of it) answered an HTTP error without the envelope."""

    def __init__(self, status: int) -> None:
        """Keep the status."""
        self.status = status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        super().__init__(f"HTTP {status} {phrase}".strip())


class TwoNApiError(TwoNError):
    """The device refused a request: its error code, parameter and description."""

    meaning: ClassVar[str] = "The device refused the request"

    def __init__(
        self, path: str, code: int | None, param: str | None = None, description: str | None = None
    ) -> None:
        """Keep what the device said."""
        self.path = path
        self.code = code
        self.param = param
        self.description = description
        super().__init__(self._message())

    def _message(self) -> str:
        known = ERROR_MEANINGS.get(self.code or 0)
        detail = f"error {self.code}" if self.code is not None else "no error code"
        if known:
            detail += f" {known}"
        if self.param:
            detail += f", parameter {self.param}"
        if self.description and self.description.lower() != (known or "").lower():
            detail += f": {self.description}"
        return f"{self.meaning} ({self.path}: {detail})"


class TwoNAuthenticationError(TwoNApiError):
    """Error 9 or HTTP 401: the username or password was refused."""

    meaning = "The device refused the username or password"


class TwoNAuthMethodError(TwoNApiError):
    """The device wants another authentication method: ``wanted`` (None when it does not say).

    Error 8, or a refusal (401) whose challenge names another scheme than the one sent.
    """

    meaning = "The device expects another authentication method"

    def __init__(
        self,
        path: str,
        code: int | None,
        param: str | None = None,
        description: str | None = None,
        *,
        wanted: AuthMethod | None = None,
    ) -> None:
        """Keep what the device said and the method its challenge names."""
        self.wanted = wanted
        super().__init__(path, code, param, description)

    def _message(self) -> str:
        if self.wanted is None:
            return super()._message()
        return (
            f"The device wants {self.wanted.value.capitalize()} authentication "
            f"({self.path}: error {self.code})"
        )


class TwoNConnectionTypeError(TwoNApiError):
    """Error 7: the device wants the other protocol (HTTP or HTTPS) for this service."""

    meaning = "The device does not allow this protocol (HTTP or HTTPS) for its API"


class TwoNPrivilegeError(TwoNApiError):
    """Error 10: the account lacks the privilege group of the endpoint (``group``)."""

    meaning = "The account lacks a privilege group"

    @property
    def group(self) -> str:
        """The privilege group the endpoint needs."""
        return PRIVILEGE_GROUPS.get(self.path, self.param or "unknown")

    def _message(self) -> str:
        return (
            f"The account lacks the privilege group {self.group}, "
            f"which {self.path} needs (error {self.code})"
        )


class TwoNInvalidLocationError(TwoNError, ValueError):
    """A location that the device would refuse (checked before sending)."""


class TwoNKeyMaterialMissingError(TwoNError):
    """A key to keep has no known private half: writing would delete it from the device."""

    def __init__(self, key: MobileKey) -> None:
        """Keep the key's description (never its material)."""
        self.key = key
        super().__init__(
            f"The device shows only the public half of {key.describe()}, which Home Assistant "
            "did not write; writing the keys would delete it, so nothing was written"
        )


class TwoNNothingToCopyError(TwoNError, ValueError):
    """The source of a copy holds no key: copying would empty the destination's slots."""


class TwoNKeyMismatchError(TwoNError):
    """The device did not keep what was written, even after it was written again.

    ``written`` is what it held after the write, ``actual`` what it holds once what it held
    ``before`` was written back. ``restored``: it holds everything it held before again (nothing
    was lost); otherwise ``lost`` names the keys it held before and no longer holds.
    """

    def __init__(
        self,
        expected: MobileKeyConfig,
        written: MobileKeyConfig,
        actual: MobileKeyConfig,
        *,
        before: MobileKeyConfig,
        write_error: TwoNError | None = None,
        restore_error: TwoNError | None = None,
    ) -> None:
        """Say what was asked, what the device kept, and what it holds after the repair."""
        self.expected = expected
        self.written = written
        self.actual = actual
        self.before = before
        self.write_error = write_error
        self.restore_error = restore_error
        held = {key.fingerprint for key in actual.keys}
        self.lost = [key for key in before.keys if key.fingerprint not in held]
        self.restored = _same_content(before, actual)
        differences = [
            f"slot {slot}: expected {_slot_text(want)}, holds {_slot_text(have)}"
            for slot, (want, have) in enumerate(
                zip(expected.slots, written.slots, strict=True), start=1
            )
            if not _same_key(want, have)
        ]
        if expected.location != written.location:
            differences.append(
                f"location: expected {expected.location!r}, holds {written.location!r}"
            )
        cause = "" if write_error is None else f" after the write failed ({write_error})"
        self.problem = f"{'; '.join(differences)}{cause}"
        self.holds = actual.describe_all()
        if self.restored:
            self.restore_problem = ""
            outcome = f"It holds what it held before again, so nothing was lost: {self.holds}"
        else:
            if restore_error is not None:
                why = f"writing back what it held before failed ({restore_error})"
            else:
                why = "it did not keep what it held before when that was written back either"
            if self.lost:
                why += "; no longer on it: " + ", ".join(key.describe() for key in self.lost)
            self.restore_problem = why
            outcome = f"Then {why}. It now holds {self.holds}"
        super().__init__(f"The device did not keep what was written ({self.problem}). {outcome}")


# --- replies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """``system/info``: what the device says it is."""

    device_name: str
    variant: str
    serial_number: str
    mac: str  # upper case, colon separated
    hw_version: str
    sw_version: str
    build_type: str


@dataclass(frozen=True, slots=True)
class SwitchCaps:
    """One switch of ``switch/caps``; a disabled switch has no mode."""

    number: int
    enabled: bool
    mode: str | None = None  # "monostable" or "bistable"
    on_duration: float | None = None  # seconds a monostable switch stays active
    type: str | None = None

    @property
    def monostable(self) -> bool:
        """Whether the switch switches itself off after ``on_duration`` (not bistable)."""
        return self.mode != "bistable"


@dataclass(frozen=True, slots=True)
class SwitchState:
    """One switch of ``switch/status``: active (on), locked (blocked), held."""

    number: int
    active: bool
    locked: bool = False
    held: bool = False


@dataclass(frozen=True, slots=True)
class MobileKey:
    """One mobile key (Bluetooth authentication) in a slot.

    ``fingerprint`` is the SHA-256 (hex) of the public half's SubjectPublicKeyInfo DER; for
    material that is not a readable key, of the decoded bytes. ``private_key`` is the base64
    PKCS#1 (RSA) or SEC1 (EC) DER when known; it never appears in a ``repr``.
    """

    slot: int
    type: str  # "rsa", "ecc" or "unknown"
    fingerprint: str
    created: datetime | None = None
    private_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def ctime(self) -> int | None:
        """The creation time as the device writes it (seconds since 1970)."""
        return None if self.created is None else int(self.created.timestamp())

    def describe(self) -> str:
        """Say which key this is without its material."""
        created = "no creation time" if self.created is None else f"created {_iso(self.created)}"
        return (
            f"the {self.type} key in slot {self.slot} ({created}, SHA-256 {self.fingerprint[:16]}…)"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: slot, type, creation time, fingerprint (no material)."""
        return {
            "slot": self.slot,
            "type": self.type,
            "created": None if self.created is None else _iso(self.created),
            "fingerprint": self.fingerprint,
        }

    def in_slot(self, slot: int) -> MobileKey:
        """Return the same key in another slot."""
        return MobileKey(slot, self.type, self.fingerprint, self.created, self.private_key)


@dataclass(frozen=True, slots=True)
class MobileKeyConfig:
    """``mobilekey/config``: the location and the four slots (None: empty)."""

    location: str
    slots: list[MobileKey | None]  # a list: diagnostics redact inside lists, not tuples

    @property
    def keys(self) -> list[MobileKey]:
        """The keys present, in slot order (the first is the primary key)."""
        return [key for key in self.slots if key is not None]

    @property
    def primary(self) -> MobileKey | None:
        """The key phones are told to switch to: the first one present."""
        keys = self.keys
        return keys[0] if keys else None

    def describe(self) -> str:
        """Say what the slots hold, without key material."""
        return ", ".join(
            f"slot {slot}: {_slot_text(key)}" for slot, key in enumerate(self.slots, start=1)
        )

    def describe_all(self) -> str:
        """Say what the device holds: the location and the slots, without key material."""
        return f"location {self.location!r}, {self.describe()}"

    def compact(self) -> MobileKeyConfig:
        """The same location and keys, in order from slot 1 (as a write leaves them)."""
        return MobileKeyConfig(self.location, _in_slots(self.keys))

    def without_material(self) -> MobileKeyConfig:
        """The same configuration with no private key in it (to keep in memory or show)."""
        return MobileKeyConfig(
            self.location,
            [None if key is None else replace(key, private_key=None) for key in self.slots],
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: the location and each key present (no material)."""
        return {"location": self.location, "keys": [key.summary() for key in self.keys]}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _slot_text(key: MobileKey | None) -> str:
    if key is None:
        return "empty"
    created = "no creation time" if key.created is None else f"created {_iso(key.created)}"
    return f"{key.type} key {key.fingerprint[:16]}… ({created})"


def _same_key(want: MobileKey | None, have: MobileKey | None) -> bool:
    if want is None or have is None:
        return want is have
    same_type = want.type not in ("rsa", "ecc") or want.type == have.type
    return same_type and want.fingerprint == have.fingerprint and want.created == have.created


# --- helpers ------------------------------------------------------------------------------


def format_fingerprint(digest: bytes) -> str:
    """Return a certificate's SHA-256 as browsers show it: AB:CD:..."""
    return ":".join(f"{byte:02X}" for byte in digest)


def normalize_mac(text: str) -> str:
    """Return a MAC address as ``7C:1E:B3:01:02:03`` from any usual spelling."""
    digits = "".join(char for char in text if char not in ":-. ").upper()
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def base_url(protocol: Protocol, host: str) -> URL:
    """Return the device's URL; ValueError when ``host`` is not ``address[:port]``."""
    try:
        url = URL(f"{protocol.value}://{host}")
    except ValueError as err:
        raise ValueError(f"Not a host name or address: {host!r}") from err
    if not url.host or url.path not in ("", "/") or url.query_string or url.fragment:
        raise ValueError(f"Not a host name or address: {host!r}")
    return url


def validate_location(location: str) -> str:
    """Return the location if the device accepts it (a string of at most 127 characters)."""
    if not isinstance(location, str) or not location:
        raise TwoNInvalidLocationError("The location must be a text of 1 to 127 characters")
    if len(location) > MAX_LOCATION:
        raise TwoNInvalidLocationError(
            f"The location has {len(location)} characters; the device accepts at most "
            f"{MAX_LOCATION}"
        )
    return location


def key_fingerprint(material: str, *, private: bool) -> str:
    """SHA-256 (hex) of a key's public half, from base64 private or public DER.

    Material that is not a readable key is fingerprinted as its decoded bytes (or its text).
    The RSA private key is not validated (only its public numbers are read): the device
    checks its keys, and a check would cost milliseconds per key on the event loop.
    """
    try:
        der = base64.b64decode(material, validate=True)
    except binascii.Error, ValueError:
        return hashlib.sha256(material.encode()).hexdigest()
    try:
        if private:
            public = serialization.load_der_private_key(
                der, None, unsafe_skip_rsa_key_validation=True
            ).public_key()
        else:
            public = serialization.load_der_public_key(der)
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except ValueError, TypeError, UnsupportedAlgorithm:
        return hashlib.sha256(der).hexdigest()
    return hashlib.sha256(spki).hexdigest()


def generate_mobile_key(created: datetime) -> MobileKey:
    """Make a new 1024-bit RSA key (PKCS#1 DER, base64) for slot 1. CPU-bound: run off the loop."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return MobileKey(
        slot=1,
        type="rsa",
        fingerprint=hashlib.sha256(spki).hexdigest(),
        created=created.replace(microsecond=0).astimezone(UTC),
        private_key=base64.b64encode(der).decode(),
    )


def plan_rotation(
    current: MobileKeyConfig, new_key: MobileKey, known: Mapping[str, str]
) -> MobileKeyConfig:
    """Return what a rotation writes: the new key first, then the present keys in order.

    Only when all four slots are full is one dropped (the oldest; see the module's notes).
    Raise ``TwoNKeyMaterialMissingError`` when a kept key's private half is unknown.
    """
    kept = current.keys
    if len(kept) >= KEY_SLOTS:
        oldest = min(
            reversed(kept),
            key=lambda key: key.created or datetime.fromtimestamp(0, UTC),
        )
        kept = [key for key in kept if key is not oldest]
    keys = [new_key, *(with_material(key, known) for key in kept)]
    return MobileKeyConfig(current.location, _in_slots(keys))


def plan_copy(source: MobileKeyConfig, known: Mapping[str, str]) -> MobileKeyConfig:
    """Return what copying ``source`` writes: its location and keys, private halves known.

    Raise ``TwoNNothingToCopyError`` when it holds no key (a new or reset device).
    """
    if not source.keys:
        raise TwoNNothingToCopyError(
            "The source device holds no mobile key: copying it would delete every key of the "
            "destination, so nothing was written"
        )
    return MobileKeyConfig(
        source.location, _in_slots([with_material(key, known) for key in source.keys])
    )


def with_material(key: MobileKey, known: Mapping[str, str]) -> MobileKey:
    """Return the key with its private half, or raise when neither the device nor we know it."""
    if key.private_key is not None:
        return key
    private = known.get(key.fingerprint)
    if private is None:
        raise TwoNKeyMaterialMissingError(key)
    return MobileKey(key.slot, key.type, key.fingerprint, key.created, private)


def _in_slots(keys: Sequence[MobileKey]) -> list[MobileKey | None]:
    slots: list[MobileKey | None] = [key.in_slot(slot) for slot, key in enumerate(keys, start=1)]
    return slots + [None] * (KEY_SLOTS - len(slots))


# --- the client ---------------------------------------------------------------------------


class TwoNClient:
    """One 2N device's HTTP API, reached through an injected session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        *,
        protocol: Protocol | str = Protocol.HTTPS,
        auth: AuthMethod | str = AuthMethod.DIGEST,
        username: str | None = None,
        password: str | None = None,
        certificate_sha256: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Talk to ``host`` (``address`` or ``address:port``) with these settings.

        ``certificate_sha256``: the pinned certificate (HTTPS); None verifies it against the
        session's store.
        """
        self._session = session
        self.host = host
        self.protocol = Protocol(protocol)
        self.auth = AuthMethod(auth)
        self._base = base_url(self.protocol, host)
        self.certificate_sha256 = certificate_sha256
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._basic: str | None = None  # the Authorization header
        self._digest: aiohttp.DigestAuthMiddleware | None = None
        if self.auth is AuthMethod.BASIC:
            self._basic = aiohttp.encode_basic_auth(username or "", password or "")
        elif self.auth is AuthMethod.DIGEST:
            self._digest = aiohttp.DigestAuthMiddleware(username or "", password or "")
        self._secrets = SecretScrubber(password, self._basic)  # an error may quote them

    def __repr__(self) -> str:
        """Name the device, never the credentials."""
        return f"TwoNClient({self._base}, auth={self.auth.value})"

    # -- plain requests ----------------------------------------------------------------------

    async def system_info(self) -> SystemInfo:
        """Read what the device is (needs valid credentials, no privilege)."""
        result = _object(SYSTEM_INFO, await self._request("GET", SYSTEM_INFO))
        try:
            return SystemInfo(
                device_name=str(result.get("deviceName") or result.get("variant") or "2N device"),
                variant=str(result.get("variant", "")),
                serial_number=str(result["serialNumber"]),
                mac=normalize_mac(str(result.get("macAddr", ""))),
                hw_version=str(result.get("hwVersion", "")),
                sw_version=str(result.get("swVersion", "")),
                build_type=str(result.get("buildType", "")),
            )
        except KeyError as err:
            raise TwoNMalformedReplyError(f"{SYSTEM_INFO} has no serial number") from err

    async def switch_caps(self) -> list[SwitchCaps]:
        """Read every switch's configuration."""
        caps = []
        for item in _switches(SWITCH_CAPS, await self._request("GET", SWITCH_CAPS)):
            enabled = item.get("enabled") is True
            duration = item.get("switchOnDuration")
            caps.append(
                SwitchCaps(
                    number=_switch_number(SWITCH_CAPS, item),
                    enabled=enabled,
                    mode=str(item["mode"]) if enabled and "mode" in item else None,
                    on_duration=(
                        float(duration)
                        if isinstance(duration, int | float) and not isinstance(duration, bool)
                        else None
                    ),
                    type=str(item["type"]) if "type" in item else None,
                )
            )
        return caps

    async def switch_status(self) -> list[SwitchState]:
        """Read every switch's state."""
        return [
            SwitchState(
                number=_switch_number(SWITCH_STATUS, item),
                active=item.get("active") is True,
                locked=item.get("locked") is True,
                held=item.get("held") is True,
            )
            for item in _switches(SWITCH_STATUS, await self._request("GET", SWITCH_STATUS))
        ]

    async def switch_control(self, number: int, action: SwitchAction) -> None:
        """Switch a switch on or off, or trigger it (monostable: on for its duration).

        Sent once, as a POST form. ``TwoNTimeoutError``, ``TwoNAnswerLostError``,
        ``TwoNMalformedReplyError`` and ``TwoNHttpError`` leave it unknown whether the device
        acted on it.
        """
        await self._request(
            "POST", SWITCH_CTRL, form={"switch": str(number), "action": action.value}
        )

    async def mobile_key_config(self) -> MobileKeyConfig:
        """Read the location and the four key slots."""
        result = _object(MOBILEKEY_CONFIG, await self._request("GET", MOBILEKEY_CONFIG))
        location, entries = result.get("location"), result.get("keys", [])
        if not isinstance(location, str) or not isinstance(entries, list):
            raise TwoNMalformedReplyError(f"{MOBILEKEY_CONFIG} has no location or keys")
        slots = [_parse_key(slot, entry) for slot, entry in enumerate(entries[:KEY_SLOTS], 1)]
        return MobileKeyConfig(location, slots + [None] * (KEY_SLOTS - len(slots)))

    # -- verified writes ---------------------------------------------------------------------

    async def rotate_mobile_key(
        self, new_key: MobileKey, known: Mapping[str, str]
    ) -> MobileKeyConfig:
        """Put ``new_key`` first and keep the others (see ``plan_rotation``); verified."""
        before = await self.mobile_key_config()
        planned = plan_rotation(before, new_key, known)
        return await self.write_mobile_keys(planned, before=before, known=known)

    async def set_location(
        self, location: str, known: Mapping[str, str] | None = None
    ) -> MobileKeyConfig:
        """Write a new location, keeping the keys; verified."""
        validate_location(location)
        before = await self.mobile_key_config()
        planned = MobileKeyConfig(location, list(before.slots))
        return await self.write_mobile_keys(planned, before=before, known=known)

    async def write_mobile_keys(
        self,
        planned: MobileKeyConfig,
        *,
        before: MobileKeyConfig,
        known: Mapping[str, str] | None = None,
    ) -> MobileKeyConfig:
        """Write ``planned`` on a device that held ``before`` (just read); verified, repaired.

        The location is always sent, the keys (each with its private half) when they differ
        from what the device holds. Return what the device holds (equal to ``planned`` slot by
        slot). When it differs, even after a write that failed half-way was sent once more,
        ``before`` is written back and ``TwoNKeyMismatchError`` says what the device holds then.
        ``known``: private halves by fingerprint, for keys the GET shows only as public halves.
        """
        validate_location(planned.location)
        first = _put_body(planned, before)  # a key without its private half: nothing is sent
        private = {**(known or {}), **_private_halves(before), **_private_halves(planned)}
        written, write_error = await self._put_and_read(first)
        if not _matches(planned, written) and _worth_retrying(write_error):
            _LOGGER.warning(
                "Writing the mobile keys of %s failed half-way (%s); writing them again",
                self.host,
                write_error,
            )
            written, write_error = await self._put_and_read(_put_body(planned, written))
        if _matches(planned, written):
            if write_error is not None:
                _LOGGER.debug("%s holds what was written despite: %s", self.host, write_error)
            return written
        actual, restore_error = written, None
        if not _same_content(before, written):
            restore = _with_known_halves(before, private)
            _LOGGER.warning(
                "%s did not keep the mobile keys written; writing back what it held before",
                self.host,
            )
            for _attempt in range(2):  # once more only when it failed half-way
                try:
                    actual, restore_error = await self._put_and_read(_put_body(restore, actual))
                except TwoNError as err:  # the read-back failed: the last reading stands
                    restore_error = err
                    break
                if _same_content(before, actual):
                    restore_error = None  # it failed on the way, yet the device holds it all
                    break
                if not _worth_retrying(restore_error):
                    break
        raise TwoNKeyMismatchError(
            planned,
            written,
            actual,
            before=before,
            write_error=write_error,
            restore_error=restore_error,
        )

    async def _put_and_read(self, body: dict[str, Any]) -> tuple[MobileKeyConfig, TwoNError | None]:
        """PUT ``body``, then read back: what the device holds, and why the PUT failed if it did.

        A refusal before anything was written (certificate, account, protocol) is raised.
        """
        write_error: TwoNError | None = None
        try:
            await self._request("PUT", MOBILEKEY_CONFIG, json_body=body)
        except (
            TwoNCertificateChangedError,
            TwoNAuthenticationError,
            TwoNAuthMethodError,
            TwoNConnectionTypeError,
            TwoNPrivilegeError,
            TwoNCertificateError,
        ):
            raise  # refused before anything was written
        except TwoNError as err:
            write_error = err
            _LOGGER.debug("Mobile key write to %s failed: %s; reading back", self.host, err)
        return await self.mobile_key_config(), write_error

    # -- event log and camera ----------------------------------------------------------------
    # The log functions that change the device's subscriptions (and pull, which empties a
    # queue) are POSTed: aiohttp sends an idempotent request again on its own after a closed
    # connection, and a pull sent twice would lose the first answer's events.

    async def log_caps(self) -> list[str]:
        """Return the event types the device logs."""
        return _event_types(await self._request("GET", LOG_CAPS))

    async def log_subscribe(
        self, *, include: str = "new", events: Sequence[str] = (), duration: int = 90
    ) -> int:
        """Open a subscription (a queue of its own); return its id.

        ``include``: ``new`` (events from now on), ``all`` or ``-<seconds>`` (the device's
        history of the last seconds first); ``events``: the types to queue (all when empty);
        ``duration``: seconds the device keeps the subscription without a pull.
        """
        form = {"include": include, "duration": str(duration)}
        if events:
            form["filter"] = ",".join(events)
        result = _object(LOG_SUBSCRIBE, await self._request("POST", LOG_SUBSCRIBE, form=form))
        subscription = result.get("id")
        if not isinstance(subscription, int) or isinstance(subscription, bool):
            raise TwoNMalformedReplyError(f"The answer to {LOG_SUBSCRIBE} has no id")
        return subscription

    async def log_pull(self, subscription: int, *, wait: int = 0) -> LogBatch:
        """Return the queued events, waiting up to ``wait`` seconds for one."""
        result = await self._request(
            "POST",
            LOG_PULL,
            form={"id": str(subscription), "timeout": str(wait)},
            seconds=wait + DEFAULT_TIMEOUT,
        )
        return _log_batch(result)

    async def log_unsubscribe(self, subscription: int) -> None:
        """Close a subscription."""
        await self._request("POST", LOG_UNSUBSCRIBE, form={"id": str(subscription)})

    async def camera_caps(self) -> CameraCaps:
        """Return the camera's snapshot resolutions and video sources."""
        return _camera_caps(await self._request("GET", CAMERA_CAPS))

    async def camera_snapshot(self, width: int, height: int, source: str | None = None) -> bytes:
        """Return a JPEG snapshot at one of the camera's resolutions."""
        params = {"width": str(width), "height": str(height)}
        if source is not None:
            params["source"] = source
        answer = await self._exchange("GET", CAMERA_SNAPSHOT, params=params)
        if answer.status == HTTPStatus.OK and answer.content_type.startswith("image/"):
            return answer.body
        self._unwrap(CAMERA_SNAPSHOT, answer)  # the device's error, if it says one
        raise TwoNMalformedReplyError(f"The answer to {CAMERA_SNAPSHOT} is not an image")

    # -- transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        seconds: float | None = None,
    ) -> Any:
        """Send one request; return the envelope's ``result`` (None when it has none)."""
        answer = await self._exchange(
            method, path, params=params, json_body=json_body, form=form, seconds=seconds
        )
        return self._unwrap(path, answer)

    def _unwrap(self, path: str, answer: _Answer) -> Any:
        """The envelope's result, or the error it says (scrubbed of this client's secrets)."""
        return _unwrap(
            path,
            answer.status,
            answer.body,
            self._secrets.scrub,
            auth=self.auth,
            challenge=answer.challenge,
        )

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        seconds: float | None = None,
    ) -> _Answer:
        """Send one request (allowed ``seconds``, else the client's timeout).

        Anything but a GET has side effects: aiohttp does not send it a second time.
        """
        kwargs: dict[str, Any] = {
            "timeout": self._timeout if seconds is None else aiohttp.ClientTimeout(total=seconds)
        }
        if self.protocol is Protocol.HTTPS and self.certificate_sha256 is not None:
            kwargs["ssl"] = aiohttp.Fingerprint(self.certificate_sha256)
        headers: dict[str, str] = {}
        if self._basic is not None:
            headers["Authorization"] = self._basic
        middlewares: list[aiohttp.ClientMiddlewareType] = []
        if self._digest is not None:
            middlewares.append(self._digest)
        if method != "GET":
            middlewares.append(_send_once)
        if middlewares:
            kwargs["middlewares"] = tuple(middlewares)
        if form is not None:
            kwargs["data"] = dict(form)
        elif json_body is not None:
            kwargs["data"] = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        url = self._base.with_path(f"/api/{path}")
        try:
            async with self._session.request(
                method, url, params=params, headers=headers, **kwargs
            ) as response:
                answer = _Answer(
                    status=response.status,
                    content_type=response.content_type,
                    body=await response.read(),
                    challenge=response.headers.get("WWW-Authenticate", ""),
                )
        except aiohttp.ServerFingerprintMismatch as err:
            raise TwoNCertificateChangedError(err.expected, err.got) from err
        except aiohttp.ClientConnectorCertificateError as err:
            raise TwoNCertificateError(
                f"The certificate of {self.host} is not trusted: {err.certificate_error}"
            ) from err
        except TimeoutError as err:
            raise TwoNTimeoutError(f"{self.host} did not answer {path} in time") from err
        except aiohttp.ClientConnectorError as err:
            raise TwoNConnectionError(f"Cannot reach {self.host}: {err}") from err
        except aiohttp.ClientError as err:
            raise TwoNAnswerLostError(
                f"{self.host} closed the connection before answering {path}: {err}"
            ) from err
        return answer


@dataclass(frozen=True, slots=True)
class _Answer:
    """A device's HTTP answer, as the client reads it."""

    status: int
    content_type: str
    body: bytes
    challenge: str  # WWW-Authenticate


class _ClosedAfterSending(aiohttp.ClientConnectionError):
    """The connection closed once the request was out (not an error aiohttp retries)."""


async def _send_once(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Keep aiohttp from sending a request with side effects a second time by itself.

    aiohttp sends an idempotent request (a PUT; a GET) again when the connection closes
    before the answer, though the device may have acted on the first. Raised as an error it
    does not retry, the closure reaches the caller, which reads the device before deciding.
    """
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # no connection: nothing was sent (and aiohttp does not retry it)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as err:
        raise _ClosedAfterSending(str(err) or type(err).__name__) from err


async def fetch_certificate_sha256(
    session: aiohttp.ClientSession, host: str, *, seconds: float = DEFAULT_TIMEOUT
) -> bytes:
    """Return the SHA-256 of the certificate ``host`` presents over HTTPS; nothing is sent.

    The request carries a pin no certificate has: aiohttp stops after the handshake.
    """
    url = base_url(Protocol.HTTPS, host).with_path(f"/api/{SYSTEM_INFO}")
    try:
        async with session.get(
            url, ssl=_IMPOSSIBLE_PIN, timeout=aiohttp.ClientTimeout(total=seconds)
        ):
            pass  # pragma: no cover (no certificate matches the pin: never reached)
    except aiohttp.ServerFingerprintMismatch as err:
        return err.got
    except TimeoutError as err:
        raise TwoNTimeoutError(f"{host} did not answer in time") from err
    except aiohttp.ClientError as err:
        raise TwoNConnectionError(f"Cannot reach {host} over HTTPS: {err}") from err
    raise TwoNConnectionError(f"{host} presented no certificate")  # pragma: no cover


# --- parsing ------------------------------------------------------------------------------


_ERRORS: Final[Mapping[int, type[TwoNApiError]]] = {
    7: TwoNConnectionTypeError,
    9: TwoNAuthenticationError,
    10: TwoNPrivilegeError,
}


def _unwrap(
    path: str,
    status: int,
    body: bytes,
    scrub: Callable[[str], str] = str,
    *,
    auth: AuthMethod | None = None,
    challenge: str = "",
) -> Any:
    """The envelope's result, or the error it (or the HTTP status) says.

    ``scrub`` removes the client's secrets from the device's text (``str``: nothing to
    remove). ``auth`` is the method the request used and ``challenge`` the device's
    ``WWW-Authenticate``: a refusal challenging another scheme is a wrong method.
    """
    try:
        reply = json.loads(body) if body else None
    except ValueError:
        reply = None
    wanted = _challenged_method(challenge)
    wrong_method = status == HTTPStatus.UNAUTHORIZED and wanted not in (None, auth)
    if not isinstance(reply, dict) or not isinstance(reply.get("success"), bool):
        if wrong_method:
            raise TwoNAuthMethodError(path, None, description=f"HTTP {status}", wanted=wanted)
        if status == HTTPStatus.UNAUTHORIZED:
            raise TwoNAuthenticationError(path, None, description=f"HTTP {status}")
        if status >= HTTPStatus.BAD_REQUEST:
            raise TwoNHttpError(status)
        raise TwoNMalformedReplyError(f"The answer to {path} is not 2N's JSON envelope")
    if reply["success"]:
        return reply.get("result")
    error = reply.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    if code is None and status == HTTPStatus.UNAUTHORIZED:
        code = 9
    param = error.get("param")
    param = str(param) if param is not None else None
    description = error.get("description")
    param = scrub(param) if param is not None else None
    description = scrub(str(description)) if description is not None else None
    if wrong_method or code == 8:
        raise TwoNAuthMethodError(path, code, param, description, wanted=wanted)
    raise _ERRORS.get(code or 0, TwoNApiError)(path, code, param, description)


def _challenged_method(challenge: str) -> AuthMethod | None:
    """The method a ``WWW-Authenticate`` challenge asks for (Basic or Digest), if any."""
    scheme = challenge.strip().partition(" ")[0].lower()
    if scheme == AuthMethod.BASIC.value:
        return AuthMethod.BASIC
    if scheme == AuthMethod.DIGEST.value:
        return AuthMethod.DIGEST
    return None


def _object(path: str, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise TwoNMalformedReplyError(f"The answer to {path} has no result")
    return result


def _switches(path: str, result: Any) -> list[dict[str, Any]]:
    switches = _object(path, result).get("switches")
    if not isinstance(switches, list) or not all(isinstance(item, dict) for item in switches):
        raise TwoNMalformedReplyError(f"The answer to {path} has no switches")
    return switches


def _switch_number(path: str, item: Mapping[str, Any]) -> int:
    number = item.get("switch")
    if not isinstance(number, int) or isinstance(number, bool):
        raise TwoNMalformedReplyError(f"A switch of {path} has no number")
    return number


def _parse_key(slot: int, entry: object) -> MobileKey | None:
    """One slot of a GET: ``{}`` is empty; ``key`` is private, ``publicKey`` public."""
    if not isinstance(entry, dict):
        return None
    private, public = entry.get("key"), entry.get("publicKey")
    if isinstance(private, str) and private:
        fingerprint = key_fingerprint(private, private=True)
    elif isinstance(public, str) and public:
        private, fingerprint = None, key_fingerprint(public, private=False)
    else:
        return None
    key_type = str(entry.get("type", "rsa")).lower()
    ctime = entry.get("ctime")
    created = (
        datetime.fromtimestamp(ctime, UTC)
        if isinstance(ctime, int) and not isinstance(ctime, bool) and 0 <= ctime <= MAX_CTIME
        else None
    )
    return MobileKey(
        slot=slot,
        type=key_type if key_type in ("rsa", "ecc") else "unknown",
        fingerprint=fingerprint,
        created=created,
        private_key=private,
    )


def _key_object(key: MobileKey) -> dict[str, Any]:
    if key.private_key is None:
        raise TwoNKeyMaterialMissingError(key)
    written: dict[str, Any] = {"key": key.private_key}
    if key.type in ("rsa", "ecc"):
        written = {"type": key.type, **written}
    if key.ctime is not None:
        written["ctime"] = key.ctime
    return written


def _put_body(config: MobileKeyConfig, current: MobileKeyConfig) -> dict[str, Any]:
    """The PUT that turns ``current`` into ``config``: the location, and the keys if they differ.

    Raise ``TwoNKeyMaterialMissingError`` (nothing sent) for a key without its private half.
    """
    body: dict[str, Any] = {"location": config.location}
    if not all(
        _same_key(want, have) for want, have in zip(config.slots, current.slots, strict=True)
    ):
        body["keys"] = [_key_object(key) for key in config.keys]
    return body


def _private_halves(config: MobileKeyConfig) -> dict[str, str]:
    return {key.fingerprint: key.private_key for key in config.keys if key.private_key}


def _with_known_halves(config: MobileKeyConfig, private: Mapping[str, str]) -> MobileKeyConfig:
    """``config``'s location and each of its keys whose private half is known, from slot 1."""
    keys = [
        MobileKey(key.slot, key.type, key.fingerprint, key.created, half)
        for key in config.keys
        if (half := key.private_key or private.get(key.fingerprint))
    ]
    return MobileKeyConfig(config.location, _in_slots(keys))


def _same_content(one: MobileKeyConfig, other: MobileKeyConfig) -> bool:
    """The same location and the same keys in the same order (empty slots aside)."""
    return _matches(one.compact(), other.compact())


def _matches(expected: MobileKeyConfig, actual: MobileKeyConfig) -> bool:
    return expected.location == actual.location and all(
        _same_key(want, have) for want, have in zip(expected.slots, actual.slots, strict=True)
    )


def _worth_retrying(error: TwoNError | None) -> bool:
    """A write that failed in transit or while processing may have stopped half-way."""
    if error is None:
        return False
    if isinstance(error, TwoNApiError):
        return error.code == 14
    return isinstance(error, TwoNConnectionError | TwoNMalformedReplyError | TwoNHttpError)


# --- event log and camera -----------------------------------------------------------------

type JsonValue = str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event of the device's log (``log/pull``).

    ``name`` is the event type (``CardEntered``...); ``utc_time`` (seconds since 1970, the
    device's clock) and ``up_time`` (seconds since the device started) say when it happened;
    ``record_id`` is the device's number for it.
    """

    name: str
    params: dict[str, JsonValue]
    record_id: int | None = None
    utc_time: int | None = None
    up_time: int | None = None

    @property
    def occurred(self) -> datetime | None:
        """When the event happened, by the device's clock."""
        if self.utc_time is None or not 0 <= self.utc_time <= MAX_CTIME:
            return None
        return datetime.fromtimestamp(self.utc_time, UTC)

    def identity(self) -> tuple[object, ...]:
        """What tells this event from every other (the same event replayed is equal).

        The record id is left out: the pages do not say whether it is the device's or the
        subscription's.
        """
        return (
            self.utc_time,
            self.up_time,
            self.name,
            json.dumps(self.params, sort_keys=True, separators=(",", ":")),
        )


@dataclass(frozen=True, slots=True)
class LogBatch:
    """One ``log/pull`` answer: its events, and how many entries were unreadable (skipped)."""

    events: list[LogEvent]
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class CameraCaps:
    """``camera/caps``: the snapshot resolutions (width, height) and the video sources."""

    resolutions: list[tuple[int, int]]
    sources: list[str]

    def resolution_for(self, width: int | None, height: int | None) -> tuple[int, int] | None:
        """The smallest resolution at least as large as asked, else the largest one."""
        if not self.resolutions:
            return None
        ordered = sorted(self.resolutions, key=lambda size: size[0] * size[1])
        if width is None and height is None:
            return ordered[-1]
        fitting = (
            size
            for size in ordered
            if (width is None or size[0] >= width) and (height is None or size[1] >= height)
        )
        return next(fitting, ordered[-1])


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _event_types(result: Any) -> list[str]:
    """``log/caps``: ``events`` as names, or as objects naming the event."""
    entries = _object(LOG_CAPS, result).get("events")
    if not isinstance(entries, list):
        raise TwoNMalformedReplyError(f"The answer to {LOG_CAPS} has no events")
    names = []
    for entry in entries:
        name = entry.get("event", entry.get("name")) if isinstance(entry, dict) else entry
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _log_batch(result: Any) -> LogBatch:
    entries = _object(LOG_PULL, result).get("events")
    if not isinstance(entries, list):
        raise TwoNMalformedReplyError(f"The answer to {LOG_PULL} has no events")
    events, skipped = [], 0
    for entry in entries:
        name = entry.get("event") if isinstance(entry, dict) else None
        params = entry.get("params", {}) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(name, str) or not name:
            skipped += 1
            continue
        if not isinstance(params, dict):
            skipped += 1
            continue
        events.append(
            LogEvent(
                name=name,
                params=params,
                record_id=_whole(entry.get("id")),
                utc_time=_whole(entry.get("utcTime")),
                up_time=_whole(entry.get("upTime")),
            )
        )
    return LogBatch(events, skipped)


def _camera_caps(result: Any) -> CameraCaps:
    caps = _object(CAMERA_CAPS, result)
    resolutions = []
    for item in caps.get("jpegResolution") or []:
        width = _whole(item.get("width")) if isinstance(item, dict) else None
        height = _whole(item.get("height")) if isinstance(item, dict) else None
        if width and height and width > 0 and height > 0:
            resolutions.append((width, height))
    sources = [
        str(item["source"])
        for item in caps.get("sources") or []
        if isinstance(item, dict) and isinstance(item.get("source"), str)
    ]
    return CameraCaps(resolutions, sources)
