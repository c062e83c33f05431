"""Every vendor keeps the contract: its names carry its prefix, and every flow starts cleanly."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.config_flow import MultilockConfigFlow, MultilockFlowBase
from custom_components.multilock.const import DOMAIN
from custom_components.multilock.contract import VendorSpec
from custom_components.multilock.vendors import VENDORS

# Every text, as Home Assistant loads them (shared and vendor texts merged).
STRINGS = json.loads(
    (Path(__file__).parent.parent / "custom_components/multilock/translations/en.json").read_text()
)

# An entry of each vendor as its config flow stores it (nothing needs to answer: the first
# step of reauth and reconfigure is a form).
STORED: dict[str, dict[str, Any]] = {
    "thekeys": {"vendor": "thekeys", "host": "127.0.0.1:9"},
    "invue": {
        "vendor": "invue",
        "api_key": "x",
        "owner": "Demo",
        "url": "http://127.0.0.1:9",
        "intermediate": "",
    },
    "doordeck": {
        "vendor": "doordeck",
        "email": "owner@example.com",
        "url": "http://127.0.0.1:9",
        "credentials": {},
    },
    "two_n": {
        "vendor": "two_n",
        "host": "127.0.0.1:9",
        "protocol": "https",
        "auth": "digest",
        "username": "admin",
        "password": "2n-password",
        "certificate": "pin",
        "certificate_sha256": "00" * 32,
        "mac": "7C:1E:B3:00:00:01",
        "key_max_age": 90,
    },
}


@pytest.mark.parametrize("spec", VENDORS.values(), ids=list(VENDORS))
def test_every_name_carries_the_vendor(spec: VendorSpec) -> None:
    steps = [
        name
        for name, member in inspect.getmembers(spec.flows.steps)
        if name.startswith("async_step_") and not hasattr(MultilockFlowBase, name)
    ]
    assert steps, "the vendor defines its own steps"
    assert all(step.startswith(f"async_step_{spec.name}") for step in steps), steps
    # Its first step is its item in the vendor menu.
    assert spec.flows.user.__name__ == f"async_step_{spec.name}"
    assert spec.name in STRINGS["config"]["step"]["user"]["menu_options"]
    for subentry_type in spec.flows.subentries:
        assert subentry_type.startswith(f"{spec.name}_")
        assert subentry_type in STRINGS["config_subentries"]
    for kind in spec.fix_flows:
        assert f"{spec.name}_{kind}" in STRINGS["issues"]


def test_the_flow_offers_every_vendor_and_each_step_once() -> None:
    for spec in VENDORS.values():
        assert issubclass(MultilockConfigFlow, spec.flows.steps)
    owners: dict[str, type] = {}
    for spec in VENDORS.values():
        for name in vars(spec.flows.steps):
            if name.startswith("async_step_"):
                assert name not in owners, f"{name} defined by two vendors"
                owners[name] = spec.flows.steps


@pytest.mark.parametrize("vendor", list(VENDORS))
@pytest.mark.parametrize("source", [SOURCE_REAUTH, SOURCE_RECONFIGURE])
async def test_reauth_and_reconfigure_never_raise(
    hass: HomeAssistant, vendor: str, source: str
) -> None:
    """Started on any entry of any vendor, each shows its form or ends with a reason."""
    entry = MockConfigEntry(domain=DOMAIN, version=2, data=STORED[vendor], title="x")
    entry.add_to_hass(hass)
    if source == SOURCE_REAUTH:
        result = await entry.start_reauth_flow(hass)
    else:
        result = await entry.start_reconfigure_flow(hass)
    spec = VENDORS[vendor]
    declared = spec.flows.reauth if source == SOURCE_REAUTH else spec.flows.reconfigure
    if declared is None:
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == f"{source}_not_supported"
        assert result["reason"] in STRINGS["config"]["abort"]
    else:
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"].startswith(vendor)


async def test_an_entry_of_an_unknown_vendor_ends_cleanly(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, version=2, data={"vendor": "gone"}, title="x")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT


async def test_a_dhcp_discovery_no_vendor_claims_ends_cleanly(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": "dhcp"},
        data=DhcpServiceInfo(ip="127.0.0.1", hostname="x", macaddress="001122334455"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"
