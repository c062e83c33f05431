"""Buttons of every vendor (maintenance actions)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MultilockConfigEntry, MultilockCoordinator
from .entity import MultilockEntity, async_add_device_entities

# Each vendor's client orders and paces what it sends to one gateway or account.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MultilockButtonEntityDescription[CoordinatorT: MultilockCoordinator[Any]](
    ButtonEntityDescription
):
    """A button running ``press_fn(coordinator, device_key)``."""

    press_fn: Callable[[CoordinatorT, str], Coroutine[Any, Any, None]]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MultilockConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of the entry's devices."""
    async_add_device_entities(
        entry.runtime_data, Platform.BUTTON, MultilockButton, async_add_entities
    )


class MultilockButton(MultilockEntity[Any], ButtonEntity):
    """A maintenance button of a multilock device."""

    entity_description: MultilockButtonEntityDescription[Any]

    def _state_shown(self) -> tuple[object, ...]:
        """What a snapshot can change: only whether the button is available (its state is
        the last press, which Home Assistant writes itself)."""
        return (self.available,)

    async def async_press(self) -> None:
        """Run the action; failures raise translated errors."""
        await self.entity_description.press_fn(self.coordinator, self._device_key)
