"""A gateway entry through its life: stored by the previous version, shared, hooks, unloaded."""

from __future__ import annotations

import dataclasses
from unittest.mock import AsyncMock, patch

from homeassistant.components.lock import LockState
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors import VENDORS
from custom_components.multilock.vendors.thekeys.gateways import SHARED_GATEWAYS
from simulators.thekeys import TheKeysGatewaySimulator

from .conftest import BACK_CODE, BACK_DOOR, FRONT_CODE, FRONT_DOOR


def _version_1_entry(gateway: TheKeysGatewaySimulator) -> MockConfigEntry:
    """The entry exactly as multilock 0.1.0 (config entry version 1.1) stored it."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=1,
        minor_version=1,
        title=f"The Keys gateway {gateway.address}",
        data={"vendor": "thekeys", "host": gateway.address},
        unique_id=gateway.address,
        subentries_data=[
            ConfigSubentryData(
                data={"identifier": identifier, "share_code": code},
                subentry_type="lock",
                title=title,
                unique_id=str(identifier),
            )
            for identifier, code, title in (
                (FRONT_DOOR, FRONT_CODE, "Front door"),
                (BACK_DOOR, BACK_CODE, "Back door"),
            )
        ],
    )


async def test_an_entry_of_version_1_keeps_every_lock_and_code(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    entry = _version_1_entry(gateway)
    entry.add_to_hass(hass)
    # The front door's device and lock as 0.1.0 registered them, placed and renamed by the user.
    old_front = next(s for s in entry.subentries.values() if s.unique_id == str(FRONT_DOOR))
    device = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        config_subentry_id=old_front.subentry_id,
        identifiers={(DOMAIN, f"thekeys-lock-{FRONT_DOOR}")},
        name="Front door",
    )
    device_registry.async_update_device(device.id, area_id="hall")
    lock = entity_registry.async_get_or_create(
        "lock",
        DOMAIN,
        f"thekeys-lock-{FRONT_DOOR}-lock",
        config_entry=entry,
        config_subentry_id=old_front.subentry_id,
        device_id=device.id,
        suggested_object_id="front_door",
    )
    entity_registry.async_update_entity(lock.entity_id, name="Main door")

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.version == 2
    assert {s.subentry_type for s in entry.subentries.values()} == {"thekeys_lock"}
    codes = {s.data["identifier"]: s.data["share_code"] for s in entry.subentries.values()}
    assert codes == {FRONT_DOOR: FRONT_CODE, BACK_DOOR: BACK_CODE}
    titles = {s.unique_id: s.title for s in entry.subentries.values()}
    assert titles == {str(FRONT_DOOR): "Front door", str(BACK_DOOR): "Back door"}
    # The device and the entity the user had are the same ones, in the new subentry.
    front = next(s for s in entry.subentries.values() if s.unique_id == str(FRONT_DOOR))
    kept = device_registry.async_get(device.id)
    assert kept is not None
    assert (kept.area_id, kept.config_subentry_id) == ("hall", front.subentry_id)
    kept_lock = entity_registry.async_get(lock.entity_id)
    assert kept_lock is not None
    assert (kept_lock.name, kept_lock.device_id) == ("Main door", device.id)
    assert kept_lock.config_subentry_id == front.subentry_id
    assert len(dr.async_entries_for_config_entry(device_registry, entry.entry_id)) == 3

    assert hass.states.get(lock.entity_id).state == LockState.LOCKED
    assert hass.states.get("lock.back_door").state == LockState.LOCKED
    await hass.services.async_call("lock", "unlock", {"entity_id": lock.entity_id}, blocking=True)
    assert hass.states.get(lock.entity_id).state == LockState.UNLOCKED
    assert gateway.locks[FRONT_DOOR].state == 0x32
    # The locks can still be configured: their subentry flows are found by the new type.
    result = await entry.start_subentry_reconfigure_flow(hass, front.subentry_id)
    assert result["type"] is FlowResultType.FORM


async def test_an_entry_of_a_newer_version_is_left_alone(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=3,
        title="From a newer multilock",
        data={"vendor": "thekeys", "host": gateway.address},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_two_entries_share_one_client_released_with_the_last(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    """One gateway reached by two entries: one client, owned by them, gone after both."""
    other = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title="Same gateway again",
        data={"vendor": "thekeys", "host": gateway.address},
        unique_id="another",
    )
    for each in (entry, other):
        each.add_to_hass(hass)
        assert await hass.config_entries.async_setup(each.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.gateway is other.runtime_data.gateway
    assert list(hass.data[SHARED_GATEWAYS]) == [gateway.address]

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert other.runtime_data.gateway is hass.data[SHARED_GATEWAYS][gateway.address].client
    assert await hass.config_entries.async_unload(other.entry_id)
    assert SHARED_GATEWAYS not in hass.data


async def test_a_config_flow_leaves_no_client_behind(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    for port in (9, 19, 29):  # nothing listens there
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "thekeys"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "thekeys_gateway"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": f"127.0.0.1:{port}"}
        )
        assert result["errors"] == {"base": "cannot_connect"}
    assert SHARED_GATEWAYS not in hass.data


async def test_a_gateway_that_fails_to_set_up_releases_its_client(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    await gateway.stop()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert SHARED_GATEWAYS not in hass.data


async def test_the_vendor_hears_of_subentries_added_and_removed(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    added, removed = AsyncMock(), AsyncMock()
    spec = dataclasses.replace(VENDORS["thekeys"], subentry_added=added, subentry_removed=removed)
    front = next(s for s in loaded_entry.subentries.values() if s.title == "Front door")
    with patch.dict(VENDORS, {"thekeys": spec}):
        # The entry was set up with the registered spec: reload it with the patched one.
        assert await hass.config_entries.async_reload(loaded_entry.entry_id)
        await hass.async_block_till_done()
        hass.config_entries.async_remove_subentry(loaded_entry, front.subentry_id)
        await hass.async_block_till_done()
    removed.assert_awaited_once()
    assert removed.await_args is not None
    assert removed.await_args.args[2].subentry_id == front.subentry_id
    added.assert_not_awaited()
    assert hass.states.get("lock.front_door") is None
    assert hass.states.get("lock.back_door").state == LockState.LOCKED


async def test_a_second_gateway_gets_its_own_name(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    """Two gateways are told apart in the UI (the name carries no address)."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, title="The Keys gateway")
    other = TheKeysGatewaySimulator()
    other.add_lock(45961200, "GardenGateCode01")
    await other.start()
    try:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        for answer in ({"next_step_id": "thekeys"}, {"next_step_id": "thekeys_gateway"}):
            result = await hass.config_entries.flow.async_configure(result["flow_id"], answer)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": other.address}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"identifier": "45961200", "share_code": "GardenGateCode01"}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "The Keys gateway 2"
        await hass.async_block_till_done()
    finally:
        await other.stop()
