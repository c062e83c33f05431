"""Client for the InVue LIVE Lock provisioning API (``/v1/dlock``).

A plain asyncio module with no Home Assistant imports: it takes an injected
``aiohttp.ClientSession`` and raises its own exceptions. It follows the vendor's "DLock" and
"Introduction" pages: ``POST /v1/dlock`` enrols a lock (its enrolment code becomes a Key
Certificate), ``GET /v1/dlock/{serial}`` returns the Key Certificate of a lock registered to
the API key's owner, ``DELETE /v1/dlock/{serial}`` removes that registration. Locks open only
through InVue's mobile SDK over Bluetooth: this API provisions, it never opens anything.

Each error status of the pages is its own exception, with the page's meaning: 400
``InVueBadRequestError`` (no enrolment code, an invalid one, or a serial number already
registered), 401 ``InVueAuthenticationError`` (the API key is invalid or revoked), 403
``InVueForbiddenError`` (the key is valid but its owner has no access), 404
``InVueNotFoundError`` (the serial number is not registered to the key's owner), 405
``InVueMethodNotAllowedError``. Two more that any HTTP API may answer: 409
``InVueConflictError`` (the page only says a serial number "can not be registered twice",
not with which status) and 429 ``InVueRateLimitedError``.

Choices the pages leave open:

* Certificates are always asked for in base64 (``"base64": true`` / ``?base64=true``), the form
  the mobile SDK takes; a reply in the native JSON form is accepted too and encoded the way the
  base64 form is (compact JSON, the reply's key order), which reproduces the seed byte for byte.
* A Key Certificate's ``valid`` / ``expires`` are read as Unix times in seconds, 0 meaning no
  bound. ``issuer`` is kept but never compared: the seed's two forms carry two issuers for one
  key. ``msg`` is never relied on: the seed repeats "DLock registered successfully" for GET.
* The API key is checked with a GET of a serial number of the documented shape (16 hex
  digits) that no lock has: only 401 and 403 say the key is refused. Any other refusal of the
  request (404, or 400 from an API that checks serial numbers its own way) came after the key
  was accepted.
* A 429 is waited out once, for ``Retry-After`` (seconds or an HTTP date; 1 s when absent),
  and the request sent once more: InVue did not handle it. A longer wait than
  ``max_retry_wait`` (10 s) is not waited for: the error (``retry_after`` set) is raised.
* An error reply that is not JSON (a proxy's HTML page) is summarised by its status and
  reason ("HTTP 503 Service Unavailable"), never quoted. InVue's own message is kept, with
  the API key and every enrolment code sent scrubbed from it (it may quote them).

API keys, enrolment codes and certificates are never logged and never part of an error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
import json
import logging
import math
import re
import time
from typing import Any, ClassVar, Final
from urllib.parse import quote

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ...http_headers import retry_after_seconds
from ...secret_text import SecretScrubber

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.invue.com"
DEFAULT_TIMEOUT: Final = 15.0
COLLECTION: Final = "/v1/dlock"
# A serial number of the documented shape (16 hex digits) that no lock has: its GET is a
# harmless check that the API key is accepted.
PROBE_SERIAL: Final = "0000000000000000"
DEFAULT_MAX_RETRY_WAIT: Final = 10.0  # seconds: the longest Retry-After waited for
DEFAULT_RETRY_AFTER: Final = 1.0  # seconds: the wait after a 429 without Retry-After
# The fields of a Key Certificate, in the order InVue writes them.
KEY_CERTIFICATE_FIELDS: Final = ("type", "issuer", "valid", "expires", "data", "key", "signature")
_MESSAGE_LIMIT: Final = 200
_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL | re.IGNORECASE
)


class InVueError(Exception):
    """Base class of every error raised by this module."""


class InVueConnectionError(InVueError):
    """InVue could not be reached, or the connection broke before the reply."""


class InVueTimeoutError(InVueConnectionError):
    """InVue did not answer within the client's timeout."""


class InVueMalformedReplyError(InVueError):
    """InVue answered with something this client cannot read."""


class InVueCertificateError(InVueError):
    """A Customer Intermediate Certificate that cannot be read."""


