"""Shared plumbing of the vendors' actions: which multilock devices an action targets.

What each action does belongs to its vendor (``VendorSpec.register_actions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

from .const import DOMAIN
from .coordinator import MultilockConfigEntry, MultilockCoordinator


@dataclass(frozen=True, slots=True)
class TargetedDevices[RuntimeT: MultilockCoordinator[Any]]:
    """The targeted entities of one loaded entry: (entity id, device key) pairs."""

    runtime: RuntimeT
    entities: list[tuple[str, str]]


def async_targeted_devices[RuntimeT: MultilockCoordinator[Any]](
    hass: HomeAssistant, call: ServiceCall, platform: Platform, runtime_type: type[RuntimeT]
) -> list[TargetedDevices[RuntimeT]]:
    """Group the targeted ``platform`` entities by entry; each must belong to ``runtime_type``.

    Raise ServiceValidationError, naming the entity, for anything else targeted.
    """
    selected = async_extract_referenced_entity_ids(hass, TargetSelection(call.data))
    entity_ids = selected.referenced | {
        entity_id
        for entity_id in selected.indirectly_referenced
        if entity_id.startswith(f"{platform.value}.")
    }
    if not entity_ids:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_lock_targeted")
    entities, devices = er.async_get(hass), dr.async_get(hass)
    by_entry: dict[str, TargetedDevices[RuntimeT]] = {}
    for entity_id in sorted(entity_ids):
        entity = entities.async_get(entity_id)
        device = devices.async_get(entity.device_id) if entity and entity.device_id else None
        entry: MultilockConfigEntry | None = (
            hass.config_entries.async_get_entry(entity.config_entry_id)
            if entity and entity.config_entry_id and entity.platform == DOMAIN
            else None
        )
        if entity is None or entity.domain != platform or device is None or entry is None:
            raise _invalid("not_a_multilock_lock", entity_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise _invalid("entry_not_loaded", entity_id)
        runtime = entry.runtime_data
        if not isinstance(runtime, runtime_type):
            raise _invalid("action_not_supported", entity_id)
        device_key = next(key for domain, key in device.identifiers if domain == DOMAIN)
        targeted = by_entry.setdefault(entry.entry_id, TargetedDevices(runtime, []))
        targeted.entities.append((entity_id, device_key))
    return list(by_entry.values())


def _invalid(key: str, entity_id: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"entity_id": entity_id, **placeholders},
    )
