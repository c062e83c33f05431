"""What Doordeck locks show in Home Assistant: entity descriptions, no logic."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import EntityCategory, Platform, UnitOfTime

from ...binary_sensor import MultilockBinarySensorEntityDescription
from ...compat import BinarySensorDeviceClass
from ...coordinator import Descriptions
from ...event import MultilockEventEntityDescription
from ...lock import MultilockLockEntityDescription
from ...sensor import MultilockSensorEntityDescription
from .audit import ACTIVITY, AUDIT_TYPES
from .const import ACCOUNT_KIND, ASSUMED_LOCK_KIND, REPORTING_LOCK_KIND

if TYPE_CHECKING:
    from .coordinator import DoordeckCoordinator, DoordeckData, DoordeckLockData


async def _lock(coordinator: DoordeckCoordinator, key: str) -> None:
    await coordinator.async_lock(key)


async def _unlock(coordinator: DoordeckCoordinator, key: str) -> None:
    await coordinator.async_unlock(key)


LOCK: MultilockLockEntityDescription[DoordeckCoordinator, DoordeckLockData] = (
    MultilockLockEntityDescription(
        key="lock",
        name=None,
        is_locked_fn=lambda lock: lock.locked,
        lock_fn=_lock,
        unlock_fn=_unlock,
    )
)

LOCK_BINARY_SENSORS: tuple[MultilockBinarySensorEntityDescription[DoordeckLockData], ...] = (
    MultilockBinarySensorEntityDescription(
        key="connectivity",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda lock: lock.lock.connected,
        # It shows the lock being offline, so it stays available when the lock is not.
        shows_device_problem=True,
    ),
)

LOCK_SENSORS: tuple[MultilockSensorEntityDescription[DoordeckLockData], ...] = (
    MultilockSensorEntityDescription(
        key="unlock_time",
        translation_key="unlock_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda lock: lock.lock.unlock_time,
    ),
)

ACCOUNT_SENSORS: tuple[MultilockSensorEntityDescription[DoordeckData], ...] = (
    MultilockSensorEntityDescription(
        key="signing_key_expiry",
        translation_key="signing_key_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.key_expiry,
    ),
)

# Who locked, unlocked or shared a lock: its audit trail (audit.py).
LOCK_EVENTS: tuple[MultilockEventEntityDescription, ...] = (
    MultilockEventEntityDescription(
        key=ACTIVITY, translation_key="doordeck_activity", event_types=list(AUDIT_TYPES)
    ),
)

DESCRIPTIONS: Descriptions = {
    Platform.LOCK: {
        REPORTING_LOCK_KIND: (LOCK,),
        # Doordeck does not say whether these locks are locked: the state comes from our
        # own commands and the lock's unlock time, and the entity says it is assumed.
        ASSUMED_LOCK_KIND: (replace(LOCK, assumed_state=True),),
    },
    Platform.BINARY_SENSOR: {
        REPORTING_LOCK_KIND: LOCK_BINARY_SENSORS,
        ASSUMED_LOCK_KIND: LOCK_BINARY_SENSORS,
    },
    Platform.SENSOR: {
        REPORTING_LOCK_KIND: LOCK_SENSORS,
        ASSUMED_LOCK_KIND: LOCK_SENSORS,
        ACCOUNT_KIND: ACCOUNT_SENSORS,
    },
    Platform.EVENT: {REPORTING_LOCK_KIND: LOCK_EVENTS, ASSUMED_LOCK_KIND: LOCK_EVENTS},
}
