"""Fixtures for The Keys: a simulated gateway on loopback and a configured entry.

The gateway takes one signed request per second. The simulated gateway and the clients Home
Assistant makes for it share a ``FakeClock`` (tests/clock.py), so that the rule holds without
the test waiting for it; a test marked ``real_clock`` plays it out on the real clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.thekeys import gateways
from custom_components.multilock.vendors.thekeys.client import TheKeysGateway
from simulators.thekeys import TheKeysGatewaySimulator
from tests.clock import Clock, FakeClock, RealClock, on_real_clock, register_marker

FRONT_DOOR = 45961123
FRONT_CODE = "Zmo1sps2OVyCFtl1"
BACK_DOOR = 45961124
BACK_CODE = "Qx8rTe2mWc5pLz0a"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the real_clock marker."""
    register_marker(config)


@pytest.fixture
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of the simulated gateway and of every client Home Assistant makes.

    A ``FakeClock``, given to the clients through the name ``TheKeysGateway`` in the module
    that makes them; the real clock for a test marked ``real_clock``.
    """
    if on_real_clock(request):
        return RealClock()
    fake = FakeClock()
    monkeypatch.setattr(
        gateways, "TheKeysGateway", partial(TheKeysGateway, clock=fake.time, sleep=fake.sleep)
    )
    return fake


@pytest.fixture
async def gateway(clock: Clock) -> AsyncIterator[TheKeysGatewaySimulator]:
    """A gateway with two locks shared with it, on the test's clock."""
    simulator = TheKeysGatewaySimulator(clock=clock.time, sleep=clock.sleep)
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
