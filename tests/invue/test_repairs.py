"""The intermediate certificate's renewal: a repair 30 days before it expires, and once it has."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import DOMAIN as REPAIRS
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.issues import async_raise_issue
from custom_components.multilock.vendors.invue.const import intermediate_issue_id

from .conftest import OTHER, OWNER, Cloud, coordinator_of, sensor, set_up


async def _fix_flows(hass: HomeAssistant) -> Any:
    assert await async_setup_component(hass, REPAIRS, {})
    return hass.data[REPAIRS]["flow_manager"]


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, intermediate_issue_id(entry.entry_id))


@pytest.mark.parametrize("intermediate_days", [20.5])
async def test_an_expiring_certificate_is_renewed_through_the_repair(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    issue = _issue(hass, loaded_entry)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "invue_intermediate_expiring"
    expiry = cloud.sim.intermediate_certificate(OWNER).not_valid_after_utc
    assert issue.translation_placeholders == {
        "owner": OWNER,
        "expiry": expiry.strftime("%Y-%m-%d %H:%M UTC"),
        "days": "20",
    }
    assert any(
        "The InVue intermediate certificate of Demo Retail Ltd expires on" in r.getMessage()
        for r in caplog.get_records("setup")
    )

    flows = await _fix_flows(hass)
    result = await flows.async_init(
        DOMAIN, data={"issue_id": intermediate_issue_id(loaded_entry.entry_id)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "certificate"
    assert result["description_placeholders"]["owner"] == OWNER
    assert result["description_placeholders"]["days"] == "20"

    result = await flows.async_configure(result["flow_id"], {"intermediate": "no"})
    assert result["errors"] == {"intermediate": "invue_invalid_certificate"}
    cloud.sim.add_account(OTHER, valid_days=-2)
    result = await flows.async_configure(result["flow_id"], {"intermediate": cloud.pem(OTHER)})
    assert result["errors"] == {"intermediate": "invue_certificate_expired"}

    renewed = cloud.sim.renew_intermediate(OWNER, valid_days=400)
    result = await flows.async_configure(result["flow_id"], {"intermediate": cloud.pem()})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["days"] in ("398", "399")
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)

    assert loaded_entry.data["intermediate"] == cloud.pem()
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert _issue(hass, loaded_entry) is None
    assert hass.states.get(sensor(hass, loaded_entry, None, "intermediate_expiry")).state == (
        renewed.not_valid_after_utc.isoformat()
    )


@pytest.mark.parametrize("intermediate_days", [-1])
async def test_an_expired_certificate(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    issue = _issue(hass, loaded_entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "invue_intermediate_expired"
    assert issue.translation_placeholders["days"] == "0"
    # The Key Certificates are still served: the mobile app needs them with the renewal.
    response = await hass.services.async_call(
        DOMAIN, "get_key_certificates", {"area": "Shop 1"}, blocking=True, return_response=True
    )
    assert len(response["accounts"][0]["locks"]) == 2
    # Reconfigure installs the renewed one too, and the repair goes.
    cloud.sim.renew_intermediate(OWNER)
    result = await loaded_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"intermediate": cloud.pem()}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _issue(hass, loaded_entry) is None


@pytest.mark.parametrize("intermediate_days", [40])
async def test_the_repair_comes_30_days_before_and_changes_at_expiry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cloud: Cloud, entry: MockConfigEntry
) -> None:
    await set_up(hass, entry)
    assert _issue(hass, entry) is None
    freezer.tick(timedelta(days=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "invue_intermediate_expiring"
    freezer.tick(timedelta(days=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "invue_intermediate_expired"
    assert coordinator_of(entry).last_update_success


@pytest.mark.parametrize("intermediate_days", [10])
async def test_the_repair_of_an_entry_not_loaded(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    flows = await _fix_flows(hass)
    issue_id = intermediate_issue_id(loaded_entry.entry_id)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    cloud.sim.renew_intermediate(OWNER)
    result = await flows.async_configure(result["flow_id"], {"intermediate": cloud.pem()})
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert _issue(hass, loaded_entry) is None


@pytest.mark.parametrize("intermediate_days", [10])
async def test_the_repair_of_a_removed_entry(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    flows = await _fix_flows(hass)
    issue_id = intermediate_issue_id(loaded_entry.entry_id)
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    cloud.sim.renew_intermediate(OWNER)
    result = await flows.async_configure(result["flow_id"], {"intermediate": cloud.pem()})
    assert result["step_id"] == "confirm"
    entry_id = loaded_entry.entry_id
    # Removed meanwhile (its issue stays until the flow ends here).
    await hass.config_entries.async_remove(entry_id)
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"
    # Its issue went with it.
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    # An issue left behind by an entry that is gone ends at once.
    async_raise_issue(
        hass,
        vendor="invue",
        kind="intermediate_expired",
        issue_id=issue_id,
        placeholders={"owner": OWNER, "expiry": "-", "days": "0"},
        data={"entry_id": entry_id},
    )
    result = await flows.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


@pytest.mark.parametrize("intermediate_days", [10])
async def test_a_renewal_that_still_expires_soon_keeps_the_repair(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    """Renewed through the repair, as the frontend does it, with 20 days left: it stays."""
    assert await async_setup_component(hass, REPAIRS, {})
    client = await hass_client()
    issue_id = intermediate_issue_id(loaded_entry.entry_id)
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow_id = (await response.json())["flow_id"]
    renewed = cloud.sim.renew_intermediate(OWNER, valid_days=20.5)
    response = await client.post(
        f"/api/repairs/issues/fix/{flow_id}", json={"intermediate": cloud.pem()}
    )
    assert (await response.json())["step_id"] == "confirm"
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    result = await response.json()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_entry.data["intermediate"] == cloud.pem()
    assert loaded_entry.state is ConfigEntryState.LOADED
    issue = _issue(hass, loaded_entry)
    assert issue is not None
    # Installed, and the user is told why the repair stays.
    assert result["type"] == "abort"
    assert result["reason"] == "still_expiring"
    assert result["description_placeholders"]["days"] == "20"
    assert issue.translation_key == "invue_intermediate_expiring"
    assert issue.translation_placeholders["expiry"] == (
        renewed.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    )
    assert issue.translation_placeholders["days"] == "20"
