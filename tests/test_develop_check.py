"""scripts/develop_check.py's wait for a started Home Assistant, against a real one.

scripts/develop says "Home Assistant is up" once scripts/develop_setup.py has waited for it:
HTTP answers minutes before Home Assistant has finished starting at a first start, so the
wait asks Home Assistant itself (``/api/config``'s state) and multilock's entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.const import DOMAIN
from scripts.develop_check import CheckFailed, HomeAssistantClient


@pytest.fixture
async def client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, hass_access_token: str
) -> AsyncIterator[HomeAssistantClient]:
    """The scripts' client of this Home Assistant's HTTP API, logged in."""
    for component in ("api", "config"):  # /api/config, /api/config/config_entries
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
