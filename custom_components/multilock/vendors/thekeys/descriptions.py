"""What The Keys devices show in Home Assistant: entity descriptions, no logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfElectricPotential,
)

from ...button import MultilockButtonEntityDescription
from ...compat import ButtonDeviceClass
from ...coordinator import Descriptions
from ...lock import MultilockLockEntityDescription
from ...sensor import MultilockSensorEntityDescription
from .client import GatewayStatus, LockState, battery_percentage
from .const import GATEWAY_KIND, LOCK_KIND

if TYPE_CHECKING:
    from .coordinator import TheKeysCoordinator, TheKeysLock

# The lock's own report of its bolt (The Keys locks have no door contact); unknown is None.
BOLT_STATES = {LockState.CLOSED: "closed", LockState.OPEN: "open", LockState.JAMMED: "jammed"}


def _is_locked(lock: TheKeysLock) -> bool | None:
    if lock.state not in (LockState.CLOSED, LockState.OPEN):
        return None
    return lock.state is LockState.CLOSED


def _is_jammed(lock: TheKeysLock) -> bool | None:
    return None if lock.state is None else lock.state is LockState.JAMMED


async def _close(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_close(key)


async def _open(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_open(key)


async def _synchronize_lock(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_synchronize_lock(key)


async def _update_lock(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_update_lock(key)


async def _synchronize_gateway(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_synchronize_gateway()


async def _update_gateway(coordinator: TheKeysCoordinator, key: str) -> None:
    await coordinator.async_update_gateway()


LOCKS: tuple[MultilockLockEntityDescription[TheKeysCoordinator, TheKeysLock], ...] = (
    MultilockLockEntityDescription(
        key="lock",
        name=None,
        is_locked_fn=_is_locked,
        is_jammed_fn=_is_jammed,
        lock_fn=_close,
        unlock_fn=_open,
    ),
)

LOCK_SENSORS: tuple[MultilockSensorEntityDescription[TheKeysLock], ...] = (
    MultilockSensorEntityDescription(
        key="door_state",
        translation_key="bolt",
        device_class=SensorDeviceClass.ENUM,
        options=sorted(BOLT_STATES.values()),
        value_fn=lambda lock: None if lock.state is None else BOLT_STATES.get(lock.state),
    ),
    MultilockSensorEntityDescription(
        key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda lock: (
            None
            if lock.locker is None or lock.locker.battery_mv is None
            else battery_percentage(lock.locker.battery_mv)
        ),
    ),
    MultilockSensorEntityDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
        suggested_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=2,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda lock: lock.locker.battery_mv if lock.locker else None,
    ),
    MultilockSensorEntityDescription(
        key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda lock: lock.locker.rssi if lock.locker else None,
    ),
)

# What the gateway says it is doing (``/status``), as known states; other texts are unknown.
GATEWAY_ACTIVITIES = {
    "scanning": "scanning",
    "synchronizing": "synchronizing",
    "synchronising": "synchronizing",
    "updating": "updating",
}


def _activity(status: GatewayStatus) -> str | None:
    if status.current_status is None:
        return None
    return GATEWAY_ACTIVITIES.get(status.current_status.strip(" .").lower())


# The gateway device's data is its status (None before firmware 17); the firmware version is
# the device's own (its sw_version), not a sensor.
GATEWAY_SENSORS: tuple[MultilockSensorEntityDescription[GatewayStatus], ...] = (
    MultilockSensorEntityDescription(
        key="current_status",
        translation_key="gateway_status",
        device_class=SensorDeviceClass.ENUM,
        options=sorted(set(GATEWAY_ACTIVITIES.values())),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_activity,
    ),
)

LOCK_BUTTONS: tuple[MultilockButtonEntityDescription[TheKeysCoordinator], ...] = (
    MultilockButtonEntityDescription(
        key="synchronize",
        translation_key="synchronize_lock",
        entity_category=EntityCategory.CONFIG,
        press_fn=_synchronize_lock,
    ),
    MultilockButtonEntityDescription(
        key="update",
        translation_key="update_lock",
        device_class=ButtonDeviceClass.UPDATE,
        entity_category=EntityCategory.CONFIG,
        press_fn=_update_lock,
    ),
)

GATEWAY_BUTTONS: tuple[MultilockButtonEntityDescription[TheKeysCoordinator], ...] = (
    MultilockButtonEntityDescription(
        key="synchronize",
        translation_key="synchronize_gateway",
        entity_category=EntityCategory.CONFIG,
        press_fn=_synchronize_gateway,
    ),
    MultilockButtonEntityDescription(
        key="update",
        translation_key="update_gateway",
        device_class=ButtonDeviceClass.UPDATE,
        entity_category=EntityCategory.CONFIG,
        press_fn=_update_gateway,
    ),
)

DESCRIPTIONS: Descriptions = {
    Platform.LOCK: {LOCK_KIND: LOCKS},
    Platform.SENSOR: {LOCK_KIND: LOCK_SENSORS, GATEWAY_KIND: GATEWAY_SENSORS},
    Platform.BUTTON: {LOCK_KIND: LOCK_BUTTONS, GATEWAY_KIND: GATEWAY_BUTTONS},
}
