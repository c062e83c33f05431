"""The multilock.get_key_certificates and multilock.unenroll_lock actions."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.compat import vol
from custom_components.multilock.const import DOMAIN

from .conftest import (
    BACK,
    FRONT,
    KIOSK,
    NEW,
    OTHER,
    OWNER,
    SHOP_1,
    SHOP_2,
    Cloud,
    account_entry,
    coordinator_of,
    set_up,
    store_certificates,
    stored,
)


async def _get(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, "get_key_certificates", data, blocking=True, return_response=True
    )


async def _unenroll(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, "unenroll_lock", data, blocking=True, return_response=True
    )


def _serials(response: Any) -> list[list[str]]:
    return [[lock["serial"] for lock in account["locks"]] for account in response["accounts"]]


def _device_id(hass: HomeAssistant, entry: MockConfigEntry, serial: str) -> str:
    device_id = coordinator_of(entry).device_id(serial)
    assert device_id is not None
    return device_id


async def test_the_certificates_of_a_store(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    response = await _get(hass, {"area": areas[SHOP_1]})
    assert response == {
        "accounts": [
            {
                "owner": OWNER,
                "intermediate_certificate": cloud.pem(),
                "intermediate_expires": cloud.sim.intermediate_certificate(
                    OWNER
                ).not_valid_after_utc.isoformat(),
                "locks": [
                    {
                        "serial": serial,
                        "name": f"Lock {serial}",
                        "lock_type": lock_type,
                        "area_id": areas[SHOP_1],
                        "key_certificate": cloud.certificate(serial),
                        "validity": "valid",
                        "enrolled_at": "2026-11-02T09:30:00+00:00",
                    }
                    for serial, lock_type in ((FRONT, "CAM"), (BACK, ""))
                ],
                "missing": [],
            }
        ]
    }
    # By name too, and several stores at once.
    assert _serials(await _get(hass, {"area": SHOP_2.lower()})) == [[KIOSK]]
    assert _serials(await _get(hass, {"area": [SHOP_2, areas[SHOP_1]]})) == [[FRONT, BACK, KIOSK]]


async def test_the_area_is_the_one_the_device_is_in_now(
    hass: HomeAssistant, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    dr.async_get(hass).async_update_device(
        _device_id(hass, loaded_entry, KIOSK), area_id=areas[SHOP_1]
    )
    assert _serials(await _get(hass, {"area": SHOP_1})) == [[FRONT, BACK, KIOSK]]
    assert await _get(hass, {"area": SHOP_2}) == {"accounts": []}


async def test_by_device_and_serial(
    hass: HomeAssistant, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    response = await _get(
        hass, {"device_id": _device_id(hass, loaded_entry, KIOSK), "serial": [BACK, KIOSK]}
    )
    assert _serials(response) == [[BACK, KIOSK]]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"area": "Warehouse"}, "invue_unknown_area"),
        ({"serial": NEW}, "invue_not_a_lock"),
        ({"device_id": "not-a-device"}, "invue_not_a_lock"),
    ],
)
async def test_what_is_not_an_invue_lock_is_refused(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _get(hass, data)
    assert err.value.translation_key == key


async def test_something_must_be_asked_for(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(vol.Invalid):
        await _get(hass, {})


async def test_two_accounts_in_one_store(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
) -> None:
    other_key = cloud.sim.add_account(OTHER)
    cloud.sim.enrol(NEW, OTHER)
    other = account_entry(cloud, owner=OTHER, api_key=other_key, locks={NEW: areas[SHOP_2]})
    store_certificates(hass_storage, other.entry_id, {NEW: cloud.certificate(NEW)})
    await set_up(hass, other)
    response = await _get(hass, {"area": SHOP_2})
    assert [account["owner"] for account in response["accounts"]] == [OWNER, OTHER]
    assert _serials(response) == [[KIOSK], [NEW]]
    assert response["accounts"][1]["intermediate_certificate"] == cloud.pem(OTHER)


async def test_a_lock_without_certificate_is_listed_as_missing(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    await coordinator.keys.async_forget(BACK, deleted_remotely=True)
    await coordinator.async_refresh()
    response = await _get(hass, {"area": SHOP_1})
    assert _serials(response) == [[FRONT]]
    assert response["accounts"][0]["missing"] == [BACK]


async def test_the_rest_api_with_a_long_lived_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    """The call the README shows: POST /api/services/multilock/get_key_certificates."""
    assert await async_setup_component(hass, "api", {})
    client = await hass_client()
    response = await client.post(
        "/api/services/multilock/get_key_certificates?return_response", json={"area": SHOP_1}
    )
    assert response.status == HTTPStatus.OK
    body = await response.json()
    bundle = body["service_response"]["accounts"][0]
    assert bundle["intermediate_certificate"] == cloud.pem()
    assert [lock["key_certificate"] for lock in bundle["locks"]] == [
        cloud.certificate(FRONT),
        cloud.certificate(BACK),
    ]


async def test_the_actions_are_described(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions["get_key_certificates"]["fields"]) == {"area", "device_id", "serial"}
    assert set(descriptions["unenroll_lock"]["fields"]) == {"device_id", "serial", "confirm"}


# -- unenrolment ---------------------------------------------------------------------------


async def test_unenrolment_needs_confirmation(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    for data in ({"serial": KIOSK}, {"serial": KIOSK, "confirm": False}):
        with pytest.raises(ServiceValidationError) as err:
            await _unenroll(hass, data)
        assert err.value.translation_key == "invue_confirm_required"
    assert cloud.sent("DELETE", KIOSK) == 0
    assert KIOSK in cloud.sim.registrations


async def test_unenrol_a_lock(
    hass: HomeAssistant,
    cloud: Cloud,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    no_secret_logged: None,
) -> None:
    device_id = _device_id(hass, loaded_entry, KIOSK)
    response = await _unenroll(hass, {"device_id": device_id, "confirm": True})
    assert response == {"locks": {KIOSK: "deleted"}}
    assert KIOSK not in cloud.sim.registrations
    # Read back: InVue no longer knows it.
    assert cloud.sim.requests[-1].method == "GET"
    assert cloud.sim.requests[-1].status == 404
    await hass.async_block_till_done(wait_background_tasks=True)
    # Deleted once: removing the subentry did not delete it again.
    assert cloud.sent("DELETE", KIOSK) == 1
    assert KIOSK not in {s.unique_id for s in loaded_entry.subentries.values()}
    assert stored(hass_storage, loaded_entry.entry_id)["locks"].keys() == {FRONT, BACK}
    assert stored(hass_storage, loaded_entry.entry_id)["deleting"] == []
    assert dr.async_get(hass).async_get(device_id) is None
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert set(coordinator_of(loaded_entry).data.locks) == {FRONT, BACK}


async def test_unenrol_without_asking_for_the_response(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(
        DOMAIN, "unenroll_lock", {"serial": KIOSK, "confirm": True}, blocking=True
    )
    assert KIOSK not in cloud.sim.registrations
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(loaded_entry.subentries) == 2


async def test_unenrol_a_lock_invue_no_longer_has(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    del cloud.sim.registrations[FRONT]
    del cloud.sim.registrations[BACK]
    response = await _unenroll(hass, {"serial": [FRONT, BACK], "confirm": True})
    assert response == {"locks": {BACK: "not_registered", FRONT: "not_registered"}}
    await hass.async_block_till_done(wait_background_tasks=True)
    assert stored(hass_storage, loaded_entry.entry_id)["locks"].keys() == {KIOSK}
    assert len(loaded_entry.subentries) == 1
    # Each deleted once (404), read back once (404), and not again when removed.
    assert (cloud.sent("DELETE", FRONT), cloud.sent("DELETE", BACK)) == (1, 1)


async def test_unenrolment_fails_while_invue_is_down(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.set_down()
    with pytest.raises(HomeAssistantError) as err:
        await _unenroll(hass, {"serial": KIOSK, "confirm": True})
    assert err.value.translation_key == "invue_refused"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(loaded_entry.subentries) == 3
    assert KIOSK in stored(hass_storage, loaded_entry.entry_id)["locks"]


async def test_unenrolment_with_a_revoked_key(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_api_key(cloud.api_key)
    with pytest.raises(HomeAssistantError) as err:
        await _unenroll(hass, {"serial": KIOSK, "confirm": True})
    assert err.value.translation_key == "invue_authentication"
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_a_lock_invue_still_has_after_deletion(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def ignored(serial: str) -> None:
        """InVue answers the deletion but keeps the lock."""

    monkeypatch.setattr(coordinator_of(loaded_entry).client, "delete", ignored)
    with pytest.raises(HomeAssistantError) as err:
        await _unenroll(hass, {"serial": KIOSK, "confirm": True})
    assert err.value.translation_key == "invue_still_registered"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(loaded_entry.subentries) == 3


async def test_removing_a_lock_deletes_it_remotely(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    """Deleting the subentry in the UI deletes the lock at InVue, then its certificate."""
    subentry = next(s for s in loaded_entry.subentries.values() if s.unique_id == KIOSK)
    assert hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert KIOSK not in cloud.sim.registrations
    assert cloud.sent("DELETE", KIOSK) == 1
    assert stored(hass_storage, loaded_entry.entry_id) == {
        "locks": stored(hass_storage, loaded_entry.entry_id)["locks"],
        "deleting": [],
    }
    assert KIOSK not in stored(hass_storage, loaded_entry.entry_id)["locks"]
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_removing_a_lock_invue_no_longer_has(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    """A 404 from InVue still cleans up here."""
    del cloud.sim.registrations[KIOSK]
    subentry = next(s for s in loaded_entry.subentries.values() if s.unique_id == KIOSK)
    hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    deletions = [r.status for r in cloud.sim.requests if r.method == "DELETE"]
    assert deletions == [404]
    assert KIOSK not in stored(hass_storage, loaded_entry.entry_id)["locks"]
    assert stored(hass_storage, loaded_entry.entry_id)["deleting"] == []


async def test_removing_a_lock_while_invue_is_down(
    hass: HomeAssistant,
    cloud: Cloud,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The certificate goes at once; the deletion is sent when InVue answers again."""
    cloud.sim.set_down()
    subentry = next(s for s in loaded_entry.subentries.values() if s.unique_id == KIOSK)
    hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "Removed InVue lock 0000051a00000007 is still registered with InVue" in caplog.text
    data = stored(hass_storage, loaded_entry.entry_id)
    assert KIOSK not in data["locks"]
    assert data["deleting"] == [KIOSK]
    # The reload's maintenance could not send it either.
    assert KIOSK in cloud.sim.registrations
    cloud.sim.set_down(False)
    await coordinator_of(loaded_entry).async_maintain()
    assert KIOSK not in cloud.sim.registrations
    assert stored(hass_storage, loaded_entry.entry_id)["deleting"] == []


