"""Fixtures for InVue: a simulated InVue API on loopback, stores (areas) and an account.

The simulated API and the clients Home Assistant makes share a ``FakeClock`` (tests/clock.py):
a ``Retry-After`` is waited out without the test waiting for it; a test marked ``real_clock``
plays it out on the real clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
import itertools
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.invue import coordinator as coordinator_module
from custom_components.multilock.vendors.invue.client import InVueClient
from custom_components.multilock.vendors.invue.coordinator import InVueCoordinator
from custom_components.multilock.vendors.invue.store import DATA_KEY_STORES
from simulators.invue import SEED_ENROLMENT_CODE, InVueApiSimulator
from tests.clock import Clock, FakeClock, RealClock, on_real_clock, register_marker

OWNER = "Demo Retail Ltd"
OTHER = "Other Stores plc"
TITLE = f"InVue {OWNER}"
FRONT = "0000051a00000005"  # the seed's lock (type CAM, the seed's enrolment code): Shop 1
BACK = "0000051a00000006"  # no type: Shop 1
KIOSK = "0000051a00000007"  # type CAM: Shop 2
NEW = "0000051a00000008"  # a lock not enrolled yet
SHOP_1, SHOP_2 = "Shop 1", "Shop 2"

# RSA keys are made once for the session: root, owner, other owner.
_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def _keys() -> Callable[[], rsa.RSAPrivateKey]:
    pool = itertools.cycle(_POOL)
    return lambda: next(pool)


@dataclass
class Cloud:
    """The simulator with the owner's account and four physical locks."""

    sim: InVueApiSimulator
    api_key: str

    def code(self, serial: str) -> str:
        """The enrolment code a lock returns to the mobile SDK."""
        return self.sim.locks[serial].enrolment_code

    def pem(self, owner: str = OWNER) -> str:
        """The owner's Customer Intermediate Certificate."""
        return self.sim.intermediate_pem(owner)

    def certificate(self, serial: str) -> str:
        """The base64 Key Certificate InVue holds for a registered lock."""
        return self.sim.registrations[serial].certificate.as_base64(self.sim.issuer_base64)

    def times(self, method: str, serial: str | None = None) -> list[float]:
        """When the requests of a method (for one serial number's resource) were received."""
        path = "/v1/dlock" if serial is None else f"/v1/dlock/{serial}"
        return [r.received_at for r in self.sim.requests if (r.method, r.path) == (method, path)]

    def sent(self, method: str, serial: str | None = None) -> int:
        """Requests of a method received (for one serial number's resource)."""
        path = "/v1/dlock" if serial is None else f"/v1/dlock/{serial}"
        return self.sim.count(path, method)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the real_clock marker."""
    register_marker(config)


@pytest.fixture
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of the simulated API and of every client Home Assistant makes.

    A ``FakeClock``, given to the clients (as their clock and sleep) through the name
    ``InVueClient`` in the module that makes them; the real clock for a test marked
    ``real_clock``.
    """
    if on_real_clock(request):
        return RealClock()
    fake = FakeClock()
    client = partial(InVueClient, clock=fake.time, sleep=fake.sleep)
    monkeypatch.setattr(coordinator_module, "InVueClient", client)
    return fake


@pytest.fixture
def intermediate_days() -> float:
    """Days until the owner's intermediate certificate expires (override per test)."""
    return 365.0


@pytest.fixture
async def cloud(intermediate_days: float, clock: Clock) -> AsyncIterator[Cloud]:
    """A started InVue simulator on the test's clock: the owner's account, four locks to enrol."""
    sim = InVueApiSimulator(key_factory=_keys(), clock=clock.time)
    api_key = sim.add_account(OWNER, valid_days=intermediate_days)
    sim.add_lock(FRONT, SEED_ENROLMENT_CODE, "CAM")
    sim.add_lock(BACK)
    sim.add_lock(KIOSK, lock_type="CAM")
    sim.add_lock(NEW, lock_type="CAM")
    await sim.start()
    yield Cloud(sim, api_key)
    await sim.stop()


@pytest.fixture
def areas(hass: HomeAssistant) -> dict[str, str]:
    """Two stores: area ids by name."""
    registry = ar.async_get(hass)
    return {name: registry.async_get_or_create(name).id for name in (SHOP_1, SHOP_2)}


