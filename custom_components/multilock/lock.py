"""Locks of every vendor."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from homeassistant.components.lock import LockEntity, LockEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry, MultilockCoordinator
from .entity import MultilockEntity, async_add_device_entities

# Each vendor's client orders and paces the commands to one gateway or account (The Keys:
# one request at a time per gateway; Doordeck: a bounded rate per account).
PARALLEL_UPDATES = 0


def _not_reported(data: object) -> bool | None:
    return None


@dataclass(frozen=True, kw_only=True)
class MultilockLockEntityDescription[CoordinatorT: MultilockCoordinator[Any], DataT](
    LockEntityDescription
):
    """How a vendor reads and moves a lock.

    ``lock_fn`` / ``unlock_fn`` take the coordinator and the device key and raise
    HomeAssistantError when the lock did not move; ``is_locked_fn`` and ``is_jammed_fn``
    read the device data and return None when the vendor did not report it.
    """

    is_locked_fn: Callable[[DataT], bool | None]
    is_jammed_fn: Callable[[DataT], bool | None] = _not_reported
    lock_fn: Callable[[CoordinatorT, str], Coroutine[Any, Any, None]]
    unlock_fn: Callable[[CoordinatorT, str], Coroutine[Any, Any, None]]
    assumed_state: bool = False


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the locks of the entry's devices."""
    async_add_device_entities(entry.runtime_data, Platform.LOCK, MultilockLock, async_add_entities)


class MultilockLock(MultilockEntity[Any], LockEntity):
    """A lock: shows locking/unlocking while a command runs, then what the vendor reports."""

    entity_description: MultilockLockEntityDescription[Any, Any]

    @property
    def assumed_state(self) -> bool:
        """Return whether the state is assumed rather than reported by the lock."""
        return self.entity_description.assumed_state

    @property
    def is_locked(self) -> bool | None:
        """Return the reported state, None when unknown."""
        data = self.device_data
        return None if data is None else self.entity_description.is_locked_fn(data)

    @property
    def is_jammed(self) -> bool | None:
        """Return whether the lock reported that its motor could not finish."""
        data = self.device_data
        return None if data is None else self.entity_description.is_jammed_fn(data)

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock, showing 'locking' until the vendor answers."""
        self._attr_is_locking = True
        await self._async_command(self.entity_description.lock_fn)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock, showing 'unlocking' until the vendor answers."""
        self._attr_is_unlocking = True
        await self._async_command(self.entity_description.unlock_fn)

    async def _async_command(
        self, command: Callable[[Any, str], Coroutine[Any, Any, None]]
    ) -> None:
        """Send the command, showing 'locking'/'unlocking' until it ends."""
        self._write_state()
        try:
            await command(self.coordinator, self._device_key)
        finally:
            self._attr_is_locking = self._attr_is_unlocking = False
            self._write_state()
