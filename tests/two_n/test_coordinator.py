"""The 2N device in Home Assistant: door switches as locks, sensors, polls, repairs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
import time
from typing import Any

from homeassistant.components.diagnostics import REDACTED
from homeassistant.components.lock import LockState
from homeassistant.components.repairs import DOMAIN as REPAIRS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.two_n import coordinator as coordinator_module
from custom_components.multilock.vendors.two_n.client import TwoNClient, format_fingerprint
from custom_components.multilock.vendors.two_n.coordinator import (
    holds_serial_number,
    redact_serial_location,
)
from simulators.two_n import SimSwitch, TwoNDeviceSimulator

from .conftest import (
    FRONT,
    GATE,
    KEYS_IN_USE,
    LOCATION,
    ON_DURATION,
    PRIMARY_CREATED,
    SECOND_SERIAL,
    TITLE,
    coordinator_of,
    host_of,
    make_entry,
    old_keys,
    set_up,
)


async def _poll(hass: HomeAssistant, *, everything: bool = False) -> None:
    """Let the next poll come (the full read every ten minutes, when asked)."""
    if everything:
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.state is ConfigEntryState.LOADED:
                coordinator_of(entry)._slow_due = None  # type: ignore[arg-type]
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=16))
    await hass.async_block_till_done(wait_background_tasks=True)


async def _fix_flows(hass: HomeAssistant) -> Any:
    assert await async_setup_component(hass, REPAIRS, {})
    return hass.data[REPAIRS]["flow_manager"]


async def _call(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call("lock", service, {"entity_id": entity_id}, blocking=True)


async def test_entities(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert hass.states.get(GATE).state == LockState.LOCKED
    assert hass.states.get("lock.2n_ip_verso_switch_3") is None  # disabled
    assert hass.states.get(LOCATION).state == device.info["serialNumber"]
    assert hass.states.get(KEYS_IN_USE).state == "0"
    assert hass.states.get(PRIMARY_CREATED).state == STATE_UNKNOWN
    assert hass.states.get(FRONT).attributes["friendly_name"] == f"{TITLE} Switch 1"


async def test_a_monostable_switch_opens_and_closes_by_itself(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    await _call(hass, "unlock", FRONT)
    assert device.switches[1].activations == 1
    assert device.requests[-1].query == {"switch": "1", "action": "trigger"}
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    await asyncio.sleep(ON_DURATION + 0.05)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(FRONT).state == LockState.LOCKED
    # Locking a monostable switch ends its activation at once.
    await _call(hass, "unlock", FRONT)
    await _call(hass, "lock", FRONT)
    assert device.requests[-1].query == {"switch": "1", "action": "off"}
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert not device.switches[1].is_active(time.monotonic())


async def test_a_bistable_switch(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    await _call(hass, "unlock", GATE)
    assert device.requests[-1].query == {"switch": "2", "action": "on"}
    await _poll(hass)
    assert hass.states.get(GATE).state == LockState.UNLOCKED
    await _call(hass, "lock", GATE)
    assert device.requests[-1].query == {"switch": "2", "action": "off"}
    assert hass.states.get(GATE).state == LockState.LOCKED
    # Switched on elsewhere (the keypad, the device's web page): the next poll shows it.
    device.switches[2].latched = True
    await _poll(hass)
    assert hass.states.get(GATE).state == LockState.UNLOCKED


async def test_a_blocked_switch_refuses(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    device.switches[1].locked = True
    with pytest.raises(HomeAssistantError, match="refused the request") as caught:
        await _call(hass, "unlock", FRONT)
    assert caught.value.translation_key == "two_n_refused"
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_a_command_during_a_poll_is_not_undone_by_it(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    device.inject_fault("switch/status", "delay", seconds=0.3)
    poll = hass.async_create_task(coordinator.async_refresh())
    await asyncio.sleep(0.1)
    await _call(hass, "unlock", GATE)
    await poll
    assert hass.states.get(GATE).state == LockState.UNLOCKED


async def test_the_device_goes_away_and_comes_back(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    await device.stop()
    await _poll(hass)
    assert hass.states.get(FRONT).state == LockState.LOCKED  # one failed poll is tolerated
    await _poll(hass)
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    await device.start()
    await _poll(hass)
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_an_account_without_access_control(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_account("doors", "pw", ["switches_control"])
    entry = await set_up(hass, make_entry(device, username="doors", password="pw"))
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert hass.states.get(LOCATION).state == STATE_UNAVAILABLE
    issue_id = f"two_n_missing_privileges_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert not issue.is_fixable
    # The action says which group is missing.
    with pytest.raises(HomeAssistantError, match="Access Control"):
        await coordinator_of(entry).async_rotate_mobile_key()
    # Given the group on the device, the next full read notices.
    device.set_account("doors", "pw", ["switches_control", "access_control"])
    await _poll(hass, everything=True)
    assert hass.states.get(LOCATION).state == device.info["serialNumber"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_an_account_without_switches_control(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_account("keys", "pw", ["access_control"])
    entry = await set_up(hass, make_entry(device, username="keys", password="pw"))
    assert hass.states.get(FRONT) is None
    assert hass.states.get(LOCATION).state == device.info["serialNumber"]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"two_n_missing_privileges_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders["groups"] == "Switches Control"
    await _poll(hass)  # no switch to read: nothing is asked
    assert device.count("switch/status") == 0


async def test_a_refused_password_starts_reauthentication(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    device.set_account("admin", "changed", ["access_control", "switches_control"])
    with pytest.raises(HomeAssistantError, match="refused the HTTP API account"):
        await _call(hass, "unlock", FRONT)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


# --- mobile key sensors and their repair ------------------------------------------------------


async def test_mobile_key_sensors(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    keys = old_keys(3)
    device.set_keys(keys)
    device.location = "Office"
    await set_up(hass, make_entry(device))
    assert hass.states.get(LOCATION).state == "Office"
    assert hass.states.get(KEYS_IN_USE).state == "3"
    created = dt_util.utc_from_timestamp(keys[0].ctime or 0)
    assert hass.states.get(PRIMARY_CREATED).state == created.isoformat()
    # Nothing of a key is in any state.
    for state in hass.states.async_all():
        assert keys[0].key_b64[:24] not in str(state.as_dict())


async def test_an_old_primary_key_raises_a_repair_that_rotates_it(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2, newest_days=100)
    device.set_keys(keys)
    entry = await set_up(hass, make_entry(device))
    issue_id = f"two_n_key_age_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders["days"] == "90"
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["step_id"] == "confirm"
    device.inject_fault("mobilekey/config", "error_envelope")
    result = await flows.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "rotation_failed"}
    assert "error 14" in result["description_placeholders"]["error"]
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(KEYS_IN_USE).state == "3"
    assert device.mobile_keys[1] is not None
    assert device.mobile_keys[1].ctime == keys[0].ctime


async def test_the_key_age_repair_undoes_a_rotation_the_device_did_not_keep(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(3, newest_days=100)
    device.set_keys(keys)
    entry = await set_up(hass, make_entry(device))
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": f"two_n_key_age_{entry.entry_id}"})
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
    result = await flows.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "rotation_failed"}
    assert "nothing was lost" in result["description_placeholders"]["error"]
    assert [slot.key_b64 if slot else None for slot in device.mobile_keys] == [
        *(key.key_b64 for key in keys),
        None,
    ]
    assert hass.states.get(KEYS_IN_USE).state == "3"
    # The new key, kept before it was sent, stays kept (though on no device).
    (kept,) = entry.data["mobile_key_store"].values()
    assert kept not in [slot.key_b64 for slot in device.mobile_keys if slot]


async def test_the_key_age_is_configurable(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_keys(old_keys(1, newest_days=100))
    entry = await set_up(hass, make_entry(device, key_max_age=120))
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"two_n_key_age_{entry.entry_id}") is None


async def test_the_key_age_repair_of_an_unloaded_entry(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_keys(old_keys(1, newest_days=100))
    entry = await set_up(hass, make_entry(device))
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": f"two_n_key_age_{entry.entry_id}"})
    assert await hass.config_entries.async_unload(entry.entry_id)
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


# --- a pinned certificate that changes ------------------------------------------------------------


@pytest.mark.usefixtures("refused_handshakes")
async def test_a_changed_certificate_is_refused_until_accepted(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    pinned = device.certificate_sha256
    presented = device.replace_certificate()
    with pytest.raises(HomeAssistantError, match="another certificate") as caught:
        await _call(hass, "unlock", FRONT)
    assert caught.value.translation_key == "two_n_certificate_changed"
    await _poll(hass)
    await _poll(hass)
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    issue_id = f"two_n_certificate_changed_{loaded_entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "name": TITLE,
        "pinned": format_fingerprint(pinned),
        "presented": format_fingerprint(presented),
    }
    assert device.switches[1].activations == 0
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["presented"] == format_fingerprint(presented)
    # It changes again before it is accepted: the new one is shown, and must be accepted.
    newer = device.replace_certificate()
    result = await flows.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "changed_again"}
    assert result["description_placeholders"]["presented"] == format_fingerprint(newer)
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.data["certificate_sha256"] == newer.hex()
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await _call(hass, "unlock", FRONT)
    assert device.switches[1].activations == 1


@pytest.mark.usefixtures("refused_handshakes")
async def test_a_changed_certificate_at_set_up(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = make_entry(device)
    device.replace_certificate()
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    issue_id = f"two_n_certificate_changed_{entry.entry_id}"
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("refused_handshakes")
async def test_a_new_certificate_on_another_device_is_not_accepted(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = make_entry(device)
    device.replace_certificate()
    await set_up(hass, entry)
    issue_id = f"two_n_certificate_changed_{entry.entry_id}"
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    # Another device now answers at the address, with the certificate shown.
    device.info["serialNumber"] = SECOND_SERIAL
    result = await flows.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "wrong_device"}
    await device.stop()
    result = await flows.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "two_n_cannot_connect"}
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


def test_locations_that_hold_a_serial_number() -> None:
    assert holds_serial_number("54-1046-0745")
    assert holds_serial_number("Site of 54-1046-0745")
    assert not holds_serial_number("Office building")
    serial = {"mobile_keys": {"location": "54-1046-0745", "slots": []}, "info": {}}
    assert redact_serial_location(serial)["mobile_keys"] == {"location": REDACTED, "slots": []}
    office = {"mobile_keys": {"location": "Office", "slots": []}}
    assert redact_serial_location(office) is office
    assert redact_serial_location({"mobile_keys": None}) == {"mobile_keys": None}


async def test_unique_ids(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    serial = device.info["serialNumber"]
    assert registry.async_get(FRONT).unique_id == f"{serial}-switch-1-lock"
    assert registry.async_get(LOCATION).unique_id == f"{serial}-mobile_key_location"
    assert host_of(device) == loaded_entry.data["host"]


@pytest.mark.parametrize(
    "sim_options", [{"switches": [SimSwitch(1, on_duration=ON_DURATION), SimSwitch(9)]}]
)
async def test_switches_past_the_eighth_have_no_lock(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    assert hass.states.get(FRONT) is not None
    assert hass.states.get("lock.2n_ip_verso_switch_9") is None


async def test_the_read_after_an_opening_may_fail(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    """ "Unlocked" after a trigger is an assumption the read after its duration checks."""
    await _call(hass, "unlock", FRONT)
    device.inject_fault("switch/status", "error_envelope")
    await asyncio.sleep(ON_DURATION + 0.05)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(FRONT).state == STATE_UNKNOWN  # not unlocked for another poll
    await _poll(hass)
    assert hass.states.get(FRONT).state == LockState.LOCKED


def _shown(hass: HomeAssistant, entity_id: str) -> list[str]:
    """The states ``entity_id`` shows from now on."""
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


async def test_a_dropped_connection_does_not_open_the_door_twice(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The device triggers the switch, then the connection drops before its answer."""
    shown = _shown(hass, FRONT)
    device.inject_fault("switch/ctrl", "disconnect_after")
    error: HomeAssistantError | None = None
    try:
        await _call(hass, "unlock", FRONT)
    except HomeAssistantError as err:
        error = err
    assert device.switches[1].activations == 1  # one press, one activation
    assert device.count("switch/ctrl", "GET") == 0
    assert error is not None  # not reported as done
    assert error.translation_key == "command_outcome_unknown"
    assert "may have moved" in str(error)
    # Unknown, read at once (the door is open), then read again after its duration.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(FRONT).state == LockState.UNLOCKED
    await asyncio.sleep(ON_DURATION + 0.05)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(FRONT).state == LockState.LOCKED
    assert shown[: shown.index(STATE_UNKNOWN) + 1] == [LockState.UNLOCKING, STATE_UNKNOWN]
    assert LockState.UNLOCKED in shown[shown.index(STATE_UNKNOWN) :]


