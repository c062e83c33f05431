"""One Home Assistant process of a benchmark run: one scenario, its samples as JSON.

``python -m benchmarks.worker SCENARIO MANIFEST_FILE PARAMS_JSON OUT_FILE``, with SCENARIO:

* ``commands`` — rows 1 and 2: lock/unlock through Home Assistant's ``lock`` service against
  the same signed request sent directly (and through the same service to a minimal lock
  entity that sends it), and unlocks sent in the middle of poll cycles;
* ``scale`` — rows 3 and 4: many gateways and a large Doordeck account in one Home
  Assistant: time until every entity has a state, memory, poll cost, event-loop lag.

The simulators run in their own process (``benchmarks.simhost``); this process is Home
Assistant alone, so its CPU time and memory are Home Assistant's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
import gc
import json
import logging
import math
import os
from pathlib import Path
import random
import sys
import tempfile
import time
from types import MappingProxyType
from typing import Any

import aiohttp
from homeassistant import config_entries
from homeassistant.components.lock import DATA_COMPONENT as LOCK_COMPONENT, LockEntity
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import RANDOM_MICROSECOND_MAX, RANDOM_MICROSECOND_MIN
from homeassistant.setup import async_setup_component

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck.client import DoordeckClient
from custom_components.multilock.vendors.doordeck.flow import account_title

from .bare import BareDoordeck, BareTheKeys
from .hass_core import start_home_assistant, write_config_entries

_PAGE = os.sysconf("SC_PAGE_SIZE")
FLOW_VERSION, FLOW_MINOR_VERSION = 2, 1


def rss_bytes() -> int:
    """Resident memory of this process."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


# --- Set-up -------------------------------------------------------------------------------


def thekeys_entry(gateway: dict[str, Any], *, polling: bool) -> config_entries.ConfigEntry:
    """The entry of a gateway and its locks, as the config flow stores it."""
    address = gateway["address"]
    return config_entries.ConfigEntry(
        data={"vendor": "thekeys", "host": address},
        discovery_keys=MappingProxyType({}),
        domain=DOMAIN,
        minor_version=FLOW_MINOR_VERSION,
        options={},
        pref_disable_polling=not polling,
        source=config_entries.SOURCE_USER,
        subentries_data=[
            config_entries.ConfigSubentryData(
                data={"identifier": identifier, "share_code": code},
                subentry_type="thekeys_lock",
                title=f"Lock {identifier}",
                unique_id=str(identifier),
            )
            for identifier, code in gateway["locks"]
        ],
        title=f"The Keys gateway {address}",
        unique_id=address,
        version=FLOW_VERSION,
    )


async def doordeck_credentials(url: str, account: dict[str, Any]) -> dict[str, Any]:
    """Sign in and register a key as the config flow does; return the stored credentials."""
    async with aiohttp.ClientSession() as session:
        client = DoordeckClient(session, base_url=url)
        await client.login(account["email"], account["password"])
        await client.register_key()
        return client.credentials.to_dict()


def doordeck_entry(
    url: str, account: dict[str, Any], credentials: dict[str, Any], *, polling: bool
) -> config_entries.ConfigEntry:
    """The entry of a Doordeck account, as the config flow stores it."""
    return config_entries.ConfigEntry(
        data={
            "vendor": "doordeck",
            "email": account["email"],
            "url": url,
            "credentials": credentials,
        },
        discovery_keys=MappingProxyType({}),
        domain=DOMAIN,
        minor_version=FLOW_MINOR_VERSION,
        options={},
        pref_disable_polling=not polling,
        source=config_entries.SOURCE_USER,
        subentries_data=None,
        title=account_title(account["email"]),
        unique_id=account["user_id"],
        version=FLOW_VERSION,
    )


def lock_entity(hass: HomeAssistant, unique_id: str) -> str:
    """The entity id of the lock entity with this unique id."""
    entity_id = er.async_get(hass).async_get_entity_id("lock", DOMAIN, unique_id)
    if entity_id is None:
        raise RuntimeError(f"No lock entity {unique_id}")
    return entity_id


