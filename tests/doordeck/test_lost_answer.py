"""Doordeck commands whose answer is lost: the lock's state is unknown until known again.

The shared path of every vendor (``MultilockCoordinator._async_command``): Doordeck did not
answer in time, so it may have sent the operation to the lock.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, LockState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_UNLOCK, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.multilock.vendors.doordeck import coordinator as coordinator_module

from .conftest import BACK, FRONT, UNLOCK_TIME, Cloud

# Seconds the client waits for an answer here; the simulated cloud answers later.
CLIENT_TIMEOUT = 0.3


def _shown(hass: HomeAssistant, entity_id: str) -> list[str]:
    states: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            states.append(event.data["new_state"].state)
            if event.data["entity_id"] == entity_id
            else None
        ),
    )
    return states


@pytest.fixture
async def slow_entry(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> MockConfigEntry:
    """The entry set up with a client that waits CLIENT_TIMEOUT for an answer."""
    client = partial(coordinator_module.DoordeckClient, timeout=CLIENT_TIMEOUT)
    monkeypatch.setattr(coordinator_module, "DoordeckClient", client)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _reads(cloud: Cloud) -> int:
    """Reads of the front door's details (where its state is)."""
    path = f"/device/{cloud.front.id}"
    return sum(1 for r in cloud.sim.requests if r.path == path and r.method == "GET")


async def _unlock_without_answer(hass: HomeAssistant, cloud: Cloud, entity_id: str) -> None:
    cloud.sim.inject("/device/*/execute", "delay", delay=1.0, times=1)
    with pytest.raises(HomeAssistantError, match="may have moved") as caught:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: entity_id}, blocking=True
        )
    assert caught.value.translation_key == "command_outcome_unknown"


async def test_a_reporting_lock_is_unknown_then_read_again(
    hass: HomeAssistant, cloud: Cloud, slow_entry: MockConfigEntry
) -> None:
    shown = _shown(hass, FRONT)
    reads = _reads(cloud)
    await _unlock_without_answer(hass, cloud, FRONT)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert shown[:2] == [LockState.UNLOCKING, STATE_UNKNOWN]  # never "locked" meanwhile
    assert _reads(cloud) > reads  # read at once
    assert hass.states.get(FRONT).state != STATE_UNKNOWN


async def test_an_assumed_lock_is_unknown_until_its_unlock_time_is_over(
    hass: HomeAssistant, cloud: Cloud, slow_entry: MockConfigEntry
) -> None:
    """It reports nothing: unknown (it may be open) until it has locked itself again."""
    await _unlock_without_answer(hass, cloud, BACK)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(BACK).state == STATE_UNKNOWN
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=UNLOCK_TIME + 1))
    await hass.async_block_till_done()
    assert hass.states.get(BACK).state == LockState.LOCKED
