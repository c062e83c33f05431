"""multilock: The Keys, Doordeck, 2N and InVue locks in Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.typing import ConfigType

from .config_flow import VERSION
from .const import CONF_VENDOR, DOMAIN, LOGGER
from .coordinator import MultilockConfigEntry
from .vendors import VENDORS

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (config entries only) and register every vendor's actions."""
    for spec in VENDORS.values():
        if spec.register_actions is not None:
            spec.register_actions(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> bool:
    """Bring an entry stored by an older version of multilock up to date."""
    if entry.version > VERSION:
        return False  # stored by a newer multilock: leave it alone
    if entry.version == 1:
        # Version 1 named subentry types without the vendor ("lock").
        renames = VENDORS[entry.data[CONF_VENDOR]].migrate_subentry_types
        for subentry in list(entry.subentries.values()):
            if (new_type := renames.get(subentry.subentry_type)) is not None:
                _retype_subentry(hass, entry, subentry, new_type)
        hass.config_entries.async_update_entry(entry, version=2, minor_version=1)
        LOGGER.debug("Migrated entry %s to version 2", entry.entry_id)
    return True


@callback
def _retype_subentry(
    hass: HomeAssistant, entry: MultilockConfigEntry, old: ConfigSubentry, new_type: str
) -> None:
    """Give a subentry another type, keeping its devices and entities as they are.

    Home Assistant has no call that changes a subentry's type: a subentry of the new type
    takes over the old one's data, title and unique id, its devices and entities move to it
    (their ids, names, areas and history stay), then the emptied old one is removed.
    """
    config_entries = hass.config_entries
    new = ConfigSubentry(
        data=old.data, subentry_type=new_type, title=old.title, unique_id=old.unique_id
    )
    config_entries.async_update_subentry(entry, old, unique_id=None)  # it moves to ``new``
    config_entries.async_add_subentry(entry, new)
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if device.config_subentry_id == old.subentry_id:
            devices.async_update_device(device.id, new_config_subentry_id=new.subentry_id)
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if entity.config_subentry_id == old.subentry_id:
            entities.async_update_entity(entity.entity_id, config_subentry_id=new.subentry_id)
    config_entries.async_remove_subentry(entry, old.subentry_id)


async def async_setup_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> bool:
    """Let the entry's vendor build its runtime data, then add the platforms."""
    spec = VENDORS[entry.data[CONF_VENDOR]]
    # Taken before the runtime is built: a subentry added while it sets up is then seen
    # as a change (below) instead of being missed until the next reload.
    subentry_data = _subentry_data(entry)
    # The subentries the vendor has heard of: each addition and removal is told once, also
    # when several changes come before the reload they cause.
    told = dict(entry.subentries)
    runtime = await spec.setup(hass, entry)
    entry.runtime_data = runtime

    async def settings_changed(hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
        # A flow changed the entry (reauth, reconfigure) or its subentries: the vendor hears
        # of subentries added and removed, then the entry starts again with them. Data the
        # running entry stores itself (refreshed tokens) needs no reload.
        for subentry_id in told.keys() - entry.subentries.keys():
            removed = told.pop(subentry_id)
            if spec.subentry_removed is not None:
                await spec.subentry_removed(hass, entry, removed)
        for subentry_id in entry.subentries.keys() - told.keys():
            told[subentry_id] = entry.subentries[subentry_id]
            if spec.subentry_added is not None:
                await spec.subentry_added(hass, entry, told[subentry_id])
        if _subentry_data(entry) != subentry_data or dict(entry.data) != runtime.entry_data_written:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(settings_changed))
    await hass.config_entries.async_forward_entry_setups(entry, runtime.platforms())
    if _subentry_data(entry) != subentry_data:
        hass.config_entries.async_schedule_reload(entry.entry_id)
    return True


def _subentry_data(entry: MultilockConfigEntry) -> dict[str, tuple[object, ...]]:
    # A copy of the values: Home Assistant updates subentries in place.
    return {
        subentry_id: _subentry_values(subentry)
        for subentry_id, subentry in entry.subentries.items()
    }


def _subentry_values(subentry: ConfigSubentry) -> tuple[object, ...]:
    return (subentry.subentry_type, subentry.title, subentry.unique_id, dict(subentry.data))


async def async_remove_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
    """Let the vendor clean up what it keeps for a deleted entry."""
    spec = VENDORS.get(entry.data.get(CONF_VENDOR, ""))
    if spec is not None and spec.entry_removed is not None:
        await spec.entry_removed(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> bool:
    """Unload the entry's platforms; what its runtime shared is released by its unload hooks."""
    return await hass.config_entries.async_unload_platforms(entry, entry.runtime_data.platforms())
