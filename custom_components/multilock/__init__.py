"""multilock: The Keys, Doordeck, 2N and InVue locks in Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import CONF_VENDOR, DOMAIN, Vendor
from .coordinator import MultilockConfigEntry
from .services import async_setup_services
from .vendors import VENDORS

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (config entries only) and register its actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> bool:
    """Let the entry's vendor build its coordinator, poll once, and add the platforms."""
    coordinator = VENDORS[Vendor(entry.data[CONF_VENDOR])].coordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    coordinator.async_register_hubs()
    subentries = _subentries_of(entry)

    async def reload_when_settings_change(hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
        # A flow changed the entry (reauth, reconfigure) or its subentries (a lock added,
        # removed or given a new code): the entry starts again with them. Data the running
        # coordinator stores itself (refreshed tokens) needs no reload.
        if (
            _subentries_of(entry) != subentries
            or dict(entry.data) != coordinator.entry_data_written
        ):
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(reload_when_settings_change))
    await hass.config_entries.async_forward_entry_setups(entry, coordinator.platforms())
    return True


def _subentries_of(entry: MultilockConfigEntry) -> dict[str, tuple[object, ...]]:
    # A copy of the values: Home Assistant updates subentries in place.
    return {
        subentry_id: (subentry.title, subentry.unique_id, dict(subentry.data))
        for subentry_id, subentry in entry.subentries.items()
    }


async def async_unload_entry(hass: HomeAssistant, entry: MultilockConfigEntry) -> bool:
    """Unload the entry's platforms."""
    return await hass.config_entries.async_unload_platforms(entry, entry.runtime_data.platforms())
