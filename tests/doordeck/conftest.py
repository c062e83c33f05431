"""Fixtures for Doordeck: a simulated Doordeck cloud on loopback and a signed-in account.

The client paces signed operations (5 a second) and waits out a 429's ``Retry-After``. The
simulated cloud and the clients Home Assistant makes share a ``FakeClock`` (tests/clock.py),
so that pacing and waits hold without the test waiting for them; a test marked
``real_clock`` plays them out on the real clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck import (
    coordinator as coordinator_module,
    flow as flow_module,
)
from custom_components.multilock.vendors.doordeck.client import DoordeckClient
from custom_components.multilock.vendors.doordeck.coordinator import DoordeckCoordinator
from custom_components.multilock.vendors.doordeck.flow import account_title
from simulators.doordeck import DoordeckSimulator, SimAccount, SimLock
from tests.clock import Clock, FakeClock, RealClock, on_real_clock, register_marker

EMAIL, PASSWORD = "owner@example.com", "correct horse"
TITLE = account_title(EMAIL)
FRONT = "lock.front_door"  # reports whether it is locked, batch sharing
BACK = "lock.back_door"  # reports nothing (assumed state), no batch sharing
UNLOCK_TIME = 0.3  # seconds: short, so that tests see the locks lock again by themselves
DAY = 86400.0


@dataclass
class Cloud:
    """The simulator with the owner's account and its two locks."""

    sim: DoordeckSimulator
    owner: SimAccount
    front: SimLock
    back: SimLock

    def guests(self, count: int, prefix: str = "guest") -> list[SimAccount]:
        """Add Doordeck users to share with."""
        return [self.sim.add_account(f"{prefix}{i}@example.com", "pw") for i in range(count)]

    def executes(self, lock: SimLock) -> int:
        """Signed operations sent to a lock."""
        return self.sim.count(f"/device/{lock.id}/execute")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the real_clock marker."""
    register_marker(config)


@pytest.fixture
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of the simulated cloud and of every client Home Assistant makes.

    A ``FakeClock``, given to the clients (as their clock, monotonic clock and sleep) through
    the name ``DoordeckClient`` in the modules that make them; the real clock for a test
    marked ``real_clock``.
    """
    if on_real_clock(request):
        return RealClock()
    fake = FakeClock()
    client = partial(DoordeckClient, clock=fake.time, monotonic=fake.monotonic, sleep=fake.sleep)
    monkeypatch.setattr(coordinator_module, "DoordeckClient", client)
    monkeypatch.setattr(flow_module, "DoordeckClient", client)
    return fake


@pytest.fixture
def leaf_ttl() -> float:
    """Lifetime of the certificates the simulator issues (override per test module)."""
    return 30 * DAY


@pytest.fixture
async def cloud(leaf_ttl: float, clock: Clock) -> AsyncIterator[Cloud]:
    """A started Doordeck simulator on the test's clock: the owner administers two doors."""
    sim = DoordeckSimulator(leaf_ttl=leaf_ttl, clock=clock.time)
    owner = sim.add_account(EMAIL, PASSWORD)
    site = sim.add_site("Home")
    front = sim.add_lock(
        site.id,
        "Front door",
        unlock_time=UNLOCK_TIME,
        reports_locked=True,
        access={owner.id: "ADMIN"},
    )
    back = sim.add_lock(
        site.id,
        "Back door",
        unlock_time=UNLOCK_TIME,
        batch_sharing=False,
        access={owner.id: "ADMIN"},
    )
    await sim.start()
    yield Cloud(sim, owner, front, back)
    await sim.stop()


async def signed_in_credentials(sim: DoordeckSimulator) -> dict[str, Any]:
    """Sign in and register a key as the config flow does; return the stored credentials."""
    async with aiohttp.ClientSession() as session:
        client = DoordeckClient(session, base_url=sim.url)
        await client.login(EMAIL, PASSWORD)
        await client.register_key()
        return client.credentials.to_dict()


def account_entry(cloud: Cloud, credentials: dict[str, Any]) -> MockConfigEntry:
    """The entry of the owner's account as the config flow stores it."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title=TITLE,
        data={
            "vendor": "doordeck",
            "email": EMAIL,
            "url": cloud.sim.url,
            "credentials": credentials,
        },
        unique_id=cloud.owner.id,
    )


@pytest.fixture
async def entry(cloud: Cloud) -> MockConfigEntry:
    """The owner's entry, signed in with a registered key."""
    return account_entry(cloud, await signed_in_credentials(cloud.sim))


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """The entry set up in Home Assistant."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def coordinator_of(entry: MockConfigEntry) -> DoordeckCoordinator:
    """The entry's coordinator."""
    coordinator: DoordeckCoordinator = entry.runtime_data
    return coordinator
