"""What 2N devices show in Home Assistant: entity descriptions, no logic.

A lock per enabled door switch (named after its number; the door is unlocked while the
switch is active) and, on the device, its mobile-key location, the number of keys in use and
when the primary key was made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import Platform

from ...coordinator import Descriptions
from ...lock import MultilockLockEntityDescription
from ...sensor import MultilockSensorEntityDescription
from .const import DEVICE_KIND, MAX_SWITCHES, switch_kind
from .event_descriptions import CAMERAS, EVENT_LOG_SENSORS, EVENTS
from .events import CAMERA_KIND, EVENT_LOG_KIND

if TYPE_CHECKING:
    from .coordinator import TwoNCoordinator, TwoNData, TwoNSwitch


async def _open(coordinator: TwoNCoordinator, key: str) -> None:
    await coordinator.async_open(key)


async def _close(coordinator: TwoNCoordinator, key: str) -> None:
    await coordinator.async_close(key)


def switch_lock(number: int) -> MultilockLockEntityDescription[TwoNCoordinator, TwoNSwitch]:
    """The lock of door switch ``number``: unlocked while the switch is active (or unknown)."""
    return MultilockLockEntityDescription(
        key="lock",
        translation_key="two_n_switch",
        translation_placeholders={"number": str(number)},
        is_locked_fn=lambda switch: None if switch.active is None else not switch.active,
        lock_fn=_close,
        unlock_fn=_open,
    )


DEVICE_SENSORS: tuple[MultilockSensorEntityDescription[TwoNData], ...] = (
    MultilockSensorEntityDescription(
        key="mobile_key_location",
        translation_key="two_n_mobile_key_location",
        value_fn=lambda data: None if data.mobile_keys is None else data.mobile_keys.location,
    ),
    MultilockSensorEntityDescription(
        key="mobile_keys_in_use",
        translation_key="two_n_mobile_keys_in_use",
        value_fn=lambda data: None if data.mobile_keys is None else len(data.mobile_keys.keys),
    ),
    MultilockSensorEntityDescription(
        key="primary_key_created",
        translation_key="two_n_primary_key_created",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.primary_key_created,
    ),
)

DESCRIPTIONS: Descriptions = {
    Platform.LOCK: {
        switch_kind(number): (switch_lock(number),) for number in range(1, MAX_SWITCHES + 1)
    },
    Platform.SENSOR: {DEVICE_KIND: DEVICE_SENSORS, EVENT_LOG_KIND: EVENT_LOG_SENSORS},
    Platform.EVENT: EVENTS,
    Platform.CAMERA: {CAMERA_KIND: CAMERAS},
}
