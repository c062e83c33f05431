"""What the snapshot tests record: the parts of the registries and diagnostics a user meets.

Values that change from run to run (entry ids, loopback ports, generated ids, dates) are
replaced by names, so that one snapshot holds for every run and every supported release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import slugify
from pytest_homeassistant_custom_component.common import MockConfigEntry


def stable(value: Any, names: Mapping[str, str], volatile: frozenset[str] = frozenset()) -> Any:
    """Return ``value`` with each key of ``names`` (also slugified) replaced by its name.

    ``volatile``: keys whose values change on every run; they become ``<key>``.
    """
    if isinstance(value, Mapping):
        return {
            stable(key, names): f"<{key}>" if key in volatile else stable(item, names, volatile)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [stable(item, names, volatile) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, str):
        for raw, name in sorted(names.items(), key=lambda item: -len(item[0])):
            value = value.replace(raw, name).replace(slugify(raw), slugify(name))
        return value
    return value


def entities(
    hass: HomeAssistant, entry: MockConfigEntry, names: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's entities: id, unique id, device class, unit, category, translation key."""
    registry = er.async_get(hass)
    devices = dr.async_get(hass)
    result: dict[str, Any] = {}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        device = devices.async_get(entity.device_id) if entity.device_id else None
        result[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "device": device.name if device else None,
            "device_class": entity.device_class or entity.original_device_class,
            "unit": entity.unit_of_measurement,
            "category": entity.entity_category,
            "translation_key": entity.translation_key,
            "enabled": entity.disabled_by is None,
            "subentry": _subentry_title(entry, entity.config_subentry_id),
        }
    return stable(dict(sorted(result.items())), names)


def devices(
    hass: HomeAssistant, entry: MockConfigEntry, names: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's devices: identity, maker, model, the device they are reached through."""
    registry = dr.async_get(hass)
    result: dict[str, Any] = {}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        via = registry.async_get(device.via_device_id) if device.via_device_id else None
        result[device.name or ""] = {
            "identifiers": sorted(device.identifiers),
            "manufacturer": device.manufacturer,
            "model": device.model,
            "serial_number": device.serial_number,
            "sw_version": device.sw_version,
            "entry_type": device.entry_type,
            "via": via.name if via else None,
            "subentry": _subentry_title(entry, device.config_subentry_id),
        }
    return stable(dict(sorted(result.items())), names)


def _subentry_title(entry: MockConfigEntry, subentry_id: str | None) -> str | None:
    return None if subentry_id is None else entry.subentries[subentry_id].title
