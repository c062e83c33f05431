"""End to end on a real Home Assistant, every vendor, through Home Assistant's own API.

Runs in every environment with a real ``hass``, also where no test plugin exists yet
(``latest``: the release users run from its release day). Every vendor's entry is added
through multilock's config flows against the simulators, then: every entry loads, every
multilock entity has a state, each lock vendor locks and unlocks, each 2N and InVue action
runs once, and Home Assistant logged no ERROR or WARNING naming multilock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
import contextlib
import re
from typing import Any

import aiohttp
import pytest

from browser_tests.harness import DOORDECK_EMAIL, DOORDECK_PASSWORD, PASSWORD, USER, Stack
from scripts.develop_check import CheckFailed, HomeAssistantClient
from scripts.develop_setup import create_area, flow
from simulators.invue import DEFAULT_OWNER, derived_api_key, derived_enrolment_code
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER

CONFIG_FLOW = "config/config_entries/flow"
SUBENTRY_FLOW = "config/config_entries/subentries/flow"
INVUE_SERIALS = ("0000051a00000000", "0000051a00000006")
STATE_SECONDS = 30
# A log line of Home Assistant at WARNING or above that names multilock.
MULTILOCK_PROBLEM = re.compile(r"^\S+ \S+ (?:WARNING|ERROR|CRITICAL) .*multilock.*$", re.MULTILINE)
# Warnings Home Assistant logs of any integration, whatever it does: its notice for every
# custom integration, and (2026.11) one per platform when the server's language changes (the
# French test changes it): it then loads the translations of ``hass.config.components``,
# whose platform entries ("multilock.lock") are no domains.
NOT_MULTILOCKS = (
    "We found a custom integration multilock which has not been tested",
    "Failed to load integration for translation: Invalid domain multilock.",
)


@contextlib.asynccontextmanager
async def home_assistant(stack: Stack) -> AsyncIterator[HomeAssistantClient]:
    """A client of the running Home Assistant, logged in as the test user."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, stack.url)
        await client.log_in(USER, PASSWORD)
        yield client


async def entries(client: HomeAssistantClient) -> list[dict[str, Any]]:
    """Return multilock's config entries."""
    found: list[dict[str, Any]] = await client.api(
        "GET", "config/config_entries/entry?domain=multilock"
    )
    return found


async def add_doordeck(client: HomeAssistantClient, stack: Stack) -> None:
    """Sign in to the simulated Doordeck account, second factor included."""
    codes_before = len(stack.second_factor_codes(DOORDECK_EMAIL))
    result = await client.api("POST", CONFIG_FLOW, {"handler": "multilock"})
    flow_path = f"{CONFIG_FLOW}/{result['flow_id']}"
    await client.api("POST", flow_path, {"next_step_id": "doordeck"})
    result = await client.api(
        "POST",
        flow_path,
        {
            "email": DOORDECK_EMAIL,
            "password": DOORDECK_PASSWORD,
            "server": {"url": stack.doordeck_url},
        },
    )
    if result.get("step_id") == "doordeck_method":
        result = await client.api("POST", flow_path, {"method": "sms"})
    assert result.get("step_id") == "doordeck_code", result
    for _ in range(120):
        if len(codes := stack.second_factor_codes(DOORDECK_EMAIL)) > codes_before:
            break
        await asyncio.sleep(0.25)
    else:
        raise CheckFailed("the Doordeck simulator logged no second-factor code")
    result = await client.api("POST", flow_path, {"code": codes[-1]})
    assert result["type"] == "create_entry", result


