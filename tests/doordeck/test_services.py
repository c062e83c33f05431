"""The multilock.share_lock and multilock.revoke_lock_access actions on Doordeck locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from simulators.doordeck import DEFAULT_RATE_LIMIT
from simulators.thekeys import TheKeysGatewaySimulator

from .conftest import BACK, FRONT, Cloud


async def _share(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, "share_lock", data, blocking=True, return_response=True
    )


async def _revoke(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, "revoke_lock_access", data, blocking=True, return_response=True
    )


async def test_share_with_one_user_by_email(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    guest = cloud.sim.add_account("guest@example.com", "pw")
    response = await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": "guest@example.com"})
    assert response == {FRONT: {"guest@example.com": {"status": "done"}}}
    share = cloud.front.users[guest.id]
    assert (share.role, share.start, share.end) == ("USER", None, None)
    assert cloud.executes(cloud.front) == 1


@pytest.mark.parametrize(
    ("entity_id", "count", "requests"),
    [
        (FRONT, 1, 1),
        (FRONT, 25, 1),
        (FRONT, 60, 3),  # 25 + 25 + 10
        (BACK, 1, 1),
        (BACK, 25, 25),  # no batch sharing: one request per user
        (BACK, 60, 60),
    ],
)
async def test_share_batches_where_the_lock_can(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    entity_id: str,
    count: int,
    requests: int,
) -> None:
    # What a plausible Doordeck allows: one request per user goes through only if paced.
    cloud.sim.rate_limit = DEFAULT_RATE_LIMIT
    guests = cloud.guests(count)
    lock = cloud.front if entity_id == FRONT else cloud.back
    response = await _share(
        hass, {ATTR_ENTITY_ID: entity_id, "users": [guest.email for guest in guests]}
    )
    assert cloud.executes(lock) == requests
    assert {guest.id for guest in guests} <= set(lock.users)
    assert response[entity_id] == {guest.email: {"status": "done"} for guest in guests}
    kinds = {op.type for op in lock.operations}
    assert kinds == ({"BATCH_ADD_USER"} if lock is cloud.front else {"ADD_USER"})
    assert cloud.sim.rate_limited_count == 0  # paced below the limit, never refused


async def test_share_by_user_id_as_admin_for_a_period(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    guest, other = cloud.guests(2)
    start = datetime.now(UTC) + timedelta(days=1)
    end = start + timedelta(days=2)
    response = await _share(
        hass,
        {
            ATTR_ENTITY_ID: [FRONT, BACK],
            # The same user twice (by id and by email) is shared once.
            "users": [guest.id, other.email, other.id],
            "role": "ADMIN",
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    for entity_id, lock in ((FRONT, cloud.front), (BACK, cloud.back)):
        assert set(response[entity_id]) == {guest.id, other.email, other.id}
        share = lock.users[guest.id]
        assert (share.role, share.start, share.end) == (
            "ADMIN",
            int(start.timestamp()),
            int(end.timestamp()),
        )
    assert cloud.executes(cloud.back) == 2


async def test_times_without_zone_are_local(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    await hass.config.async_set_time_zone("Europe/Paris")
    (guest,) = cloud.guests(1)
    await _share(
        hass, {ATTR_ENTITY_ID: FRONT, "users": guest.email, "start": "2030-01-01 12:00:00"}
    )
    assert cloud.front.users[guest.id].start == int(
        datetime(2030, 1, 1, 11, 0, tzinfo=UTC).timestamp()
    )


async def test_share_through_a_device_target(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    device_id = er.async_get(hass).async_get(FRONT).device_id
    response = await _share(hass, {ATTR_DEVICE_ID: device_id, "users": guest.email})
    assert response == {FRONT: {guest.email: {"status": "done"}}}


async def test_share_without_asking_for_the_response(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    response = await hass.services.async_call(
        DOMAIN, "share_lock", {ATTR_ENTITY_ID: FRONT, "users": guest.email}, blocking=True
    )
    assert response is None
    assert guest.id in cloud.front.users


async def test_queued_and_failed_shares_are_reported(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    cloud.front.fault = "queued"
    cloud.back.fault = "offline"
    response = await _share(hass, {ATTR_ENTITY_ID: [FRONT, BACK], "users": guest.email})
    assert response[FRONT] == {guest.email: {"status": "queued"}}
    failed = response[BACK][guest.email]
    assert failed["status"] == "failed"
    assert "offline" in failed["reason"]


async def test_nothing_shared_is_an_error(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    cloud.front.fault = "rate_limit"
    with pytest.raises(HomeAssistantError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": guest.email})
    assert err.value.translation_key == "action_failed"
    assert "rate limiting" in err.value.translation_placeholders["reason"]


@pytest.mark.parametrize(
    ("data", "translation_key"),
    [
        ({"users": "nobody@example.com"}, "doordeck_unknown_user"),
        ({"users": "no-such-user-id"}, "doordeck_unknown_user"),
        (
            {"users": "guest0@example.com", "start": "2030-01-02T00:00:00Z", "end": "2030-01-01"},
            "end_before_start",
        ),
    ],
)
async def test_bad_input_sends_nothing(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    translation_key: str,
) -> None:
    cloud.guests(1)
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: [FRONT, BACK], **data})
    assert err.value.translation_key == translation_key
    assert not [r for r in cloud.sim.requests if r.path.endswith("/execute")]


async def test_a_lock_without_admin_role_fails_every_lock(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.back.users[cloud.owner.id].role = "USER"
    await loaded_entry.runtime_data.async_refresh()
    (guest,) = cloud.guests(1)
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: [FRONT, BACK], "users": guest.email})
    assert err.value.translation_key == "doordeck_not_admin"
    assert err.value.translation_placeholders == {"lock": "Back door", "role": "USER"}
    assert cloud.executes(cloud.front) == 0
    with pytest.raises(ServiceValidationError) as err:
        await _revoke(hass, {ATTR_ENTITY_ID: BACK, "users": guest.email})
    assert err.value.translation_key == "doordeck_not_admin"


async def test_admin_role_lost_since_the_last_poll(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """Sharing reads each lock afresh: a role taken away meanwhile is seen."""
    cloud.front.users[cloud.owner.id].role = "USER"
    (guest,) = cloud.guests(1)
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": guest.email})
    assert err.value.translation_key == "doordeck_not_admin"
    assert cloud.executes(cloud.front) == 0


async def test_lock_gone_from_the_account(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """Between polls, a lock removed from the account cannot be read for sharing."""
    cloud.sim.remove_lock(cloud.front.id)
    (guest,) = cloud.guests(1)
    with pytest.raises(HomeAssistantError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": guest.email})
    assert err.value.translation_key == "doordeck_refused"


async def test_look_up_failure(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.rate_limited = True
    with pytest.raises(HomeAssistantError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": "guest@example.com"})
    assert err.value.translation_key == "doordeck_rate_limited"


async def test_targets_that_are_not_shareable(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    other = er.async_get(hass).async_get_or_create("lock", "other", "x")
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: [FRONT, other.entity_id], "users": "a@example.com"})
    assert err.value.translation_key == "not_a_multilock_lock"
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: "lock.nothing", "users": "a@example.com"})
    assert err.value.translation_key == "not_a_multilock_lock"
    account = er.async_get(hass).async_get("sensor.doordeck_o_example_com_signing_key_expiry")
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_DEVICE_ID: account.device_id, "users": "a@example.com"})
    assert err.value.translation_key == "no_lock_targeted"


async def test_a_the_keys_lock_cannot_be_shared(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    gateway = TheKeysGatewaySimulator()
    gateway.add_lock(45961123, "Zmo1sps2OVyCFtl1")
    await gateway.start()
    try:
        thekeys = MockConfigEntry(
            domain=DOMAIN,
            title="The Keys gateway",
            data={"vendor": "thekeys", "host": gateway.address},
            unique_id=gateway.address,
            subentries_data=[
                {
                    "data": {"identifier": 45961123, "share_code": "Zmo1sps2OVyCFtl1"},
                    "subentry_type": "thekeys_lock",
                    "title": "Garage",
                    "unique_id": "45961123",
                }
            ],
        )
        thekeys.add_to_hass(hass)
        assert await hass.config_entries.async_setup(thekeys.entry_id)
        await hass.async_block_till_done()
        with pytest.raises(ServiceValidationError) as err:
            await _share(hass, {ATTR_ENTITY_ID: [FRONT, "lock.garage"], "users": "a@example.com"})
        assert err.value.translation_key == "action_not_supported"
        assert err.value.translation_placeholders == {"entity_id": "lock.garage"}
        assert await hass.config_entries.async_unload(thekeys.entry_id)
    finally:
        await gateway.stop()


async def test_unloaded_entry(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": "a@example.com"})
    assert err.value.translation_key == "entry_not_loaded"


async def test_revoke_by_email_and_by_id(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    guest, other, stays = cloud.guests(3)
    for account in (guest, other, stays):
        cloud.sim.grant(cloud.front.id, account.id, "USER")
        cloud.sim.grant(cloud.back.id, account.id, "USER")
    response = await _revoke(
        hass, {ATTR_ENTITY_ID: [FRONT, BACK], "users": [guest.email, other.id]}
    )
    expected = {guest.email: {"status": "done"}, other.id: {"status": "done"}}
    assert response == {FRONT: expected, BACK: expected}
    for lock in (cloud.front, cloud.back):
        assert guest.id not in lock.users
        assert other.id not in lock.users
        assert stays.id in lock.users
        assert [op.type for op in lock.operations] == ["REMOVE_USER"]


async def test_revoke_queued_and_failed(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    cloud.front.fault = "queued"
    cloud.back.fault = "slow"
    response = await _revoke(hass, {ATTR_ENTITY_ID: [FRONT, BACK], "users": guest.id})
    assert response[FRONT] == {guest.id: {"status": "queued"}}
    assert response[BACK][guest.id]["status"] == "failed"
    assert "did not answer" in response[BACK][guest.id]["reason"]
    cloud.front.fault = "offline"
    with pytest.raises(HomeAssistantError) as err:
        await _revoke(hass, {ATTR_ENTITY_ID: [FRONT, BACK], "users": guest.id})
    assert err.value.translation_key == "action_failed"


async def test_revoke_bad_input(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _revoke(hass, {ATTR_ENTITY_ID: FRONT, "users": "nobody@example.com"})
    assert err.value.translation_key == "doordeck_unknown_user"
    with pytest.raises(ServiceValidationError) as err:
        await _revoke(
            hass, {ATTR_ENTITY_ID: FRONT, "users": ["a@example.com", "owner@example.com"]}
        )
    assert err.value.translation_key in ("doordeck_unknown_user", "doordeck_revoke_self")
    cloud.sim.add_account("a@example.com", "pw")
    with pytest.raises(ServiceValidationError) as err:
        await _revoke(hass, {ATTR_ENTITY_ID: FRONT, "users": ["a@example.com", cloud.owner.id]})
    assert err.value.translation_key == "doordeck_revoke_self"
    assert cloud.executes(cloud.front) == 0


async def test_refused_sign_in_while_sharing_starts_reauth(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    (guest,) = cloud.guests(1)
    coordinator = loaded_entry.runtime_data
    look_up = coordinator.client.lookup_user

    async def look_up_then_sign_out(**query: Any) -> Any:
        user = await look_up(**query)
        cloud.sim.revoke_refresh_tokens()
        cloud.sim.expire_auth_tokens()
        return user

    coordinator.client.lookup_user = look_up_then_sign_out
    coordinator.client.get_lock = _cached(coordinator)
    with pytest.raises(HomeAssistantError) as err:
        await _share(hass, {ATTR_ENTITY_ID: FRONT, "users": guest.email})
    assert err.value.translation_key == "action_failed"
    with pytest.raises(HomeAssistantError):
        await _revoke(hass, {ATTR_ENTITY_ID: FRONT, "users": guest.id})
    await hass.async_block_till_done()
    sources = [f["context"]["source"] for f in hass.config_entries.flow.async_progress()]
    assert sources == ["reauth"]


def _cached(coordinator: Any) -> Any:
    """get_lock answering from the last poll (no request, so no sign-in needed)."""

    async def get_lock(lock_id: str, listing: Any = None) -> Any:
        return coordinator.data.locks[lock_id].lock

    return get_lock


async def test_actions_are_described(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """services.yaml and the translated names load as the frontend reads them."""
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    share = descriptions["share_lock"]
    assert set(share["fields"]) == {"entity_id", "users", "role", "start", "end"}
    assert share["fields"]["role"]["selector"]["select"]["options"] == ["user", "admin"]
    assert "target" not in share  # the locks field offers Doordeck's locks only
    # The frontend takes the names from the translations.
    texts = await async_get_translations(hass, "en", "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services"
    assert texts[f"{prefix}.share_lock.name"] == "Share a Doordeck lock"
    assert texts[f"{prefix}.revoke_lock_access.fields.users.name"] == "People"
