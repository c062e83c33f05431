"""Camera snapshots of every vendor (still images, taken when Home Assistant asks)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from homeassistant.components.camera import Camera, CameraEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry, MultilockCoordinator, MultilockDevice
from .entity import MultilockEntity, async_add_device_entities

# One snapshot at a time per device is the vendor's business (its coordinator).
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MultilockCameraEntityDescription[CoordinatorT: MultilockCoordinator[Any]](
    CameraEntityDescription
):
    """A camera: ``image_fn`` takes the coordinator, the device key and the size asked for
    (None: the device's own) and returns a JPEG, or raises HomeAssistantError."""

    image_fn: Callable[[CoordinatorT, str, int | None, int | None], Coroutine[Any, Any, bytes]]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the cameras of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.CAMERA, MultilockCamera, async_add_entities
    )


class MultilockCamera(MultilockEntity[Any], Camera):
    """A camera of a multilock device: a snapshot read from the device when asked."""

    entity_description: MultilockCameraEntityDescription[Any]

    def __init__(
        self,
        coordinator: MultilockCoordinator[Any],
        device: MultilockDevice[Any],
        description: MultilockCameraEntityDescription[Any],
    ) -> None:
        """Attach the camera to ``device``."""
        super().__init__(coordinator, device, description)
        Camera.__init__(self)  # the coordinator entity's chain does not reach it

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return a snapshot from the device."""
        return await self.entity_description.image_fn(
            self.coordinator, self._device_key, width, height
        )
