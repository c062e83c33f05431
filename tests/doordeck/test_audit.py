"""Who opened: each Doordeck lock's audit trail on its activity event entity, once each."""

from __future__ import annotations

import json
import logging
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.multilock.vendors.doordeck import audit as audit_module
from custom_components.multilock.vendors.doordeck.client import (
    DoordeckConnectionError,
    _audit_entry,
)
from simulators.doordeck import AuditRecord, add_audit_entry

from .conftest import Cloud, coordinator_of

FRONT_ACTIVITY = "event.front_door_activity"
BACK_ACTIVITY = "event.back_door_activity"
HOUR = 3600.0


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


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await coordinator_of(entry).async_refresh()
    await hass.async_block_till_done()


async def test_who_unlocked_the_door(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.multilock")
    shown = Shown(hass, FRONT_ACTIVITY)
    await hass.services.async_call(
        "lock", "unlock", {"entity_id": "lock.front_door"}, blocking=True
    )
    guest = cloud.guests(1)[0]
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_OPEN", user=guest)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_CLOSE")  # reported by the lock itself
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_unlock", "door_open", "door_close"]
    unlocked = shown.events[0][1]
    assert unlocked["user"] == "owner"  # the display name
    assert unlocked["occurred_at"]
    assert "owner" in unlocked["message"]
    assert shown.events[1][1]["user"] == "guest0"
    assert "user" not in shown.events[2][1]
    # Delivered once: the next polls show nothing again.
    await _poll(hass, loaded_entry)
    await _poll(hass, loaded_entry)
    assert len(shown.events) == 3
    # Personal data is shown, never logged.
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.multilock")
    )
    assert "audit entries" in ours  # what multilock logged about it
    assert "guest0" not in ours
    assert cloud.owner.email not in ours


