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

from .conftest import FRONT, KEYS_IN_USE, LOCATION, SECOND_SERIAL, make_entry, old_keys, set_up


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


def _held(sim: TwoNDeviceSimulator) -> list[str | None]:
    return [slot.key_b64 if slot else None for slot in sim.mobile_keys]


async def test_a_failed_rotation_is_undone_and_says_what_the_device_holds(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    """Written twice, it fails half-way twice: what it held before is written back."""
    keys = old_keys(4)
    device.set_keys(keys)
    entry = await set_up(hass, make_entry(device))
    device.inject_fault("mobilekey/config", "put_partial_error", times=2, keys_written=2)
    with pytest.raises(HomeAssistantError, match="did not keep the mobile keys") as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert caught.value.translation_key == "two_n_keys_restored"
    assert "so nothing was lost: it holds location '54-1046-0745', slot 1: rsa key" in str(
        caught.value
    )
    assert _held(device) == [key.key_b64 for key in keys]
    # The new key was kept before it was sent, and stays kept until a write is verified.
    assert len(entry.data["mobile_key_store"]) == 1
    _no_key_material({"error": str(caught.value)}, *keys)


async def test_a_refused_new_key_does_not_cost_the_oldest(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    """Four keys, the new one silently refused: the device would hold [empty, k1, k2, k3]."""
    keys = old_keys(4)
    device.set_keys(keys)
    await set_up(hass, make_entry(device))
    device.inject_fault("mobilekey/config", "put_refuse_new")
    with pytest.raises(HomeAssistantError) as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert _held(device) == [key.key_b64 for key in keys]
    assert caught.value.translation_key == "two_n_keys_restored"
    assert "nothing was lost" in str(caught.value)
    assert hass.states.get(KEYS_IN_USE).state == "4"


async def test_a_rotation_kept_in_part_keeps_the_primary_key(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    """The device answers success but kept only the new key: the previous primary (the one
    phones use today) was overwritten. It is written back."""
    keys = old_keys(3)
    device.set_keys(keys)
    await set_up(hass, make_entry(device))
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
    with pytest.raises(HomeAssistantError) as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert _held(device) == [*(key.key_b64 for key in keys), None]
    assert "nothing was lost" in str(caught.value)


async def test_a_repair_that_does_not_take_says_what_is_gone(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    device.set_keys(keys)
    entry = await set_up(hass, make_entry(device))
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=2)
    device.inject_fault("mobilekey/config", "put_refuse_new")
    with pytest.raises(HomeAssistantError, match="written back either") as caught:
        await _act(hass, "rotate_mobile_key", {"device_id": _device_id(hass, device)})
    assert caught.value.translation_key == "two_n_key_mismatch"
    assert "no longer on it: the rsa key in slot 2" in str(caught.value)
    assert hass.states.get(KEYS_IN_USE).state == "1"  # what it holds, read back
    assert _held(device) == [keys[0].key_b64, None, None, None]
    assert len(entry.data["mobile_key_store"]) == 1  # the new key, kept


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
    assert result["before"]["location"] == device.info["serialNumber"]
    assert result["before"]["keys"] == result["keys"]
    _no_key_material(response, *keys)
    assert hass.states.get(LOCATION).state == "Main entrance"
    with pytest.raises(vol.Invalid):
        await _act(hass, "set_mobile_key_location", {"device_id": device_id, "location": "x" * 128})
    assert device.count("mobilekey/config", "PUT") == 1
    # A device that answers success and keeps nothing: told, and it holds what it held.
    device.inject_fault("mobilekey/config", "put_ignored")
    with pytest.raises(HomeAssistantError, match="nothing was lost") as caught:
        await _act(hass, "set_mobile_key_location", {"device_id": device_id, "location": "B"})
    assert caught.value.translation_key == "two_n_keys_restored"
    assert device.location == "Main entrance"


async def test_copy_between_devices(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(3)
    device.set_keys(keys)
    device.location = "Site A"
    destination_keys = old_keys(1)
    second_device.set_keys(destination_keys)
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
    # What the destination held before: its location and its key, by fingerprint.
    assert result["before"]["location"] == second_device.info["serialNumber"]
    assert [key["slot"] for key in result["before"]["keys"]] == [1]
    assert result["before"]["keys"][0]["fingerprint"] not in {
        key["fingerprint"] for key in result["keys"]
    }
    assert [key["fingerprint"] for key in result["keys"]] == [
        key["fingerprint"] for key in response["source"]["keys"]
    ]
    assert [slot.key_b64 if slot else None for slot in second_device.mobile_keys] == [
        *(key.key_b64 for key in keys),
        None,
    ]
    _no_key_material(response, *keys, *destination_keys)
    # The target keeps the private halves it was given, for its own rotations.
    assert set(second.data["mobile_key_store"]) == {key["fingerprint"] for key in result["keys"]}


async def test_copying_a_device_without_keys_is_refused(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    """A new or reset source (no key, its serial number as location) would empty the others."""
    keys = old_keys(2)
    second_device.set_keys(keys)
    second_device.location = "Site A"
    await set_up(hass, make_entry(device))
    await set_up(hass, make_entry(second_device))
    with pytest.raises(ServiceValidationError, match="holds no mobile key") as caught:
        await _act(
            hass,
            "copy_mobile_keys",
            {"source": _device_id(hass, device), "device_id": _device_id(hass, second_device)},
        )
    assert caught.value.translation_key == "two_n_copy_source_empty"
    assert second_device.count("mobilekey/config", "PUT") == 0
    assert _held(second_device) == [*(key.key_b64 for key in keys), None, None]
    assert second_device.location == "Site A"


async def test_a_copy_the_destination_did_not_keep_is_undone(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    device.set_keys(old_keys(3))
    destination_keys = old_keys(2)
    second_device.set_keys(destination_keys)
    await set_up(hass, make_entry(device))
    await set_up(hass, make_entry(second_device))
    second_device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
    with pytest.raises(HomeAssistantError) as caught:
        await _act(
            hass,
            "copy_mobile_keys",
            {"source": _device_id(hass, device), "device_id": _device_id(hass, second_device)},
        )
    assert _held(second_device) == [*(key.key_b64 for key in destination_keys), None, None]
    assert second_device.location == SECOND_SERIAL
    assert caught.value.translation_placeholders["name"] == "2N Access Unit"
    assert "nothing was lost" in str(caught.value)


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
