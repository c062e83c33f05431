"""Doordeck locks in Home Assistant: signed commands, reported and assumed state, faults."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
import uuid

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, LockState
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import (
    ATTR_ASSUMED_STATE,
    ATTR_ENTITY_ID,
    SERVICE_LOCK,
    SERVICE_UNLOCK,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import jwt
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck import client as client_module

from .conftest import BACK, FRONT, UNLOCK_TIME, Cloud, coordinator_of

FRONT_CONNECTIVITY = "binary_sensor.front_door_connectivity"


async def _call(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call(LOCK_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True)


async def _until(hass: HomeAssistant, entity_id: str, state: str) -> None:
    async with asyncio.timeout(5):
        while hass.states.get(entity_id).state != state:
            await asyncio.sleep(0.05)
            await hass.async_block_till_done()


def _operations(cloud: Cloud) -> list[dict[str, Any]]:
    return [
        jwt.decode(r.body.decode(), options={"verify_signature": False})
        for r in cloud.sim.requests
        if r.path.endswith("/execute")
    ]


async def test_entities_and_devices(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    front, back = hass.states.get(FRONT), hass.states.get(BACK)
    assert front.state == back.state == LockState.LOCKED
    # The front door reports its state; the back door's is assumed.
    assert not front.attributes.get(ATTR_ASSUMED_STATE)
    assert back.attributes[ATTR_ASSUMED_STATE] is True
    assert hass.states.get(FRONT_CONNECTIVITY).state == STATE_ON
    duration = hass.states.get("sensor.front_door_unlock_duration")
    assert float(duration.state) == UNLOCK_TIME
    assert duration.attributes["unit_of_measurement"] == "s"
    expiry = hass.states.get("sensor.doordeck_o_example_com_signing_key_expiry")
    assert expiry.state == coordinator_of(loaded_entry).client.certificate_expiry.isoformat()

    entities = er.async_get(hass)
    assert entities.async_get(FRONT_CONNECTIVITY).entity_category == "diagnostic"
    assert entities.async_get("sensor.front_door_unlock_duration").entity_category == "diagnostic"
    devices = dr.async_get(hass)
    front_device = devices.async_get(entities.async_get(FRONT).device_id)
    assert front_device.manufacturer == "Doordeck"
    assert front_device.name == "Front door"
    assert front_device.serial_number == cloud.front.id
    account = devices.async_get(front_device.via_device_id)
    assert account.name == "Doordeck o…@example.com"
    assert account.entry_type is dr.DeviceEntryType.SERVICE


@pytest.mark.real_clock  # end to end on the real clock, relock included
async def test_unlock_a_reporting_lock(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    await _call(hass, SERVICE_UNLOCK, FRONT)
    assert not cloud.front.locked
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    operation = _operations(cloud)[-1]
    assert operation["operation"] == {"type": "MUTATE_LOCK", "locked": False}
    assert operation["iss"] == cloud.owner.id
    assert operation["sub"] == cloud.front.id
    # It locks itself after its unlock time; Doordeck is asked again then, and says so.
    await _until(hass, FRONT, LockState.LOCKED)
    assert cloud.front.locked


async def test_unlock_an_assumed_lock_returns_to_locked(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    states: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            states.append(event.data["new_state"].state)
            if event.data["entity_id"] == BACK
            else None
        ),
    )
    polls = cloud.sim.count("/site")
    await _call(hass, SERVICE_UNLOCK, BACK)
    assert hass.states.get(BACK).state == LockState.UNLOCKED
    assert hass.states.get(BACK).attributes[ATTR_ASSUMED_STATE] is True
    await _until(hass, BACK, LockState.LOCKED)
    assert states == [LockState.UNLOCKING, LockState.UNLOCKED, LockState.LOCKED]
    assert cloud.sim.count("/site") == polls  # no state to read: nothing asked


async def test_lock_command(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    await _call(hass, SERVICE_UNLOCK, BACK)
    await _call(hass, SERVICE_LOCK, BACK)
    assert hass.states.get(BACK).state == LockState.LOCKED
    assert [op["operation"]["locked"] for op in _operations(cloud)] == [False, True]
    await asyncio.sleep(UNLOCK_TIME + 0.1)  # the unlock's timer was cancelled by the lock
    await hass.async_block_till_done()
    assert hass.states.get(BACK).state == LockState.LOCKED


@pytest.mark.parametrize(
    ("fault", "translation_key"),
    [
        ("offline", "doordeck_lock_offline"),
        ("slow", "doordeck_lock_timeout"),
        ("rate_limit", "doordeck_rate_limited"),
        ("pending", "doordeck_operation_pending"),
    ],
)
async def test_faults_are_translated_and_nothing_moves(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    fault: Any,
    translation_key: str,
) -> None:
    cloud.front.fault = fault
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_UNLOCK, FRONT)
    assert err.value.translation_key == translation_key
    assert err.value.translation_placeholders["name"] == "Front door"
    assert str(err.value).startswith(("Front door ", "Doordeck is limiting"))
    assert cloud.front.locked
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_queued_command_claims_nothing(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """202: Doordeck took the command, the lock has not carried it out: no state change."""
    cloud.back.fault = "queued"
    await _call(hass, SERVICE_UNLOCK, BACK)
    assert [op.status for op in cloud.back.operations] == ["queued"]
    assert hass.states.get(BACK).state == LockState.LOCKED


async def test_replayed_request_id(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    same = uuid.uuid4()
    monkeypatch.setattr(client_module, "uuid", SimpleNamespace(uuid4=lambda: same))
    await _call(hass, SERVICE_UNLOCK, BACK)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_LOCK, BACK)
    assert err.value.translation_key == "doordeck_replay"


async def test_offline_lock_is_unavailable_its_connectivity_is_not(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = coordinator_of(loaded_entry)
    cloud.front.connected = False
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    assert hass.states.get(FRONT_CONNECTIVITY).state == STATE_OFF
    assert hass.states.get(BACK).state == LockState.LOCKED
    assert caplog.text.count("Front door is unavailable") == 1  # logged once
    cloud.front.connected = True
    await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert hass.states.get(FRONT_CONNECTIVITY).state == STATE_ON
    assert caplog.text.count("Front door is available again") == 1


async def test_token_expiry_mid_run_is_invisible(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    old = loaded_entry.data["credentials"]["auth_token"]
    cloud.sim.expire_auth_tokens()
    await _call(hass, SERVICE_UNLOCK, BACK)
    assert hass.states.get(BACK).state == LockState.UNLOCKED
    assert cloud.sim.count("/auth/token/refresh") == 1
    # The new tokens are stored, without reloading the entry.
    assert loaded_entry.data["credentials"]["auth_token"] != old
    assert coordinator_of(loaded_entry) is coordinator
    await hass.async_block_till_done()
    assert coordinator_of(loaded_entry) is coordinator


async def test_refused_sign_in_during_a_command_starts_reauth(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_refresh_tokens()
    cloud.sim.expire_auth_tokens()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_UNLOCK, BACK)
    assert err.value.translation_key == "doordeck_authentication"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_command_during_a_poll_is_not_undone_by_it(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """The poll read the front door before the unlock: the entity keeps the unlock."""
    coordinator = coordinator_of(loaded_entry)
    read_lock = coordinator.client.get_lock
    commanded = False

    async def read_then_command(lock_id: str, listing: Any = None) -> Any:
        nonlocal commanded
        lock = await read_lock(lock_id, listing)
        if not commanded:
            commanded = True
            await _call(hass, SERVICE_UNLOCK, FRONT)
        return lock

    coordinator.client.get_lock = read_then_command  # type: ignore[method-assign]
    await coordinator.async_refresh()
    assert commanded
    assert hass.states.get(FRONT).state == LockState.UNLOCKED


async def test_unload_cancels_the_relock_timers(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    await _call(hass, SERVICE_UNLOCK, BACK)
    await _call(hass, SERVICE_UNLOCK, FRONT)
    assert len(coordinator._unlock_timers) == 2
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert not coordinator._unlock_timers
    assert hass.states.get(BACK).state == STATE_UNAVAILABLE
    await asyncio.sleep(UNLOCK_TIME + 0.1)
    await hass.async_block_till_done()
    assert hass.states.get(BACK).state == STATE_UNAVAILABLE


async def test_a_command_rewrites_its_own_lock_only(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """However many locks the account has, a command writes the states of one."""
    others = [
        BACK,
        "sensor.back_door_unlock_duration",
        "binary_sensor.back_door_connectivity",
        "sensor.doordeck_o_example_com_signing_key_expiry",
    ]
    before = {entity_id: hass.states.get(entity_id).last_reported for entity_id in others}
    await _call(hass, SERVICE_UNLOCK, FRONT)
    await hass.async_block_till_done()
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    assert {entity_id: hass.states.get(entity_id).last_reported for entity_id in others} == before
