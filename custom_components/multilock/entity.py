"""The one entity base of multilock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import MultilockCoordinator, MultilockDevice


class MultilockEntity[DataT](CoordinatorEntity[MultilockCoordinator[Any]]):
    """An entity of one device of a coordinator, described by an entity description."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: MultilockCoordinator[Any],
        device: MultilockDevice[DataT],
        description: EntityDescription,
    ) -> None:
        """Attach the entity to ``device``."""
        super().__init__(coordinator)
        self.entity_description = description
        self._device_key = device.key
        self._attr_unique_id = f"{device.key}-{description.key}"
        # The coordinator registered the device (async_add_device_entities): link to it.
        self._attr_device_info = DeviceInfo(identifiers=set(device.info.identifiers))
        self._written: tuple[object, ...] | None = None
        # What the state shown was computed from: the device's snapshot, the coordinator's success.
        self._shown_from: tuple[MultilockDevice[DataT] | None, bool] | None = None

    def _state_shown(self) -> tuple[object, ...]:
        """Everything Home Assistant writes for this entity that a snapshot can change."""
        return (
            self.available,
            self.state,
            self.state_attributes,
            self.extra_state_attributes,
            self.assumed_state,
        )

    def _source(self) -> tuple[MultilockDevice[DataT] | None, bool]:
        """What the state shown is computed from, besides the entity's own attributes."""
        return self.device, self.coordinator.last_update_success

    async def async_added_to_hass(self) -> None:
        """Listen to the coordinator; the state written when added is the first one shown."""
        await super().async_added_to_hass()
        self._shown_from = self._source()
        self._written = self._state_shown()

    @callback
    def _write_state(self, shown: tuple[object, ...] | None = None) -> None:
        """Write the state, and remember what it showed (``shown``, when just computed)."""
        self._shown_from = self._source()
        self._written = self._state_shown() if shown is None else shown
        self.async_write_ha_state()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state when anything it shows changed.

        A snapshot reaches every entity of the gateway or account; one that changes nothing
        an entity shows (a command on another lock) costs that entity no state write, and
        one that keeps the entity's device as it was (the coordinator keeps its object) not
        even the work of telling.
        """
        source = self._source()
        if self._shown_from is not None and (
            source[0] is self._shown_from[0] and source[1] == self._shown_from[1]
        ):
            return
        self._shown_from = source
        if (shown := self._state_shown()) != self._written:
            self._write_state(shown)

    @property
    def device(self) -> MultilockDevice[DataT] | None:
        """Return the device's current snapshot (None once it is gone)."""
        return self.coordinator.devices.get(self._device_key)

    @property
    def device_data(self) -> DataT | None:
        """Return the vendor's data of the device."""
        device = self.device
        return None if device is None else device.data

    @property
    def available(self) -> bool:
        """Return whether both the coordinator and this device are reachable."""
        device = self.device
        return super().available and device is not None and device.problem is None


type EntityFactory = Callable[
    [MultilockCoordinator[Any], MultilockDevice[Any], Any], MultilockEntity[Any]
]


@callback
def async_add_device_entities(
    coordinator: MultilockCoordinator[Any],
    platform: Platform,
    factory: EntityFactory,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the platform's entities for every device, now and whenever new ones appear."""
    added: set[str] = set()

    @callback
    def add_new_devices() -> None:
        if coordinator.data is None:
            return
        devices = coordinator.devices
        if added == devices.keys():
            return  # no device came or left
        added.intersection_update(devices)  # a device that left and came back is new again
        by_subentry: dict[str | None, list[Entity]] = defaultdict(list)
        for key, device in devices.items():
            if key in added:
                continue
            added.add(key)
            coordinator.async_register_device(device)
            for description in coordinator.descriptions.get(platform, {}).get(device.kind, ()):
                by_subentry[device.subentry_id].append(factory(coordinator, device, description))
        for subentry_id, entities in by_subentry.items():
            async_add_entities(entities, config_subentry_id=subentry_id)

    add_new_devices()
    coordinator.config_entry.async_on_unload(coordinator.async_add_listener(add_new_devices))
