"""Self-tests of The Keys gateway simulator, driven with raw HTTP requests."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import hmac
import time
from typing import Any

import aiohttp
import pytest

from simulators.thekeys import TheKeysGatewaySimulator

LOCK = 45961123
CODE = "Zmo1sps2OVyCFtl1"
OTHER = 45961124
OTHER_CODE = "AnotherCode16ch"


class Client:
    """A bare client: signs as in the seed's Python example, never reuses a timestamp."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.last_ts = session, url, 0

    def sign(self, code: str, ts: int | None = None) -> dict[str, str]:
        if ts is None:
            ts = self.last_ts = max(int(time.time()), self.last_ts + 1)
        hm = hmac.new(code.encode(), str(ts).encode("ascii"), "sha256")
        return {"ts": str(ts), "hash": base64.b64encode(hm.digest()).decode()}

    async def get(self, path: str) -> Any:
        async with self.session.get(self.url + path) as response:
            return await response.json(content_type=None)

    async def post(self, path: str, data: dict[str, str]) -> Any:
        async with self.session.post(self.url + path, data=data) as response:
            return await response.json(content_type=None)

    async def signed(self, path: str, identifier: int = LOCK, code: str = CODE) -> Any:
        return await self.post(path, {"identifier": str(identifier), **self.sign(code)})


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[TheKeysGatewaySimulator]:
    """A running gateway; `socket_enabled` lifts pytest-socket's block (still loopback only)."""
    simulator = TheKeysGatewaySimulator()
    simulator.add_lock(LOCK, CODE, battery=4065, rssi=-71)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: TheKeysGatewaySimulator) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, sim.url)


