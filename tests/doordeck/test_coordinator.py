"""The Doordeck coordinator: cheap polls, dynamic and stale devices, key renewal, repairs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from homeassistant.components.lock import LockState
from homeassistant.components.repairs import DOMAIN as REPAIRS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.binary_sensor import MultilockBinarySensor
from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck.client import (
    DoordeckClient,
    DoordeckConnectionError,
)
from custom_components.multilock.vendors.doordeck.const import key_renewal_issue_id
from custom_components.multilock.vendors.doordeck.descriptions import LOCK_BINARY_SENSORS

from .conftest import BACK, DAY, EMAIL, FRONT, TITLE, Cloud, coordinator_of

EXPIRY = "sensor.doordeck_o_example_com_signing_key_expiry"


@pytest.mark.real_clock  # end to end on the real clock
async def test_a_poll_reads_details_only_where_needed(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """Sites, one listing per site, and the details of the lock that reports its state."""
    before = len(cloud.sim.requests)
    await coordinator_of(loaded_entry).async_refresh()
    paths = [r.path for r in cloud.sim.requests[before:]]
    assert paths[:3] == [
        "/site",
        f"/site/{cloud.front.site_id}/device",
        f"/device/{cloud.front.id}",
    ]
    # Then each lock's audit trail (who opened: test_audit.py).
    assert sorted(paths[3:]) == sorted(
        f"/device/{lock.id}/log" for lock in (cloud.front, cloud.back)
    )


async def test_new_and_removed_locks(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    office = cloud.sim.add_site("Office")
    side = cloud.sim.add_lock(office.id, "Side door", access={cloud.owner.id: "ADMIN"})
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("lock.side_door").state == LockState.LOCKED
    assert hass.states.get("binary_sensor.side_door_connectivity") is not None
    devices = dr.async_get(hass)
    side_key = coordinator.lock_device_key(side.id)
    assert (
        devices.async_get_device_by_identifier((DOMAIN, side_key), loaded_entry.entry_id)
        is not None
    )

    await hass.services.async_call("lock", "unlock", {"entity_id": "lock.side_door"}, blocking=True)
    cloud.sim.remove_lock(side.id)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert devices.async_get_device_by_identifier((DOMAIN, side_key), loaded_entry.entry_id) is None
    assert er.async_get(hass).async_get("lock.side_door") is None
    assert hass.states.get("lock.side_door") is None
    assert side.id not in coordinator._unlock_timers  # forgotten with the lock
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_stale_devices_are_removed_at_start(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    devices = dr.async_get(hass)
    stale = devices.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, f"doordeck-{cloud.owner.id}-lock-gone")},
        name="Old gate",
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert devices.async_get(stale.id) is None


async def test_doordeck_unreachable_then_back(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    port = int(cloud.sim.url.rsplit(":", 1)[1])
    await cloud.sim.stop()
    await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED  # one failed poll: kept
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.front_door_connectivity").state == STATE_UNAVAILABLE
    await cloud.sim.start(port=port)
    await coordinator.async_refresh()
    assert hass.states.get(FRONT).state == LockState.LOCKED


async def test_a_lock_unknown_to_the_coordinator(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    with pytest.raises(ServiceValidationError) as err:
        await coordinator.async_unlock(coordinator.lock_device_key("gone"))
    assert err.value.translation_key == "doordeck_lock_gone"


async def test_a_sensor_that_does_not_show_the_problem_follows_the_device(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    cloud.front.connected = False
    await coordinator.async_refresh()
    device = coordinator.devices[coordinator.lock_device_key(cloud.front.id)]
    plain = replace(LOCK_BINARY_SENSORS[0], shows_device_problem=False)
    assert not MultilockBinarySensor(coordinator, device, plain).available
    assert MultilockBinarySensor(coordinator, device, LOCK_BINARY_SENSORS[0]).available


@pytest.mark.parametrize("leaf_ttl", [6 * DAY])
async def test_key_renewed_when_7_days_are_left(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    old_key = entry.data["credentials"]["private_key"]
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 2
    assert entry.data["credentials"]["private_key"] != old_key
    coordinator = coordinator_of(entry)
    assert hass.states.get(EXPIRY).state == coordinator.client.certificate_expiry.isoformat()
    # The new key signs the operations.
    await hass.services.async_call("lock", "unlock", {"entity_id": BACK}, blocking=True)
    assert hass.states.get(BACK).state == LockState.UNLOCKED
    # Doordeck still issues short certificates: not renewed again on every poll.
    await coordinator.async_refresh()
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 2


@pytest.mark.parametrize("leaf_ttl", [6 * DAY])
async def test_renewal_failure_is_retried_later(
    hass: HomeAssistant,
    cloud: Cloud,
    entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[None] = []

    async def fail(client: DoordeckClient) -> None:
        attempts.append(None)
        raise DoordeckConnectionError("Cannot reach Doordeck: test")

    monkeypatch.setattr(DoordeckClient, "renew_key", fail)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert "Could not renew the Doordeck signing key" in caplog.text
    await coordinator_of(entry).async_refresh()
    assert len(attempts) == 1


async def _fix_flows(hass: HomeAssistant) -> Any:
    assert await async_setup_component(hass, REPAIRS, {})
    return hass.data[REPAIRS]["flow_manager"]


@pytest.mark.parametrize("leaf_ttl", [6 * DAY])
async def test_renewal_with_a_second_factor_goes_through_repairs(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    cloud.owner.second_factor = True
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = key_renewal_issue_id(entry.entry_id)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "doordeck_key_renewal"
    assert issue.translation_placeholders["account"] == TITLE
    # Meanwhile the current key still works.
    await hass.services.async_call("lock", "unlock", {"entity_id": BACK}, blocking=True)

    # A restart keeps waiting for the second factor instead of registering yet another key.
    certificates = cloud.sim.count("/auth/certificate")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert cloud.sim.count("/auth/certificate") == certificates
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    old_expiry = coordinator_of(entry).client.certificate_expiry
    old_key = entry.data["credentials"]["private_key"]
    cloud.sim.leaf_ttl = 30 * DAY

    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "method"
    assert result["description_placeholders"]["account"] == TITLE
    cloud.sim.rate_limited = True
    result = await flows.async_configure(result["flow_id"], {"method": "email"})
    assert result["errors"] == {"base": "rate_limited"}
    cloud.sim.rate_limited = False
    result = await flows.async_configure(result["flow_id"], {"method": "email"})
    assert result["step_id"] == "code"
    code = cloud.sim.sent_codes(EMAIL)[-1]
    wrong = "000000" if code != "000000" else "111111"
    result = await flows.async_configure(result["flow_id"], {"code": wrong})
    assert result["errors"] == {"base": "invalid_code"}
    result = await flows.async_configure(result["flow_id"], {"code": code})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 2
    assert entry.data["credentials"]["pending_private_key"] is None
    assert entry.data["credentials"]["private_key"] != old_key
    coordinator = coordinator_of(entry)
    assert coordinator.client.certificate_expiry > old_expiry
    assert hass.states.get(EXPIRY).state == coordinator.client.certificate_expiry.isoformat()
    await hass.services.async_call("lock", "unlock", {"entity_id": FRONT}, blocking=True)
    assert hass.states.get(FRONT).state == LockState.UNLOCKED


@pytest.mark.parametrize("leaf_ttl", [6 * DAY])
async def test_fix_flow_of_an_unloaded_account(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    cloud.owner.second_factor = True
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = key_renewal_issue_id(entry.entry_id)
    flows = await _fix_flows(hass)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    result = await flows.async_configure(result["flow_id"], {"method": "sms"})
    assert result["step_id"] == "code"
    assert await hass.config_entries.async_unload(entry.entry_id)
    result = await flows.async_configure(result["flow_id"], {"code": "123456"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


async def test_unload(hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(FRONT).state == STATE_UNAVAILABLE
    # The actions stay registered (async_setup), for every entry.
    assert hass.services.has_service(DOMAIN, "share_lock")
