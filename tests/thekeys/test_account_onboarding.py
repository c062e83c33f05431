"""Set-up from a The Keys account, and the manual path going on to its first lock.

End to end over loopback: the cloud simulator (``build_demo``) and the gateway simulator share
their data model, so a share the flow creates in the cloud is accepted by the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
import json
from typing import Any

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, LockState
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_LOCK, SERVICE_UNLOCK
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.thekeys import flow as thekeys_flow
from custom_components.multilock.vendors.thekeys.cloud import TheKeysCloud
from simulators.thekeys import TheKeysGatewaySimulator
from simulators.thekeys_cloud import (
    DEMO_BACK_DOOR,
    DEMO_CELLAR,
    DEMO_FRONT_CODE,
    DEMO_FRONT_DOOR,
    DEMO_PASSWORD,
    DEMO_PHONE,
    EMPTY_PASSWORD,
    EMPTY_PHONE,
    CloudAccessory,
    CloudLock,
    TheKeysCloudSimulator,
    build_demo,
)
from tests.clock import Clock

from .conftest import BACK_CODE, BACK_DOOR, FRONT_CODE, FRONT_DOOR, lock_subentry

FRONT_NAME, BACK_NAME, CELLAR_NAME = "Porte d'entrée", "Porte du garage", "Cave"
LOGIN = "/api/login_check"
V2 = "/fr/api/v2/"

# The demo cloud's front door is the conftest gateway's front door, with the same code.
assert (DEMO_FRONT_DOOR, DEMO_BACK_DOOR, DEMO_FRONT_CODE) == (FRONT_DOOR, BACK_DOOR, FRONT_CODE)


@pytest.fixture
async def cloud(
    gateway: TheKeysGatewaySimulator, clock: Clock
) -> AsyncIterator[TheKeysCloudSimulator]:
    """The demo cloud (see ``build_demo``), its live gateway being the test's gateway."""
    simulator = build_demo(gateway, clock=clock.time)
    await simulator.start()
    yield simulator
    await simulator.stop()


def _lock(cloud: TheKeysCloudSimulator, identifier: int) -> CloudLock:
    lock = cloud.find_lock(identifier)
    assert lock is not None
    return lock


def _accessory(cloud: TheKeysCloudSimulator, name: str) -> CloudAccessory:
    return next(a for a in cloud.accounts[DEMO_PHONE].accessories if a.name == name)


def _ours(cloud: TheKeysCloudSimulator, identifier: int) -> list[Any]:
    """The lock's shares named "multilock" (every one, active or not, on every gateway)."""
    return [share for share in _lock(cloud, identifier).shares if share.name == "multilock"]


def _suggested(result: Any, key: str) -> Any:
    marker = next(marker for marker in result["data_schema"].schema if marker == key)
    return (marker.description or {}).get("suggested_value")


def _ticked(result: Any) -> Any:
    """The locks the lock-picking form shows ticked."""
    marker = next(marker for marker in result["data_schema"].schema if marker == "locks")
    return marker.default()


def _sign_in_input(
    cloud: TheKeysCloudSimulator, phone: str = DEMO_PHONE, password: str = DEMO_PASSWORD
) -> dict[str, Any]:
    return {"phone": phone, "password": password, "server": {"url": cloud.url}}


async def _vendor_menu(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "thekeys"
    assert result["menu_options"] == ["thekeys_account", "thekeys_gateway"]
    return dict(result)


async def _account_form(hass: HomeAssistant) -> str:
    result = await _vendor_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_account"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "thekeys_account"
    return str(result["flow_id"])


async def _signed_in(
    hass: HomeAssistant,
    cloud: TheKeysCloudSimulator,
    phone: str = DEMO_PHONE,
    password: str = DEMO_PASSWORD,
) -> dict[str, Any]:
    """A flow signed in: the form of the account's locks."""
    flow_id = await _account_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _sign_in_input(cloud, phone, password)
    )
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "thekeys_account_locks"
    return dict(result)


