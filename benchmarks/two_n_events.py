"""Rows 7a-7d: the 2N event log pushed into a real Home Assistant, against the simulator.

Two 2N device simulators run in processes of their own (``python -m simulators.two_n``, HTTPS
with the certificate pinned, Digest): *push* with its event log, *poll* without one (an older
firmware: multilock polls its switches every 15 s). One Home Assistant process
(``python -m benchmarks.two_n_events worker ...``) has both set up and measures:

* 7a — a switch switched at the device (``POST /sim/event``, the simulator's control
  endpoint, which answers with the ``time.monotonic()`` the device logged it, one clock for
  every process of the machine) until its lock entity shows it; the baseline is the same event
  read by a bare aiohttp long-poll (its own subscription on the same device, the same Digest
  middleware and pin), timed the same way;
* 7b — HTTP requests per minute each device gets from Home Assistant while nothing happens
  (``GET /sim/requests``): the push device's (its pull waiting a minute, switches read every
  five minutes, the rest every ten) against the polled one's (switches every 15 s);
* 7c/7d — 100 cards (each naming its user) shown on the access event entity, with five
  subscription losses among them (forgotten by the device, a pull cut after the device sent
  its events, a pull error, a device restart, forgotten again): users never shown (lost) and
  shown twice (duplicated).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
import json
from pathlib import Path
import ssl
import subprocess
import sys
import tempfile
import time
from types import MappingProxyType
from typing import Any

import aiohttp
from homeassistant import config_entries
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component

from custom_components.multilock.const import DOMAIN
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER

from .hass_core import start_home_assistant, write_config_entries

ROOT = Path(__file__).resolve().parent.parent
GATE = "lock.{}_switch_2"  # bistable: a switch at the device changes it until switched back
LOSSES = ("forget_subscriptions", "pull_cut", "pull_error", "reboot", "forget_subscriptions")


@dataclass(frozen=True)
class Device:
    """A running simulator: its address, certificate and name."""

    host: str
    pin: bytes
    name: str
    serial: str

    @property
    def url(self) -> str:
        return f"https://{self.host}"


@contextmanager
def simulators() -> Iterator[tuple[Device, Device]]:
    """The push device (with its event log) and the polled one (without), each a process."""
    processes: list[subprocess.Popen[str]] = []
    devices = []
    try:
        for name, serial, options in (
            ("Push door", "54-1046-0001", []),
            ("Poll door", "54-1046-0002", ["--log-service", "absent"]),
        ):
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "simulators.two_n", "--protocol", "https"),
                    *("--port", "0", "--name", name, "--serial", serial, *options),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            processes.append(process)
            assert process.stdout is not None
            url = process.stdout.readline().split()[4]
            fingerprint = process.stdout.readline().split()[-1]
            pin = bytes.fromhex(fingerprint.replace(":", ""))
            devices.append(Device(url.removeprefix("https://"), pin, name, serial))
        yield devices[0], devices[1]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)


def two_n_events(config: dict[str, Any]) -> dict[str, list[float]]:
    """Rows 7a-7d: run the Home Assistant worker against two fresh simulators."""
    with simulators() as (push, poll), tempfile.TemporaryDirectory() as work:
        out = Path(work) / "events.json"
        devices = [
            {"host": d.host, "pin": d.pin.hex(), "name": d.name, "serial": d.serial}
            for d in (push, poll)
        ]
        subprocess.run(
            [
                *(sys.executable, "-m", "benchmarks.two_n_events", "worker"),
                *(json.dumps({"devices": devices, **config}), str(out)),
            ],
            cwd=ROOT,
            check=True,
            timeout=600,
        )
        result: dict[str, list[float]] = json.loads(out.read_text(encoding="utf-8"))
    return result


# --- the Home Assistant worker ------------------------------------------------------------


def _entry(device: Device) -> config_entries.ConfigEntry:
    return config_entries.ConfigEntry(
        data={
            "vendor": "two_n",
            "host": device.host,
            "protocol": "https",
            "auth": "digest",
            "username": DEFAULT_USER,
            "password": DEFAULT_PASSWORD,
            "certificate": "pin",
            "certificate_sha256": device.pin.hex(),
            "mac": "7C:1E:B3:00:00:01",
            "key_max_age": 90,
        },
        discovery_keys=MappingProxyType({}),
        domain=DOMAIN,
        minor_version=1,
        options={},
        source=config_entries.SOURCE_USER,
        subentries_data=None,
        title=device.name,
        unique_id=device.serial,
        version=2,
    )


class _Control:
    """The simulators' control endpoint (their certificates are pinned by the entries)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname, self._ssl.verify_mode = False, ssl.CERT_NONE

    async def inject(self, device: Device, what: str, **details: Any) -> list[dict[str, Any]]:
        for _ in range(100):  # while the device restarts, it does not answer
            try:
                async with self._session.post(
                    f"{device.url}/sim/event", json={"what": what, **details}, ssl=self._ssl
                ) as reply:
                    events: list[dict[str, Any]] = (await reply.json())["events"]
                    return events
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{device.name} did not come back")

    async def requests(self, device: Device) -> int:
        for _ in range(100):  # while the device restarts, it does not answer
            try:
                async with self._session.get(f"{device.url}/sim/requests", ssl=self._ssl) as reply:
                    total: int = (await reply.json())["total"]
                    return total
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{device.name} did not come back")


