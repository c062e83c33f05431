"""Event entities of every vendor: what happened at a device (a doorbell, a card, a user).

A vendor's runtime fires an event for a device with ``async_fire_device_event``; the event
entity of that device whose description has the event's ``entity`` key shows it. Nothing
here reads the snapshot: an event is not a state the coordinator keeps, and the entity
restores the last one itself (Home Assistant's event entities do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import MultilockConfigEntry
from .entity import MultilockEntity, async_add_device_entities

# Nothing to send: events come from the vendor's runtime.
PARALLEL_UPDATES = 0

type EventAttribute = str | int | float | bool | None


@dataclass(frozen=True, kw_only=True)
class MultilockEventEntityDescription(EventEntityDescription):
    """An event entity; ``event_types`` are the types its vendor fires (translated)."""


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened at a device, for its event entity with the key ``entity``.

    ``attributes``: what the entity shows with it (translated attribute names).
    """

    entity: str
    event_type: str
    attributes: Mapping[str, EventAttribute] = field(default_factory=dict)


def _signal(device_key: str, entity: str) -> str:
    return f"{DOMAIN}_event_{device_key}_{entity}"


@callback
def async_fire_device_event(hass: HomeAssistant, device_key: str, event: DeviceEvent) -> None:
    """Show ``event`` on the device's event entity (nothing when it has none loaded)."""
    async_dispatcher_send(hass, _signal(device_key, event.entity), event)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the event entities of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.EVENT, MultilockEvent, async_add_entities
    )


class MultilockEvent(MultilockEntity[Any], EventEntity):
    """An event entity of a multilock device."""

    entity_description: MultilockEventEntityDescription

    async def async_added_to_hass(self) -> None:
        """Listen for the events of this entity's device."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                _signal(self._device_key, self.entity_description.key),
                self._handle_event,
            )
        )

    @callback
    def _handle_event(self, event: DeviceEvent) -> None:
        self._trigger_event(
            event.event_type,
            {name: value for name, value in event.attributes.items() if value is not None},
        )
        self._write_state()
