"""A real Home Assistant core, started in-process the way ``hass`` starts one.

It follows ``homeassistant.bootstrap.async_from_config_dict`` (registries, config entries
from ``.storage``, the core integrations, the core configuration) but sets up only what
multilock needs instead of the default integrations (frontend, backup, analytics...):
``http`` on a free loopback port, ``repairs``, and the entity platforms multilock uses.
multilock itself is loaded from this repository's ``custom_components`` (the repository
root is on ``sys.path``), like any custom integration.
"""

from __future__ import annotations

import json
from pathlib import Path
import socket
from typing import Any

from homeassistant import bootstrap, config_entries, core, loader
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.setup import async_setup_component

# What Home Assistant runs anyway before multilock is set up (so that the figures of
# multilock do not include them): the HTTP server, repairs, and the entity components.
PRELOADED = ("repairs", "lock", "sensor", "binary_sensor", "button", "event")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config_entries(config_dir: Path, entries: list[config_entries.ConfigEntry]) -> None:
    """Store ``entries`` in ``.storage`` as Home Assistant's ``ConfigEntries`` does."""
    path = config_dir / ".storage" / config_entries.STORAGE_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "version": config_entries.STORAGE_VERSION,
        "minor_version": config_entries.STORAGE_VERSION_MINOR,
        "key": config_entries.STORAGE_KEY,
        "data": {"entries": [entry.as_dict() for entry in entries]},
    }
    path.write_text(json.dumps(content), encoding="utf-8")


async def start_home_assistant(config_dir: Path) -> core.HomeAssistant:
    """Start a Home Assistant core on ``config_dir`` (its ``.storage`` already written)."""
    hass = core.HomeAssistant(str(config_dir))
    loader.async_setup(hass)
    hass.config.skip_pip = True
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await loader.async_get_custom_components(hass)
    await bootstrap.async_load_base_functionality(hass)
    for domain in bootstrap.CORE_INTEGRATIONS:
        await _setup(hass, domain, {})
    await async_process_ha_core_config(
        hass,
        {
            "name": "multilock benchmark",
            "time_zone": "UTC",
            "unit_system": "metric",
            "country": "FR",
            "currency": "EUR",
            "latitude": 48.8566,
            "longitude": 2.3522,
            "elevation": 35,
        },
    )
    http = {"server_host": ["127.0.0.1"], "server_port": free_port()}
    await _setup(hass, "http", {"http": http})
    for domain in PRELOADED:
        await _setup(hass, domain, {})
    await hass.async_start()
    return hass


async def _setup(hass: core.HomeAssistant, domain: str, config: dict[str, Any]) -> None:
    if not await async_setup_component(hass, domain, config):
        raise RuntimeError(f"Home Assistant could not set up {domain}")