class _Changes:
    """When (``time.monotonic()``) each entity reached each state, and the access events."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.users: list[str] = []
        self.access = ""
        hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        new, old = event.data["new_state"], event.data["old_state"]
        if new is None:
            return
        now = time.monotonic()
        future = self.waiting.pop((event.data["entity_id"], new.state), None)
        if future is not None and not future.done():
            future.set_result(now)
        if event.data["entity_id"] == self.access and (old is None or old.state != new.state):
            user = new.attributes.get("user")
            if isinstance(user, str):
                self.users.append(user)

    def expect(self, entity_id: str, state: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[(entity_id, state)] = future
        return future


class _BarePull:
    """The baseline: one subscription pulled directly with aiohttp, noting when each event
    (by its record id) arrived."""

    def __init__(self, session: aiohttp.ClientSession, device: Device) -> None:
        self._session = session
        self._device = device
        self.arrived: dict[int, float] = {}
        self._options: dict[str, Any] = {
            "middlewares": (aiohttp.DigestAuthMiddleware(DEFAULT_USER, DEFAULT_PASSWORD),),
            "ssl": aiohttp.Fingerprint(device.pin),
        }

    async def run(self) -> None:
        url = f"{self._device.url}/api/log"
        async with self._session.post(
            f"{url}/subscribe", data={"filter": "SwitchStateChanged"}, **self._options
        ) as reply:
            subscription = (await reply.json())["result"]["id"]
        while True:
            async with self._session.post(
                f"{url}/pull", data={"id": str(subscription), "timeout": "60"}, **self._options
            ) as reply:
                events = (await reply.json())["result"]["events"]
            now = time.monotonic()
            for event in events:
                self.arrived[event["id"]] = now


async def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        await asyncio.sleep(0.01)


async def _worker(params: dict[str, Any], config_dir: Path) -> dict[str, list[float]]:
    push, poll = (
        Device(d["host"], bytes.fromhex(d["pin"]), d["name"], d["serial"])
        for d in params["devices"]
    )
    write_config_entries(config_dir, [_entry(push), _entry(poll)])
    hass = await start_home_assistant(config_dir)
    result: dict[str, list[float]] = {}
    try:
        async with aiohttp.ClientSession() as session:
            if not await async_setup_component(hass, DOMAIN, {}):
                raise RuntimeError("multilock did not set up")
            await hass.async_block_till_done()
            changes = _Changes(hass)
            push_slug = push.name.lower().replace(" ", "_")
            changes.access = f"event.{push_slug}_access"
            log_state = f"sensor.{push_slug}_event_log"
            await _wait_for(
                lambda: (state := hass.states.get(log_state)) and state.state == "connected", 30
            )
            control = _Control(session)
            result |= await _latency(push, push_slug, control, changes, session, params)
            result |= await _idle(push, poll, control, params)
            result |= await _losses(push, control, changes, params)
    finally:
        await hass.async_stop()
    return result


async def _latency(
    push: Device,
    slug: str,
    control: _Control,
    changes: _Changes,
    session: aiohttp.ClientSession,
    params: dict[str, Any],
) -> dict[str, list[float]]:
    """7a: a switch switched at the device until its lock shows it, and the bare pull."""
    bare = _BarePull(session, push)
    pulling = asyncio.get_running_loop().create_task(bare.run())
    ours, baseline = [], []
    try:
        await asyncio.sleep(0.5)  # the bare subscription is open
        for index in range(int(params["events"])):
            on = index % 2 == 0
            shown = changes.expect(GATE.format(slug), "unlocked" if on else "locked")
            [logged] = await control.inject(push, "switch", switch=2, state="on" if on else "off")
            record = logged["id"]
            async with asyncio.timeout(10):
                ours.append(await shown - logged["at"])
                await _wait_for(lambda record=record: record in bare.arrived, 10)
            baseline.append(bare.arrived[record] - logged["at"])
            await asyncio.sleep(0.05)
    finally:
        pulling.cancel()
    return {"latency": ours, "latency_bare": baseline}


async def _idle(
    push: Device, poll: Device, control: _Control, params: dict[str, Any]
) -> dict[str, list[float]]:
    """7b: requests per minute each device gets while nothing happens."""
    minutes = float(params["idle_minutes"])
    before = (await control.requests(push), await control.requests(poll))
    await asyncio.sleep(minutes * 60)
    after = (await control.requests(push), await control.requests(poll))
    return {
        "idle_push": [(after[0] - before[0]) / minutes],
        "idle_poll": [(after[1] - before[1]) / minutes],
    }


async def _losses(
    push: Device, control: _Control, changes: _Changes, params: dict[str, Any]
) -> dict[str, list[float]]:
    """7c/7d: 100 cards, five subscription losses among them: lost and duplicated."""
    count = int(params["cards"])
    every = max(1, count // (len(LOSSES) + 1))
    changes.users.clear()
    for index in range(count):
        if index and index % every == 0 and index // every <= len(LOSSES):
            loss = LOSSES[index // every - 1]
            await control.inject(push, loss)
            if loss == "reboot":  # the device answers, then restarts: the next card after it
                await asyncio.sleep(1)
                await control.requests(push)
        await control.inject(push, "card", user=f"user {index}")
        await asyncio.sleep(0.02)
    wanted = {f"user {index}" for index in range(count)}
    with suppress(TimeoutError):  # what never comes is counted as lost
        await _wait_for(lambda: wanted <= set(changes.users), 30)
    await asyncio.sleep(1)  # anything shown twice would come now
    shown = [user for user in changes.users if user in wanted]
    return {"lost": [len(wanted - set(shown))], "duplicated": [len(shown) - len(set(shown))]}


def main() -> None:
    """``python -m benchmarks.two_n_events worker PARAMS_JSON OUT_FILE``."""
    _, params, out = sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="multilock-bench-2n-") as config_dir:
        result = asyncio.run(_worker(json.loads(params), Path(config_dir)))
    Path(out).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
