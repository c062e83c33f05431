"""Snapshots of what a 2N device entry gives Home Assistant, and what diagnostics hide."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from simulators.two_n import DEFAULT_PASSWORD, TwoNDeviceSimulator
from tests import snapshots

from .conftest import host_of, make_entry, old_keys, set_up

# Values that change on every run: the certificate, the keys, when they were read.
VOLATILE = frozenset({"certificate_sha256", "fingerprint", "created", "read_at", "connected_since"})
# The subscription is cut when the test ends (see test_events.py).
pytestmark = pytest.mark.usefixtures("refused_handshakes")


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """A device with everything: its event log and a camera."""
    return {"log_service": "enabled", "camera": True}


def _names(entry: MockConfigEntry, device: TwoNDeviceSimulator) -> dict[str, str]:
    return {entry.entry_id: "<entry>", host_of(device): "<host>"}


async def _loaded(hass: HomeAssistant, device: TwoNDeviceSimulator) -> MockConfigEntry:
    device.set_keys(old_keys(2))
    entry = await set_up(hass, make_entry(device))
    for _ in range(1000):  # the subscription opens in the background
        if device.event_log.subscriptions:
            break
        await asyncio.sleep(0.01)
    await hass.async_block_till_done()
    return entry


async def test_entities(
    hass: HomeAssistant, device: TwoNDeviceSimulator, snapshot: SnapshotAssertion
) -> None:
    entry = await _loaded(hass, device)
    assert snapshots.entities(hass, entry, _names(entry, device)) == snapshot


async def test_devices(
    hass: HomeAssistant, device: TwoNDeviceSimulator, snapshot: SnapshotAssertion
) -> None:
    entry = await _loaded(hass, device)
    assert snapshots.devices(hass, entry, _names(entry, device)) == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    device: TwoNDeviceSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    entry = await _loaded(hass, device)
    await hass.services.async_call(
        "multilock", "rotate_mobile_key", {"entity_id": "lock.2n_ip_verso_switch_1"}, blocking=True
    )
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    for slot in device.mobile_keys:
        if slot is not None:
            assert slot.key_b64[:24] not in text
    assert DEFAULT_PASSWORD not in text
    assert device.info["serialNumber"] not in text  # nor the default location, which is it
    assert snapshots.stable(diagnostics, _names(entry, device), VOLATILE) == snapshot
