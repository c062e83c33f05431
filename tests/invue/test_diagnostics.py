"""Diagnostics of an InVue account: the API key and all certificate material redacted."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import BACK, FRONT, KIOSK, OWNER, Cloud

REDACTED = "**REDACTED**"


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = json.dumps(diagnostics)
    assert cloud.api_key not in text
    pem_body = "".join(cloud.pem().splitlines()[1:-1])
    assert pem_body[:64] not in text
    for serial in (FRONT, BACK, KIOSK):
        certificate = cloud.sim.registrations[serial].certificate
        assert cloud.certificate(serial) not in text
        assert certificate.key not in text
        assert certificate.signature not in text

    entry = diagnostics["entry"]
    assert entry["title"] == f"InVue {OWNER}"
    assert entry["data"]["api_key"] == REDACTED
    assert entry["data"]["intermediate"] == REDACTED
    assert entry["data"]["owner"] == OWNER
    assert {subentry["unique_id"] for subentry in entry["subentries"]} == {FRONT, BACK, KIOSK}
    snapshot = diagnostics["snapshot"]
    assert snapshot["intermediate_certificate"]["pem"] == REDACTED
    assert snapshot["intermediate_certificate"]["common_name"] == OWNER
    lock = snapshot["locks"][FRONT]
    assert lock["validity"] == "valid"
    assert lock["certificate"]["encoded"] == REDACTED
    assert lock["certificate"]["key"] == REDACTED
    assert lock["certificate"]["signature"] == REDACTED
    assert lock["certificate"]["type"] == "key"
