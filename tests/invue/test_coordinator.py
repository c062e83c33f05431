"""The runtime of an InVue account: stored certificates, restarts, outages, maintenance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.invue.coordinator import InVueCoordinator

from .conftest import (
    BACK,
    FRONT,
    KIOSK,
    NEW,
    OWNER,
    SHOP_1,
    SHOP_2,
    Cloud,
    account_entry,
    coordinator_of,
    restart,
    sensor,
    set_up,
    store_certificates,
    stored,
)


async def _get(hass: HomeAssistant, area: str) -> Any:
    return await hass.services.async_call(
        DOMAIN, "get_key_certificates", {"area": area}, blocking=True, return_response=True
    )


async def test_what_an_account_shows(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    expiry = cloud.sim.intermediate_certificate(OWNER).not_valid_after_utc
    assert hass.states.get(sensor(hass, loaded_entry, None, "intermediate_expiry")).state == (
        expiry.isoformat()
    )
    for serial in (FRONT, BACK, KIOSK):
        assert hass.states.get(sensor(hass, loaded_entry, serial, "key_certificate")).state == (
            "valid"
        )
        state = hass.states.get(sensor(hass, loaded_entry, serial, "enrolled_at"))
        assert state.state == "2026-11-02T09:30:00+00:00"
    registry = dr.async_get(hass)
    coordinator = coordinator_of(loaded_entry)
    account = registry.async_get_device_by_identifier(
        (DOMAIN, coordinator.account_device_key), loaded_entry.entry_id
    )
    assert account is not None
    for serial, shop in ((FRONT, SHOP_1), (BACK, SHOP_1), (KIOSK, SHOP_2)):
        device = registry.async_get(coordinator.device_id(serial) or "")
        assert device is not None
        assert device.area_id == areas[shop]
        assert device.via_device_id == account.id
    assert coordinator.device_area(NEW) is None
    assert coordinator.device_id(NEW) is None


async def test_nothing_is_polled(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """The hourly refresh is local; InVue is asked once a day."""
    requests = len(cloud.sim.requests)
    snapshot = coordinator_of(loaded_entry).data
    for _ in range(20):
        freezer.tick(timedelta(hours=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert coordinator_of(loaded_entry).data is not snapshot  # refreshed (locally)
    assert len(cloud.sim.requests) == requests
    freezer.tick(timedelta(hours=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(cloud.sim.requests) == requests + 1


@pytest.mark.parametrize("outage", ["down", "stopped"])
async def test_a_restart_with_invue_down_still_serves_the_certificates(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    if outage == "down":
        cloud.sim.set_down()
    else:
        await cloud.sim.stop()
    await restart(hass, loaded_entry)
    assert loaded_entry.state is ConfigEntryState.LOADED
    response = await _get(hass, SHOP_1)
    locks = response["accounts"][0]["locks"]
    assert [lock["key_certificate"] for lock in locks] == [
        cloud.certificate(FRONT),
        cloud.certificate(BACK),
    ]
    assert response["accounts"][0]["intermediate_certificate"] == cloud.pem()
    state = hass.states.get(sensor(hass, loaded_entry, FRONT, "key_certificate"))
    assert state.state == "valid"
    assert "the stored certificates are still served" in caplog.text
    # Once InVue answers again, that is said once.
    if outage == "down":
        cloud.sim.set_down(False)
    else:
        await cloud.sim.start()
    await coordinator_of(loaded_entry).async_maintain()
    assert "InVue answers again for InVue Demo Retail Ltd" in caplog.text


async def test_a_revoked_key_is_found_by_the_daily_check(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_api_key(cloud.api_key)
    freezer.tick(timedelta(hours=24))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    # The certificates are still served meanwhile.
    assert (await _get(hass, SHOP_2))["accounts"][0]["locks"][0]["serial"] == KIOSK


async def test_a_certificate_missing_from_storage_is_fetched(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud.sim.enrol(FRONT, OWNER)
    cloud.sim.enrol(BACK, OWNER)
    entry = account_entry(
        cloud, locks={FRONT: areas[SHOP_1], BACK: areas[SHOP_1], KIOSK: areas[SHOP_2]}
    )
    # FRONT's record is unreadable, BACK's certificate cannot be decoded, KIOSK's is absent
    # (and InVue does not have it).
    store_certificates(hass_storage, entry.entry_id, {BACK: "not base64"})
    stored(hass_storage, entry.entry_id)["locks"][FRONT] = {"certificate": 5}
    await set_up(hass, entry)
    assert "The stored InVue Key Certificate of 0000051a00000005 is unreadable" in caplog.text
    assert "The stored InVue Key Certificate of 0000051a00000006 cannot be decoded" in caplog.text
    assert "InVue lock 0000051a00000007 is not registered to Demo Retail Ltd" in caplog.text
    records = stored(hass_storage, entry.entry_id)["locks"]
    assert records[FRONT]["certificate"] == cloud.certificate(FRONT)
    assert records[FRONT]["recovered"] is True
    assert records[BACK]["certificate"] == cloud.certificate(BACK)
    assert KIOSK not in records
    assert hass.states.get(sensor(hass, entry, FRONT, "key_certificate")).state == "valid"
    assert hass.states.get(sensor(hass, entry, KIOSK, "key_certificate")).state == (
        STATE_UNAVAILABLE
    )
    assert "Lock 0000051a00000007 is unavailable: no Key Certificate is stored" in caplog.text
    assert (await _get(hass, SHOP_2))["accounts"][0]["missing"] == [KIOSK]


async def test_unreadable_stored_dates_are_dropped(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], hass_storage: dict[str, Any]
) -> None:
    cloud.sim.enrol(FRONT, OWNER)
    entry = account_entry(cloud, locks={FRONT: areas[SHOP_1]})
    store_certificates(hass_storage, entry.entry_id, {FRONT: cloud.certificate(FRONT)})
    stored(hass_storage, entry.entry_id)["locks"][FRONT]["enrolled_at"] = "yesterday"
    await set_up(hass, entry)
    # Fetched again from InVue.
    assert stored(hass_storage, entry.entry_id)["locks"][FRONT]["recovered"] is True


async def test_a_certificate_without_its_lock_is_forgotten(
    hass: HomeAssistant,
    cloud: Cloud,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
) -> None:
    """A lock removed while its entry was not loaded: the certificate is of no use."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    subentry = next(s for s in loaded_entry.subentries.values() if s.unique_id == KIOSK)
    hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await restart(hass, loaded_entry)
    assert stored(hass_storage, loaded_entry.entry_id)["locks"].keys() == {FRONT, BACK}
    assert stored(hass_storage, loaded_entry.entry_id)["deleting"] == []


