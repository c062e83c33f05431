"""No secret of the Doordeck client in an error or a log line, even when Doordeck quotes it."""

from __future__ import annotations

import aiohttp
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.vendors.doordeck.client import (
    DoordeckApiError,
    DoordeckAuthenticationError,
    DoordeckClient,
)

from .conftest import EMAIL, PASSWORD, Cloud, coordinator_of


async def test_a_refused_sign_in_that_quotes_the_email_and_password(cloud: Cloud) -> None:
    wrong = "battery staple horse"
    cloud.sim.inject(
        "/auth/token",
        status=401,
        message=f"Bad credentials: email={EMAIL} password={wrong} (try {PASSWORD[:6]}…?)",
    )
    async with aiohttp.ClientSession() as session:
        client = DoordeckClient(session, base_url=cloud.sim.url)
        with pytest.raises(DoordeckAuthenticationError) as err:
            await client.login(EMAIL, wrong)
    text = f"{err.value} {err.value.message}"
    assert "Bad credentials" in text  # Doordeck's message is kept...
    assert EMAIL not in text  # ...without the secrets it quotes
    assert wrong not in text


async def test_an_error_that_quotes_the_token_is_logged_without_it(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="custom_components.multilock")
    coordinator = coordinator_of(loaded_entry)
    tokens = coordinator.client.tokens
    assert tokens is not None
    cloud.sim.inject(
        "/site",
        status=500,
        times=None,
        message=f"Internal error handling Bearer {tokens.auth_token}",
    )
    for _ in range(2):  # one failed poll is tolerated, the second is reported
        await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert isinstance(coordinator.last_exception.__cause__, DoordeckApiError)
    assert "Internal error handling Bearer ***" in str(coordinator.last_exception)
    assert tokens.auth_token[:20] not in str(coordinator.last_exception)
    messages = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("custom_components.multilock", "homeassistant"))
    ]
    assert any("Internal error handling Bearer ***" in message for message in messages)
    leaked = [message for message in messages if tokens.auth_token[:20] in message]
    assert not leaked, leaked
