"""Row 5: signatures per second, through multilock's clients and raw, without a network.

The clients run their whole command path (Doordeck: the operation JWT with its ``x5c``
chain, EdDSA; The Keys: the queue, a fresh timestamp, HMAC-SHA256) against a session that
answers at once, so what is timed is the client's work, not the network's.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
import hashlib
import hmac
import itertools
import json
import time
from types import TracebackType
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custom_components.multilock.vendors.doordeck.client import DoordeckClient, DoordeckCredentials
from custom_components.multilock.vendors.thekeys.client import TheKeysGateway


class _InstantResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}

    async def read(self) -> bytes:
        return self._body

    async def text(self) -> str:
        return self._body.decode()

    async def __aenter__(self) -> _InstantResponse:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class InstantSession:
    """Stands in for ``aiohttp.ClientSession``: answers every request at once."""

    def request(self, method: str, url: str, **kwargs: Any) -> _InstantResponse:
        if url.endswith("/time"):
            return _InstantResponse(200, json.dumps({"now": int(time.time() * 1000)}).encode())
        if "/execute" in url:
            return _InstantResponse(204, b"")
        return _InstantResponse(200, b'{"status": "0", "code": "ok"}')


def _session() -> aiohttp.ClientSession:
    session: Any = InstantSession()
    return session  # type: ignore[no-any-return]


async def batches(
    operation: Callable[[], Awaitable[Any]], *, batches: int, size: int
) -> list[float]:
    """Seconds per operation, one figure per batch of ``size`` operations."""
    await operation()  # warm-up
    per_operation = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(size):
            await operation()
        per_operation.append((time.perf_counter() - start) / size)
    return per_operation


async def doordeck_signing(
    credentials: dict[str, Any], lock_id: str, *, count: int, size: int
) -> tuple[list[float], list[float]]:
    """Seconds per signed Doordeck operation (the client's path), and per raw Ed25519 signature.

    The raw signature signs a message as long as the JWT's signing input.
    """
    # Pacing off: this row measures signing, not the client's 5-per-second pace.
    client = DoordeckClient(
        _session(),
        DoordeckCredentials.from_dict(credentials),
        base_url="http://doordeck.invalid",
        operations_per_second=None,
    )
    await client.sync_time()
    jwt_times = await batches(lambda: client.unlock(lock_id), batches=count, size=size)
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(credentials["private_key"]))
    message = b"x" * _signing_input_length(credentials, lock_id)

    async def raw() -> None:
        key.sign(message)

    return jwt_times, await batches(raw, batches=count, size=size)


def _signing_input_length(credentials: dict[str, Any], lock_id: str) -> int:
    header = {"alg": "EdDSA", "typ": "JWT", "x5c": credentials["certificate_chain"]}
    payload = {
        "iss": credentials["user_id"],
        "sub": lock_id,
        "nbf": 0,
        "iat": 0,
        "exp": 60,
        "jti": "00000000-0000-0000-0000-000000000000",
        "operation": {"type": "MUTATE_LOCK", "locked": False},
    }
    encoded = [
        base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=")
        for part in (header, payload)
    ]
    return len(b".".join(encoded))


async def thekeys_signing(*, count: int, size: int) -> tuple[list[float], list[float]]:
    """Seconds per signed The Keys command (the client's path), and per raw HMAC signature.

    The client's clock moves one second per reading, so it never waits for a timestamp.
    """
    seconds = itertools.count(1_700_000_000)
    gateway = TheKeysGateway(_session(), "gateway.invalid", clock=lambda: float(next(seconds)))
    code = "Zmo1sps2OVyCFtl1"
    client_times = await batches(lambda: gateway.open(45961123, code), batches=count, size=size)
    stamps = itertools.count(1_700_000_000)

    async def raw() -> None:
        text = str(next(stamps))
        digest = hmac.new(code.encode(), text.encode("ascii"), hashlib.sha256).digest()
        base64.b64encode(digest)

    return client_times, await batches(raw, batches=count, size=size)
