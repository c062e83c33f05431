"""Config flow of The Keys: the gateway, its locks as subentries, reconfiguration."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from simulators.thekeys import TheKeysGatewaySimulator
from tests.clock import Clock

from .conftest import BACK_CODE, BACK_DOOR, FRONT_CODE, FRONT_DOOR


async def _gateway_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "thekeys" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys"}
    )
    assert result["type"] is FlowResultType.MENU  # sign in with an account, or an address
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_gateway"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "thekeys_gateway"
    return result["flow_id"]


async def test_add_gateway(hass: HomeAssistant, gateway: TheKeysGatewaySimulator) -> None:
    flow_id = await _gateway_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": f" http://{gateway.address}/status "}
    )
    # The flow goes straight on to the gateway's first lock.
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "thekeys_gateway_lock"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "The Keys gateway"
    assert result["data"] == {"vendor": "thekeys", "host": gateway.address}
    assert result["result"].unique_id == gateway.address
    # Set up with its first lock: the gateway device, its entities and the lock are there.
    await hass.async_block_till_done()
    assert hass.states.get("sensor.the_keys_gateway_status")
    assert hass.states.get(f"lock.lock_{FRONT_DOOR}")


async def test_wrong_host_then_right_host(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    flow_id = await _gateway_form(hass)
    await gateway.stop()
    result = await hass.config_entries.flow.async_configure(flow_id, {"host": gateway.address})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    await gateway.start()
    result = await hass.config_entries.flow.async_configure(flow_id, {"host": gateway.address})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "thekeys_gateway_lock"


async def test_something_else_at_the_address(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    flow_id = await _gateway_form(hass)
    gateway.inject_fault("http_error")
    result = await hass.config_entries.flow.async_configure(flow_id, {"host": gateway.address})
    assert result["errors"] == {"base": "malformed_reply"}


async def test_gateway_only_once(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    flow_id = await _gateway_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {"host": gateway.address})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def _lock_form(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "thekeys_lock"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return result["flow_id"]


@pytest.fixture
def bare_entry(gateway: TheKeysGatewaySimulator) -> MockConfigEntry:
    """A gateway entry without locks."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title="The Keys gateway",
        data={"vendor": "thekeys", "host": gateway.address},
        unique_id=gateway.address,
    )


async def test_add_lock_validates_live_and_reloads(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, bare_entry: MockConfigEntry
) -> None:
    bare_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(bare_entry.entry_id)
    await hass.async_block_till_done()
    flow_id = await _lock_form(hass, bare_entry)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE, "name": "Front door"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    subentry = next(iter(bare_entry.subentries.values()))
    assert subentry.title == "Front door"
    assert subentry.unique_id == str(FRONT_DOOR)
    assert subentry.data == {"identifier": FRONT_DOOR, "share_code": FRONT_CODE}
    assert gateway.count("/locker_status") >= 2  # validated, then polled after the reload
    assert hass.states.get("lock.front_door").state == "locked"


async def test_lock_name_defaults_to_identifier(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, bare_entry: MockConfigEntry
) -> None:
    bare_entry.add_to_hass(hass)
    flow_id = await _lock_form(hass, bare_entry)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(BACK_DOOR), "share_code": BACK_CODE}
    )
    assert result["title"] == f"Lock {BACK_DOOR}"


@pytest.mark.parametrize(
    ("setup", "user_input", "error"),
    [
        ({}, {"identifier": "12345", "share_code": FRONT_CODE}, {"base": "not_seen"}),
        ({"in_range": False}, {}, {"base": "not_seen"}),
        ({}, {"share_code": "wrong code"}, {"base": "invalid_share_code"}),
        ({"share_code": None}, {}, {"base": "not_shared"}),
        ({"compatible": False}, {}, {"base": "not_compatible"}),
        ({"refuses_key": True}, {}, {"base": "invalid_key"}),
        ({"connection_fails": True}, {}, {"base": "lock_unreachable"}),
        ({}, {"identifier": "front"}, {"identifier": "invalid_identifier"}),
    ],
)
async def test_add_lock_errors(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    bare_entry: MockConfigEntry,
    setup: dict[str, object],
    user_input: dict[str, str],
    error: dict[str, str],
) -> None:
    bare_entry.add_to_hass(hass)
    for field, value in setup.items():
        setattr(gateway.locks[FRONT_DOOR], field, value)
    flow_id = await _lock_form(hass, bare_entry)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE} | user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error
    assert not bare_entry.subentries
    # The user fixes it (a fresh share, lock in range...) and the same form goes through.
    gateway.add_lock(FRONT_DOOR, FRONT_CODE)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_add_lock_gateway_gone(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, bare_entry: MockConfigEntry
) -> None:
    bare_entry.add_to_hass(hass)
    flow_id = await _lock_form(hass, bare_entry)
    await gateway.stop()
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_add_lock_gateway_busy(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, bare_entry: MockConfigEntry
) -> None:
    bare_entry.add_to_hass(hass)
    flow_id = await _lock_form(hass, bare_entry)
    gateway.set_busy(30)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["errors"] == {"base": "busy"}


async def test_add_lock_unexplained_status(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, bare_entry: MockConfigEntry
) -> None:
    bare_entry.add_to_hass(hass)
    flow_id = await _lock_form(hass, bare_entry)
    gateway.locks[FRONT_DOOR].needs_sync = True
    gateway.locks[FRONT_DOOR].compatible = True
    gateway.sync_invalid_data = True
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["errors"] == {"base": "unknown"}


async def test_lock_only_once(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    flow_id = await _lock_form(hass, entry)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_gateway_host(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    clock: Clock,
) -> None:
    moved = TheKeysGatewaySimulator(clock=clock.time, sleep=clock.sleep)
    moved.add_lock(FRONT_DOOR, FRONT_CODE)
    moved.add_lock(BACK_DOOR, BACK_CODE)
    await moved.start()
    try:
        result = await loaded_entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "thekeys_reconfigure"
        await gateway.stop()
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1:9"}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": moved.address}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert loaded_entry.data["host"] == moved.address
        assert loaded_entry.unique_id == moved.address
        assert len(loaded_entry.subentries) == 2  # the locks and their codes are kept
        assert hass.states.get("lock.front_door").state == "locked"
        assert moved.count("/locker_status") >= 2
    finally:
        await hass.config_entries.async_unload(loaded_entry.entry_id)
        await moved.stop()


async def test_reconfigure_to_another_configured_gateway(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    other = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        data={"vendor": "thekeys", "host": "10.0.0.2"},
        unique_id="10.0.0.2",
    )
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"host": "10.0.0.2"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_lock_share_code(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, loaded_entry: MockConfigEntry
) -> None:
    subentry = next(s for s in loaded_entry.subentries.values() if s.title == "Front door")
    gateway.locks[FRONT_DOOR].share_code = "NewShareCode0001"
    result = await loaded_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"share_code": "still wrong"}
    )
    assert result["errors"] == {"base": "invalid_share_code"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"share_code": "NewShareCode0001"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert loaded_entry.subentries[subentry.subentry_id].data["share_code"] == "NewShareCode0001"
    await loaded_entry.runtime_data.async_refresh()  # the reloaded entry signs with the new code
    assert hass.states.get("lock.front_door").state == "locked"
