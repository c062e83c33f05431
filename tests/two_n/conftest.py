"""Fixtures for 2N: simulated devices on loopback, and entries set up against them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import pytest_socket

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.two_n.client import TwoNClient
from custom_components.multilock.vendors.two_n.coordinator import TwoNCoordinator
from simulators.two_n import (
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    MobileKey,
    SimSwitch,
    TwoNDeviceSimulator,
)

TITLE = "2N IP Verso"
FRONT = "lock.2n_ip_verso_switch_1"  # monostable
GATE = "lock.2n_ip_verso_switch_2"  # bistable
LOCATION = "sensor.2n_ip_verso_mobile_key_location"
KEYS_IN_USE = "sensor.2n_ip_verso_mobile_keys_in_use"
PRIMARY_CREATED = "sensor.2n_ip_verso_primary_mobile_key_created"
ON_DURATION = 0.3  # seconds a monostable switch stays active in the tests
SECOND_SERIAL = "54-1046-0999"


def switches() -> list[SimSwitch]:
    """Switch 1 monostable (short), 2 bistable, 3 disabled."""
    return [
        SimSwitch(1, mode="monostable", on_duration=ON_DURATION),
        SimSwitch(2, mode="bistable"),
        SimSwitch(3, enabled=False),
    ]


def old_keys(count: int, *, newest_days: int = 10) -> list[MobileKey]:
    """``count`` RSA keys, newest first, 30 days apart."""
    now = datetime.now(UTC)
    return [
        MobileKey.generate(ctime=int((now - timedelta(days=newest_days + 30 * i)).timestamp()))
        for i in range(count)
    ]


@pytest.fixture
async def refused_handshakes(hass: HomeAssistant) -> None:
    """Let a test refuse a certificate (or speak HTTP to HTTPS): the simulator's side fails.

    The test harness fails a test on any error its loop reports; the server's failed
    handshake with a client that refused its certificate is expected here. The loop is the
    test's own: the handler stays until it closes (the failure may come after the test).
    """
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()

    def ignore_refused(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == "Error on transport creation for incoming connection":
            return
        if handler is not None:
            handler(loop, context)

    loop.set_exception_handler(ignore_refused)


@pytest.fixture
def second_address() -> str:
    """A second loopback address a device can move to (the test harness allows one)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "127.0.0.2"])
    return "127.0.0.2"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Constructor options of the ``device`` simulator (override per test module)."""
    return {}


@pytest.fixture
async def device(sim_options: dict[str, Any]) -> AsyncIterator[TwoNDeviceSimulator]:
    """A 2N device over HTTPS with Digest (its defaults), two enabled switches.

    Without an event log nor a camera unless a module's ``sim_options`` ask for them (the
    tests of polling count the device's requests; tests/two_n/test_events.py has both).
    """
    options: dict[str, Any] = {
        "auth": "digest",
        "protocol": "https",
        "switches": switches(),
        "log_service": "absent",
        "camera": False,
    }
    sim = TwoNDeviceSimulator(**(options | sim_options))
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def second_device() -> AsyncIterator[TwoNDeviceSimulator]:
    """Another 2N device (another serial number), same account."""
    sim = TwoNDeviceSimulator(
        auth="digest",
        protocol="https",
        serial=SECOND_SERIAL,
        name="2N Access Unit",
        switches=[SimSwitch(1, on_duration=ON_DURATION)],
        log_service="absent",
        camera=False,
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for the client tests."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def host_of(sim: TwoNDeviceSimulator) -> str:
    """The simulator's address as the user enters it."""
    return f"{sim.host}:{sim.port}"


def client_of(
    session: aiohttp.ClientSession, sim: TwoNDeviceSimulator, **options: Any
) -> TwoNClient:
    """A client of the simulator with its account, pinning its certificate over HTTPS."""
    settings: dict[str, Any] = {
        "protocol": sim.protocol,
        "auth": sim.auth,
        "username": DEFAULT_USER,
        "password": DEFAULT_PASSWORD,
        "certificate_sha256": sim.certificate_sha256 if sim.protocol == "https" else None,
    }
    return TwoNClient(session, host_of(sim), **(settings | options))


def entry_data(sim: TwoNDeviceSimulator, **changes: Any) -> dict[str, Any]:
    """The entry data the config flow stores for the simulator."""
    data: dict[str, Any] = {
        "vendor": "two_n",
        "host": host_of(sim),
        "protocol": sim.protocol,
        "auth": sim.auth,
        "username": DEFAULT_USER,
        "password": DEFAULT_PASSWORD,
        "certificate": "pin",
        "certificate_sha256": (sim.certificate_sha256.hex() if sim.protocol == "https" else None),
        "mac": sim.info["macAddr"].replace("-", ":"),
        "key_max_age": 90,
    }
    return data | changes


def make_entry(sim: TwoNDeviceSimulator, **changes: Any) -> MockConfigEntry:
    """An entry of the simulator as the config flow stores it."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title=sim.info["deviceName"],
        data=entry_data(sim, **changes),
        unique_id=sim.info["serialNumber"],
    )


@pytest.fixture
def entry(device: TwoNDeviceSimulator) -> MockConfigEntry:
    """The entry of ``device``."""
    return make_entry(device)


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry to Home Assistant and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """The entry set up in Home Assistant."""
    return await set_up(hass, entry)


def coordinator_of(entry: MockConfigEntry) -> TwoNCoordinator:
    """The entry's coordinator."""
    coordinator: TwoNCoordinator = entry.runtime_data
    return coordinator