class InVueApiError(InVueError):
    """InVue refused a request: the HTTP status and InVue's message (secrets scrubbed)."""

    meaning: ClassVar[str] = "InVue refused the request"

    def __init__(
        self, status: int, message: str | None = None, *, retry_after: float | None = None
    ) -> None:
        """Keep the status, InVue's message (shortened) and ``Retry-After`` (seconds)."""
        self.status = status
        self.message = message[:_MESSAGE_LIMIT] if message else None
        self.retry_after = retry_after
        detail = f"HTTP {status}"
        if self.message and self.message == _phrase(status):
            detail += f" {self.message}"  # "HTTP 503 Service Unavailable"
        elif self.message:
            detail += f": {self.message}"
        if retry_after is not None:
            detail += f"; retry after {max(1, math.ceil(retry_after))} s"
        super().__init__(f"{self.meaning} ({detail})")


class InVueBadRequestError(InVueApiError):
    """400: an error in the request, no enrolment code, an invalid one, or a serial registered."""

    meaning = (
        "InVue refused the request: no enrolment code, an invalid enrolment code, "
        "or a serial number that is already registered"
    )


class InVueAuthenticationError(InVueApiError):
    """401: the API key is invalid or has been revoked."""

    meaning = "InVue refused the API key: it is invalid or has been revoked"


class InVueForbiddenError(InVueApiError):
    """403: the API key is valid, but its owner was not granted access to the resource."""

    meaning = "The API key is valid, but its owner has no access to this lock or certificate"


class InVueNotFoundError(InVueApiError):
    """404: the serial number is not registered to the owner of the API key."""

    meaning = "The lock serial number was not found: it is not registered to this API key's owner"


class InVueMethodNotAllowedError(InVueApiError):
    """405: the resource has no such method."""

    meaning = "InVue has no such method for this resource"


class InVueConflictError(InVueApiError):
    """409: the serial number is already registered (a status the pages do not rule out)."""

    meaning = "InVue refused the request: the serial number is already registered"


class InVueRateLimitedError(InVueApiError):
    """429: too many requests; ``retry_after`` is how long InVue asked to wait (seconds)."""

    meaning = "InVue is limiting the rate of requests with this API key"


_ERRORS: Final[Mapping[int, type[InVueApiError]]] = {
    400: InVueBadRequestError,
    401: InVueAuthenticationError,
    403: InVueForbiddenError,
    404: InVueNotFoundError,
    405: InVueMethodNotAllowedError,
    409: InVueConflictError,
    429: InVueRateLimitedError,
}
# Refusals of the key check that do not mean the key was accepted: it was refused (401,
# 403), or the request was answered before the key was looked at (405, 429). Other 4xx came
# after the key was accepted.
_NOT_ACCEPTED: Final = frozenset({401, 403, 405, 429})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class KeyValidity(StrEnum):
    """Whether a Key Certificate's validity period holds at a given time."""

    VALID = "valid"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class KeyCertificate:
    """A lock's Key Certificate: ``encoded`` is the base64 form the mobile SDK takes.

    The other fields are its decoded content; ``valid`` and ``expires`` are Unix times
    (seconds), 0 meaning no bound.
    """

    encoded: str = field(repr=False)
    type: str
    issuer: str
    valid: int
    expires: int
    data: dict[str, Any]
    key: str = field(repr=False)
    signature: str = field(repr=False)

    @classmethod
    def from_base64(cls, encoded: str) -> KeyCertificate:
        """Decode the base64 form; raise InVueMalformedReplyError when it is not one."""
        encoded = "".join(encoded.split())
        try:
            fields = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError) as err:
            raise InVueMalformedReplyError(
                "The Key Certificate is not base64-encoded JSON"
            ) from err
        return cls._from_fields(fields, encoded)

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> KeyCertificate:
        """Read the native JSON form, and encode it the way InVue's base64 form is."""
        compact = json.dumps(dict(fields), separators=(",", ":"))
        return cls._from_fields(fields, base64.b64encode(compact.encode()).decode())

    @classmethod
    def from_reply(cls, key: object) -> KeyCertificate:
        """Read ``data.key`` of a reply, in either form."""
        if isinstance(key, str):
            return cls.from_base64(key)
        if isinstance(key, Mapping):
            return cls.from_json(key)
        raise InVueMalformedReplyError("The reply carries no Key Certificate")

    @classmethod
    def _from_fields(cls, fields: object, encoded: str) -> KeyCertificate:
        if not isinstance(fields, Mapping):
            raise InVueMalformedReplyError("The Key Certificate is not a JSON object")
        missing = [name for name in KEY_CERTIFICATE_FIELDS if name not in fields]
        if missing:
            raise InVueMalformedReplyError(f"The Key Certificate lacks {', '.join(missing)}")
        strings = {name: fields[name] for name in ("type", "issuer", "key", "signature")}
        bounds = {name: fields[name] for name in ("valid", "expires")}
        if not all(isinstance(value, str) for value in strings.values()) or not all(
            isinstance(value, int) and not isinstance(value, bool) for value in bounds.values()
        ):
            raise InVueMalformedReplyError("The Key Certificate has a field of the wrong type")
        data = fields["data"]
        if not isinstance(data, Mapping):
            raise InVueMalformedReplyError("The Key Certificate's data is not an object")
        return cls(
            encoded=encoded,
            type=fields["type"],
            issuer=fields["issuer"],
            valid=fields["valid"],
            expires=fields["expires"],
            data=dict(data),
            key=fields["key"],
            signature=fields["signature"],
        )

    @property
    def valid_from(self) -> datetime | None:
        """Return when the certificate becomes valid (None: no bound)."""
        return _bound(self.valid)

    @property
    def valid_until(self) -> datetime | None:
        """Return when the certificate expires (None: it does not)."""
        return _bound(self.expires)

    def validity(self, now: datetime) -> KeyValidity:
        """Return whether the certificate is valid at ``now``."""
        if (start := self.valid_from) is not None and now < start:
            return KeyValidity.NOT_YET_VALID
        if (end := self.valid_until) is not None and now >= end:
            return KeyValidity.EXPIRED
        return KeyValidity.VALID


