"""Config flow of InVue: the account, reauthentication, reconfiguration, lock enrolment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er, storage
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.invue.client import DEFAULT_BASE_URL, PROBE_SERIAL

from .conftest import (
    BACK,
    FRONT,
    KIOSK,
    NEW,
    OTHER,
    OWNER,
    SHOP_1,
    SHOP_2,
    TITLE,
    Cloud,
    account_entry,
    coordinator_of,
    sensor,
    set_up,
    store_certificates,
    stored,
)


async def _account_form(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "invue" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "invue"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "invue"
    return dict(result)


def _account_input(cloud: Cloud, **changes: Any) -> dict[str, Any]:
    return {
        "api_key": cloud.api_key,
        "owner": OWNER,
        "intermediate": cloud.pem(),
        "server": {"url": cloud.sim.url},
    } | changes


async def _submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(flow_id, data))


async def test_the_server_is_in_a_collapsed_section(hass: HomeAssistant) -> None:
    result = await _account_form(hass)
    schema = result["data_schema"].schema
    assert set(schema) == {"api_key", "owner", "intermediate", "server"}
    assert schema["server"].options["collapsed"] is True
    server = schema["server"].schema.schema
    assert next(iter(server)).default() == DEFAULT_BASE_URL


async def test_set_up_an_account(hass: HomeAssistant, cloud: Cloud, no_secret_logged: None) -> None:
    flow = await _account_form(hass)
    # Pasted with spaces, and the chain's root before it.
    data = _account_input(
        cloud, api_key=f" {cloud.api_key} ", owner=f" {OWNER} ", intermediate=cloud.sim.root_pem()
    )
    data["intermediate"] += "\n" + cloud.pem()
    result = await _submit(hass, flow["flow_id"], data)
    # The API key was checked with a harmless GET (404).
    probe = cloud.sim.requests[-1]
    assert (probe.method, probe.path, probe.status) == ("GET", f"/v1/dlock/{PROBE_SERIAL}", 404)
    # Its expiry is shown before the entry is made.
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "invue_certificate"
    expiry = cloud.sim.intermediate_certificate(OWNER).not_valid_after_utc
    placeholders = result["description_placeholders"]
    assert placeholders["expiry"] == expiry.strftime("%Y-%m-%d %H:%M UTC")
    assert placeholders["days"] in ("363", "364")
    assert "CN=Demo Retail Ltd" in placeholders["subject"]

    result = await _submit(hass, flow["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == {
        "vendor": "invue",
        "api_key": cloud.api_key,
        "owner": OWNER,
        "url": cloud.sim.url,
        "intermediate": cloud.pem(),  # the intermediate alone, not the root
    }
    entry = result["result"]
    assert entry.unique_id == OWNER
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    state = hass.states.get(sensor(hass, entry, None, "intermediate_expiry"))
    assert state is not None
    assert state.state == expiry.isoformat()


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"owner": "  "}, {"owner": "invue_invalid_owner"}),
        ({"intermediate": "nothing pasted"}, {"intermediate": "invue_invalid_certificate"}),
        ({"api_key": "0.0.0"}, {"base": "invue_invalid_auth"}),
    ],
)
async def test_account_errors(
    hass: HomeAssistant, cloud: Cloud, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    flow = await _account_form(hass)
    result = await _submit(hass, flow["flow_id"], _account_input(cloud, **changes))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "invue"
    assert result["errors"] == errors
    # The API key is not shown back; the rest is.
    suggested = {
        key.schema: key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert "api_key" not in suggested
    assert suggested["owner"] == changes.get("owner", OWNER)
    # The same form then succeeds.
    result = await _submit(hass, flow["flow_id"], _account_input(cloud))
    assert result["step_id"] == "invue_certificate"


async def test_an_expired_certificate_is_refused(hass: HomeAssistant, cloud: Cloud) -> None:
    cloud.sim.add_account(OTHER, valid_days=-1)
    flow = await _account_form(hass)
    result = await _submit(
        hass, flow["flow_id"], _account_input(cloud, intermediate=cloud.pem(OTHER))
    )
    assert result["errors"] == {"intermediate": "invue_certificate_expired"}


@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        ("disconnect", 2, "invue_cannot_connect"),
        ("malformed", 1, "invue_malformed_reply"),
        ("http_error", 1, "invue_refused"),
        ("unavailable", 1, "invue_refused"),
    ],
)
async def test_invue_failing_during_the_check(
    hass: HomeAssistant, cloud: Cloud, fault: Any, times: int, error: str
) -> None:
    flow = await _account_form(hass)
    cloud.sim.inject_fault("/v1/dlock", fault, times=times)
    result = await _submit(hass, flow["flow_id"], _account_input(cloud))
    assert result["errors"] == {"base": error}


async def test_one_entry_per_certificate_owner(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    entry.add_to_hass(hass)
    flow = await _account_form(hass)
    result = await _submit(hass, flow["flow_id"], _account_input(cloud))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# -- reauthentication ----------------------------------------------------------------------


async def test_a_revoked_key_asks_for_a_new_one(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_api_key(cloud.api_key)
    # The daily check finds out, and starts re-authentication.
    await coordinator_of(loaded_entry).async_maintain()
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    flow = flows[0]
    assert flow["step_id"] == "invue_reauth_confirm"

    result = await _submit(hass, flow["flow_id"], {"api_key": cloud.api_key})
    assert result["errors"] == {"base": "invue_invalid_auth"}
    # Another owner's key does not find this owner's locks.
    other_key = cloud.sim.add_account(OTHER)
    result = await _submit(hass, flow["flow_id"], {"api_key": other_key})
    assert result["errors"] == {"base": "invue_wrong_owner"}
    assert result["description_placeholders"]["owner"] == OWNER

    new_key = cloud.sim.add_account(OWNER)
    result = await _submit(hass, flow["flow_id"], {"api_key": f" {new_key} "})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.data["api_key"] == new_key
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert coordinator_of(loaded_entry).client._api_key == new_key


async def test_reauth_without_locks_checks_the_key(hass: HomeAssistant, cloud: Cloud) -> None:
    entry = account_entry(cloud)
    entry.add_to_hass(hass)
    result = dict(await entry.start_reauth_flow(hass))
    assert result["step_id"] == "invue_reauth_confirm"
    result = await _submit(hass, result["flow_id"], {"api_key": "0.0.0"})
    assert result["errors"] == {"base": "invue_invalid_auth"}
    other_key = cloud.sim.add_account(OTHER)  # nothing tells the owner without locks
    result = await _submit(hass, result["flow_id"], {"api_key": other_key})
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


# -- reconfiguration: the renewed intermediate certificate -----------------------------------


async def test_reconfigure_installs_the_renewed_certificate(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    result = dict(await loaded_entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "invue_reconfigure"
    old_expiry = cloud.sim.intermediate_certificate(OWNER).not_valid_after_utc
    assert result["description_placeholders"]["owner"] == OWNER
    assert result["description_placeholders"]["expiry"] == old_expiry.strftime("%Y-%m-%d %H:%M UTC")

    result = await _submit(hass, result["flow_id"], {"intermediate": "-----BEGIN CERTIFICATE"})
    assert result["errors"] == {"intermediate": "invue_invalid_certificate"}

    renewed = cloud.sim.renew_intermediate(OWNER, valid_days=730)
    result = await _submit(hass, result["flow_id"], {"intermediate": cloud.pem()})
    assert result["step_id"] == "invue_certificate"
    assert result["description_placeholders"]["days"] in ("728", "729")
    result = await _submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.data["intermediate"] == cloud.pem()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert coordinator_of(loaded_entry).data.intermediate_certificate.not_valid_after == (
        renewed.not_valid_after_utc
    )
    # The Key Certificates were kept.
    assert len(coordinator_of(loaded_entry).data.locks) == 3


async def test_reconfigure_an_unreadable_stored_certificate(
    hass: HomeAssistant, cloud: Cloud
) -> None:
    entry = account_entry(cloud, pem="garbage")
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["description_placeholders"]["expiry"] == "an unknown date"
    result = await _submit(hass, result["flow_id"], {"intermediate": cloud.pem()})
    result = await _submit(hass, result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


# -- enrolling a lock (a subentry) ---------------------------------------------------------


async def _enrol_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "invue_lock"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return dict(result)


async def _enrol(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.subentries.async_configure(flow_id, data))


def _lock_input(cloud: Cloud, areas: dict[str, str], lock: str = NEW, **changes: Any) -> Any:
    """The form as filled in for ``lock``; ``changes`` replace fields (the serial too)."""
    return {
        "serial": lock,
        "lock_type": cloud.sim.locks[lock].lock_type,
        "enrolment_code": cloud.code(lock),
        "area_id": areas[SHOP_2],
    } | changes


async def test_enrol_a_lock(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    no_secret_logged: None,
) -> None:
    flow = await _enrol_form(hass, loaded_entry)
    code = cloud.code(NEW)
    # The code as pasted, wrapped over lines.
    data = _lock_input(cloud, areas, enrolment_code=f"{code[:40]}\n{code[40:]}", serial=f" {NEW} ")
    data["name"] = "Till 2 cabinet"
    result = await _enrol(hass, flow["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Till 2 cabinet"
    assert result["data"] == {"serial": NEW, "lock_type": "CAM", "area_id": areas[SHOP_2]}
    assert result["unique_id"] == NEW
    assert NEW in cloud.sim.registrations
    # The certificate is stored (never the code).
    record = stored(hass_storage, loaded_entry.entry_id)["locks"][NEW]
    assert record["certificate"] == cloud.certificate(NEW)
    assert record["recovered"] is False
    assert code not in str(hass_storage)
    assert code not in str(loaded_entry.subentries)
    await hass.async_block_till_done(wait_background_tasks=True)
    # The entry reloaded with the new lock: its device is in the store's area.
    assert loaded_entry.state is ConfigEntryState.LOADED
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, coordinator_of(loaded_entry).lock_device_key(NEW)), loaded_entry.entry_id
    )
    assert device is not None
    assert device.area_id == areas[SHOP_2]
    assert device.name == "Till 2 cabinet"
    assert device.serial_number == NEW
    assert (device.model, device.model_id) == ("LIVE Lock", "CAM")
    entity_id = sensor(hass, loaded_entry, NEW, "key_certificate")
    assert hass.states.get(entity_id).state == "valid"
    entity = er.async_get(hass).async_get(entity_id)
    assert entity is not None
    assert entity.config_subentry_id == next(
        s.subentry_id for s in loaded_entry.subentries.values() if s.unique_id == NEW
    )


@pytest.mark.parametrize("duplicate_status", [400, 409])
async def test_enrolling_a_registered_lock_recovers_its_certificate(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    duplicate_status: int,
) -> None:
    """The lock was enrolled before (another backend, or a previous Home Assistant).

    The page does not say how InVue refuses a serial number registered twice: 400 and 409
    Conflict both lead to the certificate InVue holds.
    """
    cloud.sim.duplicate_status = duplicate_status
    cloud.sim.enrol(NEW, OWNER)
    flow = await _enrol_form(hass, loaded_entry)
    # Even with a code that no longer matches: the lock is this account's.
    result = await _enrol(
        hass, flow["flow_id"], _lock_input(cloud, areas, enrolment_code="c3RhbGU=", lock_type="")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Lock {NEW}"
    assert cloud.sent("POST") == 1
    assert cloud.sim.requests[-2].status == duplicate_status
    assert cloud.sim.requests[-1].status == 200
    record = stored(hass_storage, loaded_entry.entry_id)["locks"][NEW]
    assert record == record | {"certificate": cloud.certificate(NEW), "recovered": True}
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_lost_enrolment_reply_is_recovered(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject_fault("/v1/dlock", "disconnect_after", method="POST")
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    lock = coordinator_of(loaded_entry).data.locks[NEW]
    assert lock.certificate is not None
    assert lock.certificate.encoded == cloud.certificate(NEW)
    assert lock.recovered is False


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"serial": "0000/51a"}, {"serial": "invalid_serial"}),
        ({"serial": " "}, {"serial": "invalid_serial"}),
        ({"enrolment_code": " \n "}, {"enrolment_code": "missing_code"}),
        ({"enrolment_code": "d3Jvbmc="}, {"base": "invue_invalid_enrolment_code"}),
        ({"lock_type": "PADLOCK"}, {"base": "invue_invalid_enrolment_code"}),
    ],
)
async def test_enrolment_errors(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    loaded_entry: MockConfigEntry,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas, **changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    suggested = {
        key.schema: key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert "enrolment_code" not in suggested
    assert NEW not in cloud.sim.registrations
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_another_owners_lock_is_refused(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.add_account(OTHER)
    cloud.sim.enrol(NEW, OTHER)
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["errors"] == {"base": "invue_forbidden"}


async def test_an_enrolled_lock_is_not_enrolled_twice(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas, KIOSK))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert cloud.sent("POST") == 0


async def test_enrolling_with_a_revoked_key_asks_for_a_new_one(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.revoke_api_key(cloud.api_key)
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["errors"] == {"base": "invue_invalid_auth"}
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize("post_fault", ["disconnect", "unavailable"])
async def test_enrolling_while_invue_is_unreachable(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    loaded_entry: MockConfigEntry,
    post_fault: Any,
) -> None:
    flow = await _enrol_form(hass, loaded_entry)
    cloud.sim.inject_fault("/v1/dlock", post_fault, method="POST")
    cloud.sim.inject_fault("/v1/dlock/", "disconnect", times=2, method="GET")
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["errors"] == {
        "base": "invue_cannot_connect" if post_fault == "disconnect" else "invue_refused"
    }


async def test_enrol_in_an_entry_that_is_not_loaded(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], hass_storage: dict[str, Any]
) -> None:
    entry = account_entry(cloud, pem="garbage")
    await set_up(hass, entry)
    flow = await _enrol_form(hass, entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas, BACK))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert BACK in stored(hass_storage, entry.entry_id)["locks"]
    assert FRONT not in stored(hass_storage, entry.entry_id)["locks"]
    assert SHOP_1 in areas


async def test_set_up_an_account_with_an_api_that_checks_serial_numbers(
    hass: HomeAssistant, cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    """The key check does not depend on InVue accepting a made-up serial number."""
    cloud.sim.validate_serials = True
    flow = await _account_form(hass)
    result = await _submit(hass, flow["flow_id"], _account_input(cloud))
    assert result["step_id"] == "invue_certificate"
    result = await _submit(hass, flow["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    # The first daily check (at start) was answered too: nothing to report.
    assert result["result"].state is ConfigEntryState.LOADED
    assert "InVue cannot finish its work" not in caplog.text
    assert [r.status for r in cloud.sim.requests] == [404, 404]
    # A refused key is still told apart.
    flow = await _account_form(hass)
    result = await _submit(
        hass, flow["flow_id"], _account_input(cloud, api_key="0.0.0", owner=OTHER)
    )
    assert result["errors"] == {"base": "invue_invalid_auth"}


async def test_a_rate_limited_enrolment_is_sent_again_after_the_wait(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
) -> None:
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=4, method="POST")
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    first, second = cloud.times("POST")
    assert second - first >= 4  # Retry-After, on the shared clock
    assert stored(hass_storage, loaded_entry.entry_id)["locks"][NEW]["recovered"] is False
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_long_rate_limit_is_told_at_once(
    hass: HomeAssistant, cloud: Cloud, areas: dict[str, str], loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=600, method="POST")
    flow = await _enrol_form(hass, loaded_entry)
    result = await _enrol(hass, flow["flow_id"], _lock_input(cloud, areas))
    assert result["errors"] == {"base": "invue_rate_limited"}
    assert cloud.sent("POST") == 1
    assert NEW not in cloud.sim.registrations


async def test_enrolling_a_lock_right_after_another_keeps_both_certificates(
    hass: HomeAssistant,
    cloud: Cloud,
    areas: dict[str, str],
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The entry reloads after the first lock's subentry while the second lock's enrolment
    is still writing its certificate (scripts/develop enrols three locks this way).

    Writes of the certificates wait for the test's go-ahead (a disk that takes its time), so
    that the reload lands where it did on a real disk: after the second certificate was
    kept, before its subentry was added.
    """
    for serial in (FRONT, BACK):
        cloud.sim.enrol(serial, OWNER)
    entry = account_entry(cloud, locks={FRONT: areas[SHOP_1], BACK: areas[SHOP_1]})
    store_certificates(
        hass_storage, entry.entry_id, {s: cloud.certificate(s) for s in (FRONT, BACK)}
    )
    await set_up(hass, entry)
    first_runtime = coordinator_of(entry)
    writes = SlowDisk(f"multilock.invue.{entry.entry_id}")
    with patch.object(storage.Store, "_async_write_data", writes.method()):
        flow = await _enrol_form(hass, entry)
        first = asyncio.create_task(_enrol(hass, flow["flow_id"], _lock_input(cloud, areas, KIOSK)))
        await _until(lambda: writes.waiting == 1)  # KIOSK's certificate is being written
        flow = await _enrol_form(hass, entry)
        second = asyncio.create_task(_enrol(hass, flow["flow_id"], _lock_input(cloud, areas, NEW)))
        await _until(lambda: NEW in first_runtime.keys.certificates)  # queued behind it
        writes.allow(1)  # KIOSK's subentry is added: the entry reloads
        await _until(
            lambda: (
                NEW not in first_runtime.keys.certificates
                or (
                    entry.state is ConfigEntryState.LOADED
                    and coordinator_of(entry) is not first_runtime
                )
            )
        )
        writes.allow_all()
        results = [await first, await second]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [result["type"] for result in results] == [FlowResultType.CREATE_ENTRY] * 2
    assert "Forgetting the stored Key Certificate" not in caplog.text
    assert "is unavailable: no Key Certificate is stored" not in caplog.text
    locks = stored(hass_storage, entry.entry_id)["locks"]
    assert locks[NEW]["certificate"] == cloud.certificate(NEW)
    assert locks[NEW]["recovered"] is False  # kept, not fetched again
    assert cloud.sent("GET", NEW) == 0
    for serial in (KIOSK, NEW):
        assert hass.states.get(sensor(hass, entry, serial, "key_certificate")).state == "valid"


class SlowDisk:
    """Writes of one storage key that wait for the test's go-ahead, one at a time."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._write = storage.Store._async_write_data  # hass_storage's, in memory
        self._allowed = asyncio.Semaphore(0)
        self._all = False
        self.waiting = 0

    def method(self) -> Callable[[storage.Store[Any], dict[str, Any]], Awaitable[None]]:
        """``Store._async_write_data`` on this disk."""

        async def write(store: storage.Store[Any], data: dict[str, Any]) -> None:
            if store.key == self._key and not self._all:
                self.waiting += 1
                try:
                    await self._allowed.acquire()
                finally:
                    self.waiting -= 1
            await self._write(store, data)

        return write

    def allow(self, count: int) -> None:
        for _ in range(count):
            self._allowed.release()

    def allow_all(self) -> None:
        self._all = True
        self.allow(self.waiting)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (at most 10 s)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 (states of Home Assistant, no event to wait on)
            await asyncio.sleep(0.01)