@pytest.mark.parametrize(
    ("valid_days", "expires_days", "validity"),
    [(-1, 30, "valid"), (2, 30, "not_yet_valid"), (-30, -1, "expired")],
)
async def test_key_certificate_validity(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    valid_days: int,
    expires_days: int,
    validity: str,
) -> None:
    now = dt_util.utcnow()
    cloud.sim.key_valid = int((now + timedelta(days=valid_days)).timestamp())
    cloud.sim.key_expires = int((now + timedelta(days=expires_days)).timestamp())
    cloud.sim.enrol(KIOSK, OWNER)
    entry = account_entry(cloud, locks={KIOSK: areas[SHOP_2]})
    store_certificates(hass_storage, entry.entry_id, {KIOSK: cloud.certificate(KIOSK)})
    await set_up(hass, entry)
    assert hass.states.get(sensor(hass, entry, KIOSK, "key_certificate")).state == validity
    lock = (await _get(hass, SHOP_2))["accounts"][0]["locks"][0]
    assert lock["validity"] == validity


async def test_unload_and_names(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    coordinator = coordinator_of(loaded_entry)
    assert isinstance(coordinator, InVueCoordinator)
    assert coordinator.name == "InVue Demo Retail Ltd"
    assert cloud.api_key not in repr(coordinator.client)
    entity_id = sensor(hass, loaded_entry, FRONT, "key_certificate")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    # The actions stay registered, and now find no lock.
    assert hass.services.has_service(DOMAIN, "get_key_certificates")
    assert await _get(hass, SHOP_1) == {"accounts": []}


async def test_the_daily_key_check_with_an_api_that_checks_serial_numbers(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud.sim.validate_serials = True
    freezer.tick(timedelta(hours=24))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert cloud.sim.requests[-1].status == 404
    assert "InVue cannot finish its work" not in caplog.text
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_no_secret_in_a_warning_when_invue_quotes_it(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    no_secret_logged: None,
) -> None:
    """A refusal that quotes the API key is logged, scrubbed of it."""
    cloud.sim.echo_secrets = True
    cloud.sim.revoke_api_key(cloud.api_key)
    await coordinator_of(loaded_entry).async_maintain()
    warning = next(r for r in caplog.records if "cannot finish its work" in r.getMessage())
    assert "InVue refused the API key" in warning.getMessage()
    assert "accessToken=***" in warning.getMessage()
    await hass.async_block_till_done(wait_background_tasks=True)