async def _picked(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator, *identifiers: int
) -> dict[str, Any]:
    """A flow signed in with ``identifiers`` picked: the gateway address form."""
    result = await _signed_in(hass, cloud)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"locks": [str(identifier) for identifier in identifiers]}
    )
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "thekeys_account_address"
    return dict(result)


async def _call(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call(LOCK_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True)


def _lock_entity(hass: HomeAssistant, entry_id: str, identifier: int) -> str:
    """The entity id of a lock's lock entity."""
    registry = er.async_get(hass)
    return next(
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, entry_id)
        if entity.domain == LOCK_DOMAIN and str(identifier) in entity.unique_id
    )


# ----- the whole account path -------------------------------------------------------------------


async def test_account_path_end_to_end(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    flow_id = await _account_form(hass)
    # A French national number is accepted and sent in international form.
    result = await hass.config_entries.flow.async_configure(
        flow_id, _sign_in_input(cloud, phone="06 12 34 56 78")
    )
    assert result["step_id"] == "thekeys_account_locks"
    assert cloud.requests[0].form["_username"] == DEMO_PHONE
    selector = result["data_schema"].schema["locks"]
    assert [(o["value"], o["label"]) for o in selector.config["options"]] == [
        (str(DEMO_FRONT_DOOR), f"{FRONT_NAME} · Passerelle salon"),
        (str(DEMO_BACK_DOOR), f"{BACK_NAME} · Passerelle salon"),
        (str(DEMO_CELLAR), CELLAR_NAME),
    ]
    default = next(m for m in result["data_schema"].schema if m == "locks").default()
    assert default == [str(DEMO_FRONT_DOOR), str(DEMO_BACK_DOOR)]
    # Each gateway of the account's locks was asked for its report once.
    assert cloud.count(V2 + "accessoire/get/") == 2

    result = await hass.config_entries.flow.async_configure(flow_id, {"locks": default})
    assert result["step_id"] == "thekeys_account_address"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {
        "gateway": "Passerelle salon",
        "locks": f"{FRONT_NAME}, {BACK_NAME}",
    }
    assert _suggested(result, "host") == gateway.address  # found in the cloud

    result = await hass.config_entries.flow.async_configure(flow_id, {"host": gateway.address})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "The Keys gateway"
    assert result["data"] == {"vendor": "thekeys", "host": gateway.address}
    assert result.get("description") is None  # nothing skipped
    entry = result["result"]
    assert entry.unique_id == gateway.address
    # The front door's active "multilock" share on this gateway was found (the newest active
    # one, not the inactive one, nor the one on the old gateway); the back door had only
    # another app's share: one was created, and it is the code stored.
    assert len(_ours(cloud, DEMO_FRONT_DOOR)) == 3
    created = _ours(cloud, DEMO_BACK_DOOR)
    assert len(created) == 1
    assert created[0].active
    assert created[0].iddesc == "remote"
    assert created[0].accessory is _accessory(cloud, "Passerelle salon")
    assert created[0].description
    assert {
        (s.title, s.unique_id, s.subentry_type, tuple(sorted(s.data.items())))
        for s in entry.subentries.values()
    } == {
        (
            FRONT_NAME,
            str(FRONT_DOOR),
            "thekeys_lock",
            (("identifier", FRONT_DOOR), ("share_code", FRONT_CODE)),
        ),
        (
            BACK_NAME,
            str(BACK_DOOR),
            "thekeys_lock",
            (("identifier", BACK_DOOR), ("share_code", created[0].code)),
        ),
    }
    # Stored: the gateway's host and the share codes; not the phone, password or token.
    stored = json.dumps(entry.as_dict(), default=str)
    assert DEMO_PASSWORD not in stored
    assert DEMO_PHONE not in stored
    tokens = [r for r in cloud.requests if r.path == LOGIN]
    assert len(tokens) == 1
    await hass.async_block_till_done()

    # Opening and closing talk to the gateway alone.
    asked = len(cloud.requests)
    back = _lock_entity(hass, entry.entry_id, BACK_DOOR)
    assert hass.states.get(back).state == LockState.LOCKED
    await _call(hass, SERVICE_UNLOCK, back)
    assert hass.states.get(back).state == LockState.UNLOCKED
    await _call(hass, SERVICE_LOCK, back)
    assert hass.states.get(back).state == LockState.LOCKED
    await entry.runtime_data.async_refresh()
    assert [r.path for r in gateway.requests].count("/open") == 1
    assert len(cloud.requests) == asked


async def test_rerun_reuses_the_share_it_created(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    first = result["result"]
    shares = len(_lock(cloud, DEMO_BACK_DOOR).shares)
    code = next(iter(first.subentries.values())).data["share_code"]
    await hass.async_block_till_done()
    # The entry is removed, and the account set up again: the same share, no second one.
    await hass.config_entries.async_remove(first.entry_id)
    creations = cloud.count(V2 + "partage/create/")
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert next(iter(result["result"].subentries.values())).data["share_code"] == code
    assert len(_lock(cloud, DEMO_BACK_DOOR).shares) == shares
    assert len(_ours(cloud, DEMO_BACK_DOOR)) == 1
    assert cloud.count(V2 + "partage/create/") == creations


async def test_locks_of_a_configured_gateway_become_its_subentries(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    # Set up by hand with the front door only, the gateway written another way.
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title="The Keys gateway",
        data={"vendor": "thekeys", "host": f"localhost:{gateway.port}"},
        unique_id=gateway.address,
        subentries_data=[lock_subentry(FRONT_DOOR, FRONT_CODE, "Front door")],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "thekeys_locks_added"
    assert result["description_placeholders"]["locks"] == BACK_NAME
    assert result["description_placeholders"]["entry"] == "The Keys gateway"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    added = next(s for s in entry.subentries.values() if s.unique_id == str(BACK_DOOR))
    assert added.title == BACK_NAME
    assert added.data == {"identifier": BACK_DOOR, "share_code": _ours(cloud, BACK_DOOR)[0].code}
    await hass.async_block_till_done()  # the entry reloads with its new lock
    assert hass.states.get(_lock_entity(hass, entry.entry_id, BACK_DOOR)).state == "locked"


# ----- a lock added both ways -------------------------------------------------------------------


async def test_a_lock_set_up_by_hand_is_recognised_by_the_account_path(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    cloud: TheKeysCloudSimulator,
    entry: MockConfigEntry,
) -> None:
    entry.add_to_hass(hass)  # front and back door, set up by hand
    account = cloud.accounts[DEMO_PHONE]
    salon = _accessory(cloud, "Passerelle salon")
    cloud.add_lock(account, 45961126, "Portail", gateways=[salon])
    result = await _signed_in(hass, cloud)
    default = next(m for m in result["data_schema"].schema if m == "locks").default()
    assert default == ["45961126"]  # the locks already set up are not preselected
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"locks": [str(FRONT_DOOR)]}
    )
    assert result["errors"] == {"base": "thekeys_already_added"}
    assert result["description_placeholders"] == {"locks": FRONT_NAME}
    # Picked with a new lock, it is skipped and said so.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"locks": [str(FRONT_DOOR), "45961126"]}
    )
    assert result["step_id"] == "thekeys_account_address"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "thekeys_locks_added_skipped"
    assert result["description_placeholders"]["locks"] == "Portail"
    assert result["description_placeholders"]["skipped"] == FRONT_NAME
    assert sorted(s.unique_id for s in entry.subentries.values()) == [
        str(FRONT_DOOR),
        str(BACK_DOOR),
        "45961126",
    ]
    assert entry.subentries  # the front door kept its own code
    front = next(s for s in entry.subentries.values() if s.unique_id == str(FRONT_DOOR))
    assert front.data["share_code"] == FRONT_CODE


