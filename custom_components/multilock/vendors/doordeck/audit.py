"""Doordeck: who opened — each lock's audit trail, shown on the lock's activity event entity.

The trail (``GET /device/{id}/log``, API v2) is read at the account's poll, for at most
``READS_PER_POLL`` locks a poll (in turn, so a large account costs Doordeck a bounded number
of requests a minute), and only for locks whose activity entity is enabled. Each entry is
delivered once, oldest first: the newest time delivered per lock and the entries of that
second are kept in Home Assistant's storage (a digest, no personal data), so that a restart
delivers neither an entry twice nor the past. The first read of a lock starts from then; an
entry older than ``MAX_CATCH_UP`` when read (Home Assistant was off, Doordeck unreachable) is
skipped. Who acted (display name, else email) and Doordeck's message are shown on the entity,
never logged; diagnostics do not include them.

A lock whose trail Doordeck refuses to the account (403: not an administrator) is asked again
after ``REFUSED_RETRY``; a failure of another kind (rate limit, network) ends this poll's
reads, which the next poll takes up from the same place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, LOGGER
from ...coordinator import MultilockConfigEntry
from ...event import DeviceEvent, async_fire_device_event
from .client import AuditEntry, DoordeckApiError, DoordeckError

if TYPE_CHECKING:
    from .coordinator import DoordeckCoordinator, DoordeckLockData

STORAGE_VERSION: Final = 1
# The activity event entity's description key.
ACTIVITY: Final = "activity"
READS_PER_POLL: Final = 10
MAX_PAGES: Final = 10
MAX_CATCH_UP: Final = 3600.0  # seconds
REFUSED_RETRY: Final = 3600.0  # seconds
# The entity's event types: Doordeck's, lower case (translated in strings.json).
AUDIT_TYPES: Final = (
    "door_open",
    "door_close",
    "door_unlock",
    "door_lock",
    "owner_assigned",
    "device_connected",
    "device_disconnected",
    "lock_shared",
    "lock_revoked",
    "user_promoted",
    "user_demoted",
    "setting_changed",
    "tile_associated",
    "tile_disassociated",
    "device_decommissioned",
)


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.doordeck_audit_{entry_id}")


async def async_remove_audit_store(hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
    """Forget what was delivered for a deleted entry."""
    await _store(hass, entry.entry_id).async_remove()


@dataclass(slots=True)
class _Cursor:
    """Where a lock's trail was read up to: the newest time delivered, and the digests of
    the entries of that second (delivered already)."""

    after: float
    seen: list[str]


class DoordeckAudit:
    """The audit trails of one account's locks."""

    def __init__(self, coordinator: DoordeckCoordinator) -> None:
        """Belong to the coordinator (its client, its entry)."""
        self._coordinator = coordinator
        self._store = _store(coordinator.hass, coordinator.config_entry.entry_id)
        self._cursors: dict[str, _Cursor] = {}
        self._refused_until: dict[str, float] = {}
        self._turn = 0  # where the next poll's reads start, in turn

    async def async_load(self) -> None:
        """Read what was delivered before (before the first poll)."""
        stored = await self._store.async_load() or {}
        for lock_id, cursor in (stored.get("locks") or {}).items():
            try:
                self._cursors[lock_id] = _Cursor(float(cursor["after"]), list(cursor["seen"]))
            except KeyError, TypeError, ValueError:
                continue

    async def async_read(
        self, locks: Mapping[str, DoordeckLockData], *, deliver: bool = True
    ) -> None:
        """Read and deliver the new entries of some of the locks; never raises.

        ``deliver`` False (the poll of the set-up, before the entities exist): only start
        the locks never read from now on.
        """
        changed = False
        new_locks = [lock_id for lock_id in locks if lock_id not in self._cursors]
        if new_locks:
            now = await self._coordinator.client.server_now()
            for lock_id in new_locks:
                self._cursors[lock_id] = _Cursor(now, [])
            changed = True
        wanted = [lock_id for lock_id in sorted(locks) if deliver and self._wanted(lock_id)]
        start = self._turn % len(wanted) if wanted else 0
        chosen = (wanted[start:] + wanted[:start])[:READS_PER_POLL]
        self._turn = start + len(chosen)
        for lock_id in chosen:
            try:
                changed |= await self._read(lock_id, locks[lock_id].lock.name)
            except DoordeckApiError as err:
                if err.status == 403:
                    LOGGER.debug("Doordeck keeps the audit trail of a lock to itself: %s", err)
                    self._refused_until[lock_id] = time.monotonic() + REFUSED_RETRY
                    continue
                LOGGER.debug("Could not read a Doordeck audit trail: %s", err)
                break
            except DoordeckError as err:
                LOGGER.debug("Could not read a Doordeck audit trail: %s", err)
                break
        for lock_id in set(self._cursors) - set(locks):
            del self._cursors[lock_id]  # the lock left the account
            changed = True
        if changed:
            await self._store.async_save(
                {
                    "locks": {
                        lock_id: {"after": cursor.after, "seen": cursor.seen}
                        for lock_id, cursor in self._cursors.items()
                    }
                }
            )

    def _wanted(self, lock_id: str) -> bool:
        if self._refused_until.get(lock_id, 0.0) > time.monotonic():
            return False
        unique_id = f"{self._coordinator.lock_device_key(lock_id)}-{ACTIVITY}"
        registry = er.async_get(self._coordinator.hass)
        entity_id = registry.async_get_entity_id(Platform.EVENT, DOMAIN, unique_id)
        entity = None if entity_id is None else registry.async_get(entity_id)
        return entity is None or entity.disabled_by is None

    async def _read(self, lock_id: str, name: str) -> bool:
        """Deliver a lock's new entries; return whether its cursor moved.

        Fresh: not handled yet (``seen`` holds the entries of the cursor's second already
        handled), and from the cursor on; an entry dated the cursor's whole second may be
        later within it (if Doordeck's times are whole seconds), so it is fresh too.
        """
        now = await self._coordinator.client.server_now()
        cursor = self._cursors[lock_id]
        start = max(math.floor(cursor.after), math.floor(now - MAX_CATCH_UP))
        entries = await self._entries(lock_id, start, math.ceil(now) + 60)
        seen = set(cursor.seen)
        fresh = [
            entry
            for entry in entries
            if entry.fingerprint() not in seen and _after(entry.timestamp, cursor.after, start)
        ]
        fresh.sort(key=lambda entry: entry.timestamp)  # oldest first; ties as Doordeck had them
        if not fresh:
            return False
        for entry in fresh:
            self._deliver(lock_id, entry)
        LOGGER.debug("%s new audit entries for %s", len(fresh), name)
        newest = max(cursor.after, fresh[-1].timestamp)
        second = math.floor(newest)
        handled = list(cursor.seen) if math.floor(cursor.after) == second else []
        handled += [e.fingerprint() for e in fresh if math.floor(e.timestamp) == second]
        self._cursors[lock_id] = _Cursor(newest, handled)
        return True

    async def _entries(self, lock_id: str, start: int, end: int) -> list[AuditEntry]:
        """Every entry from ``start`` to ``end``, oldest first, paging back while Doordeck's
        answers (newest first, perhaps cut short) bring entries not seen yet."""
        found: dict[str, AuditEntry] = {}
        client = self._coordinator.client
        for _ in range(MAX_PAGES):
            page = await client.audit_log(lock_id, start, end)
            new = [entry for entry in page if entry.fingerprint() not in found]
            found |= {entry.fingerprint(): entry for entry in page}
            if not new:
                break
            oldest = math.floor(min(entry.timestamp for entry in page))
            if oldest <= start:
                break
            # Ask again up to the oldest second of this answer, which the answer may have cut
            # short; when the whole answer is that second, it is full: go before it.
            whole = all(math.floor(entry.timestamp) == oldest for entry in page)
            end = oldest - 1 if whole else oldest
        return list(reversed(found.values()))

    def _deliver(self, lock_id: str, entry: AuditEntry) -> None:
        event_type = entry.type.lower()
        if event_type not in AUDIT_TYPES:
            LOGGER.debug("Skipped a Doordeck audit entry of an unknown type %s", entry.type)
            return
        async_fire_device_event(
            self._coordinator.hass,
            self._coordinator.lock_device_key(lock_id),
            DeviceEvent(
                ACTIVITY,
                event_type,
                {
                    "user": entry.who,
                    "message": entry.message,
                    "occurred_at": _iso(entry.timestamp),
                },
            ),
        )


def _after(timestamp: float, cursor: float, start: float) -> bool:
    """Whether an entry is dated from the cursor on (or its whole second), and from ``start``."""
    if timestamp < start:
        return False
    whole_second = timestamp == math.floor(timestamp) == math.floor(cursor)
    return timestamp >= cursor or whole_second


def _iso(timestamp: float) -> str:
    return dt_util.utc_from_timestamp(timestamp).isoformat()
