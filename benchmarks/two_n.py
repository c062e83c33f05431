"""Row 6: a 2N mobile-key rotation through multilock's client, against the device simulator.

The simulator runs in a process of its own (``python -m simulators.two_n``, HTTPS with its
self-signed certificate pinned, Digest with its built-in account), so that what is timed here
is the client's side and the network round trips. A rotation is what the
``rotate_mobile_key`` action does: a new 1024-bit RSA key made in the executor, the keys read
(GET), the new list written (PUT) and read back and compared (GET). The baseline sends the
same three requests directly with aiohttp (the same Digest middleware and pin) around the
same key generation, without planning or checking anything.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from custom_components.multilock.vendors.two_n.client import TwoNClient, generate_mobile_key
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def simulator() -> Iterator[tuple[str, bytes]]:
    """Start the 2N simulator (HTTPS, any free port); yield its host:port and certificate."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.two_n", "--protocol", "https", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[4]  # "2N device simulator at https://..."
        fingerprint = process.stdout.readline().split()[-1]  # "certificate SHA-256 AA:BB:.."
        yield url.removeprefix("https://"), bytes.fromhex(fingerprint.replace(":", ""))
    finally:
        process.terminate()
        process.wait(timeout=15)


def _raw_key() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


async def _timed(operation: Callable[[], Awaitable[None]], count: int) -> list[float]:
    await operation()  # warm-up (and the Digest challenge)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await operation()
        samples.append(time.perf_counter() - start)
    return samples


async def rotation(host: str, pin: bytes, *, count: int) -> tuple[list[float], list[float]]:
    """Seconds per rotation through the client, and per the same requests sent directly."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        client = TwoNClient(
            session,
            host,
            username=DEFAULT_USER,
            password=DEFAULT_PASSWORD,
            certificate_sha256=pin,
        )

        async def through_client() -> None:
            new_key = await loop.run_in_executor(None, generate_mobile_key, datetime.now(UTC))
            await client.rotate_mobile_key(new_key, {})

        url = f"https://{host}/api/mobilekey/config"
        options: dict[str, Any] = {
            "middlewares": (aiohttp.DigestAuthMiddleware(DEFAULT_USER, DEFAULT_PASSWORD),),
            "ssl": aiohttp.Fingerprint(pin),
        }

        async def direct() -> None:
            key = await loop.run_in_executor(None, _raw_key)
            async with session.get(url, **options) as response:
                current = (await response.json())["result"]
            keys = [{"type": "rsa", "key": key, "ctime": int(time.time())}]
            keys += [slot for slot in current["keys"] if slot][:3]
            body = {"location": current["location"], "keys": keys}
            async with session.put(url, json=body, **options) as response:
                await response.read()
            async with session.get(url, **options) as response:
                await response.json()

        ours = await _timed(through_client, count)
        bare = await _timed(direct, count)
    return ours, bare


def two_n_rotation(config: dict[str, Any]) -> dict[str, list[float]]:
    """Row 6: rotations through the client and directly, against a fresh simulator."""
    with simulator() as (host, pin):
        ours, bare = asyncio.run(rotation(host, pin, count=int(config["count"])))
    return {"rotation": ours, "rotation_bare": bare}
