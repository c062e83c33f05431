"""Sensors, buttons and diagnostics of The Keys devices."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.const import DOMAIN
from simulators.thekeys import TheKeysGatewaySimulator

from .conftest import BACK_CODE, FRONT_CODE, FRONT_DOOR


def _gateway_entity(entry: MockConfigEntry, platform: str, key: str) -> str | None:
    """The entity id of a gateway entity, found by its unique id (its name is the user's)."""
    registry = er.async_get(entry.runtime_data.hass)
    unique_id = f"thekeys-gateway-{entry.entry_id}-{key}"
    return registry.async_get_entity_id(platform, DOMAIN, unique_id)


async def _press(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


async def test_lock_sensors(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    assert hass.states.get("sensor.front_door_bolt").state == "closed"
    assert hass.states.get("sensor.front_door_battery").state == "71"
    assert hass.states.get("sensor.back_door_battery").state == "6"
    voltage = hass.states.get("sensor.front_door_battery_voltage")
    assert voltage.state == "7.6"
    assert voltage.attributes["unit_of_measurement"] == "V"
    # Signal strength is diagnostic and off until the user enables it.
    rssi = er.async_get(hass).async_get("sensor.front_door_signal_strength")
    assert rssi.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert rssi.entity_category == "diagnostic"


async def test_bolt_sensor_shows_what_the_lock_reports(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    """The lock's own bolt report (no door contact): thrown, withdrawn, jammed or unknown."""
    bolt = hass.states.get("sensor.front_door_bolt")
    assert bolt.attributes["options"] == ["closed", "jammed", "open"]  # no "unknown" option
    gateway.locks[FRONT_DOOR].state = 0x32
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get("sensor.front_door_bolt").state == "open"
    gateway.locks[FRONT_DOOR].state = 0x30
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get("sensor.front_door_bolt").state == "unknown"  # Home Assistant's own


async def test_gateway_sensors_and_old_firmware(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    # The firmware version is the gateway device's own; the activity a translated state.
    assert _gateway_entity(loaded_entry, "sensor", "firmware_version") is None
    status = hass.states.get(_gateway_entity(loaded_entry, "sensor", "current_status"))
    assert status.state == "scanning"
    assert status.attributes["options"] == ["scanning", "synchronizing", "updating"]
    gateway.inject_fault("http_error", count=None, paths={"/status"})
    await loaded_entry.runtime_data.async_refresh()
    await loaded_entry.runtime_data.async_refresh()
    # /status is a maintenance endpoint: its failure makes nothing unavailable.
    assert hass.states.get("lock.front_door").state == "locked"


async def test_devices_hang_off_the_gateway(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert "via_device" not in caplog.text  # the gateway is registered before its locks
    loaded_entry = entry
    registry = dr.async_get(hass)
    lock = registry.async_get_device_by_identifier(
        (DOMAIN, f"thekeys-lock-{FRONT_DOOR}"), loaded_entry.entry_id
    )
    gateway_device = registry.async_get_device_by_identifier(
        (DOMAIN, f"thekeys-gateway-{loaded_entry.entry_id}"), loaded_entry.entry_id
    )
    assert lock.name == "Front door"
    assert lock.serial_number == str(FRONT_DOOR)
    assert lock.via_device_id == gateway_device.id
    assert gateway_device.sw_version == "17"
    assert lock.config_subentry_id == (
        next(s for s in loaded_entry.subentries.values() if s.title == "Front door").subentry_id
    )


async def test_removing_a_lock_removes_its_device(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    subentry = next(s for s in loaded_entry.subentries.values() if s.title == "Front door")
    hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"thekeys-lock-{FRONT_DOOR}"), loaded_entry.entry_id
    )
    assert device is None
    assert hass.states.get("lock.front_door") is None
    assert hass.states.get("lock.back_door").state == "locked"


async def test_maintenance_buttons(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    await _press(hass, "button.front_door_update_firmware")
    # The update reboots the lock; the refresh after the press shows that honestly.
    assert hass.states.get("lock.front_door").state == STATE_UNKNOWN
    await _press(hass, "button.front_door_synchronize")
    await _press(hass, _gateway_entity(loaded_entry, "button", "synchronize"))
    await _press(hass, _gateway_entity(loaded_entry, "button", "update"))
    for path in ("/locker/synchronize", "/locker/update", "/synchronize", "/update"):
        assert gateway.count(path) == 1


@pytest.mark.parametrize(
    ("button", "setup", "translation_key"),
    [
        ("button.front_door_synchronize", {"in_range": False}, "thekeys_sync_lock_not_seen"),
        ("button.front_door_update_firmware", {"update_error": 1}, "thekeys_invalid_firmware"),
        ("gateway:update", {"update_error": 2}, "thekeys_firmware_unavailable"),
        ("gateway:synchronize", {"busy": 10}, "thekeys_busy"),
    ],
)
async def test_failed_maintenance_is_explained(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    button: str,
    setup: dict[str, object],
    translation_key: str,
) -> None:
    for field, value in setup.items():
        if field == "busy":
            gateway.set_busy(float(value))  # type: ignore[arg-type]
        elif field == "update_error":
            gateway.update_error = int(value)  # type: ignore[call-overload]
        else:
            setattr(gateway.locks[FRONT_DOOR], field, value)
    if button.startswith("gateway:"):
        button = _gateway_entity(loaded_entry, "button", button.split(":")[1])
    with pytest.raises(HomeAssistantError) as err:
        await _press(hass, button)
    assert err.value.translation_key == translation_key


async def test_diagnostics_hide_share_codes(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = str(diagnostics)
    assert FRONT_CODE not in text
    assert BACK_CODE not in text
    assert diagnostics["entry"]["subentries"][0]["data"] == {
        "identifier": FRONT_DOOR,
        "share_code": "**REDACTED**",
    }
    assert diagnostics["snapshot"]["locks"][str(FRONT_DOOR)]["state"] == 0x31
    assert diagnostics["snapshot"]["status"]["version"] == "17"
    assert diagnostics["last_update_success"] is True


def _reported(hass: HomeAssistant, entity_ids: list[str]) -> dict[str, object]:
    return {entity_id: hass.states.get(entity_id).last_reported for entity_id in entity_ids}


async def test_states_are_written_only_when_they_change(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    """A poll that reads nothing new writes no state; a command writes its lock's only."""
    front = ["lock.front_door", "sensor.front_door_bolt"]
    others = [
        "sensor.front_door_battery",
        "lock.back_door",
        "sensor.back_door_bolt",
        "sensor.back_door_battery",
        _gateway_entity(loaded_entry, "sensor", "current_status"),
    ]
    before = _reported(hass, front + others)
    await loaded_entry.runtime_data.async_refresh()
    assert _reported(hass, front + others) == before
    await hass.services.async_call(
        "lock", "unlock", {ATTR_ENTITY_ID: "lock.front_door"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.front_door_bolt").state == "open"
    after = _reported(hass, front + others)
    assert all(after[entity_id] != before[entity_id] for entity_id in front)
    assert all(after[entity_id] == before[entity_id] for entity_id in others)
    gateway.locks[FRONT_DOOR].battery = 4000
    await loaded_entry.runtime_data.async_refresh()
    assert hass.states.get("sensor.front_door_battery").state == "5"
