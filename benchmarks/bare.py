"""The baselines: the same requests as multilock's, sent directly with aiohttp.

Nothing here imports multilock: each class speaks the vendor protocol in as few lines as
it takes (sign, send, read the reply), which is the least work any client can do. The Keys'
form is encoded by hand, as multilock's client encodes it: a dict given to aiohttp costs a
multipart writer and a random boundary per request, which the least work does not include.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode
import uuid

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import jwt

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class BareTheKeys:
    """One The Keys gateway: HMAC-signed POSTs, one fresh timestamp per second."""

    def __init__(self, session: aiohttp.ClientSession, address: str) -> None:
        self._session = session
        self._url = f"http://{address}"
        self.last_timestamp = 0
        self.last_signed_at = 0.0

    async def get(self, path: str) -> dict[str, Any]:
        """An unsigned GET (``lockers``, ``status``)."""
        async with self._session.get(f"{self._url}/{path}") as response:
            reply: dict[str, Any] = json.loads(await response.text())
            return reply

    async def signed(
        self, path: str, identifier: int, share_code: str, *, paced: bool = False
    ) -> dict[str, Any]:
        """A signed POST (``open``, ``close``, ``locker_status``); waits for a fresh second.

        ``paced``: one second after the previous signed request rather than at the turn of
        the second (the pace of multilock's polls, for CPU baselines at the same pace).
        """
        now = time.time()
        wait = self.last_timestamp + 1 - now
        if paced:
            wait = max(wait, self.last_signed_at + 1 - now)
        if wait > 0:
            await asyncio.sleep(wait)
        now = time.time()
        timestamp = max(int(now), self.last_timestamp + 1)
        self.last_timestamp, self.last_signed_at = timestamp, now
        text = str(timestamp)
        digest = hmac.new(share_code.encode(), text.encode(), hashlib.sha256).digest()
        form = {
            "identifier": str(identifier),
            "ts": text,
            "hash": base64.b64encode(digest).decode(),
        }
        body = urlencode(form).encode("ascii")
        async with self._session.post(f"{self._url}/{path}", data=body, headers=FORM) as response:
            reply: dict[str, Any] = json.loads(await response.text())
        if str(reply.get("status")) not in ("0", "ok"):
            raise RuntimeError(f"The Keys simulator refused {path}: {reply}")
        return reply

    async def poll(self, locks: list[tuple[int, str]], *, paced: bool = False) -> int:
        """One poll cycle: ``lockers``, ``status``, one ``locker_status`` per lock."""
        await self.get("lockers")
        await self.get("status")
        for identifier, code in locks:
            await self.signed("locker_status", identifier, code, paced=paced)
        return 2 + len(locks)


class BareDoordeck:
    """One Doordeck account: bearer-authenticated GETs and EdDSA-signed JWT operations."""

    def __init__(self, session: aiohttp.ClientSession, url: str, credentials: dict[str, Any]):
        self._session = session
        self._url = url.rstrip("/")
        self._key = Ed25519PrivateKey.from_private_bytes(
            base64.b64decode(credentials["private_key"])
        )
        self._chain = list(credentials["certificate_chain"])
        self._user_id = credentials["user_id"]
        self._auth = {"Authorization": f"Bearer {credentials['auth_token']}"}

    async def _get(self, path: str, accept: str = "application/json") -> Any:
        headers = {**self._auth, "Accept": accept}
        async with self._session.get(self._url + path, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"Doordeck simulator answered {path} with {response.status}")
            return json.loads(await response.read())

    async def execute(self, lock_id: str, *, locked: bool) -> None:
        """Lock or unlock: one signed operation."""
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": self._user_id,
                "sub": lock_id,
                "nbf": now,
                "iat": now,
                "exp": now + 60,
                "jti": str(uuid.uuid4()),
                "operation": {"type": "MUTATE_LOCK", "locked": locked},
            },
            self._key,
            algorithm="EdDSA",
            headers={"x5c": self._chain, "typ": "JWT"},
        )
        headers = {**self._auth, "Content-Type": "application/jwt", "Accept": "application/json"}
        url = f"{self._url}/device/{lock_id}/execute"
        async with self._session.post(url, data=token, headers=headers) as response:
            await response.read()
            if response.status not in (200, 204):
                raise RuntimeError(f"Doordeck simulator refused the operation: {response.status}")

    async def poll(self, details_of: set[str] | None) -> int:
        """One poll: the sites, each site's locks, and the details of ``details_of``.

        ``details_of`` None: every lock's details (a first poll). Returns the request count.
        """
        count = 1
        for site in await self._get("/site"):
            devices = await self._get(f"/site/{site['id']}/device")
            count += 1
            for device in devices:
                if details_of is None or device["id"] in details_of:
                    await self._get(
                        f"/device/{device['id']}", "application/vnd.doordeck.api-v3+json"
                    )
                    count += 1
        return count
