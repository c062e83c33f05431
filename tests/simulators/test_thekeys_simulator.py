"""Self-tests of The Keys gateway simulator, driven with raw HTTP requests."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
import hmac
import logging
from pathlib import Path
import time
from typing import Any

import aiohttp
import pytest

from simulators.thekeys import (
    DEMO_LOCKS,
    FAULT_KINDS,
    REQUEST_LOGGER,
    STATE_CLOSED,
    STATE_JAMMED,
    STATE_OPEN,
    STATE_UNKNOWN,
    TheKeysGatewaySimulator,
    add_log_file,
    build_parser,
    main,
)

LOCK = 45961123
CODE = "Zmo1sps2OVyCFtl1"
OTHER = 45961124
OTHER_CODE = "AnotherCode16ch"


class Client:
    """A bare client: signs as in the seed's Python example, never reuses a timestamp."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.session, self.url, self.last_ts, self.clock = session, url, 0, clock

    def sign(self, code: str, ts: int | None = None) -> dict[str, str]:
        if ts is None:
            ts = self.last_ts = max(int(self.clock()), self.last_ts + 1)
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


async def test_one_action_at_a_time() -> None:
    """On a clock the test moves: an action lasts until the test says, however slow the
    machine, and everything asked meanwhile meets a busy gateway."""
    busy = {"status": "500", "message": "busy"}
    clock = SteppedClock()
    simulator = TheKeysGatewaySimulator(clock=clock, sleep=clock.sleep, action_seconds=0.3)
    simulator.add_lock(LOCK, CODE)
    async with simulator, aiohttp.ClientSession() as session:
        client = Client(session, simulator.url, clock=clock)
        sync = asyncio.create_task(client.get("/synchronize"))
        await clock.until_sleeping()  # the synchronisation is in progress
        assert await client.get("/status") == {"version": "17", "current_status": "Synchronizing"}
        assert (await client.get("/lockers"))["status"] == "ok"
        assert await client.signed("/open") == busy
        assert await client.post("/open", {}) == busy  # busy is checked before the fields
        clock.advance(0.3)
        assert await sync == {"status": "ok", "code": 0}
        moves = {asyncio.create_task(client.signed(path)) for path in ("/open", "/close")}
        (refused,), pending = await asyncio.wait(moves, return_when=asyncio.FIRST_COMPLETED)
        assert refused.result() == busy  # the other one is in progress
        clock.advance(0.3)
        (carried_out,) = pending
        assert (await carried_out)["status"] == "0"
        simulator.action_seconds = 0.0
        simulator.set_busy(0.2)
        assert await client.get("/update") == busy
        clock.advance(0.25)
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


class FakeClock:
    """A clock that only moves when told to; its sleep advances it at once."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class SteppedClock(FakeClock):
    """A FakeClock whose sleepers wait until the test moves it past their deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._moved = asyncio.Event()
        self._sleeping = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        deadline = self.now + seconds
        self._sleeping.set()
        while self.now < deadline:
            self._moved.clear()
            await self._moved.wait()

    async def until_sleeping(self) -> None:
        """Return once someone sleeps on this clock."""
        await asyncio.wait_for(self._sleeping.wait(), 10)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()


