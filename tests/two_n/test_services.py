"""2N actions: rotate the mobile key, set the location, copy keys between devices."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.compat import vol
from custom_components.multilock.const import DOMAIN
from simulators.two_n import MobileKey, TwoNDeviceSimulator

from .conftest import FRONT, KEYS_IN_USE, LOCATION, make_entry, old_keys, set_up


def _device_id(hass: HomeAssistant, sim: TwoNDeviceSimulator) -> str:
    serial = sim.info["serialNumber"]
    (entry,) = (
        entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.unique_id == serial
    )
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, serial), entry.entry_id)
    assert device is not None
    return device.id


async def _act(hass: HomeAssistant, action: str, data: dict[str, Any]) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def _no_key_material(response: dict[str, Any], *keys: MobileKey | str) -> None:
    text = json.dumps(response)
    for key in keys:
        material = key if isinstance(key, str) else key.key_b64
        assert material[:24] not in text


async def test_rotate_by_device(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    keys = old_keys(4)
    device.set_keys(keys)
    entry = await set_up(hass, make_entry(device))
    device_id = _device_id(hass, device)
    response = await _act(hass, "rotate_mobile_key", {"device_id": device_id})
    (result,) = response["devices"]
    assert result["device_id"] == device_id
    assert result["name"] == "2N IP Verso"
    assert result["location"] == device.info["serialNumber"]
    assert [key["slot"] for key in result["keys"]] == [1, 2, 3, 4]
    assert result["new_key"] == result["keys"][0]
    assert [key["created"] for key in result["dropped"]] == [
        result["dropped"][0]["created"]
    ]  # the oldest of the four
    assert len(result["new_key"]["fingerprint"]) == 64
    stored = entry.data["mobile_key_store"]
    assert list(stored) == [result["new_key"]["fingerprint"]]
    _no_key_material(response, *keys, *stored.values())
    assert hass.states.get(KEYS_IN_USE).state == "4"
    # The key Home Assistant wrote is on the device.
    assert device.mobile_keys[0] is not None
    assert device.mobile_keys[0].key_b64 == stored[result["new_key"]["fingerprint"]]


async def test_rotate_by_entity_without_response(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    await set_up(hass, make_entry(device))
    response = await hass.services.async_call(
        DOMAIN, "rotate_mobile_key", {"entity_id": FRONT}, blocking=True
    )
    assert response is None
    assert hass.states.get(KEYS_IN_USE).state == "1"


@pytest.mark.parametrize("sim_options", [{"key_field": "publicKey"}])
async def test_rotating_twice_on_firmware_that_hides_private_keys(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = await set_up(hass, make_entry(device))
    device_id = _device_id(hass, device)
    first = (await _act(hass, "rotate_mobile_key", {"device_id": device_id}))["devices"][0]
    second = (await _act(hass, "rotate_mobile_key", {"device_id": device_id}))["devices"][0]
    assert [key["fingerprint"] for key in second["keys"]] == [
        second["new_key"]["fingerprint"],
        first["new_key"]["fingerprint"],
    ]
    assert set(entry.data["mobile_key_store"]) == {key["fingerprint"] for key in second["keys"]}


@pytest.mark.parametrize("sim_options", [{"key_field": "publicKey"}])
async def test_a_key_nobody_knows_is_not_deleted(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_keys(old_keys(1))
    entry = await set_up(hass, make_entry(device))
    with pytest.raises(HomeAssistantError, match="only the public half") as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert caught.value.translation_key == "two_n_key_material_missing"
    assert device.count("mobilekey/config", "PUT") == 0
    assert "mobile_key_store" not in entry.data


async def test_a_failed_rotation_says_what_the_device_holds(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_keys(old_keys(4))
    entry = await set_up(hass, make_entry(device))
    device.inject_fault("mobilekey/config", "put_partial_error", times=2, keys_written=2)
    with pytest.raises(HomeAssistantError, match="did not keep the mobile keys") as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert "It now holds slot 1: rsa key" in str(caught.value)
    # The new key was kept before it was sent: the device holds it.
    (stored,) = entry.data["mobile_key_store"].values()
    assert device.mobile_keys[0] is not None
    assert device.mobile_keys[0].key_b64 == stored


async def test_set_location(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    keys = old_keys(2)
    device.set_keys(keys)
    await set_up(hass, make_entry(device))
    device_id = _device_id(hass, device)
    response = await _act(
        hass, "set_mobile_key_location", {"device_id": device_id, "location": "Main entrance"}
    )
    (result,) = response["devices"]
    assert result["location"] == device.location == "Main entrance"
    assert len(result["keys"]) == 2
    _no_key_material(response, *keys)
    assert hass.states.get(LOCATION).state == "Main entrance"
    with pytest.raises(vol.Invalid):
        await _act(hass, "set_mobile_key_location", {"device_id": device_id, "location": "x" * 128})
    assert device.count("mobilekey/config", "PUT") == 1


async def test_copy_between_devices(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(3)
    device.set_keys(keys)
    device.location = "Site A"
    second_device.set_keys(old_keys(1))
    await set_up(hass, make_entry(device))
    second = await set_up(hass, make_entry(second_device))
    source, target = _device_id(hass, device), _device_id(hass, second_device)
    response = await _act(
        hass, "copy_mobile_keys", {"source": source, "device_id": [source, target]}
    )
    assert response["source"]["device_id"] == source
    assert response["source"]["location"] == "Site A"
    (result,) = response["devices"]
    assert result["device_id"] == target
    assert result["location"] == second_device.location == "Site A"
    assert [key["fingerprint"] for key in result["keys"]] == [
        key["fingerprint"] for key in response["source"]["keys"]
    ]
    assert [slot.key_b64 if slot else None for slot in second_device.mobile_keys] == [
        *(key.key_b64 for key in keys),
        None,
    ]
    _no_key_material(response, *keys)
    # The target keeps the private halves it was given, for its own rotations.
    assert set(second.data["mobile_key_store"]) == {key["fingerprint"] for key in result["keys"]}


async def test_copy_needs_another_device(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    await set_up(hass, make_entry(device))
    source = _device_id(hass, device)
    with pytest.raises(ServiceValidationError) as caught:
        await _act(hass, "copy_mobile_keys", {"source": source, "device_id": source})
    assert caught.value.translation_key == "two_n_copy_needs_targets"


async def test_one_device_failing_does_not_stop_the_others(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    await set_up(hass, make_entry(device))
    await set_up(hass, make_entry(second_device))
    second_device.inject_fault("mobilekey/config", "error_envelope", times=None)
    with pytest.raises(HomeAssistantError, match="Done on: 2N IP Verso") as caught:
        await _act(
            hass,
            "rotate_mobile_key",
            {"device_id": [_device_id(hass, device), _device_id(hass, second_device)]},
        )
    assert caught.value.translation_key == "two_n_partly_failed"
    assert "2N Access Unit" in str(caught.value)
    assert device.mobile_keys[0] is not None


async def test_targets_that_are_not_2n_devices(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = await set_up(hass, make_entry(device))
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "1")}, name="Other device"
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"device_id": foreign.id}, "two_n_not_a_device"),
        ({"entity_id": "sensor.nothing"}, "two_n_not_a_device"),
        ({"area_id": "nowhere"}, "two_n_no_device_targeted"),
    ]
    for data, key in cases:
        with pytest.raises(ServiceValidationError) as caught:
            await _act(hass, "rotate_mobile_key", data)
        assert caught.value.translation_key == key
    device_id = _device_id(hass, device)
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": device_id})
    assert caught.value.translation_key == "two_n_not_loaded"
    assert device.count("mobilekey/config", "PUT") == 0


async def test_copy_from_a_device_whose_private_keys_nobody_knows(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    device.key_field = "publicKey"
    device.set_keys(old_keys(1))
    await set_up(hass, make_entry(device))
    await set_up(hass, make_entry(second_device))
    with pytest.raises(HomeAssistantError, match="only the public half"):
        await _act(
            hass,
            "copy_mobile_keys",
            {"source": _device_id(hass, device), "device_id": _device_id(hass, second_device)},
        )
    assert second_device.count("mobilekey/config", "PUT") == 0