async def test_skipped_locks_said_when_a_new_entry_is_created(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    # The front door is already set up behind another gateway entry.
    other = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title="The Keys gateway",
        data={"vendor": "thekeys", "host": "127.0.0.1:9"},
        unique_id="127.0.0.1:9",
        subentries_data=[lock_subentry(FRONT_DOOR, FRONT_CODE, "Front door")],
    )
    other.add_to_hass(hass)
    result = await _picked(hass, cloud, FRONT_DOOR, BACK_DOOR)
    assert result["description_placeholders"]["locks"] == BACK_NAME
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == "thekeys_skipped"
    assert result["description_placeholders"]["skipped"] == FRONT_NAME
    assert [s.unique_id for s in result["result"].subentries.values()] == [str(BACK_DOOR)]


async def test_a_lock_set_up_from_the_account_is_recognised_by_hand(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    cloud: TheKeysCloudSimulator,
    clock: Clock,
) -> None:
    result = await _picked(hass, cloud, FRONT_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    entry = result["result"]
    await hass.async_block_till_done()
    # The gateway by hand: already set up.
    result = await _vendor_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_gateway"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # The lock by hand on its gateway entry: already set up.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "thekeys_lock"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # The lock by hand behind another gateway: already set up.
    other = TheKeysGatewaySimulator(clock=clock.time, sleep=clock.sleep)
    other.add_lock(FRONT_DOOR, FRONT_CODE)
    await other.start()
    try:
        result = await _manual_lock_form(hass, other)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE}
        )
        assert result["errors"] == {"identifier": "thekeys_lock_already_configured"}
    finally:
        await other.stop()


