"""Locks of The Keys in Home Assistant: true state, commands through the gateway, failures."""

from __future__ import annotations

import asyncio

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, LockState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_LOCK, SERVICE_UNLOCK, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulators.thekeys import TheKeysGatewaySimulator
from tests.clock import Clock

from .conftest import BACK_DOOR, FRONT_DOOR

FRONT = "lock.front_door"
BACK = "lock.back_door"
OPEN, CLOSED = 0x32, 0x31


async def _call(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call(LOCK_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True)


async def test_locks_show_the_gateway_state(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    gateway.locks[BACK_DOOR].state = OPEN
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert hass.states.get(BACK).state == LockState.UNLOCKED


async def test_unknown_state_after_a_reboot_of_the_lock(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.locks[FRONT_DOOR].state = 0x30
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNKNOWN


@pytest.mark.real_clock  # end to end on the real clock, as a gateway sees it
async def test_unlock_then_lock(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    await _call(hass, SERVICE_UNLOCK, FRONT)
    assert gateway.locks[FRONT_DOOR].state == OPEN
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    await _call(hass, SERVICE_LOCK, FRONT)
    assert gateway.locks[FRONT_DOOR].state == CLOSED
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_a_command_costs_one_signed_request(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    before = len(gateway.requests)
    await _call(hass, SERVICE_UNLOCK, FRONT)
    assert [r.path for r in gateway.requests[before:]] == ["/open"]


async def test_shows_unlocking_while_the_gateway_works(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.action_seconds = 0.5
    states: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        # In the event loop, in order (a plain function would run in the executor).
        callback(
            lambda event: (
                states.append(event.data["new_state"].state)
                if event.data["entity_id"] == FRONT
                else None
            )
        ),
    )
    await _call(hass, SERVICE_UNLOCK, FRONT)
    await _call(hass, SERVICE_LOCK, FRONT)
    assert states == [LockState.UNLOCKING, LockState.UNLOCKED, LockState.LOCKING, LockState.LOCKED]


@pytest.mark.parametrize(
    ("setup", "translation_key"),
    [
        ({"refuses_key": True}, "thekeys_invalid_key"),
        ({"connection_fails": True}, "thekeys_lock_connection_failed"),
        ({"compatible": False}, "thekeys_lock_not_compatible"),
        ({"share_code": "ReplacedInTheApp"}, "thekeys_invalid_hmac"),
    ],
)
async def test_failed_command_keeps_the_true_state(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    setup: dict[str, object],
    translation_key: str,
) -> None:
    for field, value in setup.items():
        setattr(gateway.locks[FRONT_DOOR], field, value)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_UNLOCK, FRONT)
    assert err.value.translation_key == translation_key
    assert "Front door" in str(err.value)
    assert gateway.locks[FRONT_DOOR].state == CLOSED
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_command_to_a_vanished_gateway(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    await gateway.stop()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_UNLOCK, FRONT)
    assert err.value.translation_key == "thekeys_cannot_connect"
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_two_commands_in_the_same_second(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    before = len(gateway.requests)
    await asyncio.gather(_call(hass, SERVICE_UNLOCK, FRONT), _call(hass, SERVICE_UNLOCK, BACK))
    commands = gateway.requests[before:]
    assert [r.path for r in commands] == ["/open", "/open"]
    assert all(r.ts_accepted for r in commands)
    assert int(commands[0].form["ts"]) < int(commands[1].form["ts"])
    assert hass.states.get(FRONT).state == hass.states.get(BACK).state == LockState.UNLOCKED


async def test_two_locks_on_a_busy_gateway(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    """Another app holds the gateway, and each action takes time: both locks still move."""
    gateway.action_seconds = 0.4
    gateway.set_busy(1.0)
    await asyncio.gather(_call(hass, SERVICE_UNLOCK, FRONT), _call(hass, SERVICE_UNLOCK, BACK))
    assert gateway.locks[FRONT_DOOR].state == gateway.locks[BACK_DOOR].state == OPEN
    assert hass.states.get(FRONT).state == hass.states.get(BACK).state == LockState.UNLOCKED
    busy = [r for r in gateway.requests if r.reply and r.reply.get("message") == "busy"]
    assert busy  # the gateway did refuse at first


async def test_gateway_busy_for_too_long(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.set_busy(10)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_UNLOCK, FRONT)
    assert err.value.translation_key == "thekeys_busy"
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_command_goes_ahead_of_the_poll_and_is_not_undone_by_it(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    clock: Clock,
) -> None:
    gateway.status_seconds = 0.4
    coordinator = loaded_entry.runtime_data
    before = len(gateway.requests)
    poll = hass.async_create_task(coordinator.async_refresh())
    async with asyncio.timeout(5):
        while gateway.count("/locker_status") == 2:
            await clock.sleep(0.01)  # until the poll reads the front door
    await _call(hass, SERVICE_UNLOCK, FRONT)
    await poll
    paths = [r.path for r in gateway.requests[before:]]
    assert paths == ["/lockers", "/status", "/locker_status", "/open", "/locker_status"]
    # The poll read the front door before it opened; the entity keeps the command's result.
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