async def test_real_reply_shape(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.reply_shape = "real"
    assert await client.signed("/locker_status") == {
        "status": "Door closed",
        "code": 49,
        "version": 81,
        "position": 1,
        "rssi": -71,
        "battery": 4065,
    }
    assert await client.signed("/open") == {"status": "ok", "code": 0}
    opened = await client.signed("/locker_status")
    assert (opened["status"], opened["code"], opened["position"]) == ("Door open", 50, 0)
    sim.status_code_format = "hex"
    assert (await client.signed("/locker_status"))["code"] == "0x32"
    sim.status_code_format = "int"
    assert await client.signed("/open", code="WrongCode") == {"status": "ko", "code": 33}
    assert await client.signed("/open", identifier=999) == {"status": "ko", "code": 34}
    assert await client.post("/close", {"identifier": str(LOCK)}) == {"status": "ko", "code": 400}
    ident = {"identifier": str(LOCK)}
    assert await client.post("/locker/synchronize", ident) == {"status": "ok", "code": 0}
    assert await client.post("/locker/synchronize", {"identifier": "999"}) == {
        "status": "ko",
        "code": 1,
    }
    assert await client.post("/locker/update", ident) == {"status": "ok", "code": 0}
    unknown = await client.signed("/locker_status")
    assert (unknown["status"], unknown["code"], unknown["position"]) == ("Unknown status", 48, None)
    sim.update_error = 2
    assert await client.get("/update") == {"status": "ko", "code": 2}
    assert await client.get("/synchronize") == {"status": "ok", "code": 0}
    assert (await client.get("/lockers"))["status"] == "ok"
    sim.set_busy(5)
    assert await client.signed("/open") == {"status": "500", "message": "busy"}
    assert {request.shape for request in sim.requests} == {"real"}
    with pytest.raises(ValueError, match="reply_shape"):
        TheKeysGatewaySimulator(reply_shape="other")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["seed", "real"])
async def test_jammed_lock(sim: TheKeysGatewaySimulator, client: Client, shape: Any) -> None:
    sim.reply_shape = shape
    lock = sim.locks[LOCK]
    lock.jammed = True
    status = await client.signed("/locker_status")
    if shape == "real":
        assert (status["status"], status["code"], status["position"]) == ("Door jammed", 51, None)
        assert await client.signed("/open") == {"status": "ko", "code": 37}
    else:
        assert status == {"status": "0", "code": STATE_UNKNOWN}  # the seed knows no jammed code
        assert await client.signed("/open") == {"status": 37, "code": "connection error"}
    assert lock.state == STATE_CLOSED  # the motor did not finish
    assert sim.requests[-1].ts_accepted
    assert sim.requests[-1].state_after == STATE_JAMMED
    lock.jammed = False
    assert (await client.signed("/open"))["status"] in ("0", "ok")
    lock.state = STATE_JAMMED  # the state constant works as well
    assert (await client.signed("/close"))["code"] in (37, "connection error")
    assert lock.state == STATE_JAMMED
    sim.add_lock(OTHER, OTHER_CODE, jammed=True)
    assert sim.locks[OTHER].reported_state == STATE_JAMMED


