"""Diagnostics of a Doordeck account: every secret redacted, the locks shown."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import EMAIL, Cloud

REDACTED = "**REDACTED**"


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    secrets = dict(loaded_entry.data["credentials"])
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = json.dumps(diagnostics)
    for key in ("auth_token", "refresh_token", "private_key"):
        assert secrets[key] not in text
    for certificate in secrets["certificate_chain"]:
        assert certificate not in text
    assert EMAIL not in text

    entry = diagnostics["entry"]
    assert entry["title"] == REDACTED
    assert entry["data"]["email"] == REDACTED
    credentials = entry["data"]["credentials"]
    for key in ("auth_token", "refresh_token", "private_key", "certificate_chain"):
        assert credentials[key] == REDACTED
    assert credentials["user_id"] == cloud.owner.id
    assert diagnostics["last_update_success"] is True
    locks = diagnostics["snapshot"]["locks"]
    assert locks[cloud.front.id]["reports_state"] is True
    assert locks[cloud.back.id]["lock"]["name"] == "Back door"
    assert locks[cloud.back.id]["lock"]["batch_sharing"] is False