async def test_removing_a_lock_with_a_revoked_key(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_api_key(cloud.api_key)
    subentry = next(s for s in loaded_entry.subentries.values() if s.unique_id == KIOSK)
    hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert stored(hass_storage, loaded_entry.entry_id)["deleting"] == [KIOSK]
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_a_lock_removed_twice_before_the_reload_is_deleted_once(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    await coordinator.async_lock_removed(KIOSK)
    await coordinator.async_lock_removed(KIOSK)
    assert cloud.sent("DELETE", KIOSK) == 1


async def test_removing_the_entry_removes_its_certificates(
    hass: HomeAssistant, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    key = f"multilock.invue.{loaded_entry.entry_id}"
    assert key in hass_storage
    await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert key not in hass_storage


# -- rate limits, and a bulk unenrolment that stops ---------------------------------------------


async def test_a_rate_limited_unenrolment_is_sent_again_after_the_wait(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject_fault("/v1/dlock/", "rate_limited", seconds=5, method="DELETE")
    response = await _unenroll(hass, {"serial": KIOSK, "confirm": True})
    assert response == {"locks": {KIOSK: "deleted"}}
    first, second = cloud.times("DELETE", KIOSK)
    assert second - first >= 5
    await hass.async_block_till_done(wait_background_tasks=True)
    assert KIOSK not in {s.unique_id for s in loaded_entry.subentries.values()}


async def test_a_bulk_unenrolment_that_stops_returns_what_it_did(
    hass: HomeAssistant, cloud: Cloud, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    """InVue limits the rate for longer than is waited for at the second lock of three."""
    cloud.sim.inject_fault(f"/v1/dlock/{BACK}", "rate_limited", seconds=300, method="DELETE")
    response = await _unenroll(hass, {"serial": [FRONT, BACK, KIOSK], "confirm": True})
    assert response["locks"] == {FRONT: "deleted", BACK: "failed", KIOSK: "not_sent"}
    assert "InVue is limiting the requests made with this API key" in response["error"]
    assert "retry after 300 s" in response["error"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert FRONT not in cloud.sim.registrations
    assert {BACK, KIOSK} <= cloud.sim.registrations.keys()
    assert cloud.sent("DELETE", KIOSK) == 0
    # What was done is done here too: the first lock is gone, the others stay.
    assert {s.unique_id for s in loaded_entry.subentries.values()} == {BACK, KIOSK}
    assert stored(hass_storage, loaded_entry.entry_id)["locks"].keys() == {BACK, KIOSK}


async def test_a_bulk_unenrolment_that_stops_without_a_response_fails(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject_fault(f"/v1/dlock/{BACK}", "rate_limited", seconds=300, method="DELETE")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "unenroll_lock",
            {"serial": [FRONT, BACK, KIOSK], "confirm": True},
            blocking=True,
        )
    assert err.value.translation_key == "invue_rate_limited"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert {s.unique_id for s in loaded_entry.subentries.values()} == {BACK, KIOSK}


async def test_no_secret_in_an_unenrolment_error_when_invue_quotes_it(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry, no_secret_logged: None
) -> None:
    cloud.sim.echo_secrets = True
    cloud.sim.revoke_api_key(cloud.api_key)
    with pytest.raises(HomeAssistantError) as err:
        await _unenroll(hass, {"serial": KIOSK, "confirm": True})
    assert err.value.translation_key == "invue_authentication"
    assert cloud.api_key in cloud.sim.requests[-1].headers["Authorization"]
    quoted = " ".join([str(err.value), *err.value.translation_placeholders.values()])
    assert cloud.api_key[:20] not in quoted
    await hass.async_block_till_done(wait_background_tasks=True)
