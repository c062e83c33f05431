"""The Keys gateway client against the simulated gateway: signing, queueing, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
import pytest

from custom_components.multilock.vendors.thekeys import client as tk
from simulators.thekeys import STATE_CLOSED, STATE_OPEN, TheKeysGatewaySimulator
from tests.clock import Clock

from .conftest import BACK_CODE, BACK_DOOR, FRONT_CODE, FRONT_DOOR

FAST_RETRIES = (0.05, 0.1, 0.2)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(
    session: aiohttp.ClientSession, gateway: TheKeysGatewaySimulator, clock: Clock
) -> tk.TheKeysGateway:
    return tk.TheKeysGateway(
        session,
        gateway.address,
        timeout=2,
        busy_retry_delays=FAST_RETRIES,
        clock=clock.time,
        sleep=clock.sleep,
    )


async def _next_second(clock: Clock) -> None:
    await clock.sleep(1.01 - clock.time() % 1)


async def test_a_new_client_never_signs_in_the_second_it_was_made(
    session: aiohttp.ClientSession, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """Another client (the one before a reload, another app) may have used that second."""
    made_at = clock.time()
    client = tk.TheKeysGateway(session, gateway.address, clock=clock.time, sleep=clock.sleep)
    await client.lock_status(FRONT_DOOR, FRONT_CODE)
    assert gateway.last_accepted_ts is not None
    assert gateway.last_accepted_ts > int(made_at)


async def test_lockers_and_status(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    lockers = await client.lockers()
    assert lockers == [
        tk.Locker(FRONT_DOOR, rssi=-71, battery_mv=7600),
        tk.Locker(BACK_DOOR, rssi=-80, battery_mv=4065),
    ]
    assert await client.status() == tk.GatewayStatus(version="17", current_status="Scanning...")


@pytest.mark.parametrize("code_format", ["int", "decimal", "hex"])
async def test_lock_status_in_every_code_form(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, code_format: str
) -> None:
    gateway.status_code_format = code_format
    gateway.locks[FRONT_DOOR].state = 0x32
    gateway.locks[BACK_DOOR].state = 0x30
    assert await client.lock_status(FRONT_DOOR, FRONT_CODE) is tk.LockState.OPEN
    assert await client.lock_status(BACK_DOOR, BACK_CODE) is tk.LockState.UNKNOWN


async def test_open_close_move_the_lock(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == 0x32
    await client.close(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == 0x31


async def test_requests_in_one_second_get_increasing_timestamps(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """Three signed requests at once: none is refused, each waits for a fresh second."""
    started = clock.monotonic()
    await asyncio.gather(
        client.lock_status(FRONT_DOOR, FRONT_CODE),
        client.open(BACK_DOOR, BACK_CODE),
        client.lock_status(BACK_DOOR, BACK_CODE),
    )
    signed = [r for r in gateway.requests if r.path in ("/open", "/locker_status")]
    timestamps = [int(r.form["ts"]) for r in signed]
    assert all(r.ts_accepted for r in signed)
    assert timestamps == sorted(set(timestamps))
    assert timestamps[-1] <= int(clock.time())  # never a timestamp from the future
    assert clock.monotonic() - started >= 1.0


async def test_wrong_share_code_is_invalid_hmac(client: tk.TheKeysGateway) -> None:
    with pytest.raises(tk.InvalidHmacError) as err:
        await client.open(FRONT_DOOR, "not-the-code")
    assert err.value.code == 33
    assert err.value.reason == "invalid_hmac"


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        ({"share_code": None}, tk.LockNotSharedError, 32),
        ({"in_range": False}, tk.LockNotDetectedError, 34),
        ({"compatible": False}, tk.LockNotCompatibleError, 35),
        ({"refuses_key": True}, tk.InvalidKeyError, 36),
        ({"connection_fails": True}, tk.LockConnectionError, 37),
    ],
)
async def test_action_status_codes(
    client: tk.TheKeysGateway,
    gateway: TheKeysGatewaySimulator,
    setup: dict[str, object],
    error: type[tk.TheKeysStatusError],
    code: int,
) -> None:
    for field, value in setup.items():
        setattr(gateway.locks[FRONT_DOOR], field, value)
    with pytest.raises(error) as err:
        await client.open(FRONT_DOOR, FRONT_CODE)
    assert err.value.code == code
    assert gateway.locks[FRONT_DOOR].state == 0x31  # nothing moved


async def test_needs_synchronisation_syncs_once_and_retries(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    gateway.locks[FRONT_DOOR].needs_sync = True
    await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.count("/locker/synchronize") == 1
    assert gateway.count("/open") == 2
    assert gateway.locks[FRONT_DOOR].state == 0x32


async def test_needs_synchronisation_twice_is_reported(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    gateway.locks[FRONT_DOOR].needs_sync = True
    gateway.locks[FRONT_DOOR].connection_fails = False
    gateway.sync_invalid_data = True  # the synchronisation fails: no second attempt
    with pytest.raises(tk.SyncInvalidDataError):
        await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.count("/open") == 1


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        ({"in_range": False}, tk.SyncLockNotSeenError, 1),
        ({"compatible": False}, tk.SyncLockNotCompatibleError, 2),
        ({"connection_fails": True}, tk.SyncLockConnectionError, 4),
    ],
)
async def test_lock_synchronisation_status_codes(
    client: tk.TheKeysGateway,
    gateway: TheKeysGatewaySimulator,
    setup: dict[str, object],
    error: type[tk.TheKeysStatusError],
    code: int,
) -> None:
    for field, value in setup.items():
        setattr(gateway.locks[FRONT_DOOR], field, value)
    with pytest.raises(error) as err:
        await client.synchronize_lock(FRONT_DOOR)
    assert err.value.code == code


async def test_sync_invalid_data(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    gateway.sync_invalid_data = True
    with pytest.raises(tk.SyncInvalidDataError):
        await client.synchronize_lock(FRONT_DOOR)


@pytest.mark.parametrize(
    ("code", "error"), [(1, tk.InvalidFirmwareError), (2, tk.FirmwareUnavailableError)]
)
async def test_update_status_codes(
    client: tk.TheKeysGateway,
    gateway: TheKeysGatewaySimulator,
    code: int,
    error: type[tk.TheKeysStatusError],
) -> None:
    gateway.update_error = code
    with pytest.raises(error):
        await client.update()
    with pytest.raises(error):
        await client.update_lock(FRONT_DOOR)


async def test_maintenance_succeeds(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    await client.synchronize()
    await client.update()
    await client.synchronize_lock(FRONT_DOOR)
    await client.update_lock(FRONT_DOOR)
    assert [r.path for r in gateway.requests] == [
        "/synchronize",
        "/update",
        "/locker/synchronize",
        "/locker/update",
    ]


async def test_busy_is_retried_then_succeeds(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    await _next_second(clock)  # a new client signs from the next second on
    gateway.set_busy(0.2)
    await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == 0x32
    assert gateway.count("/open") >= 2


async def test_busy_for_too_long_is_reported(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    gateway.set_busy(5)
    started = clock.monotonic()
    with pytest.raises(tk.TheKeysBusyError):
        await client.synchronize()
    assert gateway.count("/synchronize") == len(FAST_RETRIES) + 1
    assert clock.monotonic() - started < 2


async def test_concurrent_requests_never_meet_a_busy_gateway(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    """Two locks moved at once on a gateway whose actions take time: queued, not refused."""
    gateway.action_seconds = 0.3
    await asyncio.gather(client.open(FRONT_DOOR, FRONT_CODE), client.open(BACK_DOOR, BACK_CODE))
    assert gateway.locks[FRONT_DOOR].state == gateway.locks[BACK_DOOR].state == 0x32
    assert all(r.reply is None or r.reply.get("message") != "busy" for r in gateway.requests)


async def test_commands_go_ahead_of_queued_polls(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    await _next_second(clock)  # a new client signs from the next second on
    gateway.action_seconds = 0.2
    first = asyncio.create_task(client.synchronize_lock(FRONT_DOOR, tk.Priority.POLL))
    await clock.sleep(0.05)
    polls = [asyncio.create_task(client.lockers()) for _ in range(3)]
    await asyncio.sleep(0)
    command = asyncio.create_task(client.open(BACK_DOOR, BACK_CODE))
    await asyncio.gather(first, command, *polls)
    paths = [r.path for r in gateway.requests]
    assert paths[:2] == ["/locker/synchronize", "/open"]


async def test_cancelled_waiter_does_not_block_the_queue(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    gateway.action_seconds = 0.2
    first = asyncio.create_task(client.synchronize())
    await clock.sleep(0.05)
    waiting = asyncio.create_task(client.lockers())
    await asyncio.sleep(0)
    waiting.cancel()
    await first
    assert len(await client.lockers()) == 2


@pytest.mark.parametrize("fault", ["malformed", "wrong_shape", "http_error"])
async def test_malformed_replies_are_clear_errors(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, fault: str
) -> None:
    gateway.inject_fault(fault, count=None)
    for call in (client.lockers(), client.open(FRONT_DOOR, FRONT_CODE)):
        with pytest.raises(tk.TheKeysMalformedReplyError):
            await call


async def test_disconnect_is_a_connection_error(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator
) -> None:
    gateway.inject_fault("disconnect", count=None)
    with pytest.raises(tk.TheKeysConnectionError):
        await client.lockers()
    with pytest.raises(tk.TheKeysConnectionError):
        await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == 0x31


async def test_timeout(session: aiohttp.ClientSession, gateway: TheKeysGatewaySimulator) -> None:
    client = tk.TheKeysGateway(session, gateway.address, timeout=0.2)
    gateway.inject_fault("delay", seconds=0.5)
    with pytest.raises(tk.TheKeysTimeoutError):
        await client.lockers()
    await asyncio.sleep(0.5)  # let the simulator finish the abandoned request


async def test_unreachable_gateway(session: aiohttp.ClientSession) -> None:
    client = tk.TheKeysGateway(session, "127.0.0.1:9", timeout=2)
    with pytest.raises(tk.TheKeysConnectionError):
        await client.lockers()


@pytest.mark.parametrize(
    "reply",
    [
        '{"status": "ok", "devices": {}}',
        '{"status": "ok", "devices": [{"rssi": -1}]}',
        '{"status": "ok", "devices": [{"identifier": 1, "battery": [1]}]}',
    ],
)
async def test_bad_lockers_entries(session: aiohttp.ClientSession, reply: str) -> None:
    async with _server({"/lockers": reply}) as address:
        with pytest.raises(tk.TheKeysMalformedReplyError):
            await tk.TheKeysGateway(session, address).lockers()


@pytest.mark.parametrize(
    "reply",
    [
        '{"status": "0", "code": 52}',
        '{"status": "0", "code": true}',
        '{"status": "0", "code": null}',
        '{"status": "0", "code": "closed"}',
        '{"code": 49}',
    ],
)
async def test_bad_lock_status_codes(
    session: aiohttp.ClientSession, clock: Clock, reply: str
) -> None:
    async with _server({"/locker_status": reply}) as address:
        with pytest.raises(tk.TheKeysMalformedReplyError):
            await tk.TheKeysGateway(
                session, address, clock=clock.time, sleep=clock.sleep
            ).lock_status(1, "code")


async def test_unknown_status_code_and_old_firmware(
    session: aiohttp.ClientSession, clock: Clock
) -> None:
    async with _server({"/open": '{"status": 99, "code": "strange"}'}) as address:
        gateway = tk.TheKeysGateway(session, address, clock=clock.time, sleep=clock.sleep)
        with pytest.raises(tk.TheKeysStatusError, match="status 99"):
            await gateway.open(1, "code")
        assert await gateway.status() is None  # firmware before 17 has no /status


async def test_missing_parameter_is_reported(session: aiohttp.ClientSession, clock: Clock) -> None:
    async with _server({"/close": '{"status": 400, "code": "missing ts"}'}) as address:
        with pytest.raises(tk.MissingParameterError, match="missing ts"):
            await tk.TheKeysGateway(session, address, clock=clock.time, sleep=clock.sleep).close(
                1, "code"
            )


def test_battery_curve() -> None:
    assert tk.battery_percentage(3000) == 0
    assert tk.battery_percentage(3600) == 0
    assert tk.battery_percentage(4065) == 6
    assert tk.battery_percentage(7235) == 45
    assert tk.battery_percentage(7600) == 71
    assert tk.battery_percentage(8000) == 100
    assert tk.battery_percentage(9000) == 100


class _server:
    """A tiny gateway that answers fixed texts, for replies the simulator never gives."""

    def __init__(self, replies: dict[str, str]) -> None:
        self._replies = replies
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> str:
        async def handle(request: web.Request) -> web.Response:
            if request.path not in self._replies:
                return web.Response(status=404)
            return web.Response(text=self._replies[request.path])

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"127.0.0.1:{self._runner.addresses[0][1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def _until_next_second(clock: Clock, fraction: float) -> None:
    now = clock.time()
    await clock.sleep(int(now) + 1 + fraction - now)


async def test_command_takes_the_timestamp_a_poll_waits_for(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """A poll waiting for a fresh timestamp does not hold the gateway: a command goes first."""
    await _until_next_second(clock, 0.1)
    await client.lock_status(FRONT_DOOR, FRONT_CODE)  # this second's timestamp is used
    poll = asyncio.create_task(client.lock_status(BACK_DOOR, BACK_CODE))
    await clock.sleep(0.3)  # the poll waits for the next second
    started = clock.monotonic()
    await client.open(BACK_DOOR, BACK_CODE)
    assert clock.monotonic() - started < 0.9  # the next second, not the one after
    await poll
    paths = [r.path for r in gateway.requests]
    assert paths == ["/locker_status", "/open", "/locker_status"]
    assert all(r.ts_accepted for r in gateway.requests)


async def test_polls_keep_their_pace(gateway: TheKeysGatewaySimulator, clock: Clock) -> None:
    """A poll's next signed request goes one second after its previous one.

    Not at the turn of the second, where the polls of every gateway would meet. Measured
    when the client sends, not when the gateway receives: the first request also opens
    the connection, which would shorten the gap seen at the gateway.
    """
    sent: list[float] = []

    async def on_request_start(*_: object) -> None:
        sent.append(clock.monotonic())

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        client = tk.TheKeysGateway(
            session, gateway.address, timeout=2, clock=clock.time, sleep=clock.sleep
        )
        await _until_next_second(clock, 0.5)
        await client.lock_status(FRONT_DOOR, FRONT_CODE)
        await client.lock_status(BACK_DOOR, BACK_CODE)
    first, second = gateway.requests
    assert sent[1] - sent[0] >= 0.99
    assert int(second.form["ts"]) == int(first.form["ts"]) + 1


# -- another client of the gateway signing ahead ----------------------------------------


def _leads(gateway: TheKeysGatewaySimulator) -> list[tuple[int, bool]]:
    """Per signed request: how far its ts is ahead of the gateway's clock, and if it was taken."""
    return [(int(r.form["ts"]) - int(r.at), r.ts_accepted) for r in gateway.requests]


