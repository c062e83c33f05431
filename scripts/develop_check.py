"""Check the Home Assistant of scripts/develop the way a person would, through its HTTP API.

With ``scripts/develop`` running, ``python scripts/develop_check.py``:

1. waits until Home Assistant answers at ``--url`` (http://localhost:8123);
2. logs in as dev / multilock with the login flow of the web UI (``/auth/login_flow``, then
   ``/auth/token`` with the authorization code);
3. waits until Home Assistant has started (``/api/config`` says ``RUNNING``) with every
   multilock entry loaded, and checks that ``lock.front_door`` and ``lock.back_door`` are
   ``locked``;
4. unlocks ``lock.front_door``, waits for ``unlocked``, then locks it again (so the check can
   be rerun) and waits for ``locked``.

It exits non-zero with a message at the first step that fails. ``--login-url`` only prints a
URL that logs a browser in (for instance a headless one taking a screenshot).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Sequence
import json
import sys
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

LOCKS = ("lock.front_door", "lock.back_door")


class CheckFailed(Exception):
    """A step of the check failed."""


class HomeAssistantClient:
    """Just enough of Home Assistant's auth and REST APIs for the check."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"  # what the web UI uses
        self.token: str | None = None

    async def wait_until_up(self, within: float) -> float:
        """Return the seconds it took until the login providers answer."""
        start = time.monotonic()
        while True:
            try:
                async with self.session.get(f"{self.url}/auth/providers") as resp:
                    if resp.status == 200:
                        return time.monotonic() - start
            except aiohttp.ClientError:
                pass
            if time.monotonic() - start > within:
                raise CheckFailed(f"Home Assistant did not answer at {self.url} in {within:.0f} s")
            await asyncio.sleep(1)

    async def authorization_code(self, username: str, password: str) -> str:
        """Run the login flow of the web UI and return its authorization code."""
        flow = await self._post_json(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        result = await self._post_json(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
        )
        if result.get("type") != "create_entry":
            raise CheckFailed(f"Login as {username} refused: {result.get('errors') or result}")
        return str(result["result"])

    async def log_in(self, username: str, password: str) -> None:
        """Log in and keep the access token."""
        code = await self.authorization_code(username, password)
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        async with self.session.post(f"{self.url}/auth/token", data=form) as resp:
            tokens = await resp.json()
            if resp.status != 200:
                raise CheckFailed(f"/auth/token answered {resp.status}: {tokens}")
        self.token = tokens["access_token"]

    def browser_login_url(self, code: str) -> str:
        """Return a URL that makes the web UI exchange ``code`` for tokens (one use, 10 min)."""
        state = {"hassUrl": self.url, "clientId": self.client_id}
        encoded = base64.b64encode(json.dumps(state).encode()).decode()
        return f"{self.url}/?{urlencode({'auth_callback': 1, 'code': code, 'state': encoded})}"

    async def api(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the REST API with the access token and return the decoded answer."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(
            method, f"{self.url}/api/{path}", json=payload, headers=headers
        ) as resp:
            if resp.status != 200:
                raise CheckFailed(
                    f"{method} /api/{path} answered {resp.status}: {await resp.text()}"
                )
            return await resp.json()

    async def wait_until_running(self, within: float) -> float:
        """Return the seconds until Home Assistant has started and multilock's entries loaded.

        Logged in. HTTP answers early in the start; Home Assistant says "RUNNING" (in
        ``/api/config``) once every integration is set up, which at a first start includes
        pip-installing packages.
        """
        start = time.monotonic()
        while True:
            state = (await self.api("GET", "config"))["state"]
            entries = None
            if state == "RUNNING":
                entries = await self.api("GET", "config/config_entries/entry?domain=multilock")
                if all(entry["state"] == "loaded" for entry in entries):
                    return time.monotonic() - start
            if time.monotonic() - start >= within:
                break
            await asyncio.sleep(1)
        if entries is None:
            raise CheckFailed(f"Home Assistant is still {state} after {within:.0f} s")
        not_loaded = {entry["title"]: entry["state"] for entry in entries}
        raise CheckFailed(f"multilock entries not loaded after {within:.0f} s: {not_loaded}")

    async def states(self) -> dict[str, str]:
        """Return the state of every entity."""
        return {state["entity_id"]: state["state"] for state in await self.api("GET", "states")}

    async def wait_for_state(self, entity_id: str, wanted: str, within: float) -> float:
        """Return the seconds until ``entity_id`` has state ``wanted``."""
        start = time.monotonic()
        state = None
        while time.monotonic() - start <= within:
            state = (await self.states()).get(entity_id)
            if state == wanted:
                return time.monotonic() - start
            await asyncio.sleep(0.25)
        raise CheckFailed(f"{entity_id} is {state!r}, not {wanted!r}, after {within:.0f} s")

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"{self.url}{path}", json=payload) as resp:
            answer: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise CheckFailed(f"{path} answered {resp.status}: {answer}")
            return answer


async def check(client: HomeAssistantClient, args: argparse.Namespace) -> None:
    """Run the checks, printing what each one saw."""
    waited = await client.wait_until_up(args.timeout)
    print(f"Home Assistant answers at {client.url} (waited {waited:.1f} s)")
    if args.login_url:
        print(client.browser_login_url(await client.authorization_code(args.user, args.password)))
        return
    await client.log_in(args.user, args.password)
    config = await client.api("GET", "config")
    print(f"Logged in as {args.user}: Home Assistant {config['version']}, state {config['state']}")
    waited = await client.wait_until_running(args.timeout)
    print(f"Home Assistant is running, multilock's entries loaded (waited {waited:.1f} s)")
    entries = await client.api("GET", "config/config_entries/entry?domain=multilock")
    if not entries:
        raise CheckFailed("multilock has no entry")
    for entry in entries:
        print(f"Entry {entry['title']!r}: {entry['state']}")

    for entity_id in LOCKS:
        await client.wait_for_state(entity_id, "locked", args.timeout)
        print(f"{entity_id}: locked")

    for service, wanted in (("unlock", "unlocked"), ("lock", "locked")):
        start = time.monotonic()
        await client.api("POST", f"services/lock/{service}", {"entity_id": LOCKS[0]})
        called = time.monotonic() - start
        took = called + await client.wait_for_state(LOCKS[0], wanted, 30)
        print(f"lock.{service} {LOCKS[0]}: call {called:.1f} s, {wanted} after {took:.1f} s")
    print("All checks passed")


async def run(args: argparse.Namespace) -> None:
    """Open the HTTP session and run the check."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await check(HomeAssistantClient(session, args.url), args)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run the check; exit 1 when a step fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://localhost:8123")
    parser.add_argument("--user", default="dev")
    parser.add_argument("--password", default="multilock")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for each step")
    parser.add_argument(
        "--login-url", action="store_true", help="only print a URL that logs a browser in"
    )
    try:
        asyncio.run(run(parser.parse_args(argv)))
    except CheckFailed as err:
        sys.exit(f"FAILED: {err}")


if __name__ == "__main__":
    main()