def _bound(value: int) -> datetime | None:
    if value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except OverflowError, OSError, ValueError:
        return None  # beyond any date: no bound in practice


@dataclass(frozen=True, slots=True)
class IntermediateCertificate:
    """A Customer Intermediate Certificate: ``pem`` is what the mobile SDK takes."""

    pem: str = field(repr=False)
    subject: str
    common_name: str | None
    issuer: str
    not_valid_before: datetime
    not_valid_after: datetime
    fingerprint: str

    def expired(self, now: datetime) -> bool:
        """Return whether the certificate has expired at ``now``."""
        return now >= self.not_valid_after


def parse_intermediate(text: str) -> IntermediateCertificate:
    """Read a Customer Intermediate Certificate pasted in PEM.

    A pasted chain is accepted: its first certificate not signed by itself (not the root) is
    the intermediate. Line breaks lost in pasting are restored. This parses X.509: call it
    from an executor, not from the event loop. Raise InVueCertificateError when unreadable.
    """
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise InVueCertificateError("No PEM certificate (-----BEGIN CERTIFICATE-----) found")
    certificates: list[x509.Certificate] = []
    for block in blocks:
        body = "".join(block.split())
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        pem = "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])
        try:
            certificates.append(x509.load_pem_x509_certificate(pem.encode()))
        except ValueError as err:
            raise InVueCertificateError("The PEM certificate cannot be read") from err
    certificate = next((c for c in certificates if c.subject != c.issuer), certificates[0])
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else None
    return IntermediateCertificate(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        subject=certificate.subject.rfc4514_string(),
        common_name=common_name,
        issuer=certificate.issuer.rfc4514_string(),
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":"),
    )


type Sleep = Callable[[float], Awaitable[None]]


