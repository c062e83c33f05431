"""Snapshots of what an InVue account entry gives Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from tests import snapshots

from .conftest import Cloud

# Diagnostics values that change on every run: the intermediate certificate's dates and
# fingerprint, generated subentry ids.
VOLATILE = frozenset({"not_valid_before", "not_valid_after", "fingerprint", "subentry_id"})


def _names(entry: MockConfigEntry, cloud: Cloud) -> dict[str, str]:
    return {entry.entry_id: "<entry>", cloud.sim.url: "<server>"}


async def test_entities(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert snapshots.entities(hass, loaded_entry, _names(loaded_entry, cloud)) == snapshot


async def test_devices(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert snapshots.devices(hass, loaded_entry, _names(loaded_entry, cloud)) == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    assert snapshots.stable(diagnostics, _names(loaded_entry, cloud), VOLATILE) == snapshot