def thekeys_lock_entity(hass: HomeAssistant, identifier: int) -> str:
    """The lock entity of a The Keys lock."""
    return lock_entity(hass, f"thekeys-lock-{identifier}-lock")


def doordeck_lock_entity(hass: HomeAssistant, account: dict[str, Any], lock_id: str) -> str:
    """The lock entity of a Doordeck lock."""
    return lock_entity(hass, f"doordeck-{account['user_id']}-lock-{lock_id}-lock")


class Control:
    """The simulators' control API (what they received, and when)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def _get(self, path: str) -> Any:
        async with self._session.get(self._url + path) as response:
            return await response.json()

    async def thekeys_totals(self) -> list[int]:
        """Requests each gateway has received so far."""
        totals: list[int] = (await self._get("/thekeys/totals"))["totals"]
        return totals

    async def thekeys_requests(self, index: int, since: int) -> list[list[Any]]:
        """``[path, received_at, ts, identifier, ts_accepted]`` from request ``since`` on."""
        requests: list[list[Any]] = (await self._get(f"/thekeys/{index}/requests?since={since}"))[
            "requests"
        ]
        return requests

    async def doordeck_total(self) -> int:
        """Requests the Doordeck simulator has received so far."""
        total: int = (await self._get("/doordeck/requests?since=1000000000"))["total"]
        return total


class LagProbe:
    """Measures how late the event loop runs a timer set every ``interval``.

    It runs only inside ``measuring`` windows (its own wake-ups cost CPU time).
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: dict[str, list[float]] = {}

    @asynccontextmanager
    async def measuring(self, window: str) -> AsyncIterator[None]:
        samples = self.samples.setdefault(window, [])
        task = asyncio.get_running_loop().create_task(self._run(samples))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self, samples: list[float]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            samples.append(loop.time() - expected)


_STAGGER = random.Random(3)


async def staggered(calls: list[Awaitable[Any]]) -> None:
    """Await every call, each started at a random moment of the next second of the loop's
    clock, as Home Assistant's scheduler starts coordinators' polls
    (``RANDOM_MICROSECOND_MIN..MAX``)."""
    loop = asyncio.get_running_loop()
    second = math.floor(loop.time()) + 1

    async def one(call: Awaitable[Any]) -> None:
        offset = _STAGGER.randint(RANDOM_MICROSECOND_MIN, RANDOM_MICROSECOND_MAX) / 1e6
        await asyncio.sleep(second + offset - loop.time())
        await call

    await asyncio.gather(*(one(call) for call in calls))


async def sleep_until_next_second(fraction: float = 0.05) -> None:
    """Sleep until ``fraction`` s past the next wall-clock second."""
    now = time.time()
    await asyncio.sleep(math.floor(now) + 1 + fraction - now)


async def cpu_of(call: Awaitable[Any]) -> tuple[float, float]:
    """Await ``call``; return (process CPU seconds, wall seconds) it took."""
    cpu, wall = time.process_time(), time.perf_counter()
    await call
    return time.process_time() - cpu, time.perf_counter() - wall


