"""The 2N event log in Home Assistant: doorbell, access and door events, switches pushed,
the subscription kept alive (each event delivered once), refusals said, the camera."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
import logging
import time
from typing import Any

import aiohttp
from homeassistant.components.camera import async_get_image
from homeassistant.components.lock import LockState
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.two_n import events as events_module
from custom_components.multilock.vendors.two_n.client import (
    CameraCaps,
    LogEvent,
    TwoNApiError,
    TwoNMalformedReplyError,
    _camera_caps,
    _event_types,
    _log_batch,
)
from custom_components.multilock.vendors.two_n.const import UPDATE_INTERVAL
from custom_components.multilock.vendors.two_n.events import (
    PUSH_UPDATE_INTERVAL,
    EventLogState,
    EventTranslator,
)
from simulators.two_n import SNAPSHOT_JPEG, TwoNDeviceSimulator, inject

from .conftest import FRONT, GATE, client_of, coordinator_of, make_entry, old_keys, set_up

DOORBELL = "event.2n_ip_verso_doorbell"
ACCESS = "event.2n_ip_verso_access"
DOOR = "event.2n_ip_verso_door"
EVENT_LOG = "sensor.2n_ip_verso_event_log"
CAMERA = "camera.2n_ip_verso_camera"
WAIT = 10.0  # seconds at most for what a test waits for (it comes in milliseconds)

# Unloads and device restarts cut the pull's connection, sometimes while the simulator's
# side of a new one is still in its TLS handshake (the simulator reports it on this loop).
pytestmark = pytest.mark.usefixtures("refused_handshakes")


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """A device with its event log and a camera."""
    return {"log_service": "enabled", "camera": True}


async def until(condition: Callable[[], bool], what: str = "the condition") -> None:
    """Wait for ``condition`` (the device and Home Assistant share this loop)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Shown:
    """The events an event entity showed, in order: (event type, attributes)."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._seen: set[str] = set()
        async_track_state_change_event(hass, entity_id, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is None or new.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return
        if new.state in self._seen:
            return  # the same event (its time), written again or restored
        self._seen.add(new.state)
        attributes = dict(new.attributes)
        self.events.append((attributes.pop("event_type"), attributes))

    @property
    def types(self) -> list[str]:
        return [event_type for event_type, _ in self.events]

    async def wait_for(self, count: int) -> None:
        await until(lambda: len(self.events) >= count, f"{count} events")


def _ours(caplog: pytest.LogCaptureFixture) -> str:
    """What multilock logged."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.multilock")
    )


async def connected(hass: HomeAssistant) -> None:
    """Wait until the subscription is open."""
    await until(lambda: _state(hass, EVENT_LOG) == "connected", "the subscription")


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state


