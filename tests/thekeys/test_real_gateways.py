"""The Keys under real conditions: real gateways' reply shapes, lost and empty answers,
commands in a row, someone else's timestamp, a half-broken gateway, one gateway spelt twice."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import functools
import hashlib
import hmac
import time

import aiohttp
from homeassistant.components.lock import LockState
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.thekeys import client as tk, gateways
from simulators.thekeys import STATE_JAMMED, TheKeysGatewaySimulator
from tests.clock import Clock

from .conftest import BACK_CODE, BACK_DOOR, FRONT_CODE, FRONT_DOOR

SHAPES = ["seed", "real"]


async def _started(shape: str, clock: Clock, **options: object) -> TheKeysGatewaySimulator:
    simulator = TheKeysGatewaySimulator(  # type: ignore[arg-type]
        reply_shape=shape, clock=clock.time, sleep=clock.sleep, **options
    )
    simulator.add_lock(FRONT_DOOR, FRONT_CODE)
    simulator.add_lock(BACK_DOOR, BACK_CODE)
    await simulator.start()
    return simulator


@pytest.fixture(params=SHAPES)
async def any_gateway(
    request: pytest.FixtureRequest, clock: Clock
) -> AsyncIterator[TheKeysGatewaySimulator]:
    """A gateway answering in the seed page's shape, then in real gateways' shape."""
    simulator = await _started(request.param, clock)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def real_gateway(clock: Clock) -> AsyncIterator[TheKeysGatewaySimulator]:
    """A gateway answering as real gateways do."""
    simulator = await _started("real", clock)
    yield simulator
    await simulator.stop()


async def _add_gateway(hass: HomeAssistant, host: str) -> dict[str, object]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_gateway"}
    )
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"host": host}))


async def _add_lock(
    hass: HomeAssistant, entry_id: str, identifier: int, code: str, name: str
) -> dict[str, object]:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "thekeys_lock"), context={"source": SOURCE_USER}
    )
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"identifier": str(identifier), "share_code": code, "name": name}
        )
    )


async def _set_up(hass: HomeAssistant, gateway: TheKeysGatewaySimulator) -> str:
    """A gateway entry with the front door, made through the flow as a user does."""
    result = await _add_gateway(hass, gateway.address)
    assert result["step_id"] == "thekeys_gateway_lock"  # the flow goes on to the first lock
    result = dict(
        await hass.config_entries.flow.async_configure(
            str(result["flow_id"]),
            {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE, "name": "Front door"},
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return str(result["result"].entry_id)  # type: ignore[attr-defined]


async def _command(hass: HomeAssistant, service: str, entity_id: str = "lock.front_door") -> None:
    await hass.services.async_call("lock", service, {"entity_id": entity_id}, blocking=True)


async def test_both_reply_shapes_set_up_and_move_locks(
    hass: HomeAssistant, any_gateway: TheKeysGatewaySimulator
) -> None:
    await _set_up(hass, any_gateway)
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await _command(hass, "unlock")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    assert any_gateway.locks[FRONT_DOOR].state == 0x32
    await _command(hass, "lock")
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    assert any_gateway.locks[FRONT_DOOR].state == 0x31


async def test_a_wrong_share_code_is_named_in_both_shapes(
    hass: HomeAssistant, any_gateway: TheKeysGatewaySimulator
) -> None:
    entry_id = await _set_up(hass, any_gateway)
    result = await _add_lock(hass, entry_id, BACK_DOOR, FRONT_CODE, "Back door")
    assert result["errors"] == {"base": "invalid_share_code"}


async def test_a_jammed_lock_shows_jammed(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    real_gateway.locks[FRONT_DOOR].state = STATE_JAMMED
    await _set_up(hass, real_gateway)
    assert hass.states.get("lock.front_door").state == LockState.JAMMED
    assert hass.states.get("sensor.front_door_bolt").state == "jammed"


async def test_a_reply_that_proves_nothing_is_not_success(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    """{"status": "ok"} without a code: the lock did not move, and is not shown as moved."""
    await _set_up(hass, real_gateway)
    real_gateway.inject_fault("ok_without_code", paths={"/open"})
    shown: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            shown.append(event.data["new_state"].state)
            if event.data["entity_id"] == "lock.front_door"
            else None
        ),
    )
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock")
    assert err.value.translation_key == "thekeys_unconfirmed"
    assert real_gateway.locks[FRONT_DOOR].state == 0x31
    await hass.async_block_till_done()
    # Unknown until read again, then what the lock reports: never unlocked.
    assert LockState.UNLOCKED not in shown
    assert STATE_UNKNOWN in shown
    assert hass.states.get("lock.front_door").state == LockState.LOCKED


# The late answer takes real time (fault delays are real): the read retries on the real clock.
@pytest.mark.real_clock
async def test_a_lost_answer_makes_the_state_unknown_until_read(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway opened the lock but its answer came after the timeout."""
    monkeypatch.setattr(
        gateways, "TheKeysGateway", functools.partial(tk.TheKeysGateway, timeout=0.5)
    )
    await _set_up(hass, real_gateway)
    real_gateway.inject_fault("late_reply", paths={"/open"}, seconds=1.0)
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock")
    assert err.value.translation_key == "thekeys_timeout"
    assert hass.states.get("lock.front_door").state in (STATE_UNKNOWN, LockState.UNLOCKED)
    await asyncio.sleep(2.5)  # the gateway finishes; the read scheduled at once answers
    await hass.async_block_till_done()
    assert real_gateway.locks[FRONT_DOOR].state == 0x32
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED


async def test_commands_in_a_row_reach_the_gateway_in_order(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    """Unlock then lock within a second: the door ends locked, in every trial."""
    await _set_up(hass, real_gateway)
    for _ in range(3):
        unlock = hass.async_create_task(_command(hass, "unlock"))
        await asyncio.sleep(0)
        lock = hass.async_create_task(_command(hass, "lock"))
        await asyncio.gather(unlock, lock)
        moves = [r.path for r in real_gateway.history(FRONT_DOOR) if r.path in ("/open", "/close")]
        assert moves[-2:] == ["/open", "/close"]
        assert real_gateway.locks[FRONT_DOOR].state == 0x31
        assert hass.states.get("lock.front_door").state == LockState.LOCKED


async def test_someone_elses_timestamp_is_not_a_wrong_share_code(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    """Another app signs with the second multilock is about to use: one retry, no repair."""
    await _set_up(hass, real_gateway)
    await clock.sleep(1.05 - clock.time() % 1)
    ts = str(int(clock.time()))
    digest = hmac.new(BACK_CODE.encode(), ts.encode(), hashlib.sha256).digest()
    async with aiohttp.ClientSession() as session:  # the other app
        await session.post(
            f"{real_gateway.url}/locker_status",
            data={
                "identifier": str(BACK_DOOR),
                "ts": ts,
                "hash": base64.b64encode(digest).decode(),
            },
        )
    await _command(hass, "unlock")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    assert not ir.async_get(hass).issues


async def test_a_client_signing_ahead_is_not_a_wrong_share_code(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    """Another app signs a few seconds ahead of multilock for a minute: polls and commands
    are signed further ahead; no repair, the lock stays available, and it moves."""
    entry_id = await _set_up(hass, real_gateway)
    real_gateway.other_client_signs_ahead(5, duration=60)
    entry = hass.config_entries.async_get_known_entry(entry_id)
    await entry.runtime_data.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await _command(hass, "unlock")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    await entry.runtime_data.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    assert not ir.async_get(hass).issues
    signed = [r.ts_accepted for r in real_gateway.requests if "ts" in r.form]
    assert signed[-2:] == [True, True]  # once ahead, the command and the next poll: no refusal


async def test_a_timestamp_conflict_is_reported_as_such(
    hass: HomeAssistant,
    real_gateway: TheKeysGatewaySimulator,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host's clock went back a minute, and another app signs ahead of the gateway: the
    command fails as a timestamp conflict (no repair); the lock stays available."""
    offset = [0.0]
    monkeypatch.setattr(
        gateways,
        "TheKeysGateway",
        functools.partial(
            tk.TheKeysGateway, clock=lambda: clock.time() + offset[0], sleep=clock.sleep
        ),
    )
    entry_id = await _set_up(hass, real_gateway)
    offset[0] = -60.0
    real_gateway.other_client_signs_ahead(5)
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock")
    assert err.value.translation_key == "thekeys_timestamp_conflict"
    assert "timestamp conflict, not a wrong share code" in str(err.value)
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await hass.config_entries.async_get_known_entry(entry_id).runtime_data.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    assert not ir.async_get(hass).issues


@pytest.mark.real_clock  # the client's own clock steps back
async def test_a_stepped_back_clock_does_not_hold_a_command(
    real_gateway: TheKeysGatewaySimulator,
) -> None:
    offset = 0.0
    async with aiohttp.ClientSession() as session:
        client = tk.TheKeysGateway(
            session, real_gateway.address, clock=lambda: time.time() + offset
        )
        await client.open(FRONT_DOOR, FRONT_CODE)
        offset = -20.0  # the host's clock is corrected back by 20 s
        started = time.monotonic()
        await client.close(FRONT_DOOR, FRONT_CODE)
        assert time.monotonic() - started < 2
    assert real_gateway.locks[FRONT_DOOR].state == 0x31


async def test_one_busy_or_broken_poll_keeps_the_locks(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator, clock: Clock
) -> None:
    entry_id = await _set_up(hass, real_gateway)
    runtime = hass.config_entries.async_get_known_entry(entry_id).runtime_data
    real_gateway.inject_fault("http_500", paths={"/status"}, count=None)
    busy_from = clock.monotonic()
    real_gateway.set_busy(4.5)  # /lockers answers busy through every retry (about 3.5 s)
    await runtime.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await clock.sleep(max(0.0, 4.6 - (clock.monotonic() - busy_from)))
    assert not real_gateway.busy
    await runtime.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await _command(hass, "unlock")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED


async def test_a_gateway_that_stays_away_makes_the_locks_unavailable(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    entry_id = await _set_up(hass, real_gateway)
    runtime = hass.config_entries.async_get_known_entry(entry_id).runtime_data
    await real_gateway.stop()
    await runtime.async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED  # once: tolerated
    await runtime.async_refresh()
    assert hass.states.get("lock.front_door").state == STATE_UNAVAILABLE


async def test_one_gateway_spelt_twice_is_one_entry(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    entry_id = await _set_up(hass, real_gateway)
    # The title names the device and entities: no address in it, to keep them after a move.
    assert hass.config_entries.async_get_known_entry(entry_id).title == "The Keys gateway"
    result = await _add_gateway(hass, f"localhost:{real_gateway.port}")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_a_lock_added_right_after_another_is_polled(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    entry_id = await _set_up(hass, real_gateway)
    front = await _add_lock(hass, entry_id, BACK_DOOR, BACK_CODE, "Back door")
    assert front["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    assert hass.states.get("lock.back_door").state == LockState.LOCKED


async def test_commands_overtaken_while_waiting_are_not_sent(
    hass: HomeAssistant, real_gateway: TheKeysGatewaySimulator
) -> None:
    """A burst: the first goes, the newest goes, those between are answered as not sent."""
    await _set_up(hass, real_gateway)
    before = len(real_gateway.history(FRONT_DOOR))
    services = ["unlock", "lock", "unlock", "lock", "unlock"]
    tasks = [hass.async_create_task(_command(hass, service)) for service in services]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    sent = [r.path for r in real_gateway.history(FRONT_DOOR)[before:] if r.ts_accepted]
    assert sent == ["/open", "/open"]  # the first unlock, then the newest (an unlock)
    assert results[0] is None
    assert results[-1] is None
    for skipped in results[1:-1]:
        assert isinstance(skipped, HomeAssistantError)
        assert skipped.translation_key == "thekeys_superseded"
    assert real_gateway.locks[FRONT_DOOR].state == 0x32
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
