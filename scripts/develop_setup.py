"""Add the 2N device and the InVue account to the running demo through multilock's own flows.

Run by scripts/develop once Home Assistant answers: it logs in as dev (like the web page),
waits until Home Assistant has started, creates two areas (stores) over the websocket API,
then walks the config flows over the REST API exactly as a user would in the UI: the 2N
device at 127.0.0.1:8183 (HTTP, Digest), the InVue account of the simulator's built-in
owner, and two of its three locks enrolled into the two areas (the third is left for the
user to enrol). It returns once every multilock entry is loaded.
``python scripts/develop_setup.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import sys
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # scripts/ and simulators/ as modules, also without the venv

from scripts.develop_check import CheckFailed, HomeAssistantClient  # noqa: E402
from simulators.invue import (  # noqa: E402
    DEFAULT_LOCKS,
    DEFAULT_OWNER,
    derived_api_key,
    derived_enrolment_code,
)
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER  # noqa: E402

# The InVue simulator's default locks (serial, enrolment code, type) by serial number.
INVUE_SIMULATED = {serial: (code, lock_type) for serial, code, lock_type in DEFAULT_LOCKS}
STORES = ("Shop front", "Stockroom")  # the areas, created at start
# (serial, name, area) of the locks enrolled at start, in two stores.
INVUE_LOCKS = (
    ("0000051a00000005", "Jewellery cabinet", "Shop front"),
    ("0000051a00000006", "Stockroom cage", "Stockroom"),
)
# Left for the user to enrol (the README says how): its enrolment code is in the
# simulator's --help.
INVUE_WAITING = ("0000051a00000000", "Watch display", "Shop front")


async def flow(client: HomeAssistantClient, path: str, steps: list[dict[str, Any]]) -> Any:
    """Start a flow at ``path`` and answer its steps in turn; return the last result."""
    result = await client.api("POST", path, steps[0])
    for answer in steps[1:]:
        if result.get("type") in ("create_entry", "abort"):
            break
        result = await client.api("POST", f"{path}/{result['flow_id']}", answer)
    if result.get("type") != "create_entry":
        raise CheckFailed(f"{path}: {result.get('errors') or result.get('reason') or result}")
    return result


async def create_area(client: HomeAssistantClient, name: str) -> str:
    """Create an area over the websocket API (the REST API has none) and return its id."""
    async with client.session.ws_connect(f"{client.url}/api/websocket") as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": client.token})
        await ws.receive_json()  # auth_ok
        await ws.send_json({"id": 1, "type": "config/area_registry/list"})
        for area in (await ws.receive_json())["result"]:
            if area["name"] == name:
                return str(area["area_id"])
        await ws.send_json({"id": 2, "type": "config/area_registry/create", "name": name})
        reply = await ws.receive_json()
        if not reply.get("success"):
            raise CheckFailed(f"Could not create the area {name}: {reply}")
        return str(reply["result"]["area_id"])


async def setup(args: argparse.Namespace) -> None:
    """Log in as dev once Home Assistant answers, then add the devices."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, args.url)
        await client.wait_until_up(args.timeout)
        await client.log_in("dev", "multilock")
        await add_devices(client, args)


async def add_devices(client: HomeAssistantClient, args: argparse.Namespace) -> None:
    """Once Home Assistant runs, add the 2N device, the InVue account and two of its locks."""
    await client.wait_until_running(args.timeout)
    config_flow = "config/config_entries/flow"

    await flow(
        client,
        config_flow,
        [
            {"handler": "multilock"},
            {"next_step_id": "two_n"},
            {
                "host": args.two_n,
                "protocol": "http",
                "auth": "digest",
                "username": DEFAULT_USER,
                "password": DEFAULT_PASSWORD,
                "certificate": "system",
                "key_max_age": 90,
            },
        ],
    )
    print(f"2N device at {args.two_n}: added")

    owner = DEFAULT_OWNER
    intermediate = await asyncio.to_thread(Path(args.intermediate).read_text)
    entry = await flow(
        client,
        config_flow,
        [
            {"handler": "multilock"},
            {"next_step_id": "invue"},
            {
                "api_key": derived_api_key(owner),
                "owner": owner,
                "intermediate": intermediate,
                "server": {"url": args.invue},
            },
            {},  # the certificate's expiry, confirmed
        ],
    )
    entry_id = entry["result"]["entry_id"]
    print(f"InVue account {owner}: added")
    areas = {name: await create_area(client, name) for name in STORES}
    for serial, name, area in INVUE_LOCKS:
        code, lock_type = INVUE_SIMULATED[serial]
        await flow(
            client,
            "config/config_entries/subentries/flow",
            [
                {"handler": [entry_id, "invue_lock"]},
                {
                    "serial": serial,
                    "lock_type": lock_type,  # the type the lock reports, as the SDK reads it
                    "enrolment_code": code or derived_enrolment_code(serial),
                    "area_id": areas[area],
                    "name": name,
                },
            ],
        )
        print(f"InVue lock {name} ({serial}): enrolled, in {area}")
    serial, name, area = INVUE_WAITING
    print(
        f"InVue lock {name} ({serial}, type {INVUE_SIMULATED[serial][1]}): waiting to be "
        f"enrolled in {area}; its enrolment code: python -m simulators.invue --help"
    )
    await client.wait_until_running(args.timeout)  # the new entries too


def main() -> None:
    """Parse the command line and add the devices."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123", help="Home Assistant")
    parser.add_argument("--two-n", default="127.0.0.1:8183", help="the 2N simulator")
    parser.add_argument("--invue", default="http://127.0.0.1:8184", help="the InVue simulator")
    parser.add_argument(
        "--intermediate",
        default=str(ROOT / ".develop" / "invue-intermediate.pem"),
        help="the InVue simulator's intermediate certificate (its --write-intermediate)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for Home Assistant to start (a first start pip-installs packages)",
    )
    try:
        asyncio.run(setup(parser.parse_args()))
    except CheckFailed as err:
        sys.exit(f"develop_setup: {err}")


if __name__ == "__main__":
    main()