# ----- errors of the account path ---------------------------------------------------------------


async def test_wrong_password_then_right(hass: HomeAssistant, cloud: TheKeysCloudSimulator) -> None:
    flow_id = await _account_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _sign_in_input(cloud, password="not it")
    )
    assert result["errors"] == {"base": "thekeys_invalid_auth"}
    assert _suggested(result, "phone") == DEMO_PHONE
    assert _suggested(result, "password") is None  # never filled in again
    result = await hass.config_entries.flow.async_configure(flow_id, _sign_in_input(cloud))
    assert result["step_id"] == "thekeys_account_locks"


@pytest.mark.parametrize("phone", ["12", "+33 6 12", "06 12 34 56 7", "phone"])
async def test_not_a_phone_number(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator, phone: str
) -> None:
    flow_id = await _account_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _sign_in_input(cloud, phone=phone)
    )
    assert result["errors"] == {"phone": "thekeys_invalid_phone"}
    assert not cloud.requests


async def test_an_account_with_no_lock(hass: HomeAssistant, cloud: TheKeysCloudSimulator) -> None:
    flow_id = await _account_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _sign_in_input(cloud, EMPTY_PHONE, EMPTY_PASSWORD)
    )
    assert result["step_id"] == "thekeys_account"
    assert result["errors"] == {"base": "thekeys_no_locks"}


async def test_picking_nothing_or_a_lock_without_gateway(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator
) -> None:
    result = await _signed_in(hass, cloud)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"locks": []})
    assert result["errors"] == {"base": "thekeys_no_lock_picked"}
    assert _ticked(result) == []  # the form shows what the user ticked, not the defaults
    picked = [str(DEMO_FRONT_DOOR), str(DEMO_CELLAR)]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"locks": picked})
    assert result["step_id"] == "thekeys_account_locks"
    assert result["errors"] == {"base": "thekeys_no_gateway"}
    assert result["description_placeholders"] == {"locks": CELLAR_NAME}
    assert _ticked(result) == picked  # the user unticks Cave and goes on


async def test_locks_behind_several_gateways(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator, clock: Clock
) -> None:
    other = TheKeysGatewaySimulator(clock=clock.time, sleep=clock.sleep)
    await other.start()
    try:
        account = cloud.accounts[DEMO_PHONE]
        garden = cloud.add_gateway(account, simulator=other, name="Passerelle jardin")
        cloud.add_lock(account, 45961127, "Abri", gateways=[garden])
        result = await _signed_in(hass, cloud)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"locks": [str(DEMO_FRONT_DOOR), str(DEMO_BACK_DOOR), "45961127"]}
        )
        assert result["errors"] == {"base": "thekeys_several_gateways"}
        assert result["description_placeholders"] == {
            "gateways": f"Passerelle salon ({FRONT_NAME}, {BACK_NAME}); Passerelle jardin (Abri)"
        }
        # The garden's lock alone goes through, to its own gateway.
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"locks": ["45961127"]}
        )
        assert result["description_placeholders"]["gateway"] == "Passerelle jardin"
        assert _suggested(result, "host") == other.address
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": other.address}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["host"] == other.address
    finally:
        await other.stop()


