"""Config flow of Doordeck: sign-in, second factor, reauthentication, reconfiguration."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck.client import DoordeckCredentials

from .conftest import BACK, EMAIL, FRONT, PASSWORD, TITLE, Cloud, coordinator_of


async def _account_form(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "doordeck" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "doordeck"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "doordeck"
    return dict(result)


async def _sign_in(
    hass: HomeAssistant, flow_id: str, url: str, email: str = EMAIL, password: str = PASSWORD
) -> dict[str, Any]:
    return dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {"email": email, "password": password, "server": {"url": url}}
        )
    )


async def test_the_server_is_in_a_collapsed_section(hass: HomeAssistant) -> None:
    result = await _account_form(hass)
    assert set(result["data_schema"].schema) == {"email", "password", "server"}
    server = result["data_schema"].schema["server"]
    assert server.options["collapsed"] is True
    assert set(server.schema.schema) == {"url"}


async def test_sign_in_without_second_factor(hass: HomeAssistant, cloud: Cloud) -> None:
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url, email=f" {EMAIL} ")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    entry = result["result"]
    assert entry.unique_id == cloud.owner.id
    data = result["data"]
    assert set(data) == {"vendor", "email", "url", "credentials"}
    assert data["vendor"] == "doordeck"
    assert data["email"] == EMAIL
    assert data["url"] == cloud.sim.url
    assert PASSWORD not in str(data)
    credentials = DoordeckCredentials.from_dict(data["credentials"])
    assert credentials.user_id == cloud.owner.id
    assert credentials.tokens is not None
    assert credentials.private_key is not None
    assert len(credentials.certificate_chain) == 2
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 1
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(FRONT) is not None
    assert hass.states.get(BACK) is not None


async def test_sign_in_with_second_factor(hass: HomeAssistant, cloud: Cloud) -> None:
    cloud.owner.second_factor = True
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "doordeck_method"
    assert result["description_placeholders"] == {"email": EMAIL}

    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"method": "sms"})
    )
    assert result["step_id"] == "doordeck_code"
    verify = [r for r in cloud.sim.requests if r.path == "/auth/certificate/verify"]
    assert [r.query for r in verify] == ["method=SMS"]
    code = cloud.sim.sent_codes(EMAIL)[-1]

    wrong = "000000" if code != "000000" else "111111"
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"code": wrong})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "doordeck_code"
    assert result["errors"] == {"base": "invalid_code"}

    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"code": f" {code} "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == cloud.owner.id
    credentials = DoordeckCredentials.from_dict(result["data"]["credentials"])
    assert credentials.pending_private_key is None
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 1
    await hass.async_block_till_done()
    assert hass.states.get(FRONT).state == "locked"


async def test_second_factor_steps_show_errors(hass: HomeAssistant, cloud: Cloud) -> None:
    cloud.owner.second_factor = True
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url)
    cloud.sim.rate_limited = True
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"method": "email"})
    )
    assert result["step_id"] == "doordeck_method"
    assert result["errors"] == {"base": "rate_limited"}
    cloud.sim.rate_limited = False
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"method": "email"})
    )
    assert result["step_id"] == "doordeck_code"
    code = cloud.sim.sent_codes(EMAIL)[-1]
    await cloud.sim.stop()
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"code": code}))
    assert result["errors"] == {"base": "doordeck_cannot_connect"}
    await cloud.sim.start(port=int(cloud.sim.url.rsplit(":", 1)[1]))
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"code": code}))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("password", "url_suffix", "error"),
    [
        ("wrong password", "", "doordeck_invalid_auth"),
        (PASSWORD, "/not-doordeck", "unknown"),  # something else answers at this address
    ],
)
async def test_sign_in_errors_then_success(
    hass: HomeAssistant, cloud: Cloud, password: str, url_suffix: str, error: str
) -> None:
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url + url_suffix, password=password)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }
    assert suggested["email"] == EMAIL
    assert suggested["password"] is None  # never shown back
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_sign_in_server_unreachable(hass: HomeAssistant) -> None:
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], "http://127.0.0.1:9")
    assert result["errors"] == {"base": "doordeck_cannot_connect"}


async def test_rate_limited(hass: HomeAssistant, cloud: Cloud) -> None:
    cloud.sim.rate_limited = True
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url)
    assert result["errors"] == {"base": "rate_limited"}


async def test_same_email_only_once(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    flow = await _account_form(hass)
    requests = len(cloud.sim.requests)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "doordeck_already_configured"
    assert len(cloud.sim.requests) == requests  # aborted before signing in


async def test_same_user_only_once(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    """The same Doordeck user under another spelling of the email is still one account."""
    entry.add_to_hass(hass)
    flow = await _account_form(hass)
    result = await _sign_in(hass, flow["flow_id"], cloud.sim.url, email=EMAIL.upper())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "doordeck_already_configured"


async def test_reauth_when_the_refresh_token_is_refused(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    old = dict(loaded_entry.data["credentials"])
    cloud.sim.revoke_refresh_tokens()
    cloud.sim.expire_auth_tokens()
    await coordinator_of(loaded_entry).async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    flow_id = flows[0]["flow_id"]
    result = dict(await hass.config_entries.flow.async_configure(flow_id))
    assert result["step_id"] == "doordeck_reauth_confirm"
    assert result["description_placeholders"]["email"] == EMAIL

    result = dict(
        await hass.config_entries.flow.async_configure(flow_id, {"password": "wrong password"})
    )
    assert result["errors"] == {"base": "doordeck_invalid_auth"}
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {"password": PASSWORD}))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()

    new = loaded_entry.data["credentials"]
    assert new["refresh_token"] != old["refresh_token"]
    # The entry's key is known to Doordeck: it is kept, no second factor is needed.
    assert new["private_key"] == old["private_key"]
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 1
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(FRONT).state == "locked"


async def test_reauth_with_unreadable_stored_key_asks_for_a_second_factor(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    """Corrupt credentials: set-up asks to sign in again, which registers a new key."""
    cloud.owner.second_factor = True
    data = dict(entry.data)
    data["credentials"] = {**data["credentials"], "private_key": "not base64!"}
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data=data)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    flow_id = flows[0]["flow_id"]
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {"password": PASSWORD}))
    assert result["step_id"] == "doordeck_method"
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {"method": "email"}))
    code = cloud.sim.sent_codes(EMAIL)[-1]
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {"code": code}))
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert len(cloud.sim.registered_keys(cloud.owner.id)) == 2


async def test_reconfigure_email_and_password(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.owner.email, cloud.owner.password = "new@example.com", "new password"
    result = dict(await loaded_entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "doordeck_reconfigure"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"email": "new@example.com", "password": PASSWORD}
        )
    )
    assert result["errors"] == {"base": "doordeck_invalid_auth"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"email": "new@example.com", "password": "new password"}
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert loaded_entry.data["email"] == "new@example.com"
    assert loaded_entry.title == "Doordeck n…@example.com"
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_to_another_account(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.add_account("other@example.com", "other")
    result = dict(await loaded_entry.start_reconfigure_flow(hass))
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"email": "other@example.com", "password": "other"}
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert loaded_entry.data["email"] == EMAIL
