"""Polling a The Keys gateway: availability, logging, share codes the gateway rejects."""

from __future__ import annotations

from datetime import timedelta
import logging

from homeassistant.components.lock import LockState
from homeassistant.components.repairs import DOMAIN as REPAIRS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.multilock.const import DOMAIN
from simulators.thekeys import TheKeysGatewaySimulator

from .conftest import BACK_DOOR, FRONT_CODE, FRONT_DOOR

FRONT = "lock.front_door"
BACK = "lock.back_door"
FRONT_BATTERY = "sensor.front_door_battery"


def _gateway_status(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    port = entry.data["host"].rsplit(":", 1)[1]
    return hass.states.get(f"sensor.the_keys_gateway_127_0_0_1_{port}_status").state


async def test_one_poll_asks_each_thing_once(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    before = len(gateway.requests)
    await loaded_entry.runtime_data.async_refresh()
    paths = [r.path for r in gateway.requests[before:]]
    assert paths == ["/lockers", "/status", "/locker_status", "/locker_status"]
    assert {r.form["identifier"] for r in gateway.requests[before + 2 :]} == {
        str(FRONT_DOOR),
        str(BACK_DOOR),
    }


@pytest.mark.real_clock  # end to end on the real clock, as a gateway sees it
async def test_polls_on_its_own(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.locks[FRONT_DOOR].state = 0x32  # someone opened it with the app
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(FRONT).state == LockState.UNLOCKED


async def test_not_ready_while_the_gateway_is_away(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    await gateway.stop()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Could not read the The Keys gateway" in str(entry.reason)


async def test_gateway_disappears_and_comes_back(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    await gateway.stop()
    caplog.clear()
    for _ in range(3):
        await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    assert hass.states.get(FRONT_BATTERY).state == STATE_UNAVAILABLE
    assert _gateway_status(hass, loaded_entry) == STATE_UNAVAILABLE
    failures = [
        r
        for r in caplog.records
        if "Could not read" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert len(failures) == 1  # logged once, not at every poll

    await gateway.start()
    caplog.clear()
    for _ in range(2):
        await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert _gateway_status(hass, loaded_entry) == "scanning"
    assert len([r for r in caplog.records if "recovered" in r.getMessage()]) == 1


@pytest.mark.parametrize("fault", ["malformed", "disconnect"])
async def test_bad_reply_during_a_poll(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    fault: str,
) -> None:
    gateway.inject_fault(fault, count=None, paths={"/locker_status"})
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED  # one failed read: kept
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    # A garbled answer concerns the locks; a dropped connection, the whole gateway.
    gateway_available = _gateway_status(hass, loaded_entry) != STATE_UNAVAILABLE
    assert gateway_available is (fault == "malformed")
    gateway.clear_faults()
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_lock_out_of_range_alone_goes_unavailable(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    gateway.locks[FRONT_DOOR].in_range = False
    caplog.set_level(logging.INFO)
    before = len(gateway.requests)
    for _ in range(2):
        await coordinator.async_refresh()
    # A lock the gateway does not see is not asked for its status.
    assert str(FRONT_DOOR) not in {r.form.get("identifier") for r in gateway.requests[before:]}
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    assert hass.states.get(FRONT_BATTERY).state == STATE_UNAVAILABLE
    assert hass.states.get(BACK).state == LockState.LOCKED
    assert _gateway_status(hass, loaded_entry) == "scanning"
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("Front door is unavailable: not seen by the gateway") == 1

    gateway.locks[FRONT_DOOR].in_range = True
    for _ in range(2):
        await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert [r.getMessage() for r in caplog.records].count("Front door is available again") == 1


async def test_lock_that_cannot_be_reached(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.locks[FRONT_DOOR].connection_fails = True
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED  # one failed read: kept
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    assert hass.states.get(BACK).state == LockState.LOCKED


async def test_busy_gateway_keeps_the_last_reported_state(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    gateway.set_busy(10)
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_rejected_share_code_asks_for_a_new_one(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    gateway.locks[FRONT_DOOR].share_code = "ShareMadeAgain01"
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    issue_id = f"thekeys_share_code_{FRONT_DOOR}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"lock": "Front door"}

    assert await async_setup_component(hass, REPAIRS, {})
    flows = hass.data[REPAIRS]["flow_manager"]
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {"lock": "Front door"}
    result = await flows.async_configure(result["flow_id"], {"share_code": FRONT_CODE})
    assert result["errors"] == {"base": "invalid_share_code"}
    result = await flows.async_configure(result["flow_id"], {"share_code": "ShareMadeAgain01"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    subentry = next(s for s in loaded_entry.subentries.values() if s.title == "Front door")
    assert subentry.data["share_code"] == "ShareMadeAgain01"
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_unload(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