async def test_the_gateway_seen_last_wins_and_its_address_may_be_unknown(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    cloud: TheKeysCloudSimulator,
    clock: Clock,
) -> None:
    # The old gateway (no known address) reported after the salon's.
    _accessory(cloud, "Passerelle salon").last_seen = clock.time() - 3600
    _accessory(cloud, "Ancienne passerelle").last_seen = clock.time() - 60
    result = await _picked(hass, cloud, DEMO_FRONT_DOOR)
    assert result["description_placeholders"]["gateway"] == "Ancienne passerelle"
    assert result["errors"] == {"base": "thekeys_address_unknown"}
    assert not _suggested(result, "host")
    # At the salon's address, the old gateway's share is not accepted.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["errors"] == {"base": "thekeys_share_not_accepted"}
    assert result["description_placeholders"]["lock"] == FRONT_NAME
    # It reused the old gateway's active share: no share was created.
    assert cloud.count(V2 + "partage/create/") == 0


async def test_an_address_unknown_to_the_cloud_is_asked_for(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    _accessory(cloud, "Passerelle salon").ip = None
    result = await _picked(hass, cloud, DEMO_FRONT_DOOR)
    assert result["errors"] == {"base": "thekeys_address_unknown"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": f"http://{gateway.address}/"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["host"] == gateway.address


async def test_an_expired_token_is_renewed_during_the_flow(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    cloud.expire_tokens()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert cloud.count(LOGIN) == 2
    assert [r.status for r in cloud.requests if r.path.startswith(V2 + "partage/all/")] == [
        401,
        200,
    ]


async def test_an_expired_session_that_cannot_be_renewed(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    cloud.accounts[DEMO_PHONE].password = "changed in the app"
    cloud.expire_tokens()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["step_id"] == "thekeys_account"
    assert result["errors"] == {"base": "thekeys_session_expired"}
    assert _suggested(result, "phone") == DEMO_PHONE
    server = next(v for k, v in result["data_schema"].schema.items() if k == "server")
    assert _suggested({"data_schema": server.schema}, "url") == cloud.url
    assert not _ours(cloud, DEMO_BACK_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _sign_in_input(cloud, password="changed in the app")
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"locks": [str(DEMO_BACK_DOOR)]}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("path", "kind", "error"),
    [
        (LOGIN, "unavailable", "thekeys_cloud_unavailable"),
        (LOGIN, "http_500", "thekeys_cloud_unavailable"),
        (LOGIN, "disconnect", "thekeys_cloud_unavailable"),
        (V2 + "utilisateur/", "http_500", "thekeys_cloud_unavailable"),
        (V2 + "accessoire/", "unavailable", "thekeys_cloud_unavailable"),
        (V2 + "utilisateur/", "malformed", "thekeys_cloud_malformed"),
    ],
)
async def test_cloud_outage_at_sign_in(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator, path: str, kind: str, error: str
) -> None:
    flow_id = await _account_form(hass)
    cloud.inject_fault(path, kind)
    result = await hass.config_entries.flow.async_configure(flow_id, _sign_in_input(cloud))
    assert result["step_id"] == "thekeys_account"
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(flow_id, _sign_in_input(cloud))
    assert result["step_id"] == "thekeys_account_locks"


async def test_cloud_that_does_not_answer_in_time(
    hass: HomeAssistant, cloud: TheKeysCloudSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(thekeys_flow, "TheKeysCloud", partial(TheKeysCloud, timeout=0.05))
    flow_id = await _account_form(hass)
    cloud.inject_fault(LOGIN, "delay", seconds=0.3)
    result = await hass.config_entries.flow.async_configure(flow_id, _sign_in_input(cloud))
    assert result["errors"] == {"base": "thekeys_cloud_unavailable"}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (V2 + "partage/all/", "unavailable"),
        (V2 + "partage/create/", "disconnect"),
        (V2 + "partage/create/", "http_500"),
    ],
)
async def test_cloud_outage_while_sharing_creates_one_share(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    cloud: TheKeysCloudSimulator,
    path: str,
    kind: str,
) -> None:
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    cloud.inject_fault(path, kind)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["step_id"] == "thekeys_account_address"
    assert result["errors"] == {"base": "thekeys_cloud_unavailable"}
    assert result["description_placeholders"]["lock"] == BACK_NAME
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(_ours(cloud, DEMO_BACK_DOOR)) == 1


async def test_cloud_refuses_a_lock_gone_from_the_account(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    result = await _picked(hass, cloud, DEMO_BACK_DOOR)
    cloud.accounts[DEMO_PHONE].locks.remove(_lock(cloud, DEMO_BACK_DOOR))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["errors"] == {"base": "thekeys_cloud_refused"}


async def test_the_gateway_is_checked_before_adding(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator, cloud: TheKeysCloudSimulator
) -> None:
    result = await _picked(hass, cloud, DEMO_FRONT_DOOR)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1:9"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert _suggested(result, "host") == "127.0.0.1:9"
    assert not cloud.count(V2 + "partage/")  # nothing asked of the cloud for a wrong address
    gateway.locks[FRONT_DOOR].in_range = False
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["errors"] == {"base": "thekeys_not_seen"}
    assert result["description_placeholders"]["lock"] == FRONT_NAME
    gateway.locks[FRONT_DOOR].in_range = True
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


# ----- the manual path goes on to its first lock -------------------------------------------------


async def _manual_lock_form(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> dict[str, Any]:
    result = await _vendor_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_gateway"}
    )
    assert result["step_id"] == "thekeys_gateway"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "thekeys_gateway_lock"
    return dict(result)


async def test_manual_path_goes_on_to_the_first_lock(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    result = await _manual_lock_form(hass, gateway)
    assert not hass.config_entries.async_entries(DOMAIN)  # nothing created before the lock
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"identifier": "front", "share_code": FRONT_CODE}
    )
    assert result["errors"] == {"identifier": "thekeys_invalid_identifier"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": "wrong", "name": "Front door"}
    )
    assert result["errors"] == {"base": "thekeys_invalid_share_code"}
    assert result["description_placeholders"] == {"lock": "Front door"}
    assert _suggested(result, "name") == "Front door"
    assert _suggested(result, "share_code") is None
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"identifier": str(FRONT_DOOR), "share_code": FRONT_CODE, "name": "Front door"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "The Keys gateway"
    assert result["data"] == {"vendor": "thekeys", "host": gateway.address}
    entry = result["result"]
    assert entry.unique_id == gateway.address
    assert [(s.title, s.unique_id, dict(s.data)) for s in entry.subentries.values()] == [
        ("Front door", str(FRONT_DOOR), {"identifier": FRONT_DOOR, "share_code": FRONT_CODE})
    ]
    await hass.async_block_till_done()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED


async def test_manual_first_lock_name_defaults_and_gateway_errors(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    result = await _manual_lock_form(hass, gateway)
    await gateway.stop()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"identifier": str(BACK_DOOR), "share_code": BACK_CODE}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    await gateway.start()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"identifier": str(BACK_DOOR), "share_code": BACK_CODE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [s.title for s in result["result"].subentries.values()] == [f"Lock {BACK_DOOR}"]


async def test_manual_gateway_error_keeps_its_form(
    hass: HomeAssistant, gateway: TheKeysGatewaySimulator
) -> None:
    result = await _vendor_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "thekeys_gateway"}
    )
    gateway.inject_fault("http_error")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": gateway.address}
    )
    assert result["step_id"] == "thekeys_gateway"
    assert result["errors"] == {"base": "malformed_reply"}
