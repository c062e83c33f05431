"""Diagnostics: the entry, its subentries and the last snapshot, secrets redacted."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_VENDOR, Vendor
from .coordinator import MultilockConfigEntry
from .vendors import VENDORS


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MultilockConfigEntry
) -> dict[str, Any]:
    """Return diagnostics with every secret of the vendor redacted."""
    coordinator = entry.runtime_data
    data = coordinator.data
    snapshot = (
        dataclasses.asdict(data)
        if dataclasses.is_dataclass(data) and not isinstance(data, type)
        else data
    )
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "subentries": [
                    {
                        "type": subentry.subentry_type,
                        "title": subentry.title,
                        "unique_id": subentry.unique_id,
                        "data": dict(subentry.data),
                    }
                    for subentry in entry.subentries.values()
                ],
            },
            "last_update_success": coordinator.last_update_success,
            "snapshot": snapshot,
        },
        VENDORS[Vendor(entry.data[CONF_VENDOR])].secrets,
    )