async def test_sharing_and_revoking_show(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    shown = Shown(hass, BACK_ACTIVITY)
    guest = cloud.guests(1)[0]
    await hass.services.async_call(
        "multilock",
        "share_lock",
        {"entity_id": "lock.back_door", "users": [guest.email]},
        blocking=True,
        return_response=True,
    )
    await hass.services.async_call(
        "multilock",
        "revoke_lock_access",
        {"entity_id": "lock.back_door", "users": [guest.email]},
        blocking=True,
        return_response=True,
    )
    await _poll(hass, loaded_entry)
    assert shown.types == ["lock_shared", "lock_revoked"]
    assert shown.events[0][1]["user"] == "owner"


async def test_nothing_from_before_the_set_up(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", user=cloud.owner)
    entry.add_to_hass(hass)
    shown = Shown(hass, FRONT_ACTIVITY)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _poll(hass, entry)
    assert shown.events == []
    assert hass.states.get(FRONT_ACTIVITY).state == STATE_UNKNOWN


async def test_entries_of_the_same_second_and_paging(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    shown = Shown(hass, FRONT_ACTIVITY)
    at = cloud.sim.now()
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", user=cloud.owner, at=at)
    await _poll(hass, loaded_entry)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_LOCK", user=cloud.owner, at=at)
    # Eight more than an answer holds: Doordeck's answers are cut short, multilock pages.
    cloud.sim.audit_page_size = 3
    for offset in range(8):
        add_audit_entry(cloud.sim, cloud.front.id, "DOOR_OPEN", at=at + 1 + offset * 0.4)
    await _poll(hass, loaded_entry)
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_unlock", "door_lock"] + ["door_open"] * 8


async def test_delivered_once_across_a_restart(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    shown = Shown(hass, FRONT_ACTIVITY)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", user=cloud.owner)
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_unlock"]
    stored = hass_storage[f"multilock.doordeck_audit_{loaded_entry.entry_id}"]["data"]
    assert cloud.front.id in stored["locks"]
    assert cloud.owner.email not in json.dumps(stored)  # digests, no personal data
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_LOCK", user=cloud.owner)  # while away
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await _poll(hass, loaded_entry)  # the first poll after set-up delivers what it missed
    assert shown.types == ["door_unlock", "door_lock"]


async def test_the_past_beyond_an_hour_is_skipped(
    hass: HomeAssistant,
    cloud: Cloud,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant was off for two hours: only the last hour is shown."""
    now = cloud.sim.now()
    hass_storage[f"multilock.doordeck_audit_{entry.entry_id}"] = {
        "version": 1,
        "key": f"multilock.doordeck_audit_{entry.entry_id}",
        "data": {"locks": {cloud.front.id: {"after": now - 2 * HOUR, "seen": []}}},
    }
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", at=now - 1.5 * HOUR)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_LOCK", at=now - 0.5 * HOUR)
    entry.add_to_hass(hass)
    shown = Shown(hass, FRONT_ACTIVITY)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _poll(hass, entry)
    assert shown.types == ["door_lock"]


async def test_a_lock_whose_trail_is_refused(
    hass: HomeAssistant, cloud: Cloud, entry: MockConfigEntry
) -> None:
    """The account only uses the back door (role USER): Doordeck keeps its trail to its
    administrators; the front door's is still read, the back door's asked an hour later."""
    cloud.back.users[cloud.owner.id].role = "USER"
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    shown = Shown(hass, FRONT_ACTIVITY)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_OPEN")
    add_audit_entry(cloud.sim, cloud.back.id, "DOOR_OPEN")
    await _poll(hass, entry)
    await _poll(hass, entry)
    assert shown.types == ["door_open"]
    assert cloud.sim.count(f"/device/{cloud.back.id}/log") == 1  # refused once, not asked again
    assert hass.states.get(BACK_ACTIVITY).state == STATE_UNKNOWN


async def test_reads_are_bounded_per_poll_and_skip_disabled_entities(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_module, "READS_PER_POLL", 1)
    front, back = f"/device/{cloud.front.id}/log", f"/device/{cloud.back.id}/log"
    counts = (cloud.sim.count(front), cloud.sim.count(back))
    await _poll(hass, loaded_entry)
    await _poll(hass, loaded_entry)
    assert cloud.sim.count(front) - counts[0] == 1  # in turn: one lock a poll
    assert cloud.sim.count(back) - counts[1] == 1
    er.async_get(hass).async_update_entity(BACK_ACTIVITY, disabled_by=er.RegistryEntryDisabler.USER)
    counts = (cloud.sim.count(front), cloud.sim.count(back))
    await _poll(hass, loaded_entry)
    await _poll(hass, loaded_entry)
    assert cloud.sim.count(back) == counts[1]  # nobody looks at it: not read
    assert cloud.sim.count(front) - counts[0] == 2


async def test_a_failed_read_is_taken_up_at_the_next_poll(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    shown = Shown(hass, FRONT_ACTIVITY)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", user=cloud.owner)
    cloud.sim.inject("/device/*/log", status=429, times=1, retry_after=1)
    await _poll(hass, loaded_entry)
    assert coordinator_of(loaded_entry).last_update_success  # the poll itself is fine
    assert shown.events == []
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_unlock"]


async def test_an_entry_of_a_type_unknown_to_multilock_is_skipped(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    shown = Shown(hass, FRONT_ACTIVITY)
    trail = cloud.sim.audit.setdefault(cloud.front.id, [])
    trail.append(AuditRecord(round(cloud.sim.now(), 3), "SOMETHING_NEW"))
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_LOCK", at=cloud.sim.now() + 0.5)
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_lock"]


async def test_diagnostics_hold_no_audit_data(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
) -> None:
    guest = cloud.guests(1)[0]
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_OPEN", user=guest)
    await _poll(hass, loaded_entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = json.dumps(diagnostics)
    assert "guest0" not in text
    assert guest.id not in text


async def test_removing_the_entry_forgets_what_was_delivered(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    key = f"multilock.doordeck_audit_{loaded_entry.entry_id}"
    assert key in hass_storage
    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_unreachable_trails_and_a_lock_that_leaves(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = coordinator_of(loaded_entry)
    shown = Shown(hass, FRONT_ACTIVITY)
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", user=cloud.owner)
    real = coordinator.client.audit_log

    async def unreachable(lock_id: str, start: int, end: int) -> Any:
        raise DoordeckConnectionError("Cannot reach Doordeck")

    monkeypatch.setattr(coordinator.client, "audit_log", unreachable)
    await _poll(hass, loaded_entry)
    assert coordinator.last_update_success
    assert shown.events == []
    monkeypatch.setattr(coordinator.client, "audit_log", real)
    cloud.sim.remove_lock(cloud.back.id)
    await _poll(hass, loaded_entry)
    assert shown.types == ["door_unlock"]
    stored = hass_storage[f"multilock.doordeck_audit_{loaded_entry.entry_id}"]["data"]
    assert list(stored["locks"]) == [cloud.front.id]


async def test_unreadable_stored_cursors_start_again(
    hass: HomeAssistant,
    cloud: Cloud,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    key = f"multilock.doordeck_audit_{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"locks": {cloud.front.id: {"after": "yesterday"}, cloud.back.id: None}},
    }
    add_audit_entry(cloud.sim, cloud.front.id, "DOOR_UNLOCK", at=cloud.sim.now() - 60)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    shown = Shown(hass, FRONT_ACTIVITY)
    await _poll(hass, entry)
    assert shown.events == []  # read from the set-up on, as for a new lock


def test_audit_entries_in_every_shape() -> None:
    """Times in seconds, milliseconds or ISO 8601; an entry without a time or type is skipped."""
    seconds = _audit_entry({"timestamp": 1_800_000_000.5, "type": "door_lock"})
    assert seconds is not None
    assert seconds.type == "DOOR_LOCK"
    assert seconds.who is None
    millis = _audit_entry({"timestamp": 1_800_000_000_500, "type": "DOOR_LOCK", "email": "a@b.c"})
    assert millis is not None
    assert millis.timestamp == 1_800_000_000.5
    assert millis.who == "a@b.c"
    assert "a@b.c" not in repr(millis)
    iso = _audit_entry({"timestamp": "2027-01-15T08:00:00Z", "type": "DOOR_OPEN"})
    assert iso is not None
    assert iso.timestamp == 1_800_000_000
    assert _audit_entry({"timestamp": "soon", "type": "DOOR_OPEN"}) is None
    assert _audit_entry({"timestamp": 5, "type": ""}) is None
