"""Config flow of 2N: set-up, DHCP discovery, reauthentication and reconfiguration."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.two_n.flow import _with_address
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER, TwoNDeviceSimulator

from .conftest import FRONT, LOCATION, TITLE, host_of, make_entry, set_up


def _settings(sim: TwoNDeviceSimulator, **changes: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "host": host_of(sim),
        "protocol": sim.protocol,
        "auth": sim.auth,
        "username": DEFAULT_USER,
        "password": DEFAULT_PASSWORD,
        "certificate": "pin",
        "key_max_age": 90,
    }
    return settings | changes


async def _device_form(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "two_n" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "two_n"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "two_n"
    return dict(result)


async def _submit(hass: HomeAssistant, flow_id: str, settings: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(flow_id, settings))


def _dhcp(ip: str, mac: str) -> DhcpServiceInfo:
    return DhcpServiceInfo(ip=ip, hostname="2n-ip-verso", macaddress=mac)


def _mac_of(sim: TwoNDeviceSimulator) -> str:
    return sim.info["macAddr"].replace("-", "").lower()


async def test_set_up_with_a_pinned_certificate(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    flow = await _device_form(hass)
    schema = flow["data_schema"].schema
    assert {str(key) for key in schema} == {
        "host",
        "protocol",
        "auth",
        "username",
        "password",
        "certificate",
        "key_max_age",
    }
    result = await _submit(hass, flow["flow_id"], _settings(device, host=f" {host_of(device)} "))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    entry = result["result"]
    assert entry.unique_id == device.info["serialNumber"]
    assert result["data"] == {
        "vendor": "two_n",
        "host": host_of(device),
        "protocol": "https",
        "auth": "digest",
        "username": DEFAULT_USER,
        "password": DEFAULT_PASSWORD,
        "certificate": "pin",
        "certificate_sha256": device.certificate_sha256.hex(),
        "mac": device.info["macAddr"].replace("-", ":"),
        "key_max_age": 90,
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(FRONT) is not None
    assert hass.states.get(LOCATION) is not None


@pytest.mark.parametrize("sim_options", [{"auth": "basic", "protocol": "http"}])
async def test_set_up_with_basic_over_http(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    flow = await _device_form(hass)
    result = await _submit(hass, flow["flow_id"], _settings(device))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["certificate_sha256"] is None
    assert result["data"]["auth"] == "basic"


@pytest.mark.parametrize("sim_options", [{"auth": "none", "protocol": "http"}])
async def test_set_up_without_authentication(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    flow = await _device_form(hass)
    settings = _settings(device, auth="none")
    del settings["username"], settings["password"]
    result = await _submit(hass, flow["flow_id"], settings)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["username"] == ""


@pytest.mark.usefixtures("refused_handshakes")
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"password": "wrong"}, "two_n_invalid_auth"),
        ({"auth": "basic"}, "two_n_wants_digest"),
        ({"auth": "none"}, "two_n_wants_digest"),
        ({"username": " "}, "two_n_username_required"),
        ({"host": "example.com/api"}, "two_n_invalid_host"),
        ({"host": "127.0.0.1:9"}, "two_n_cannot_connect"),
        ({"protocol": "http"}, "two_n_cannot_connect"),
        ({"certificate": "system"}, "two_n_certificate_untrusted"),
    ],
)
async def test_settings_that_do_not_work(
    hass: HomeAssistant, device: TwoNDeviceSimulator, changes: dict[str, Any], error: str
) -> None:
    flow = await _device_form(hass)
    result = await _submit(hass, flow["flow_id"], _settings(device, **changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    # The password is never shown again; the rest is kept for the next try.
    suggested = {
        str(key): key.description.get("suggested_value")
        for key in result["data_schema"].schema
        if key.description
    }
    assert "password" not in suggested
    result = await _submit(hass, flow["flow_id"], _settings(device))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("malformed", "two_n_not_2n"),
        ("http_error", "two_n_not_2n"),
        ("error_envelope", "two_n_refused"),
    ],
)
async def test_something_else_answers(
    hass: HomeAssistant, device: TwoNDeviceSimulator, fault: str, error: str
) -> None:
    flow = await _device_form(hass)
    device.inject_fault("system/info", fault)  # type: ignore[arg-type]
    result = await _submit(hass, flow["flow_id"], _settings(device))
    assert result["errors"] == {"base": error}


async def test_an_account_without_any_privilege_is_refused(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_account("nobody", "pw", [])
    flow = await _device_form(hass)
    result = await _submit(
        hass, flow["flow_id"], _settings(device, username="nobody", password="pw")
    )
    assert result["errors"] == {"base": "two_n_no_privileges"}


async def test_an_account_with_one_group_is_set_up_with_a_repair(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    device.set_account("doors", "pw", ["switches_control"])
    flow = await _device_form(hass)
    result = await _submit(
        hass, flow["flow_id"], _settings(device, username="doors", password="pw")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"two_n_missing_privileges_{result['result'].entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {
        "name": TITLE,
        "username": "doors",
        "groups": "Access Control",
    }


async def test_the_same_device_twice(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    entry = make_entry(device, host="localhost:1")
    entry.add_to_hass(hass)
    flow = await _device_form(hass)
    result = await _submit(hass, flow["flow_id"], _settings(device))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["host"] == host_of(device)  # the address entered now is kept


# --- DHCP -----------------------------------------------------------------------------------


async def test_dhcp_offers_a_new_device(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp("127.0.0.1", _mac_of(device))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "two_n_dhcp_confirm"
    host = next(key for key in result["data_schema"].schema if str(key) == "host")
    assert host.description == {"suggested_value": "127.0.0.1"}
    # The same device found again is not offered twice.
    again = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp("127.0.0.1", _mac_of(device))
    )
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_in_progress"
    done = await _submit(hass, result["flow_id"], _settings(device))
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert done["result"].unique_id == device.info["serialNumber"]
    assert done["data"]["host"] == host_of(device)


async def test_dhcp_of_another_vendor_is_not_ours(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp("127.0.0.1", "001122334455")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


async def test_dhcp_keeps_a_known_device_address_up_to_date(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_address: str
) -> None:
    entry = await set_up(hass, make_entry(device))
    assert entry.state is ConfigEntryState.LOADED
    await _move(device, second_address)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp(second_address, _mac_of(device))
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data["host"] == f"{second_address}:{device.port}"  # the port is kept
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(FRONT) is not None
    # Found again at the same address: nothing to change.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp(second_address, _mac_of(device))
    )
    assert result["reason"] == "already_configured"


async def _move(device: TwoNDeviceSimulator, address: str) -> None:
    """The device comes back at another address (same port)."""
    port = device.port
    await device.stop()
    await device.start(address, port)


async def test_dhcp_brings_back_a_device_that_was_not_reachable(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_address: str
) -> None:
    await _move(device, second_address)
    entry = await set_up(hass, make_entry(device, host=f"127.0.0.1:{device.port}"))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp(second_address, _mac_of(device))
    )
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data["host"] == f"{second_address}:{device.port}"
    assert entry.state is ConfigEntryState.LOADED


async def test_dhcp_of_an_ignored_device(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=_mac_of(device), source=SOURCE_IGNORE, data={}
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "dhcp"}, data=_dhcp("127.0.0.1", _mac_of(device))
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize("sim_options", [{"auth": "basic", "protocol": "http"}])
async def test_digest_to_a_device_that_wants_basic(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    """It answers Digest with a Basic challenge: the method is wrong, not the password."""
    flow = await _device_form(hass)
    result = await _submit(hass, flow["flow_id"], _settings(device, auth="digest"))
    assert result["errors"] == {"base": "two_n_wants_basic"}
    result = await _submit(hass, flow["flow_id"], _settings(device))
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- reauthentication and reconfiguration ---------------------------------------------------


async def test_reauth(hass: HomeAssistant, device: TwoNDeviceSimulator) -> None:
    entry = await set_up(hass, make_entry(device))
    device.set_account(DEFAULT_USER, "new password", ["access_control", "switches_control"])
    await coordinator_refresh(hass, entry)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "two_n_reauth_confirm"
    assert result["description_placeholders"] == {"name": TITLE}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"auth": "digest", "username": DEFAULT_USER, "password": "still wrong"}
    )
    assert result["errors"] == {"base": "two_n_invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"auth": "basic", "username": DEFAULT_USER, "password": "new password"}
    )
    assert result["errors"] == {"base": "two_n_wants_digest"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"auth": "digest", "username": DEFAULT_USER, "password": "new password"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data["password"] == "new password"
    assert entry.data["certificate_sha256"] == device.certificate_sha256.hex()
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_on_another_device_is_refused(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    entry = make_entry(
        device,
        host=host_of(second_device),
        certificate_sha256=second_device.certificate_sha256.hex(),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"auth": "digest", "username": DEFAULT_USER, "password": DEFAULT_PASSWORD},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "two_n_wrong_device"


async def test_reconfigure_keeps_the_password_and_the_pin(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = await set_up(hass, make_entry(device))
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "two_n_reconfigure"
    settings = _settings(device, key_max_age=30)
    del settings["password"]
    result = await _submit(hass, result["flow_id"], settings)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data["password"] == DEFAULT_PASSWORD
    assert entry.data["key_max_age"] == 30
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_names_the_method_the_device_wants(
    hass: HomeAssistant, device: TwoNDeviceSimulator
) -> None:
    entry = await set_up(hass, make_entry(device))
    device.auth = "basic"
    result = await entry.start_reconfigure_flow(hass)
    result = await _submit(hass, result["flow_id"], _settings(device, auth="digest"))
    assert result["errors"] == {"base": "two_n_wants_basic"}
    result = await _submit(hass, result["flow_id"], _settings(device, auth="basic"))
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data["auth"] == "basic"
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_does_not_accept_a_changed_certificate(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_address: str
) -> None:
    entry = make_entry(device)
    entry.add_to_hass(hass)
    device.replace_certificate()
    result = await entry.start_reconfigure_flow(hass)
    result = await _submit(hass, result["flow_id"], _settings(device))
    assert result["errors"] == {"base": "two_n_certificate_changed"}
    # At a new address it is a new set-up: the certificate presented there is pinned.
    await _move(device, second_address)
    result = await _submit(hass, result["flow_id"], _settings(device))
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["certificate_sha256"] == device.certificate_sha256.hex()


async def test_reconfigure_to_another_device_is_refused(
    hass: HomeAssistant, device: TwoNDeviceSimulator, second_device: TwoNDeviceSimulator
) -> None:
    entry = make_entry(device)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await _submit(hass, result["flow_id"], _settings(second_device))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "two_n_wrong_device"
    assert entry.data["host"] == host_of(device)


async def coordinator_refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Poll the entry's device now (the full read, as every ten minutes)."""
    coordinator = entry.runtime_data
    coordinator._slow_due = None
    await coordinator.async_refresh()
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("host", "address", "moved"),
    [
        ("192.168.1.5", "192.168.1.9", "192.168.1.9"),
        ("192.168.1.5:8443", "192.168.1.9", "192.168.1.9:8443"),
        ("[fd00::5]:8443", "fd00::9", "[fd00::9]:8443"),
        ("[fd00::5]", "192.168.1.9", "192.168.1.9"),
        ("fd00::5", "fd00::9", "[fd00::9]"),
    ],
)
def test_a_moved_address_keeps_its_port(host: str, address: str, moved: str) -> None:
    assert _with_address(host, address) == moved