class InVueClient:
    """The provisioning API with one API key (which belongs to one certificate owner).

    ``clock`` (Unix seconds) and ``sleep`` are injectable so that tests need not wait for a
    ``Retry-After``; ``max_retry_wait`` is the longest one waited for.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Use ``session`` for every request, authenticated with ``api_key``."""
        self._session = session
        self._api_key = api_key.strip()
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retry_wait = max_retry_wait
        self._clock = clock
        self._sleep = sleep
        # The API key and each enrolment code sent: InVue's messages may quote them.
        self._secrets = SecretScrubber(self._api_key)

    def __repr__(self) -> str:
        """Name the server, never the key."""
        return f"InVueClient({self.base_url})"

    async def enrol(
        self, serial: str, *, certificate_owner: str, enrolment_code: str, lock_type: str = ""
    ) -> KeyCertificate:
        """Register a lock with its enrolment code; return its new Key Certificate.

        ``certificate_owner`` is the owner (name) of the Customer Intermediate Certificate
        that signs it. A serial number already registered answers 400 or 409
        (InVueBadRequestError, InVueConflictError); its certificate is still returned by
        ``key_certificate``.
        """
        self._secrets.add(enrolment_code)
        body = {
            "serial_no": serial,
            "type": lock_type,
            "certificate": certificate_owner,
            "enrolment_code": enrolment_code,
            "base64": True,
        }
        reply = await self._request("POST", COLLECTION, body=body)
        return _certificate_of(reply)

    async def key_certificate(self, serial: str) -> KeyCertificate:
        """Return the Key Certificate of a lock registered to the API key's owner."""
        reply = await self._request("GET", _resource(serial), params={"base64": "true"})
        return _certificate_of(reply)

    async def delete(self, serial: str) -> None:
        """Remove a lock's registration (InVueNotFoundError when there is none)."""
        await self._request("DELETE", _resource(serial))

    async def check_api_key(self) -> None:
        """Check that InVue accepts the API key.

        Raise InVueAuthenticationError or InVueForbiddenError when it refuses the key, and
        the error of a request that did not get as far as the key (InVue unreachable, 5xx,
        429); any other answer says that the key was accepted.
        """
        try:
            await self.key_certificate(PROBE_SERIAL)
        except InVueApiError as err:
            if err.status in _NOT_ACCEPTED or not 400 <= err.status < 500:
                raise

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> object:
        """Send one request; return the decoded JSON reply (None for an empty one).

        A 429 is waited out once (up to ``max_retry_wait``) and the request sent once more:
        InVue did not handle it.
        """
        try:
            return await self._send(method, path, params, body)
        except InVueRateLimitedError as err:
            wait = DEFAULT_RETRY_AFTER if err.retry_after is None else err.retry_after
            if wait > self._max_retry_wait:
                raise
            _LOGGER.info("InVue is limiting requests: %s %s goes again in %g s", method, path, wait)
        await self._sleep(wait)
        return await self._send(method, path, params, body)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> object:
        """Send one request once; return the decoded JSON reply (None for an empty one)."""
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Charset": "utf-8",
        }
        data = None if body is None else json.dumps(body).encode()
        try:
            async with self._session.request(
                method,
                f"{self.base_url}{path}",
                headers=headers,
                params=params,
                data=data,
                timeout=self._timeout,
            ) as response:
                status, reason = response.status, response.reason
                text = await response.text(errors="replace")
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as err:
            raise InVueTimeoutError(f"InVue did not answer {method} in time") from err
        except aiohttp.ClientError as err:
            raise InVueConnectionError(
                f"InVue cannot be reached ({type(err).__name__}: {self._secrets.scrub(str(err))})"
            ) from err
        _LOGGER.debug("%s %s -> %s", method, path, status)
        if status >= 400:
            raise _error(
                status,
                reason,
                text,
                retry_after_seconds(retry_after, self._clock()),
                self._secrets,
            )
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as err:
            raise InVueMalformedReplyError(
                f"InVue answered HTTP {status} with a body that is not JSON"
            ) from err


def _resource(serial: str) -> str:
    return f"{COLLECTION}/{quote(serial, safe='')}"


def _certificate_of(reply: object) -> KeyCertificate:
    data = reply.get("data") if isinstance(reply, Mapping) else None
    if not isinstance(data, Mapping):
        raise InVueMalformedReplyError("The reply carries no data")
    return KeyCertificate.from_reply(data.get("key"))


def _error(
    status: int,
    reason: str | None,
    text: str,
    retry_after: float | None,
    secrets: SecretScrubber,
) -> InVueApiError:
    """Return the error of a refusal, with InVue's message when it sent JSON.

    The message is scrubbed of the client's secrets whole, before it is cut short: no part
    of a secret remains.
    """
    message: str | None = reason or _phrase(status)
    try:
        body = json.loads(text)
    except ValueError:
        body = None  # an HTML page from something in front of InVue: never quoted
    if isinstance(body, Mapping) and isinstance(body.get("msg"), str) and body["msg"]:
        message = body["msg"]
    message = secrets.scrub(message) if message else None
    return _ERRORS.get(status, InVueApiError)(status, message, retry_after=retry_after)
