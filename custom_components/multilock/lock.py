"""Locks of every vendor."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from homeassistant.components.lock import LockEntity, LockEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry
from .entity import MultilockEntity, async_add_device_entities

# Commands are serialised per gateway or account by the coordinators' clients.
PARALLEL_UPDATES = 0

type LockCommand = Callable[[Any, str], Coroutine[Any, Any, None]]


@dataclass(frozen=True, kw_only=True)
class MultilockLockEntityDescription(LockEntityDescription):
    """How a vendor reads and moves a lock.

    ``lock_fn`` / ``unlock_fn`` take the coordinator and the device key and raise
    HomeAssistantError when the lock did not move; ``is_locked_fn`` reads the device data
    and returns None when the vendor did not report a state.
    """

    is_locked_fn: Callable[[Any], bool | None]
    lock_fn: LockCommand
    unlock_fn: LockCommand
    assumed_state: bool = False


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the locks of the entry's devices."""
    async_add_device_entities(entry.runtime_data, Platform.LOCK, MultilockLock, async_add_entities)


class MultilockLock(MultilockEntity, LockEntity):
    """A lock: shows locking/unlocking while a command runs, then what the vendor reports."""

    entity_description: MultilockLockEntityDescription

    def _shown(self) -> tuple[Any, ...]:
        return (self.available, self.is_locked)

    @property
    def assumed_state(self) -> bool:
        """Return whether the state is assumed rather than reported by the lock."""
        return self.entity_description.assumed_state

    @property
    def is_locked(self) -> bool | None:
        """Return the reported state, None when unknown."""
        data = self.device_data
        return None if data is None else self.entity_description.is_locked_fn(data)

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock, showing 'locking' until the vendor answers."""
        self._attr_is_locking = True
        await self._async_command(self.entity_description.lock_fn)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock, showing 'unlocking' until the vendor answers."""
        self._attr_is_unlocking = True
        await self._async_command(self.entity_description.unlock_fn)

    async def _async_command(self, command: LockCommand) -> None:
        """Send the command, showing 'locking'/'unlocking' until it ends.

        The transitional state is written on the next turn of the event loop, when the
        command first waits (for the vendor, or for its turn): the request leaves first.
        """
        self.hass.loop.call_soon(self.async_write_ha_state)
        try:
            await command(self.coordinator, self._device_key)
        finally:
            self._attr_is_locking = self._attr_is_unlocking = False
            self._written = self._shown()
            self.async_write_ha_state()
