"""Sensors of every vendor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import MultilockConfigEntry
from .entity import MultilockEntity, async_add_device_entities

# Read-only: the coordinator does all I/O.
PARALLEL_UPDATES = 0

type SensorValue = StateType | date | datetime | Decimal


@dataclass(frozen=True, kw_only=True)
class MultilockSensorEntityDescription[DataT](SensorEntityDescription):
    """A sensor reading the device data with ``value_fn``."""

    value_fn: Callable[[DataT], SensorValue]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.SENSOR, MultilockSensor, async_add_entities
    )


class MultilockSensor(MultilockEntity[Any], SensorEntity):
    """A sensor of a multilock device."""

    entity_description: MultilockSensorEntityDescription[Any]

    @property
    def native_value(self) -> SensorValue:
        """Return the value the vendor reported."""
        data = self.device_data
        return None if data is None else self.entity_description.value_fn(data)

    def _state_shown(self) -> tuple[object, ...]:
        """What a snapshot can change: the value, whose state shown follows from it and from
        settings (unit, precision) that write the state themselves when they change. Cheaper
        than working the state out to tell that nothing changed."""
        return (self.available, self.native_value, self.extra_state_attributes)