async def test_a_client_signing_ahead_is_a_timestamp_conflict_not_a_wrong_code(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """Another client signs 5 s ahead: refused at +0 and +2, taken at +8; the lock moves,
    and the next request goes ahead of the other client too, without a refusal."""
    await _next_second(clock)  # a new client signs from the next second on
    gateway.other_client_signs_ahead(5, duration=20)
    await client.open(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == STATE_OPEN
    assert _leads(gateway) == [(0, False), (2, False), (8, True)]
    await client.close(FRONT_DOOR, FRONT_CODE)
    assert gateway.locks[FRONT_DOOR].state == STATE_CLOSED
    assert gateway.requests[-1].ts_accepted
    assert len(gateway.requests) == 4


async def test_a_wrong_share_code_is_named_after_a_request_signed_30_s_ahead(
    client: tk.TheKeysGateway, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """Refused at +0, +2, +8 and +30 (ahead of anything the gateway can have seen lately): the
    share code. Refused timestamps were not taken: the next request is not signed ahead."""
    await _next_second(clock)
    with pytest.raises(tk.InvalidHmacError):
        await client.open(FRONT_DOOR, "not-the-code")
    assert _leads(gateway) == [(0, False), (2, False), (8, False), (30, False)]
    await client.open(FRONT_DOOR, FRONT_CODE)
    assert _leads(gateway)[-1] == (0, True)


async def test_timestamps_already_ahead_of_the_bound_make_a_timestamp_conflict(
    session: aiohttp.ClientSession, gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """The host's clock went back a minute (the gateway's did not): the timestamps the gateway
    took run ahead of the local clock by more than 30 s, so no request can be signed ahead of
    another client within the bound. A timestamp conflict, not a wrong share code."""
    offset = 0.0
    client = tk.TheKeysGateway(
        session, gateway.address, clock=lambda: clock.time() + offset, sleep=clock.sleep
    )
    await _next_second(clock)
    await client.open(FRONT_DOOR, FRONT_CODE)
    offset = -60.0
    gateway.other_client_signs_ahead(5)
    with pytest.raises(tk.TimestampConflictError) as err:
        await client.close(FRONT_DOOR, FRONT_CODE)
    assert not isinstance(err.value, tk.InvalidHmacError)
    assert (err.value.code, err.value.reason) == (33, "timestamp_conflict")
    assert [r.ts_accepted for r in gateway.requests] == [True, False]  # nothing signed beyond
    assert gateway.locks[FRONT_DOOR].state == STATE_OPEN
