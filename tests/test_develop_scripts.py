"""What scripts/develop runs in a started Home Assistant, against a real one (this test's).

scripts/develop says "Home Assistant is up" once scripts/develop_setup.py has waited for it:
HTTP answers minutes before Home Assistant has finished starting at a first start, so the
wait (scripts/develop_check.py's) asks Home Assistant itself (``/api/config``'s state) and
multilock's entries. Then develop_setup.py adds the 2N device and the InVue account through
multilock's flows over the REST API, against the simulators as scripts/develop starts them,
leaving one InVue lock for the user to enrol.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import area_registry as ar, device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.const import DOMAIN
from scripts.develop_check import CheckFailed, HomeAssistantClient
from scripts.develop_setup import INVUE_LOCKS, INVUE_WAITING, STORES, add_devices
from simulators.invue import DEFAULT_LOCKS, DEFAULT_OWNER, InVueApiSimulator, derived_api_key
from simulators.two_n import TwoNDeviceSimulator


@pytest.fixture
async def client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, hass_access_token: str
) -> AsyncIterator[HomeAssistantClient]:
    """The scripts' client of this Home Assistant's HTTP API, logged in."""
    # What the scripts call, and multilock and the platforms whose components register views
    # (the 2N camera's): before HTTP starts, as Home Assistant sets them up at its start.
    for component in ("api", "config", "websocket_api", "camera", DOMAIN):
        assert await async_setup_component(hass, component, {})
    server = await hass_client()
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, str(server.make_url("/")))
        client.token = hass_access_token
        yield client


async def test_not_running_while_home_assistant_starts(
    hass: HomeAssistant, client: HomeAssistantClient
) -> None:
    hass.set_state(CoreState.starting)  # HTTP answers, integrations still being set up
    with pytest.raises(CheckFailed, match="still STARTING"):
        await client.wait_until_running(0)


async def test_not_running_until_multilock_is_loaded(
    hass: HomeAssistant, client: HomeAssistantClient
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="2N IP Verso", state=ConfigEntryState.SETUP_RETRY)
    entry.add_to_hass(hass)
    with pytest.raises(CheckFailed, match=r"not loaded .*'2N IP Verso': 'setup_retry'"):
        await client.wait_until_running(0)
    entry.mock_state(hass, ConfigEntryState.LOADED)
    assert await client.wait_until_running(0) >= 0


@pytest.fixture
async def intercom() -> AsyncIterator[TwoNDeviceSimulator]:
    """The 2N simulator as scripts/develop starts it: HTTP with Digest."""
    simulator = TwoNDeviceSimulator(protocol="http", auth="digest")
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def invue() -> AsyncIterator[InVueApiSimulator]:
    """The InVue simulator as its command line starts it: the built-in owner and locks."""
    simulator = InVueApiSimulator()
    simulator.add_account(DEFAULT_OWNER, api_key=derived_api_key(DEFAULT_OWNER))
    for serial, code, lock_type in DEFAULT_LOCKS:
        simulator.add_lock(serial, code, lock_type)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_setup_adds_2n_and_invue_and_leaves_a_lock_to_enrol(
    hass: HomeAssistant,
    client: HomeAssistantClient,
    intercom: TwoNDeviceSimulator,
    invue: InVueApiSimulator,
    tmp_path: Path,
) -> None:
    intermediate = tmp_path / "intermediate.pem"
    intermediate.write_text(invue.intermediate_pem(DEFAULT_OWNER))
    args = argparse.Namespace(
        two_n=f"{intercom.host}:{intercom.port}",
        invue=invue.url,
        intermediate=str(intermediate),
        timeout=30,  # each enrolment reloads the InVue entry: its wait for it
    )
    await add_devices(client, args)
    await hass.async_block_till_done()  # (the 2N event log's pull runs as long as its entry)

    entries = hass.config_entries.async_entries(DOMAIN)
    assert [entry.title for entry in entries] == ["2N IP Verso", f"InVue {DEFAULT_OWNER}"]
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    areas = ar.async_get(hass)
    assert sorted(area.name for area in areas.async_list_areas()) == sorted(STORES)
    # Each enrolled lock with the type the simulated lock has, in its store.
    types = {serial: lock_type for serial, _, lock_type in DEFAULT_LOCKS}
    response = await hass.services.async_call(
        DOMAIN,
        "get_key_certificates",
        {"serial": [serial for serial, _, _ in INVUE_LOCKS]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    (account,) = response["accounts"]
    assert [(lock["name"], lock["lock_type"]) for lock in account["locks"]] == [
        (name, types[serial]) for serial, name, _ in INVUE_LOCKS
    ]
    assert types[INVUE_LOCKS[0][0]] == "CAM"
    devices = dr.async_get(hass)
    for serial, name, store in INVUE_LOCKS:
        device = next(
            device
            for device in dr.async_entries_for_config_entry(devices, entries[1].entry_id)
            if device.serial_number == serial
        )
        assert (device.name, areas.async_get_area(device.area_id or "").name) == (name, store)
    # The waiting lock: not enrolled at InVue, not in Home Assistant.
    waiting = INVUE_WAITING[0]
    assert waiting not in invue.registrations
    assert set(invue.registrations) == {serial for serial, _, _ in INVUE_LOCKS}
