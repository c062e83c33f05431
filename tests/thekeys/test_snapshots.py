"""Snapshots of what a The Keys gateway entry gives Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from simulators.thekeys import TheKeysGatewaySimulator
from tests import snapshots


def _names(entry: MockConfigEntry, gateway: TheKeysGatewaySimulator) -> dict[str, str]:
    subentries = {key: f"<{subentry.title} subentry>" for key, subentry in entry.subentries.items()}
    return {entry.entry_id: "<entry>", gateway.address: "<gateway>", **subentries}


async def test_entities(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert snapshots.entities(hass, loaded_entry, _names(loaded_entry, gateway)) == snapshot


async def test_devices(
    hass: HomeAssistant,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert snapshots.devices(hass, loaded_entry, _names(loaded_entry, gateway)) == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    gateway: TheKeysGatewaySimulator,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    assert snapshots.stable(diagnostics, _names(loaded_entry, gateway)) == snapshot
