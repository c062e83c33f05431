"""The 2N simulator's event log, camera and control endpoint, spoken to as raw HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import hashlib
from typing import Any

import aiohttp
import pytest

from simulators.two_n import (
    SNAPSHOT_JPEG,
    MobileKey,
    TwoNDeviceSimulator,
    build_parser,
    inject,
    inject_main,
    inject_parser,
)
from simulators.two_n_log import EventLog


class FakeTime:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[TwoNDeviceSimulator]:
    """A device over HTTP without authentication (the log's rules, not the account's)."""
    device = TwoNDeviceSimulator(auth="none")
    await device.start()
    yield device
    await device.stop()


async def _api(sim: TwoNDeviceSimulator, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.url}/api/{path}", data={k: str(v) for k, v in params.items()}) as reply,
    ):
        return reply.status, await reply.json()


async def _result(sim: TwoNDeviceSimulator, path: str, **params: Any) -> Any:
    status, body = await _api(sim, path, **params)
    assert status == 200
    assert body["success"], body
    return body.get("result")


async def _error(sim: TwoNDeviceSimulator, path: str, **params: Any) -> tuple[int, str | None]:
    _, body = await _api(sim, path, **params)
    assert not body["success"], body
    return body["error"]["code"], body["error"].get("param")


async def test_subscribe_pull_and_filters(sim: TwoNDeviceSimulator) -> None:
    caps = await _result(sim, "log/caps")
    assert "MobKeyEntered" in caps["events"]
    everything = (await _result(sim, "log/subscribe", include="all"))["id"]
    cards = (await _result(sim, "log/subscribe", filter="CardEntered"))["id"]
    await inject(sim, "card", user="Ann")
    await inject(sim, "doorbell")
    pulled = await _result(sim, "log/pull", id=everything)
    names = [event["event"] for event in pulled["events"]]
    assert names == [
        "DeviceState",
        "CardEntered",
        "UserAuthenticated",
        "KeyPressed",
        "KeyReleased",
        "CallStateChanged",
        "CallStateChanged",
    ]
    assert [e["id"] for e in pulled["events"]] == sorted(e["id"] for e in pulled["events"])
    only = await _result(sim, "log/pull", id=cards)
    assert [event["event"] for event in only["events"]] == ["CardEntered"]
    assert only["events"][0]["params"]["valid"] is True
    assert (await _result(sim, "log/pull", id=cards))["events"] == []  # emptied


async def test_a_pull_waits_for_an_event_or_its_timeout(sim: TwoNDeviceSimulator) -> None:
    subscription = (await _result(sim, "log/subscribe"))["id"]
    waiting = asyncio.ensure_future(_result(sim, "log/pull", id=subscription, timeout=30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await inject(sim, "door", state="forced")
    pulled = await asyncio.wait_for(waiting, 5)
    assert [e["event"] for e in pulled["events"]] == ["UnauthorizedDoorOpen"]
    assert (await _result(sim, "log/pull", id=subscription, timeout=0))["events"] == []


async def test_include_the_last_seconds_and_expiry() -> None:
    clock = FakeTime()
    log = EventLog(clock=clock)
    log.record("DoorStateChanged", {"state": "opened"})
    clock.now += 100
    log.record("DoorStateChanged", {"state": "closed"})
    recent = log.subscribe({"include": "-10", "duration": "5"}, None)["id"]
    assert isinstance(recent, int)
    batch = await log.pull({"id": str(recent)}, asyncio.Event())
    assert [e["params"] for e in batch["events"]] == [{"state": "closed"}]  # type: ignore[index]
    clock.now += 6  # not pulled for longer than its duration: closed
    log.record("DoorStateChanged", {"state": "opened"})
    assert recent not in log.subscriptions
    with pytest.raises(Exception, match="12"):
        await log.pull({"id": str(recent)}, asyncio.Event())
    log.restart()
    assert not log.history
    assert log.record("NotLogged", {}) is None


async def test_errors_of_the_log(sim: TwoNDeviceSimulator) -> None:
    assert await _error(sim, "log/pull") == (11, "id")
    assert await _error(sim, "log/pull", id=999) == (12, "id")
    assert await _error(sim, "log/pull", id="x") == (12, "id")
    assert await _error(sim, "log/subscribe", include="yesterday") == (12, "include")
    assert await _error(sim, "log/subscribe", include="-x") == (12, "include")
    assert await _error(sim, "log/subscribe", filter="Nope") == (12, "filter")
    assert await _error(sim, "log/subscribe", duration=0) == (12, "duration")
    assert await _error(sim, "log/unsubscribe", id=5) == (12, "id")
    subscription = (await _result(sim, "log/subscribe"))["id"]
    assert await _error(sim, "log/pull", id=subscription, timeout=99999) == (12, "timeout")
    waiting = asyncio.ensure_future(_api(sim, "log/pull", id=subscription, timeout=30))
    await asyncio.sleep(0.05)
    sim.event_log.forget()  # the device closes it while a pull waits: error 12 at once
    _, body = await asyncio.wait_for(waiting, 5)
    assert body["error"]["code"] == 12
    sim.log_service = "disabled"
    assert (await _error(sim, "log/caps"))[0] == 4
    for path in ("log/subscribe", "log/pull", "log/unsubscribe"):
        assert (await _error(sim, path, id=1))[0] == 4


async def test_a_restart_cuts_a_waiting_pull_and_empties_the_history(
    sim: TwoNDeviceSimulator,
) -> None:
    subscription = (await _result(sim, "log/subscribe"))["id"]
    waiting = asyncio.ensure_future(_api(sim, "log/pull", id=subscription, timeout=30))
    await asyncio.sleep(0.05)
    await inject(sim, "reboot")
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(waiting, 5)
    assert [event.name for event in sim.event_log.history] == ["DeviceState"]
    assert await _error(sim, "log/pull", id=subscription) == (12, "id")


async def test_privileges_leave_events_out() -> None:
    device = TwoNDeviceSimulator(
        auth="basic", accounts={"doors": ("pw", ["switches_control"])}, log_service="enabled"
    )
    await device.start()
    try:
        headers = {"Authorization": aiohttp.encode_basic_auth("doors", "pw")}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(f"{device.url}/api/log/subscribe") as reply:
                subscription = (await reply.json())["result"]["id"]
            await inject(device, "card", user="Ann", switch=2)  # the card opens switch 2
            async with session.post(
                f"{device.url}/api/log/pull", data={"id": str(subscription)}
            ) as reply:
                events = (await reply.json())["result"]["events"]
            async with session.get(f"{device.url}/api/camera/caps") as reply:
                camera = await reply.json()
        assert [e["event"] for e in events] == ["SwitchStateChanged"]
        assert events[0]["params"] == {"switch": 2, "state": True}
        assert camera["error"]["code"] == 10
    finally:
        await device.stop()


async def test_switch_events_by_the_api_and_when_a_timed_state_ends() -> None:
    device = TwoNDeviceSimulator(auth="none", switches=None)
    device.switches[1].on_duration = 0.05
    await device.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{device.url}/api/switch/ctrl", data={"switch": "1", "action": "trigger"}
            ) as reply:
                assert (await reply.json())["success"]
            for _ in range(200):
                if len(device.event_log.history) >= 3:
                    break
                await asyncio.sleep(0.01)
        changes = [e.params for e in device.event_log.history if e.name == "SwitchStateChanged"]
        assert changes == [{"switch": 1, "state": True}, {"switch": 1, "state": False}]
    finally:
        await device.stop()


async def test_mobile_keys_doors_inputs_and_malformed_events(sim: TwoNDeviceSimulator) -> None:
    key = MobileKey.generate()
    sim.set_keys([key])
    logged = await inject(sim, "mobile_key", slot=1, user="Bob")
    assert logged[0]["event"] == "MobKeyEntered"
    public = key.public_der
    assert public is not None
    assert logged[0]["params"]["authid"] == hashlib.sha256(public).hexdigest()[:16]
    assert logged[1]["params"]["name"] == "Bob"
    refused = await inject(sim, "mobile_key", slot=4)
    assert refused[0]["params"]["valid"] is False
    assert len(refused) == 1  # no user for a refused phone
    assert (await inject(sim, "door", state="open_too_long"))[0]["event"] == "DoorOpenTooLong"
    assert (await inject(sim, "input", state="off"))[0]["params"] == {
        "port": "input1",
        "state": False,
    }
    code = await inject(sim, "code", code="2468", valid=False)
    assert code[0]["params"]["code"] == "2468"
    with pytest.raises(ValueError, match="door state"):
        await inject(sim, "door", state="ajar")
    with pytest.raises(ValueError, match="what happens"):
        await inject(sim, "earthquake")
    with pytest.raises(ValueError, match="not an enabled switch"):
        await inject(sim, "switch", switch=9)
    subscription = (await _result(sim, "log/subscribe"))["id"]
    await inject(sim, "malformed_event")
    pulled = await _result(sim, "log/pull", id=subscription)
    assert pulled["events"][0]["event"] == 42
    await inject(sim, "forget_subscriptions")
    assert not sim.event_log.subscriptions


async def test_the_camera(sim: TwoNDeviceSimulator) -> None:
    caps = await _result(sim, "camera/caps")
    assert {"width": 640, "height": 480} in caps["jpegResolution"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sim.url}/api/camera/snapshot", params={"width": "640", "height": "480"}
        ) as reply,
    ):
        assert reply.content_type == "image/jpeg"
        assert await reply.read() == SNAPSHOT_JPEG
    assert await _error(sim, "camera/snapshot", width=640) == (11, "height")
    assert await _error(sim, "camera/snapshot", width="x", height=1) == (12, "width")
    assert await _error(sim, "camera/snapshot", width=641, height=480) == (12, "width")
    assert await _error(sim, "camera/snapshot", width=640, height=480, source="external") == (
        12,
        "source",
    )
    without = TwoNDeviceSimulator(auth="none", camera=False, log_service="absent")
    await without.start()
    try:
        assert (await _error(without, "camera/caps"))[0] == 2
        assert (await _error(without, "log/caps"))[0] == 2
    finally:
        await without.stop()


async def test_the_control_endpoint_and_the_command_line(
    sim: TwoNDeviceSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{sim.url}/sim/event", json={"what": "doorbell", "button": 3}
        ) as reply:
            events = (await reply.json())["events"]
        assert events[0]["params"] == {"key": "%3"}
        assert isinstance(events[0]["at"], float)
        async with session.get(f"{sim.url}/sim/event") as reply:
            assert reply.status == 404
        async with session.post(f"{sim.url}/sim/event", json={"what": "flood"}) as reply:
            assert reply.status == 400
        async with session.post(f"{sim.url}/sim/event", json=[1]) as reply:
            assert reply.status == 400
        async with session.get(f"{sim.url}/sim/requests") as reply:
            assert (await reply.json())["total"] == len(sim.requests)
    await inject(sim, "pull_error")
    await inject(sim, "pull_cut")
    assert [fault.kind for fault in sim._faults] == ["error_envelope", "disconnect_after"]
    assert not any(r.path.startswith("/sim/") for r in sim.requests)  # not the device's API
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(
        None, inject_main, ["card", "--url", sim.url, "--user", "Zoe", "--switch", "2"]
    )
    printed = capsys.readouterr().out
    assert '"UserAuthenticated"' in printed
    assert sim.switches[2].latched
    with pytest.raises(SystemExit):
        await loop.run_in_executor(None, inject_main, ["card", "--url", "http://127.0.0.1:9"])
    assert "inject" in build_parser().format_help()
    assert "mobile_key" in inject_parser().format_help()