async def test_ok_without_code_proves_nothing(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.inject_fault("ok_without_code", paths={"/open", "/locker_status"}, count=2)
    assert await client.signed("/open") == {"status": "ok"}
    assert sim.locks[LOCK].state == STATE_CLOSED  # nothing moved
    assert sim.last_accepted_ts is None  # not even the signature was looked at
    assert await client.signed("/locker_status") == {"status": "ok"}
    assert [r.fault for r in sim.requests] == ["ok_without_code"] * 2
    assert sim.requests[0].state_after == STATE_CLOSED
    assert await client.signed("/open") == {"status": "0", "code": "ok"}
    assert sim.locks[LOCK].state == STATE_OPEN


async def test_late_reply_moves_the_lock_then_answers(
    sim: TheKeysGatewaySimulator, client: Client
) -> None:
    sim.inject_fault("late_reply", paths={"/open"}, seconds=0.3)
    opening = asyncio.create_task(client.signed("/open"))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await asyncio.shield(opening)
    assert sim.locks[LOCK].state == STATE_OPEN  # done although the client gave up
    assert sim.requests[0].state_after == STATE_OPEN
    assert sim.requests[0].replied_at is None
    assert await client.signed("/locker_status") == {"status": "500", "message": "busy"}
    assert await opening == {"status": "0", "code": "ok"}
    assert sim.requests[0].replied_at is not None
    assert sim.requests[0].fault == "late_reply"
    assert (await client.signed("/locker_status"))["code"] == STATE_OPEN
    sim.inject_fault("late_reply", paths={"/lockers"}, seconds=0.05)
    assert (await client.get("/lockers"))["status"] == "ok"  # never busy, just late


async def test_http_500_on_every_path(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.inject_fault("http_500", count=3, paths={"/status", "/lockers", "/open"})
    for path in ("/status", "/lockers"):
        async with client.session.get(sim.url + path) as response:
            assert response.status == 500
            assert response.content_type == "text/html"
            assert "<html>" in await response.text()
    data = {"identifier": str(LOCK), **client.sign(CODE)}
    async with client.session.post(sim.url + "/open", data=data) as response:
        assert response.status == 500
    assert sim.locks[LOCK].state == STATE_CLOSED
    assert (await client.get("/status"))["current_status"] == "Scanning..."
    assert {"http_500", "http_error", "ok_without_code", "late_reply"} <= FAULT_KINDS
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject_fault("teapot")
    with pytest.raises(ValueError, match="count"):
        sim.inject_fault("delay", count=0)


async def test_fake_clock_runs_without_real_waits() -> None:
    fake = FakeClock()
    started = time.monotonic()
    simulator = TheKeysGatewaySimulator(
        clock=fake, sleep=fake.sleep, action_seconds=5.0, status_seconds=2.0
    )
    simulator.add_lock(LOCK, CODE)
    async with simulator, aiohttp.ClientSession() as session:
        client = Client(session, simulator.url, clock=fake)
        assert await client.signed("/open") == {"status": "0", "code": "ok"}
        assert await client.signed("/locker_status") == {"status": "0", "code": STATE_OPEN}
        assert fake.slept == [5.0, 2.0]
        first, second = simulator.requests
        assert first.replied_at is not None
        assert second.replied_at is not None
        assert first.replied_at - first.at == 5.0
        assert second.at == first.replied_at
        assert simulator.now() == 1_700_000_007.0
        # Timestamps are judged by the gateway's (fake) clock: the real time is far off.
        real = Client(session, simulator.url)
        assert (await real.signed("/close"))["status"] == 33
        simulator.set_busy(60)
        assert simulator.busy
        assert await client.signed("/close") == {"status": "500", "message": "busy"}
        fake.now += 61
        assert not simulator.busy
        assert await client.signed("/close") == {"status": "0", "code": "ok"}
        simulator.clock_offset = 100.0  # the gateway clock runs ahead of ours
        assert (await client.signed("/open"))["status"] == 33
        ahead_ts = int(fake.now + 100)
        ahead = client.sign(CODE, ahead_ts)
        assert (await client.post("/open", {"identifier": str(LOCK), **ahead}))["status"] == "0"
        assert simulator.last_accepted_ts == ahead_ts
    assert time.monotonic() - started < 2.0


async def test_another_client_signing_ahead() -> None:
    """While another client signs N s ahead, a ts not newer than its own is refused (33); one
    newer is accepted, and the last accepted ts stays the rule once the other client stops."""
    fake = FakeClock()
    simulator = TheKeysGatewaySimulator(clock=fake, sleep=fake.sleep)
    simulator.add_lock(LOCK, CODE)
    async with simulator, aiohttp.ClientSession() as session:
        client = Client(session, simulator.url, clock=fake)
        simulator.other_client_signs_ahead(5, duration=10)
        assert (await client.signed("/open"))["status"] == 33
        assert simulator.last_accepted_ts == int(fake.now) + 5
        at_its_own = client.sign(CODE, int(fake.now) + 5)
        assert (await client.post("/open", {"identifier": str(LOCK), **at_its_own}))["status"] == 33
        newer = client.sign(CODE, int(fake.now) + 6)
        assert (await client.post("/open", {"identifier": str(LOCK), **newer}))["status"] == "0"
        assert simulator.last_accepted_ts == int(fake.now) + 6
        fake.now += 2  # the other client signs again: now ahead of the ts just accepted
        assert (await client.post("/close", {"identifier": str(LOCK), **newer}))["status"] == 33
        assert simulator.last_accepted_ts == int(fake.now) + 5
        fake.now += 10  # it has stopped; its last ts is still the last accepted one
        assert simulator.last_accepted_ts == int(fake.now) - 5
        assert (await client.signed("/close"))["status"] == "0"
        simulator.other_client_signs_ahead(3)  # until told otherwise
        fake.now += 3600
        assert (await client.signed("/open"))["status"] == 33
        simulator.other_client_signs_ahead(0)
        fake.now += 4
        assert (await client.signed("/open"))["status"] == "0"
    assert [r.ts_accepted for r in simulator.requests] == [
        False, False, True, False, True, False, True
    ]  # fmt: skip


async def test_order_record(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.add_lock(OTHER, OTHER_CODE)
    await client.signed("/open")
    await client.signed("/locker_status")
    await client.signed("/open", identifier=OTHER, code=OTHER_CODE)
    await client.signed("/close")
    await client.get("/lockers")
    await client.signed("/close", identifier=999)
    assert [(r.seq, r.path, r.identifier, r.state_after) for r in sim.requests] == [
        (0, "/open", LOCK, STATE_OPEN),
        (1, "/locker_status", LOCK, STATE_OPEN),
        (2, "/open", OTHER, STATE_OPEN),
        (3, "/close", LOCK, STATE_CLOSED),
        (4, "/lockers", None, None),
        (5, "/close", 999, None),
    ]
    assert [r.path for r in sim.history(LOCK)] == ["/open", "/locker_status", "/close"]
    assert len(sim.history()) == 6
    times = [r.at for r in sim.requests]
    assert times == sorted(times)
    assert all(r.replied_at is not None and r.replied_at >= r.at for r in sim.requests)


async def test_several_accepted_codes(sim: TheKeysGatewaySimulator, client: Client) -> None:
    sim.locks[LOCK].extra_codes.append(OTHER_CODE)
    assert (await client.signed("/open", code=OTHER_CODE))["status"] == "0"
    assert (await client.signed("/close"))["status"] == "0"
    sim.locks[LOCK].share_code = None
    assert (await client.signed("/open", code=OTHER_CODE))["status"] == "0"
    sim.locks[LOCK].extra_codes.clear()
    assert (await client.signed("/open", code=OTHER_CODE))["status"] == 32


async def test_log_file_masks_hashes(
    sim: TheKeysGatewaySimulator, client: Client, tmp_path: Path
) -> None:
    log = tmp_path / "gateway.log"
    handler = add_log_file(str(log), REQUEST_LOGGER)
    try:
        signature = client.sign(CODE)
        await client.post("/open", {"identifier": str(LOCK), **signature})
        await client.get("/lockers")
    finally:
        REQUEST_LOGGER.removeHandler(handler)
        handler.close()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert f"hash={signature['hash'][:4]}…" in lines[0]
    assert signature["hash"] not in lines[0]
    assert "/open" in lines[0]
    assert "/lockers" in lines[1]


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for identifier, code in DEMO_LOCKS:
        assert str(identifier) in text
        assert code in text
    for option in (
        "--reply-shape",
        "--log",
        "--jammed",
        "--lock",
        "--port",
        "--clock-offset",
        "--other-client-ahead",
    ):
        assert option in text
    parser = build_parser()
    assert all(action.help for action in parser._actions)
    args = parser.parse_args(["--lock", "1:abc", "--lock", "2:", "--reply-shape", "real"])
    assert args.lock == [(1, "abc"), (2, None)]
    assert args.reply_shape == "real"
    assert args.other_client_ahead == 0
    assert parser.parse_args(["--other-client-ahead", "5"]).other_client_ahead == 5
    assert logging.getLogger("simulators.thekeys.requests") is REQUEST_LOGGER
