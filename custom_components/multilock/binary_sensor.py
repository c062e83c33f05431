"""Binary sensors of every vendor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry
from .entity import MultilockEntity, async_add_device_entities

# Read-only: the coordinator does all I/O.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MultilockBinarySensorEntityDescription[DataT](BinarySensorEntityDescription):
    """A binary sensor reading the device data with ``is_on_fn``.

    ``shows_device_problem``: the sensor itself shows why the device is unavailable (a
    connectivity sensor showing it offline), so it stays available while the device is not.
    """

    is_on_fn: Callable[[DataT], bool | None]
    shows_device_problem: bool = False


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.BINARY_SENSOR, MultilockBinarySensor, async_add_entities
    )


class MultilockBinarySensor(MultilockEntity[Any], BinarySensorEntity):
    """A binary sensor of a multilock device."""

    entity_description: MultilockBinarySensorEntityDescription[Any]

    @property
    def available(self) -> bool:
        """Return whether the value can be read (see ``shows_device_problem``)."""
        if self.entity_description.shows_device_problem:
            return self.coordinator.last_update_success and self.device is not None
        return super().available

    @property
    def is_on(self) -> bool | None:
        """Return the value the vendor reported."""
        data = self.device_data
        return None if data is None else self.entity_description.is_on_fn(data)