def lock_subentry(serial: str, area_id: str, lock_type: str = "") -> ConfigSubentryData:
    """The subentry of an enrolled lock as the subentry flow stores it."""
    return ConfigSubentryData(
        data={"serial": serial, "lock_type": lock_type, "area_id": area_id},
        subentry_type="invue_lock",
        title=f"Lock {serial}",
        unique_id=serial,
    )


def account_entry(
    cloud: Cloud,
    *,
    owner: str = OWNER,
    api_key: str | None = None,
    pem: str | None = None,
    locks: Mapping[str, str] | None = None,
) -> MockConfigEntry:
    """The entry of an account as the config flow stores it; ``locks``: area by serial."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title=f"InVue {owner}",
        data={
            "vendor": "invue",
            "api_key": api_key or cloud.api_key,
            "owner": owner,
            "url": cloud.sim.url,
            "intermediate": pem if pem is not None else cloud.pem(owner),
        },
        unique_id=owner,
        subentries_data=[
            lock_subentry(serial, area_id, cloud.sim.locks[serial].lock_type)
            for serial, area_id in (locks or {}).items()
        ],
    )


def store_certificates(
    hass_storage: dict[str, Any], entry_id: str, certificates: Mapping[str, str]
) -> None:
    """Put Key Certificates (base64, by serial) in the entry's storage as multilock writes it."""
    hass_storage[storage_key(entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(entry_id),
        "data": {
            "locks": {
                serial: {
                    "certificate": encoded,
                    "enrolled_at": "2026-11-02T09:30:00+00:00",
                    "recovered": False,
                }
                for serial, encoded in certificates.items()
            },
            "deleting": [],
        },
    }


def storage_key(entry_id: str) -> str:
    """The storage key of an entry's Key Certificates."""
    return f"multilock.invue.{entry_id}"


def stored(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    """What the entry's storage holds now."""
    data: dict[str, Any] = hass_storage[storage_key(entry_id)]["data"]
    return data


@pytest.fixture
def entry(cloud: Cloud, areas: dict[str, str], hass_storage: dict[str, Any]) -> MockConfigEntry:
    """The owner's entry: FRONT and BACK in Shop 1, KIOSK in Shop 2, enrolled and stored."""
    locks = {FRONT: areas[SHOP_1], BACK: areas[SHOP_1], KIOSK: areas[SHOP_2]}
    for serial in locks:
        cloud.sim.enrol(serial, OWNER)
    entry = account_entry(cloud, locks=locks)
    store_certificates(
        hass_storage, entry.entry_id, {serial: cloud.certificate(serial) for serial in locks}
    )
    return entry


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry to Home Assistant and set it up (its first maintenance done)."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """The owner's entry set up in Home Assistant."""
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    yield entry
    # A test may end while the reload a change of it caused still runs: let it finish, then
    # unload, so that no timer of a coordinator still starting outlives the test.
    await hass.async_block_till_done(wait_background_tasks=True)
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry and forget everything in memory, then set it up from storage."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    hass.data.get(DATA_KEY_STORES, {}).pop(entry.entry_id, None)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def sensor(hass: HomeAssistant, entry: MockConfigEntry, serial: str | None, key: str) -> str:
    """The entity id of a lock's sensor (the account's when ``serial`` is None)."""
    coordinator = coordinator_of(entry)
    device = (
        coordinator.account_device_key if serial is None else coordinator.lock_device_key(serial)
    )
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{device}-{key}")
    assert entity_id is not None
    return entity_id


def coordinator_of(entry: MockConfigEntry) -> InVueCoordinator:
    """The entry's coordinator."""
    coordinator: InVueCoordinator = entry.runtime_data
    return coordinator


@pytest.fixture
def no_secret_logged(caplog: pytest.LogCaptureFixture, cloud: Cloud) -> Iterator[None]:
    """Fail when the API key or an enrolment code reaches a log line of multilock."""
    caplog.set_level("DEBUG", logger="custom_components.multilock")
    yield
    secrets = [cloud.api_key, *(lock.enrolment_code for lock in cloud.sim.locks.values())]
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        if record.name.startswith("custom_components.multilock"):
            message = record.getMessage()
            assert not any(secret in message for secret in secrets), message
