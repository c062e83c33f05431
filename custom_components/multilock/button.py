"""Buttons of every vendor (maintenance actions)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry
from .entity import MultilockEntity, async_add_device_entities

# Presses are serialised per gateway or account by the coordinators' clients.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MultilockButtonEntityDescription(ButtonEntityDescription):
    """A button running ``press_fn(coordinator, device_key)``."""

    press_fn: Callable[[Any, str], Coroutine[Any, Any, None]]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.BUTTON, MultilockButton, async_add_entities
    )


class MultilockButton(MultilockEntity, ButtonEntity):
    """A maintenance button of a multilock device."""

    entity_description: MultilockButtonEntityDescription

    async def async_press(self) -> None:
        """Run the action; failures raise translated errors."""
        await self.entity_description.press_fn(self.coordinator, self._device_key)
