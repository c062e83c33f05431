"""Locks of The Keys: state, lock/unlock through the gateway, and failures."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, LockState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_LOCK, SERVICE_UNLOCK, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulators.thekeys import TheKeysGatewaySimulator

from .conftest import BACK_DOOR, FRONT_DOOR

FRONT = "lock.front_door"
BACK = "lock.back_door"


async def test_locks_show_the_gateway_state(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert hass.states.get(BACK).state == LockState.LOCKED


async def test_unlock_then_lock(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: FRONT}, blocking=True)
    assert gateway.locks[FRONT_DOOR].state == 0x32
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: FRONT}, blocking=True)
    assert gateway.locks[FRONT_DOOR].state == 0x31
    assert hass.states.get(FRONT).state == LockState.LOCKED
