"""Checked by mypy (scripts/test), never run: descriptions are typed over the vendor's data.

Each description below reads a field its vendor's data does not have. The ignore comment on
it must be used: mypy --strict warns about unused ignores, so if the descriptions stopped
being typed, mypy would report that line and scripts/test would fail.
"""

from __future__ import annotations

from custom_components.multilock.binary_sensor import MultilockBinarySensorEntityDescription
from custom_components.multilock.lock import MultilockLockEntityDescription
from custom_components.multilock.sensor import MultilockSensorEntityDescription
from custom_components.multilock.vendors.doordeck.coordinator import (
    DoordeckCoordinator,
    DoordeckLockData,
)
from custom_components.multilock.vendors.thekeys.coordinator import (
    TheKeysCoordinator,
    TheKeysLock,
)


async def _close(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_close(key)


async def _unlock(coordinator: DoordeckCoordinator, key: str) -> None:
    await coordinator.async_unlock(key)


THE_KEYS_BATTERY: MultilockSensorEntityDescription[TheKeysLock] = MultilockSensorEntityDescription(
    key="battery",
    value_fn=lambda lock: lock.lockr,  # type: ignore[attr-defined]
)
THE_KEYS_LOCK: MultilockLockEntityDescription[TheKeysCoordinator, TheKeysLock] = (
    MultilockLockEntityDescription(
        key="lock",
        is_locked_fn=lambda lock: lock.sate is None,  # type: ignore[attr-defined]
        lock_fn=_close,
        unlock_fn=_close,
    )
)
DOORDECK_CONNECTIVITY: MultilockBinarySensorEntityDescription[DoordeckLockData] = (
    MultilockBinarySensorEntityDescription(
        key="connectivity",
        is_on_fn=lambda lock: lock.lock.conected,  # type: ignore[attr-defined]
    )
)
DOORDECK_LOCK: MultilockLockEntityDescription[DoordeckCoordinator, DoordeckLockData] = (
    MultilockLockEntityDescription(
        key="lock",
        is_locked_fn=lambda lock: lock.lockd,  # type: ignore[attr-defined]
        lock_fn=_unlock,
        unlock_fn=_unlock,
    )
)