async def flow_or_present(
    client: HomeAssistantClient, path: str, steps: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Walk a flow; None when it ends because what it adds is already there.

    The UI tests share the running Home Assistant and may have added it first.
    """
    try:
        result: dict[str, Any] = await flow(client, path, steps)
    except CheckFailed as err:
        if "already_configured" in str(err):
            return None
        raise
    return result


async def add_two_n(client: HomeAssistantClient, host: str) -> None:
    """Add a 2N device over HTTP with Digest, its built-in account."""
    await flow_or_present(
        client,
        CONFIG_FLOW,
        [
            {"handler": "multilock"},
            {"next_step_id": "two_n"},
            {
                "host": host,
                "protocol": "http",
                "auth": "digest",
                "username": DEFAULT_USER,
                "password": DEFAULT_PASSWORD,
                "certificate": "system",
                "key_max_age": 90,
            },
        ],
    )


async def add_invue(client: HomeAssistantClient, stack: Stack) -> None:
    """Add the InVue account of the simulator's owner and enrol two of its locks."""
    intermediate = await asyncio.to_thread(stack.invue_intermediate.read_text)
    await flow_or_present(
        client,
        CONFIG_FLOW,
        [
            {"handler": "multilock"},
            {"next_step_id": "invue"},
            {
                "api_key": derived_api_key(DEFAULT_OWNER),
                "owner": DEFAULT_OWNER,
                "intermediate": intermediate,
                "server": {"url": stack.invue_url},
            },
            {},  # the certificate's expiry, confirmed
        ],
    )
    entry_id = next(e["entry_id"] for e in await entries(client) if DEFAULT_OWNER in e["title"])
    area_id = await create_area(client, "Shop")
    for serial in INVUE_SERIALS:
        await flow_or_present(
            client,
            SUBENTRY_FLOW,
            [
                {"handler": [entry_id, "invue_lock"]},
                {
                    "serial": serial,
                    "lock_type": "",
                    "enrolment_code": derived_enrolment_code(serial),
                    "area_id": area_id,
                    "name": f"Lock {serial[-2:]}",
                },
            ],
        )


async def websocket(stack: Stack, client: HomeAssistantClient, message: dict[str, Any]) -> Any:
    """Send one websocket command and return its result."""
    async with client.session.ws_connect(f"{stack.url}/api/websocket") as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": client.token})
        await ws.receive_json()  # auth_ok
        await ws.send_json({"id": 1, **message})
        reply = await ws.receive_json()
    assert reply.get("success"), reply
    return reply["result"]


async def multilock_entities(stack: Stack, client: HomeAssistantClient) -> dict[str, str]:
    """Return multilock's enabled entities and the device each belongs to."""
    registry = await websocket(stack, client, {"type": "config/entity_registry/list"})
    return {
        entity["entity_id"]: entity["device_id"]
        for entity in registry
        if entity["platform"] == "multilock" and not entity["disabled_by"]
    }


async def devices_by_manufacturer(
    stack: Stack, client: HomeAssistantClient, manufacturer: str
) -> list[dict[str, Any]]:
    """Return multilock's devices of ``manufacturer``."""
    multilock = {entry["entry_id"] for entry in await entries(client)}
    registry = await websocket(stack, client, {"type": "config/device_registry/list"})
    return [
        device
        for device in registry
        if device["manufacturer"] == manufacturer
        and set(device.get("config_entries") or [device.get("config_entry_id")]) & multilock
    ]


async def lock_and_unlock(client: HomeAssistantClient, entity_id: str) -> None:
    """Unlock then lock ``entity_id`` (any start state), waiting for each state."""
    for service, state in (("unlock", "unlocked"), ("lock", "locked")):
        await client.api("POST", f"services/lock/{service}", {"entity_id": entity_id})
        await client.wait_for_state(entity_id, state, STATE_SECONDS)


async def call_action(
    client: HomeAssistantClient, action: str, data: dict[str, Any], *, response: bool = False
) -> Any:
    """Call one of multilock's actions and return its response (if it gives one)."""
    path = f"services/multilock/{action}" + ("?return_response" if response else "")
    return await client.api("POST", path, data)


def multilock_problems(stack: Stack) -> list[str]:
    """Return the lines where Home Assistant logged a warning or error about multilock."""
    text = stack.hass_log.read_text(encoding="utf-8", errors="replace")
    return [
        line
        for line in (match.group(0) for match in MULTILOCK_PROBLEM.finditer(text))
        if not any(notice in line for notice in NOT_MULTILOCKS)
    ]


async def check_every_vendor(stack: Stack) -> None:
    async with home_assistant(stack) as client:
        vendors = {entry["title"] for entry in await entries(client)}
        if not any("Doordeck" in title or "@" in title for title in vendors):
            await add_doordeck(client, stack)
        for host in stack.two_n_hosts:
            await add_two_n(client, host)
        await add_invue(client, stack)

        # Every entry loads.
        for _ in range(STATE_SECONDS * 4):
            states = {entry["title"]: entry["state"] for entry in await entries(client)}
            if all(state == "loaded" for state in states.values()):
                break
            await asyncio.sleep(0.25)
        assert all(state == "loaded" for state in states.values()), states
        assert len(states) >= 5, f"expected an entry per vendor (2N twice): {states}"

        # Every multilock entity has a state, none unavailable.
        entities = await multilock_entities(stack, client)
        shown = await client.states()
        missing = {e: shown.get(e) for e in entities if shown.get(e) in (None, "unavailable")}
        assert not missing, f"multilock entities without a state: {missing}"
        locks = sorted(e for e in entities if e.startswith("lock."))

        # Each lock vendor locks and unlocks: The Keys, Doordeck, 2N's bistable switch.
        two_n_devices = await devices_by_manufacturer(stack, client, "2N")
        assert len(two_n_devices) >= 2, two_n_devices
        two_n_locks = [e for e in locks if entities[e] == two_n_devices[0]["id"]]
        for entity_id in (
            "lock.front_door",
            next(e for e in locks if "demo_lock_1" in e),
            two_n_locks[-1],
        ):
            await lock_and_unlock(client, entity_id)

        # Each 2N action once.
        target, source = (device["id"] for device in two_n_devices[:2])
        # (the source holds a key too: a copy from a device without keys is refused)
        await call_action(
            client, "rotate_mobile_key", {"device_id": [target, source]}, response=True
        )
        await call_action(
            client, "set_mobile_key_location", {"device_id": target, "location": "East door"}
        )
        await call_action(
            client, "copy_mobile_keys", {"device_id": target, "source": source}, response=True
        )
        # Each InVue action once.
        bundle = await call_action(
            client, "get_key_certificates", {"serial": [INVUE_SERIALS[0]]}, response=True
        )
        assert INVUE_SERIALS[0] in str(bundle), bundle
        await call_action(
            client,
            "unenroll_lock",
            {"serial": [INVUE_SERIALS[1]], "confirm": True},
            response=True,
        )

    problems = multilock_problems(stack)
    assert not problems, "Home Assistant logged about multilock:\n" + "\n".join(problems)


@pytest.mark.last  # after the UI tests: what they did is in the log it reads
def test_every_vendor_end_to_end(stack: Stack) -> None:
    """Every vendor loads, shows states, moves and answers its actions, with a clean log."""
    stack.check_running()
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, check_every_vendor(stack)).result()