async def test_lockers_and_status(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.add_lock(OTHER, OTHER_CODE, in_range=False)
    assert sim.address == f"127.0.0.1:{sim.port}"
    assert await client.get("/lockers") == {
        "status": "ok",
        "devices": [{"identifier": LOCK, "rssi": -71, "battery": 4065}],
    }
    assert await client.get("/status") == {"version": "17", "current_status": "Scanning..."}
    assert sim.count("/lockers") == 1


@pytest.mark.parametrize(
    ("fmt", "closed", "opened"),
    [("int", 49, 50), ("decimal", "49", "50"), ("hex", "0x31", "0x32")],
)
async def test_open_close_and_status_formats(
    sim: TheKeysGatewaySimulator, client: Client, fmt: str, closed: object, opened: object
) -> None:
    sim.status_code_format = fmt
    assert await client.signed("/locker_status") == {"status": "0", "code": closed}
    assert await client.signed("/open") == {"status": "0", "code": "ok"}
    assert sim.locks[LOCK].state == 0x32
    assert await client.signed("/locker_status") == {"status": "0", "code": opened}
    assert await client.signed("/close") == {"status": "0", "code": "ok"}
    assert sim.locks[LOCK].state == 0x31
    assert sim.last_accepted_ts == client.last_ts
    assert all(request.ts_accepted for request in sim.requests)


async def test_signature_and_lookup_errors(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.add_lock(OTHER, OTHER_CODE)
    sim.add_lock(3, None)
    sim.add_lock(4, "FarAwayCode", in_range=False)
    assert await client.post("/open", {}) == {"status": 400, "code": "missing identifier"}
    assert await client.post("/open", {"identifier": str(LOCK), "hash": "x"}) == {
        "status": 400,
        "code": "missing ts",
    }
    assert (await client.post("/open", {"identifier": str(LOCK), "ts": "1"}))["status"] == 400
    assert (await client.signed("/open", identifier=999))["status"] == 34
    assert (await client.signed("/open", identifier=4, code="FarAwayCode"))["status"] == 34
    assert (await client.signed("/open", identifier=3))["status"] == 32
    assert (await client.signed("/open", code="WrongCode"))["status"] == 33
    before: int | None = sim.last_accepted_ts
    assert before is None  # only a request that passed the check records its timestamp
    good = client.sign(CODE)
    assert (await client.post("/open", {"identifier": str(LOCK), **good}))["status"] == "0"
    # Same timestamp again, even for another lock: one counter for the whole gateway.
    other = client.sign(OTHER_CODE, int(good["ts"]))
    assert await client.post("/close", {"identifier": str(OTHER), **other}) == {
        "status": 33,
        "code": "invalid hmac",
    }
    old = client.sign(CODE, int(good["ts"]) - 1)
    assert (await client.post("/close", {"identifier": str(LOCK), **old}))["status"] == 33
    skewed = client.sign(CODE, int(time.time()) + 120)
    assert (await client.post("/close", {"identifier": str(LOCK), **skewed}))["status"] == 33
    assert sim.last_accepted_ts == int(good["ts"])
    assert [request.ts_accepted for request in sim.requests].count(True) == 1


async def test_lock_errors_and_synchronisation(
    sim: TheKeysGatewaySimulator, client: Client
) -> None:
    lock = sim.locks[LOCK]
    for attribute, code in (("refuses_key", 36), ("connection_fails", 37), ("needs_sync", 38)):
        setattr(lock, attribute, True)
        reply = await client.signed("/open")
        assert reply["status"] == code
        assert isinstance(reply["code"], str)
        setattr(lock, attribute, False)
    lock.compatible = False
    assert (await client.signed("/locker_status"))["status"] == 35
    assert (await client.post("/locker/synchronize", {"identifier": str(LOCK)}))["status"] == 2
    lock.compatible = True
    assert (await client.post("/locker/synchronize", {"identifier": "999"}))["status"] == 1
    sim.sync_invalid_data = True
    assert (await client.post("/locker/synchronize", {"identifier": str(LOCK)}))["status"] == 3
    sim.sync_invalid_data = False
    lock.connection_fails, lock.needs_sync = True, True
    assert (await client.post("/locker/synchronize", {"identifier": str(LOCK)}))["status"] == 4
    lock.connection_fails = False
    assert (await client.signed("/open"))["status"] == 38
    ok = {"status": "0", "code": "ok"}
    assert await client.post("/locker/synchronize", {"identifier": str(LOCK)}) == ok
    assert await client.signed("/open") == ok
    assert await client.post("/locker/update", {"identifier": str(LOCK)}) == ok
    assert await client.signed("/locker_status") == {"status": "0", "code": 0x30}
    assert (await client.post("/locker/update", {"identifier": "999"}))["status"] == 2
    assert await client.get("/synchronize") == {"status": "ok", "code": 0}
    assert await client.get("/update") == {"status": "ok", "code": 0}
    sim.update_error = 1
    assert (await client.get("/update"))["status"] == 1
    assert (await client.post("/locker/update", {"identifier": str(LOCK)}))["status"] == 1


async def test_one_action_at_a_time(sim: TheKeysGatewaySimulator, client: Client) -> None:
    busy = {"status": "500", "message": "busy"}
    sim.action_seconds = 0.3
    sync = asyncio.create_task(client.get("/synchronize"))
    await asyncio.sleep(0.1)
    assert await client.get("/status") == {"version": "17", "current_status": "Synchronizing"}
    assert (await client.get("/lockers"))["status"] == "ok"
    assert await client.signed("/open") == busy
    assert await client.post("/open", {}) == busy  # busy is checked before the fields
    assert await sync == {"status": "ok", "code": 0}
    first, second = await asyncio.gather(client.signed("/open"), client.signed("/close"))
    assert sorted([first["status"], second["status"]]) == ["0", "500"]
    sim.action_seconds = 0.0
    sim.set_busy(0.2)
    assert await client.get("/update") == busy
    await asyncio.sleep(0.25)
    assert await client.get("/update") == {"status": "ok", "code": 0}


async def test_fault_injection(sim: TheKeysGatewaySimulator, client: Client) -> None:
    url = sim.url
    sim.inject_fault("malformed", paths={"/lockers"})
    assert await client.get("/status") == {"version": "17", "current_status": "Scanning..."}
    async with client.session.get(url + "/lockers") as response:
        with pytest.raises(ValueError, match="Expecting value"):
            await response.json()
    sim.inject_fault("wrong_shape", count=2)
    assert isinstance(await client.get("/lockers"), list)
    assert "status" not in await client.get("/lockers")
    sim.inject_fault("http_error")
    async with client.session.get(url + "/status") as response:
        assert response.status == 500
        assert response.content_type == "text/html"
    sim.inject_fault("disconnect", paths={"/open"})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.signed("/open")
    assert sim.locks[LOCK].state == 0x31  # the gateway never acted on it
    sim.inject_fault("delay", seconds=0.3, count=None)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await client.get("/lockers")
    sim.clear_faults()
    assert (await client.get("/lockers"))["status"] == "ok"
    assert [request.fault for request in sim.requests if request.path == "/open"] == ["disconnect"]


async def test_restart_on_same_port(sim: TheKeysGatewaySimulator, client: Client) -> None:
    port = sim.port
    await sim.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.get("/lockers")
    await sim.start()
    assert sim.port == port
    assert (await client.get("/lockers"))["status"] == "ok"
    await sim.stop()
    await sim.start(port=port)
    assert (await client.get("/status"))["current_status"] == "Scanning..."