class StateWaiter:
    """Resolves when an entity reaches a state; notes when (perf_counter)."""

    def __init__(self, hass: HomeAssistant) -> None:
        self._waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
        hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is None:
            return
        future = self._waiting.pop((event.data["entity_id"], new.state), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def expect(self, entity_id: str, state: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[(entity_id, state)] = future
        return future


class MinimalLock(LockEntity):
    """Row 1c: the least any lock entity does, in the same Home Assistant as multilock.

    No coordinator and no other entity: it shows locking/unlocking, sends the same signed
    request as the baseline through Home Assistant's shared aiohttp session (as every
    integration must), and shows the new state.
    """

    _attr_should_poll = False

    def __init__(self, bare: BareTheKeys, identifier: int, share_code: str) -> None:
        self._bare, self._identifier, self._share_code = bare, identifier, share_code
        self._attr_name = f"Minimal lock {identifier}"
        self._attr_unique_id = f"minimal-lock-{identifier}"
        self._attr_is_locked = True  # as the simulator's locks start

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock: the same ``close`` as the baseline."""
        await self._move("close", locked=True)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock: the same ``open`` as the baseline."""
        await self._move("open", locked=False)

    async def _move(self, path: str, *, locked: bool) -> None:
        self._attr_is_locking, self._attr_is_unlocking = locked, not locked
        self.async_write_ha_state()
        try:
            await self._bare.signed(path, self._identifier, self._share_code)
            self._attr_is_locked = locked
        finally:
            self._attr_is_locking = self._attr_is_unlocking = False
            self.async_write_ha_state()


async def add_minimal_lock(hass: HomeAssistant, gateway: dict[str, Any]) -> str:
    """Add a ``MinimalLock`` for the first lock of ``gateway``; return its entity id."""
    identifier, share_code = gateway["locks"][0]
    bare = BareTheKeys(async_get_clientsession(hass), gateway["address"])
    entity = MinimalLock(bare, identifier, share_code)
    await hass.data[LOCK_COMPONENT].async_add_entities([entity])
    await hass.async_block_till_done()
    if entity.entity_id is None:
        raise RuntimeError("The minimal lock was not added")
    return entity.entity_id


async def call_lock_service(
    hass: HomeAssistant, waiter: StateWaiter, entity_id: str, *, lock: bool
) -> float:
    """Lock or unlock through the ``lock`` service; seconds until the entity shows it."""
    target = "locked" if lock else "unlocked"
    reached = waiter.expect(entity_id, target)
    start = time.perf_counter()
    await hass.services.async_call(
        "lock", "lock" if lock else "unlock", {"entity_id": entity_id}, blocking=True
    )
    async with asyncio.timeout(10):
        return await reached - start


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    """Seconds ``call()`` takes."""
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


# --- Scenario: commands (rows 1 and 2) -----------------------------------------------------


async def scenario_commands(
    manifest: dict[str, Any], params: dict[str, Any], config_dir: Path
) -> dict[str, Any]:
    """Rows 1 and 2."""
    url = manifest["doordeck_url"]
    cmd_gateway = manifest["thekeys"]["cmd"][0]
    poll_gateways = manifest["thekeys"]["poll"]
    account = manifest["doordeck"]["cmd"]
    credentials = await doordeck_credentials(url, account)
    # Polling off: a scheduled poll would take the gateway's timestamp slots at random.
    entries = [thekeys_entry(cmd_gateway, polling=False)]
    entries += [thekeys_entry(gateway, polling=False) for gateway in poll_gateways]
    entries.append(doordeck_entry(url, account, credentials, polling=False))
    write_config_entries(config_dir, entries)
    hass = await start_home_assistant(config_dir)
    result: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        try:
            if not await async_setup_component(hass, DOMAIN, {}):
                raise RuntimeError("multilock did not set up")
            await hass.async_block_till_done()
            waiter = StateWaiter(hass)
            control = Control(session, manifest["control"])
            result.update(
                await _command_overhead(hass, waiter, session, manifest, credentials, params)
            )
            result.update(
                await _command_during_polling(
                    hass, waiter, control, entries[1 : 1 + len(poll_gateways)], poll_gateways,
                    params, bare_latency=_median(result["thekeys_direct"]),
                )
            )  # fmt: skip
            result.update(await _burst(hass, waiter, control, cmd_gateway, params))
        finally:
            await hass.async_stop()
    return result


async def _burst(
    hass: HomeAssistant,
    waiter: StateWaiter,
    control: Control,
    gateway: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, list[float]]:
    """Rows 2b-2d: 10 alternating lock/unlock calls on one lock, as fast as HA takes them."""
    index, identifier = gateway["index"], gateway["locks"][0][0]
    entity_id = thekeys_lock_entity(hass, identifier)
    out_of_order: list[float] = []
    settle: list[float] = []
    false_success: list[float] = []
    for trial in range(int(params["burst_trials"])):
        await sleep_until_next_second(0.1)
        before = (await control.thekeys_totals())[index]
        # Start from locked; the burst then alternates unlock, lock, ... and ends locked.
        services = ["unlock", "lock"] * 5
        calls = []
        for service in services:
            calls.append(
                hass.async_create_task(
                    hass.services.async_call(
                        "lock", service, {"entity_id": entity_id}, blocking=True
                    )
                )
            )
            if trial % 2 == 0:
                await asyncio.sleep(0)  # as fast as Home Assistant takes them; else all at once
        last_call = time.perf_counter()
        reached = waiter.expect(entity_id, "locked")
        results = await asyncio.gather(*calls, return_exceptions=True)
        async with asyncio.timeout(10):
            await reached
        settle.append(time.perf_counter() - last_call)
        requests = await control.thekeys_requests(index, before)
        accepted = [
            r[0]
            for r in requests
            if r[4] and r[0] in ("/open", "/close") and int(r[3]) == identifier
        ]
        done = [
            "/open" if service == "unlock" else "/close"
            for service, result in zip(services, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        out_of_order.append(
            sum(1 for got, want in zip(accepted, done, strict=False) if got != want)
            + abs(len(accepted) - len(done))
        )
        false_success.append(max(0, len(done) - len(accepted)))
    return {
        "burst_out_of_order": out_of_order,
        "burst_settle": settle,
        "burst_false_success": false_success,
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else math.nan


async def _command_overhead(
    hass: HomeAssistant,
    waiter: StateWaiter,
    session: aiohttp.ClientSession,
    manifest: dict[str, Any],
    credentials: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Row 1: one command per wall-clock second, so that neither path waits for a timestamp.

    Each second, The Keys gets one command (through Home Assistant and directly in turn,
    on two locks of the same gateway), and Doordeck gets one through Home Assistant and
    one directly (on two locks of the same account), in alternating order. In the seconds
    of Home Assistant's The Keys command, the minimal lock entity (row 1c, a gateway of its
    own) gets one too, before or after it in turn.
    """
    gateway = manifest["thekeys"]["cmd"][0]
    (ha_lock, _), (direct_lock, direct_code) = gateway["locks"][:2]
    account = manifest["doordeck"]["cmd"]
    dd_ha_lock, dd_direct_lock = account["locks"][0]["id"], account["locks"][1]["id"]
    tk_entity = thekeys_lock_entity(hass, ha_lock)
    dd_entity = doordeck_lock_entity(hass, account, dd_ha_lock)
    minimal_entity = await add_minimal_lock(hass, manifest["thekeys"]["floor"][0])
    bare_tk = BareTheKeys(session, gateway["address"])
    bare_dd = BareDoordeck(session, manifest["doordeck_url"], credentials)
    samples: dict[str, list[float]] = {
        "thekeys_ha": [],
        "thekeys_direct": [],
        "thekeys_minimal": [],
        "doordeck_ha": [],
        "doordeck_direct": [],
    }
    warmup, slots = int(params["warmup"]), int(params["command_slots"])
    waited = 0
    for slot in range(warmup + 2 * slots):
        await sleep_until_next_second()
        lock = slot % 4 >= 2  # unlock, unlock, lock, lock...: every command moves its lock
        keep = slot >= warmup
        timings: list[tuple[str, float]] = []
        if slot % 2 == 0:
            entities = [("thekeys_ha", tk_entity), ("thekeys_minimal", minimal_entity)]
            for key, entity_id in entities if slot % 4 == 0 else entities[::-1]:
                elapsed = await call_lock_service(hass, waiter, entity_id, lock=lock)
                timings.append((key, elapsed))
        else:
            path = "close" if lock else "open"
            elapsed = await timed(lambda path=path: bare_tk.signed(path, direct_lock, direct_code))
            timings.append(("thekeys_direct", elapsed))
        for tk_key, elapsed in timings:
            if elapsed > 0.5:  # it waited for a timestamp: not a sample
                waited += 1
            elif keep:
                samples[tk_key].append(elapsed)
        ha_first = slot % 2 == 0
        for ha in (ha_first, not ha_first):
            if ha:
                elapsed = await call_lock_service(hass, waiter, dd_entity, lock=lock)
            else:
                elapsed = await timed(
                    lambda lock=lock: bare_dd.execute(dd_direct_lock, locked=lock)
                )
            if keep:
                samples["doordeck_ha" if ha else "doordeck_direct"].append(elapsed)
    return {**samples, "thekeys_waited": waited}


async def _command_during_polling(
    hass: HomeAssistant,
    waiter: StateWaiter,
    control: Control,
    entries: list[config_entries.ConfigEntry],
    gateways: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    bare_latency: float,
) -> dict[str, Any]:
    """Row 2: unlocks at random moments in the middle of poll cycles of many-lock gateways.

    For each unlock: the time from the service call until the gateway receives the
    ``open`` (the simulator's receive time, on the same monotonic clock), and its baseline:
    the wait for the next timestamp the gateway accepts (one more than the last it accepted
    before the call) plus a direct request's latency.
    """
    latencies: list[float] = []
    baselines: list[float] = []
    poll_requests: list[float] = []
    rng = random.Random(4)
    used: dict[int, int] = {}
    per_cycle = int(params["poll_samples_per_cycle"])
    for _ in range(int(params["poll_cycles"])):
        before = await control.thekeys_totals()
        await sleep_until_next_second(0.3)
        calls: list[tuple[int, int, float, float]] = []

        async def unlock_at(
            calls: list[tuple[int, int, float, float]], gateway: dict[str, Any], delay: float
        ) -> None:
            number = used[gateway["index"]] = used.get(gateway["index"], 0) + 1
            identifier = gateway["locks"][-number][0]
            await asyncio.sleep(delay)
            wall, mono = time.time(), time.monotonic()
            calls.append((gateway["index"], identifier, wall, mono))
            await call_lock_service(hass, waiter, thekeys_lock_entity(hass, identifier), lock=False)

        locks = len(gateways[0]["locks"])
        span = (1.2, max(1.5, locks * 0.8))  # within the cycle, which lasts about `locks` s
        tasks = [
            hass.config_entries.async_get_known_entry(entry.entry_id).runtime_data.async_refresh()
            for entry in entries
        ]
        for gateway in gateways:
            for _ in range(per_cycle):
                tasks.append(unlock_at(calls, gateway, rng.uniform(*span)))
        await asyncio.gather(*tasks)
        for gateway in gateways:
            index = gateway["index"]
            requests = await control.thekeys_requests(index, before[index])
            poll_requests.append(
                sum(1 for r in requests if r[0] in ("/lockers", "/status", "/locker_status"))
            )
            for _, identifier, wall, mono in (c for c in calls if c[0] == index):
                sent = next(r for r in requests if r[0] == "/open" and int(r[3]) == identifier)
                if not sent[4]:
                    raise RuntimeError(f"The gateway refused the unlock of {identifier}")
                accepted = [int(r[2]) for r in requests if r[4] and r[1] < mono]
                last = max(accepted, default=0)
                latencies.append(sent[1] - mono)
                baselines.append(max(0.0, last + 1 - wall) + bare_latency)
    return {
        "during_poll": latencies,
        "during_poll_baseline": baselines,
        "poll_requests_many": poll_requests,
        "poll_locks_many": len(gateways[0]["locks"]),
    }


# --- Scenario: scale (rows 3 and 4) --------------------------------------------------------


async def scenario_scale(
    manifest: dict[str, Any], params: dict[str, Any], config_dir: Path
) -> dict[str, Any]:
    """Rows 3 and 4 in one fresh Home Assistant."""
    url = manifest["doordeck_url"]
    account = manifest["doordeck"]["scale"]
    credentials = await doordeck_credentials(url, account)
    entries = [thekeys_entry(gateway, polling=True) for gateway in manifest["thekeys"]["scale"]]
    entries.append(doordeck_entry(url, account, credentials, polling=True))
    write_config_entries(config_dir, entries)
    hass = await start_home_assistant(config_dir)
    try:
        async with aiohttp.ClientSession() as session:
            return await ScaleRun(hass, session, manifest, credentials, params).run()
    finally:
        await hass.async_stop()


class ScaleRun:
    """Rows 3 and 4: one Home Assistant with many gateways and a large Doordeck account."""

    def __init__(
        self,
        hass: HomeAssistant,
        session: aiohttp.ClientSession,
        manifest: dict[str, Any],
        credentials: dict[str, Any],
        params: dict[str, Any],
    ) -> None:
        self.hass = hass
        self.params = params
        self.idle = float(params["idle_seconds"])
        self.control = Control(session, manifest["control"])
        self.gateways: list[dict[str, Any]] = manifest["thekeys"]["scale"]
        self.account: dict[str, Any] = manifest["doordeck"]["scale"]
        self.bare_gateways = [BareTheKeys(session, g["address"]) for g in self.gateways]
        self.bare_account = BareDoordeck(session, manifest["doordeck_url"], credentials)
        self.reporting = {lock["id"] for lock in self.account["locks"] if lock["reports_state"]}
        self.probe = LagProbe()
        self.thekeys: list[Any] = []
        self.doordeck: list[Any] = []
        self.result: dict[str, Any] = {
            "gateways": len(self.gateways),
            "locks_per_gateway": len(self.gateways[0]["locks"]),
            "doordeck_locks": len(self.account["locks"]),
            "doordeck_sites": self.account["sites"],
            "doordeck_reporting": len(self.reporting),
        }

    async def run(self) -> dict[str, Any]:
        """Start, poll, compare; return the samples."""
        result = self.result
        # Baseline of the start: the same first poll sent directly, all at once. Both start
        # just after a wall-clock second, where The Keys' waits for fresh timestamps are the
        # longest (the first poll of n locks then takes n - 1 s at least).
        await sleep_until_next_second()
        _, result["start_baseline"] = await cpu_of(self.bare_cycle(first=True))
        result["idle_cpu_before"] = await self.idle_cpu()
        async with self.probe.measuring("idle"):
            await asyncio.sleep(self.idle)
        gc.collect()
        rss_before = rss_bytes()
        # Home Assistant's first signed requests come in a later second than the above.
        await sleep_until_next_second()
        result.update(await _start(self.hass, self.probe))
        for entry in self.hass.config_entries.async_entries(DOMAIN):
            vendor = entry.data["vendor"]
            (self.thekeys if vendor == "thekeys" else self.doordeck).append(entry.runtime_data)
        result["idle_cpu_per_second"] = await self.idle_cpu()
        await self.poll_cycles()
        gc.collect()
        result["memory_added"] = rss_bytes() - rss_before
        await self.bare_cycles()
        result["lag_idle"] = self.probe.samples.get("idle", [])
        result["lag_polling"] = self.probe.samples.get("polling", [])
        return result

    async def idle_cpu(self) -> float:
        """CPU seconds per second of this process while nothing polls."""
        cpu, wall = await cpu_of(asyncio.sleep(self.idle))
        return cpu / wall

    async def poll_cycles(self) -> None:
        """Forced poll cycles of every entry at once (lag, then CPU), and of Doordeck alone.

        Each entry's refresh starts at a random moment of the next second, as Home
        Assistant's own scheduler staggers the coordinators' polls (``staggered``). A forced
        refresh also moves the entry's next scheduled poll a full interval on, so none runs
        meanwhile. The lag probe runs in cycles of its own (its wake-ups cost CPU time).
        The Keys' part of a cycle is the whole cycle's CPU less Doordeck's alone.
        """
        out = self.result
        for key in ("cycle_cpu_all", "cycle_cpu_gateway", "cycle_cpu_account"):
            out[key] = []
        out["requests_gateway"], out["requests_account"] = [], []
        everything = self.thekeys + self.doordeck
        for _ in range(int(self.params["cycles"])):
            await sleep_until_next_second()
            async with self.probe.measuring("polling"):
                await staggered([c.async_refresh() for c in everything])
            await sleep_until_next_second()
            totals = await self.control.thekeys_totals()
            cpu_all, _ = await cpu_of(staggered([c.async_refresh() for c in everything]))
            after = await self.control.thekeys_totals()
            before = await self.control.doordeck_total()
            cpu_account, _ = await cpu_of(staggered([c.async_refresh() for c in self.doordeck]))
            requests = await self.control.doordeck_total() - before
            out["cycle_cpu_all"].append(cpu_all)
            out["cycle_cpu_account"].append(cpu_account / len(self.doordeck))
            out["cycle_cpu_gateway"].append((cpu_all - cpu_account) / len(self.thekeys))
            out["requests_account"].append(requests / len(self.doordeck))
            out["requests_gateway"].extend(
                after[g["index"]] - totals[g["index"]] for g in self.gateways
            )

    async def bare_cycles(self) -> None:
        """The same cycles sent directly, for the CPU baselines."""
        gateway: list[float] = []
        account: list[float] = []
        for _ in range(int(self.params["cycles"])):
            await sleep_until_next_second()
            cpu_all, _ = await cpu_of(self.bare_cycle(first=False))
            cpu_account, _ = await cpu_of(self.bare_cycle(first=False, thekeys=False))
            account.append(cpu_account)
            gateway.append((cpu_all - cpu_account) / len(self.gateways))
        self.result["bare_cpu_gateway"], self.result["bare_cpu_account"] = gateway, account

    async def bare_cycle(self, *, first: bool, thekeys: bool = True) -> None:
        """The same poll sent directly: all at once for the first (the start's baseline),
        else staggered and paced as multilock's polls are (the CPU baselines)."""
        calls: list[Awaitable[Any]] = []
        if thekeys:
            calls += [
                bare.poll([(i, c) for i, c in g["locks"]], paced=not first)
                for bare, g in zip(self.bare_gateways, self.gateways, strict=True)
            ]
        calls.append(self.bare_account.poll(None if first else self.reporting))
        await (asyncio.gather(*calls) if first else staggered(calls))


async def _start(hass: HomeAssistant, probe: LagProbe) -> dict[str, Any]:
    """Set multilock up (every entry at once, as at Home Assistant's start)."""
    first_state: dict[str, float] = {}

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        entity_id = event.data["entity_id"]
        if new is not None and new.state != STATE_UNAVAILABLE and entity_id not in first_state:
            first_state[entity_id] = time.perf_counter()

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, changed)
    start = time.perf_counter()
    async with probe.measuring("start"):
        if not await async_setup_component(hass, DOMAIN, {}):
            raise RuntimeError("multilock did not set up")
        await hass.async_block_till_done()
    unsubscribe()
    registry = er.async_get(hass)
    entities = [
        entry.entity_id
        for entry in registry.entities.values()
        if entry.platform == DOMAIN and entry.disabled_by is None
    ]
    missing = [entity_id for entity_id in entities if entity_id not in first_state]
    if missing:
        raise RuntimeError(f"{len(missing)} entities have no state, e.g. {missing[:3]}")
    return {
        "start_time": max(first_state[e] for e in entities) - start,
        "entities": len(entities),
    }


# --- Main ---------------------------------------------------------------------------------

SCENARIOS = {"commands": scenario_commands, "scale": scenario_scale}


async def _main(scenario: str, manifest: dict[str, Any], params: dict[str, Any]) -> Any:
    with tempfile.TemporaryDirectory(prefix="multilock-bench-") as config_dir:
        return await SCENARIOS[scenario](manifest, params, Path(config_dir))


def main() -> None:
    """Run the scenario named on the command line."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Expected here: a custom integration, and no zlib-ng (only compression, unused).
    for name in ("homeassistant.loader", "aiohttp_fast_zlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    scenario, manifest_file, params, out_file = sys.argv[1:5]
    manifest = json.loads(Path(manifest_file).read_text(encoding="utf-8"))
    result = asyncio.run(_main(scenario, manifest, json.loads(params)))
    Path(out_file).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