@pytest.fixture
async def ready(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> MockConfigEntry:
    """The entry loaded and its subscription open."""
    await connected(hass)
    await hass.async_block_till_done()
    return loaded_entry


async def _subscriptions(device: TwoNDeviceSimulator) -> int:
    return len(device.event_log.subscriptions)


# --- what the entities show --------------------------------------------------------------


async def test_entities_of_a_device_with_a_log_and_a_camera(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    for entity_id in (DOORBELL, ACCESS, DOOR, EVENT_LOG, CAMERA):
        assert registry.async_get(entity_id) is not None, entity_id
    assert hass.states.get(DOORBELL).attributes["device_class"] == "doorbell"
    assert hass.states.get(DOORBELL).attributes["event_types"] == ["ring", "call_started"]
    assert hass.states.get(ACCESS).state == STATE_UNKNOWN  # nothing happened yet
    assert registry.async_get(EVENT_LOG).entity_category == "diagnostic"
    assert await _subscriptions(device) == 1


async def test_a_doorbell_press(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    shown = Shown(hass, DOORBELL)
    await inject(device, "doorbell", button=2)
    await shown.wait_for(2)
    assert shown.types == ["ring", "call_started"]  # connecting, then ringing: one call
    assert shown.events[0][1]["button"] == 2
    assert shown.events[0][1]["occurred_at"]
    await asyncio.sleep(0.05)
    assert len(shown.events) == 2


async def test_keypad_digits_and_codes_are_never_shown_nor_logged(
    hass: HomeAssistant,
    device: TwoNDeviceSimulator,
    ready: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.multilock")
    doorbell, access = Shown(hass, DOORBELL), Shown(hass, ACCESS)
    for digit in "9876":
        device.event_log.record("KeyPressed", {"key": digit})
    await inject(device, "code", code="9876", valid=False)
    await access.wait_for(1)
    assert access.events == [
        ("refused", access.events[0][1]),
    ]
    assert access.events[0][1]["method"] == "code"
    assert "9876" not in str(access.events)
    assert doorbell.events == []
    assert "9876" not in _ours(caplog)


async def test_a_card_opens_the_door_and_names_its_user(
    hass: HomeAssistant,
    device: TwoNDeviceSimulator,
    ready: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.multilock")
    access, lock_states = Shown(hass, ACCESS), []

    @callback
    def lock_changed(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            lock_states.append(new.state)

    async_track_state_change_event(hass, FRONT, lock_changed)
    await inject(device, "card", user="Alice Martin", switch=1)
    await access.wait_for(1)
    event_type, attributes = access.events[0]
    assert event_type == "granted"
    assert attributes["method"] == "card"
    assert attributes["user"] == "Alice Martin"
    # The switch's change comes with the event, not with a poll; it relocks by itself.
    await until(lambda: LockState.UNLOCKED in lock_states, "the door shown open")
    await until(lambda: lock_states[-1] == LockState.LOCKED, "the door shown closed")
    assert device.count("switch/status") == 1  # the set-up's poll only
    assert "Alice" not in _ours(caplog)  # the user's name is shown, never logged


async def test_a_refused_card_and_a_granted_one_without_a_name(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    access = Shown(hass, ACCESS)
    await inject(device, "card", valid=False)
    await inject(device, "fingerprint")  # accepted, the device names nobody
    await access.wait_for(2)
    assert access.events[0] == ("refused", access.events[0][1])
    assert access.events[0][1]["method"] == "card"
    assert "user" not in access.events[0][1]
    assert access.events[1][0] == "granted"
    assert access.events[1][1]["method"] == "fingerprint"
    assert "user" not in access.events[1][1]


async def test_a_mobile_key_is_named_by_its_slot_and_fingerprint(
    hass: HomeAssistant, device: TwoNDeviceSimulator, entry: MockConfigEntry
) -> None:
    device.set_keys(old_keys(2))
    await set_up(hass, entry)
    await connected(hass)
    access = Shown(hass, ACCESS)
    await inject(device, "mobile_key", slot=2, user="Bob")
    await inject(device, "mobile_key", slot=3)  # an empty slot: the device refuses the phone
    await access.wait_for(2)
    known = coordinator_of(entry).data.mobile_keys
    assert known is not None
    granted = access.events[0]
    assert granted[0] == "granted"
    assert granted[1]["method"] == "mobile_key"
    assert granted[1]["user"] == "Bob"
    assert granted[1]["key_slot"] == 2
    assert granted[1]["key_fingerprint"] == known.keys[1].fingerprint[:16]
    refused = access.events[1]
    assert refused[0] == "refused"
    assert "key_slot" not in refused[1]
    assert refused[1]["authid"]  # a phone with a key Home Assistant does not know


async def test_door_and_input_events(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    door = Shown(hass, DOOR)
    for state in ("opened", "open_too_long", "closed", "forced"):
        await inject(device, "door", state=state)
    await inject(device, "input", port="input2", state="on")
    await inject(device, "input", port="input2", state="off")
    await door.wait_for(6)
    assert door.types == [
        "opened",
        "open_too_long",
        "closed",
        "forced_open",
        "input_on",
        "input_off",
    ]
    assert door.events[4][1]["input"] == "input2"


async def test_a_switch_switched_at_the_device_shows_at_once(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    statuses = device.count("switch/status")
    await inject(device, "switch", switch=2, state="on")
    await until(lambda: _state(hass, GATE) == LockState.UNLOCKED, "the gate shown open")
    await inject(device, "switch", switch=2, state="off")
    await until(lambda: _state(hass, GATE) == LockState.LOCKED, "the gate shown closed")
    assert device.count("switch/status") == statuses  # no poll was needed


async def test_polling_slows_down_while_the_log_reports_the_switches(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    coordinator = coordinator_of(ready)
    assert coordinator.update_interval == PUSH_UPDATE_INTERVAL
    statuses = device.count("switch/status")
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + 2 * UPDATE_INTERVAL + timedelta(seconds=2))
    await hass.async_block_till_done()
    assert device.count("switch/status") <= statuses + 1  # the poll already scheduled, at most
    # The device stops answering: the switches are read at once, then every 15 s again.
    pauses: list[float] = []
    coordinator.event_log.sleep = _recorder(pauses)
    await device.stop()
    await until(
        lambda: coordinator.event_log.status.state is EventLogState.RECONNECTING,
        "the subscription lost",
    )
    assert coordinator.update_interval == UPDATE_INTERVAL
    await device.start(device.host, device.port)
    await connected(hass)
    assert coordinator.update_interval == PUSH_UPDATE_INTERVAL


def _recorder(pauses: list[float]) -> Callable[[float], Awaitable[None]]:
    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0.01)

    return pause


# --- the subscription kept alive --------------------------------------------------------------


async def test_events_during_a_lost_subscription_are_delivered_once(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    access = Shown(hass, ACCESS)
    await inject(device, "card", user="before")
    await access.wait_for(1)
    # The device forgets the subscription while two cards are shown: the pull answers
    # error 12, a new subscription is filled from the history, the first card is not
    # shown again, the two others once.
    device.event_log.forget()
    await inject(device, "card", user="during 1")
    await inject(device, "card", user="during 2")
    await access.wait_for(3)
    await inject(device, "card", user="after")
    await access.wait_for(4)
    await asyncio.sleep(0.05)
    assert [attributes["user"] for _, attributes in access.events] == [
        "before",
        "during 1",
        "during 2",
        "after",
    ]
    assert coordinator_of(ready).event_log.status.reconnects == 1
    assert _state(hass, EVENT_LOG) == "connected"


@pytest.mark.parametrize(
    "fault", ["disconnect", "disconnect_after", "error_envelope", "malformed", "http_error"]
)
async def test_a_failed_pull_loses_and_repeats_nothing(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry, fault: str
) -> None:
    access = Shown(hass, ACCESS)
    await inject(device, "card", user="first")
    await access.wait_for(1)
    # The next answer is spoilt (disconnect_after: the device sent the events, which the
    # connection lost on the way).
    device.inject_fault("log/pull", fault)  # type: ignore[arg-type]
    await inject(device, "card", user="second")
    await access.wait_for(2)
    await inject(device, "card", user="third")
    await access.wait_for(3)
    await asyncio.sleep(0.05)
    assert [attributes["user"] for _, attributes in access.events] == ["first", "second", "third"]


async def test_a_device_restarting_mid_pull(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    access = Shown(hass, ACCESS)
    await inject(device, "card", user="before")
    await access.wait_for(1)
    await inject(device, "reboot")  # the waiting pull's connection drops; history is gone
    await inject(device, "card", user="after")
    await access.wait_for(2)
    await asyncio.sleep(0.05)
    assert [attributes["user"] for _, attributes in access.events] == ["before", "after"]
    await connected(hass)


async def test_an_unreadable_event_is_skipped(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    access = Shown(hass, ACCESS)
    device.event_log.malformed_event()
    await inject(device, "card", user="readable")
    await access.wait_for(1)
    assert coordinator_of(ready).event_log.skipped == 1
    assert _state(hass, EVENT_LOG) == "connected"  # the subscription is fine


async def test_the_back_off_is_bounded_and_the_log_comes_back(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    pauses: list[float] = []
    event_log = coordinator_of(ready).event_log
    event_log.sleep = _recorder(pauses)
    await device.stop()
    await until(lambda: len(pauses) >= 9, "nine pauses")
    await device.start(device.host, device.port)
    await connected(hass)
    assert pauses[:9] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    access = Shown(hass, ACCESS)
    await inject(device, "card", user="back")
    await access.wait_for(1)


async def test_nothing_is_replayed_after_a_restart_of_home_assistant(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    access = Shown(hass, ACCESS)
    await inject(device, "card", user="once")
    await access.wait_for(1)
    assert await hass.config_entries.async_reload(ready.entry_id)
    await hass.async_block_till_done()
    await connected(hass)
    await inject(device, "card", user="next")
    await access.wait_for(2)
    await asyncio.sleep(0.05)
    users = [attributes.get("user") for _, attributes in access.events]
    assert users[0] == "once"
    assert users[-1] == "next"
    assert users.count("once") == 1


async def test_unload_closes_the_subscription(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    assert await _subscriptions(device) == 1
    assert await hass.config_entries.async_unload(ready.entry_id)
    assert ready.state is ConfigEntryState.NOT_LOADED
    assert await _subscriptions(device) == 0
    assert device.count("log/unsubscribe") == 1


# --- refusals -----------------------------------------------------------------------------


async def test_a_refused_log_says_so_and_the_device_is_still_polled(
    hass: HomeAssistant, device: TwoNDeviceSimulator, entry: MockConfigEntry
) -> None:
    device.log_service = "disabled"
    await set_up(hass, entry)
    assert _state(hass, EVENT_LOG) == "refused"
    assert hass.states.get(DOORBELL) is None  # no event it could show
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"two_n_event_log_refused_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders["name"] == "2N IP Verso"
    assert "error 4" in issue.translation_placeholders["error"]
    coordinator = coordinator_of(entry)
    assert coordinator.update_interval == UPDATE_INTERVAL
    # Allowed again on the device: the next full poll opens the subscription.
    device.log_service = "enabled"
    coordinator._slow_due = None
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done()
    await connected(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue.issue_id) is None
    assert hass.states.get(DOORBELL) is not None


async def test_a_device_without_a_log(
    hass: HomeAssistant, device: TwoNDeviceSimulator, entry: MockConfigEntry
) -> None:
    device.log_service = "absent"
    device._routes = {path: route for path, route in device._routes.items() if "/log/" not in path}
    await set_up(hass, entry)
    assert _state(hass, EVENT_LOG) == "unsupported"
    assert hass.states.get(ACCESS) is None
    assert not ir.async_get(hass).issues


async def test_a_log_switched_off_while_subscribed(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    """The Logging service is switched off on the device: said so, entities unavailable."""
    device.log_service = "disabled"
    device.event_log.forget()  # the device closes the subscription with its service
    await until(lambda: _state(hass, EVENT_LOG) == "refused", "the refusal")
    assert _state(hass, ACCESS) == STATE_UNAVAILABLE
    assert _state(hass, FRONT) == LockState.LOCKED  # the doors are still shown
    assert coordinator_of(ready).update_interval == UPDATE_INTERVAL
    issue_id = f"two_n_event_log_refused_{ready.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


# --- the camera ---------------------------------------------------------------------------


async def test_the_camera_snapshot(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    image = await async_get_image(hass, CAMERA)
    assert image.content == SNAPSHOT_JPEG
    assert image.content_type == "image/jpeg"
    assert device.requests[-1].query == {"width": "1280", "height": "960"}
    await async_get_image(hass, CAMERA, width=300)
    assert device.requests[-1].query == {"width": "320", "height": "240"}
    device.inject_fault("camera/snapshot", "error_envelope")
    with pytest.raises(HomeAssistantError):
        await async_get_image(hass, CAMERA)


async def test_no_camera_without_one(
    hass: HomeAssistant, device: TwoNDeviceSimulator, entry: MockConfigEntry
) -> None:
    device.camera = False
    device._routes = {
        path: route for path, route in device._routes.items() if "/camera/" not in path
    }
    await set_up(hass, entry)
    assert hass.states.get(CAMERA) is None
    coordinator = coordinator_of(entry)
    with pytest.raises(HomeAssistantError, match="no camera"):
        await coordinator.async_camera_image(None, None)


async def test_a_second_device_has_its_own_subscription(
    hass: HomeAssistant, device: TwoNDeviceSimulator, ready: MockConfigEntry
) -> None:
    other = TwoNDeviceSimulator(protocol="https", serial="54-1046-0888", name="2N Back Door")
    await other.start()
    try:
        await set_up(hass, make_entry(other))
        await until(
            lambda: _state(hass, "sensor.2n_back_door_event_log") == "connected", "the second"
        )
        front, back = Shown(hass, DOORBELL), Shown(hass, "event.2n_back_door_doorbell")
        await inject(other, "doorbell")
        await back.wait_for(2)
        assert front.events == []
    finally:
        await hass.config_entries.async_unload(
            hass.config_entries.async_entries(DOMAIN)[-1].entry_id
        )
        await other.stop()


# --- reading the log's shapes (the client) and what each event means ------------------------


def test_the_client_reads_every_shape_and_skips_what_it_cannot() -> None:
    assert _event_types({"events": ["KeyPressed", {"event": "CardEntered"}, {"name": "X"}, 3]}) == [
        "KeyPressed",
        "CardEntered",
        "X",
    ]
    with pytest.raises(TwoNMalformedReplyError):
        _event_types({"events": "KeyPressed"})
    batch = _log_batch(
        {
            "events": [
                {"id": 1, "utcTime": 1437987102, "upTime": 8, "event": "DeviceState"},
                {"id": 2, "event": 42},
                {"id": 3, "event": "CardEntered", "params": [1]},
                "garbage",
                {"id": True, "utcTime": -5, "event": "KeyPressed", "params": {"key": "%1"}},
            ]
        }
    )
    assert [event.name for event in batch.events] == ["DeviceState", "KeyPressed"]
    assert batch.skipped == 3
    assert batch.events[0].occurred is not None
    assert batch.events[0].params == {}
    assert batch.events[1].record_id is None
    assert batch.events[1].occurred is None  # a time before 1970 is no time
    with pytest.raises(TwoNMalformedReplyError):
        _log_batch({"result": []})
    caps = _camera_caps(
        {"jpegResolution": [{"width": 640, "height": 480}, {"width": 0}, "x"], "sources": [{}]}
    )
    assert caps == CameraCaps([(640, 480)], [])
    assert caps.resolution_for(2000, None) == (640, 480)  # the largest when none is enough
    assert CameraCaps([], []).resolution_for(None, None) is None


async def test_the_client_says_when_the_device_answers_nonsense(
    device: TwoNDeviceSimulator, session: aiohttp.ClientSession
) -> None:
    client = client_of(session, device)
    device.inject_fault("camera/snapshot", "malformed")
    with pytest.raises(TwoNMalformedReplyError):
        await client.camera_snapshot(640, 480, "internal")
    with pytest.raises(TwoNApiError):
        await client.camera_snapshot(641, 480)
    device.inject_fault("log/subscribe", "malformed")
    with pytest.raises(TwoNMalformedReplyError):
        await client.log_subscribe()
    subscription = await client.log_subscribe(include="all", events=["DeviceState"])
    batch = await client.log_pull(subscription)
    assert [event.params for event in batch.events] == [{"state": "startup"}]
    await client.log_unsubscribe(subscription)
    with pytest.raises(TwoNApiError) as gone:
        await client.log_pull(subscription)
    assert gone.value.code == 12


def _event(kind: str, /, **params: Any) -> LogEvent:
    return LogEvent(kind, params, utc_time=1_800_000_000, up_time=10)


def test_what_each_event_means() -> None:
    now = [0.0]
    translate = EventTranslator(clock=lambda: now[0])

    def shown(event: LogEvent) -> list[tuple[str, str, dict[str, Any]]]:
        return [(h.entity, h.event_type, h.attributes) for h in translate.translate(event, None)]

    assert shown(_event("KeyPressed", key="5")) == []  # a digit of a PIN: never shown
    assert shown(_event("KeyPressed", key="%x")) == []
    assert shown(_event("CallStateChanged", direction="incoming", state="ringing")) == []
    assert shown(_event("CallStateChanged", direction="outgoing", state="connected")) == []
    assert shown(_event("CardEntered", uid="1")) == []  # neither accepted nor refused
    assert shown(_event("MobKeyEntered", valid=False))[0][2]["method"] == "mobile_key"
    assert shown(_event("DoorStateChanged", state="ajar")) == []
    assert shown(_event("DoorOpenTooLong", state="out")) == []  # the end of it
    assert shown(_event("InputChanged", port=3, state=True))[0][1:] == (
        "input_on",
        {"occurred_at": "2027-01-15T08:00:00+00:00", "input": None},
    )
    assert shown(_event("TamperSwitchActivated", state="in")) == []
    # A user named with no credential waiting, and one with no session: the waiting one.
    assert shown(_event("UserAuthenticated", name="Eve"))[0][2] == {"user": "Eve"}
    assert shown(_event("CardEntered", valid=True)) == []
    assert translate.waiting
    assert shown(_event("UserAuthenticated", name="Ann"))[0][2]["user"] == "Ann"
    # Two credentials of one session: the first is done waiting when the second comes.
    assert shown(_event("CardEntered", valid=True, session=7)) == []
    second = shown(_event("FingerEntered", valid=True, session=7))
    assert second[0][1:] == ("granted", second[0][2])
    assert second[0][2]["method"] == "card"
    assert "user" not in {k for k, v in second[0][2].items() if v is not None}
    assert translate.flush() == []  # still waiting for its user
    now[0] = 5.0
    assert [h.attributes["method"] for h in translate.flush()] == ["fingerprint"]


def test_a_replayed_event_counts_once_and_old_ones_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "REMEMBERED", 2)
    delivered = events_module._Delivered()
    a, b, c = _event("KeyPressed", key="%1"), _event("KeyPressed", key="%2"), _event("X")
    assert delivered.first_time(a, 0)
    assert delivered.first_time(a, 0)  # the same event twice: both count
    delivered.new_subscription()  # the history replayed: both seen, neither again
    assert not delivered.first_time(a, 1)
    assert not delivered.first_time(a, 1)
    assert delivered.first_time(b, 1)
    assert delivered.first_time(c, 1)  # beyond two remembered: a is forgotten
    delivered.new_subscription()
    assert delivered.first_time(a, 2)
