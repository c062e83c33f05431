"""What a 2N device's event log and camera show in Home Assistant: descriptions, no logic.

On the device: an event entity per kind of event it logs (doorbell, access, door), the
event log's state (diagnostic), and a camera where it has one (events.py makes the devices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.event import EventDeviceClass
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import EntityCategory

from ...camera import MultilockCameraEntityDescription
from ...event import MultilockEventEntityDescription
from ...sensor import MultilockSensorEntityDescription
from .events import (
    ACCESS,
    ACCESS_TYPES,
    DOOR,
    DOOR_TYPES,
    DOORBELL,
    DOORBELL_TYPES,
    EVENT_KEY,
    EventLogState,
    EventLogStatus,
)

if TYPE_CHECKING:
    from .coordinator import TwoNCoordinator


async def _snapshot(
    coordinator: TwoNCoordinator, key: str, width: int | None, height: int | None
) -> bytes:
    return await coordinator.async_camera_image(width, height)


EVENTS: dict[str, tuple[MultilockEventEntityDescription, ...]] = {
    DOORBELL: (
        MultilockEventEntityDescription(
            key=EVENT_KEY,
            translation_key="two_n_doorbell",
            device_class=EventDeviceClass.DOORBELL,
            event_types=list(DOORBELL_TYPES),
        ),
    ),
    ACCESS: (
        MultilockEventEntityDescription(
            key=EVENT_KEY, translation_key="two_n_access", event_types=list(ACCESS_TYPES)
        ),
    ),
    DOOR: (
        MultilockEventEntityDescription(
            key=EVENT_KEY, translation_key="two_n_door", event_types=list(DOOR_TYPES)
        ),
    ),
}

EVENT_LOG_SENSORS: tuple[MultilockSensorEntityDescription[EventLogStatus], ...] = (
    MultilockSensorEntityDescription(
        key="state",
        translation_key="two_n_event_log",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in EventLogState],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.state.value,
    ),
)

CAMERAS: tuple[MultilockCameraEntityDescription[TwoNCoordinator], ...] = (
    MultilockCameraEntityDescription(
        key="snapshot", translation_key="two_n_camera", image_fn=_snapshot
    ),
)
