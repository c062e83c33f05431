"""Helpers every vendor's config flow uses."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult


def update_entry_and_abort(
    flow: ConfigFlow, entry: ConfigEntry, **changes: Any
) -> ConfigFlowResult:
    """Store a reauth's or reconfigure's changes, then start the entry again with them.

    A loaded entry's update listener reloads it when its settings change; an entry that
    is not loaded (its set-up failed, for example because the sign-in was refused) has no
    listener and is reloaded here.
    """
    if entry.update_listeners:
        return flow.async_update_and_abort(entry, **changes)
    return flow.async_update_reload_and_abort(entry, **changes)
