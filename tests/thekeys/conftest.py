"""Fixtures for The Keys: a simulated gateway on loopback and a configured entry."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from simulators.thekeys import TheKeysGatewaySimulator

FRONT_DOOR = 45961123
FRONT_CODE = "Zmo1sps2OVyCFtl1"
BACK_DOOR = 45961124
BACK_CODE = "Qx8rTe2mWc5pLz0a"


@pytest.fixture
async def gateway() -> AsyncIterator[TheKeysGatewaySimulator]:
    """A gateway with two locks shared with it."""
    simulator = TheKeysGatewaySimulator()
    simulator.add_lock(FRONT_DOOR, FRONT_CODE, battery=7600, rssi=-71)
    simulator.add_lock(BACK_DOOR, BACK_CODE, battery=4065, rssi=-80)
    await simulator.start()
    yield simulator
    await simulator.stop()


def lock_subentry(identifier: int, code: str, title: str) -> ConfigSubentryData:
    """Return the subentry of a lock as the config flow stores it."""
    return ConfigSubentryData(
        data={"identifier": identifier, "share_code": code},
        subentry_type="thekeys_lock",
        title=title,
        unique_id=str(identifier),
    )


@pytest.fixture
def entry(gateway: TheKeysGatewaySimulator) -> MockConfigEntry:
    """A gateway entry with both locks, as the config flow would have made it."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title=f"The Keys gateway {gateway.address}",
        data={"vendor": "thekeys", "host": gateway.address},
        unique_id=gateway.address,
        subentries_data=[
            lock_subentry(FRONT_DOOR, FRONT_CODE, "Front door"),
            lock_subentry(BACK_DOOR, BACK_CODE, "Back door"),
        ],
    )


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """The entry set up in Home Assistant."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry
