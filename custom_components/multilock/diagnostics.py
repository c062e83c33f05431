"""Diagnostics: the entry, its subentries and the last snapshot, the vendor's secrets redacted."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_VENDOR
from .coordinator import MultilockConfigEntry
from .vendors import VENDORS


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MultilockConfigEntry
) -> dict[str, Any]:
    """Return diagnostics with every secret of the entry's vendor redacted."""
    spec = VENDORS[entry.data[CONF_VENDOR]]
    runtime = entry.runtime_data
    data = runtime.data
    snapshot = (
        dataclasses.asdict(data)
        if dataclasses.is_dataclass(data) and not isinstance(data, type)
        else data
    )
    return {
        "entry": {
            "title": REDACTED if spec.title_is_secret else entry.title,
            "version": entry.version,
            "data": async_redact_data(dict(entry.data), spec.redact),
            "subentries": [
                {
                    "type": subentry.subentry_type,
                    "title": subentry.title,
                    "unique_id": subentry.unique_id,
                    "data": async_redact_data(dict(subentry.data), spec.redact),
                }
                for subentry in entry.subentries.values()
            ],
        },
        "last_update_success": runtime.last_update_success,
        "snapshot": async_redact_data(_lists(snapshot), spec.redact),
    }


def _lists(value: Any) -> Any:
    """Tuples as lists: the redaction looks inside dicts and lists only."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value