async def test_a_late_answer_makes_the_gate_unknown_then_read(
    hass: HomeAssistant, device: TwoNDeviceSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bistable switch switched on whose answer came after the timeout: the gate is open."""
    monkeypatch.setattr(coordinator_module, "TwoNClient", partial(TwoNClient, timeout=0.3))
    await set_up(hass, make_entry(device))
    shown = _shown(hass, GATE)
    device.inject_fault("switch/ctrl", "late_answer", seconds=1.0)
    with pytest.raises(HomeAssistantError) as caught:
        await _call(hass, "unlock", GATE)
    assert caught.value.translation_key == "command_outcome_unknown"
    assert "may have moved" in str(caught.value)
    assert hass.states.get(GATE).state != LockState.LOCKED
    await hass.async_block_till_done(wait_background_tasks=True)
    assert device.switches[2].latched
    assert hass.states.get(GATE).state == LockState.UNLOCKED
    assert shown == [LockState.UNLOCKING, STATE_UNKNOWN, LockState.UNLOCKED]
    assert device.count("switch/ctrl") == 1


async def test_a_lost_answer_whose_read_fails_stays_unknown(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    device.inject_fault("switch/ctrl", "malformed")
    device.inject_fault("switch/status", "error_envelope")
    with pytest.raises(HomeAssistantError, match="may have moved"):
        await _call(hass, "lock", GATE)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(GATE).state == STATE_UNKNOWN
    await _poll(hass)
    assert hass.states.get(GATE).state == LockState.LOCKED


async def test_a_refused_command_leaves_the_state_as_it_was(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    """No connection at all: nothing was sent, so nothing may have moved."""
    await device.stop()
    with pytest.raises(HomeAssistantError) as caught:
        await _call(hass, "unlock", GATE)
    assert caught.value.translation_key == "two_n_cannot_connect"
    assert hass.states.get(GATE).state == LockState.LOCKED


async def test_a_device_that_now_wants_another_method_asks_to_sign_in_again(
    hass: HomeAssistant, device: TwoNDeviceSimulator, loaded_entry: MockConfigEntry
) -> None:
    device.auth = "basic"
    with pytest.raises(HomeAssistantError, match="wants Basic authentication") as caught:
        await _call(hass, "unlock", GATE)
    assert caught.value.translation_key == "two_n_wants_method"
    await _poll(hass, everything=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
