"""Write the Home Assistant configuration of scripts/develop: multilock against the simulators.

``python scripts/develop_config.py CONFIG_DIR`` writes into CONFIG_DIR (which it expects empty
or missing; scripts/develop recreates it each run):

* ``configuration.yaml`` naming only the integrations the demo needs (no ``default_config``,
  which pulls in go2rtc and ffmpeg);
* ``custom_components/multilock``, a symlink to this repository's integration;
* ``.storage/onboarding`` with every onboarding step done (the user comes from
  ``hass --script auth``, run by scripts/develop);
* ``.storage/core.config_entries`` with multilock already set up against the simulators
  (with ``--doordeck URL``, also a Doordeck account signed in to the running simulator).

The storage files are built with Home Assistant's own classes and constants, so they have the
format of the installed version.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from types import MappingProxyType
from typing import Any

import aiohttp
from homeassistant import config_entries
from homeassistant.components import onboarding
from homeassistant.components.http import config as http_config
from homeassistant.components.onboarding.const import STEPS
from homeassistant.util import dt as dt_util

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # simulators/ and the integration, also when run as a script

from simulators.thekeys import DEMO_LOCKS  # noqa: E402

DOMAIN = "multilock"
# The entry as version 2.1 of the config flow creates it; a later version migrates it on start.
FLOW_VERSION, FLOW_MINOR_VERSION = 2, 1

THEKEYS_HOST = "127.0.0.1:8181"  # scripts/develop starts the The Keys simulator there
# (title, identifier, share code): the simulator's demo locks (not the cloud account's, which
# the user adds with the account set-up).
THEKEYS_LOCKS = tuple(
    (title, identifier, code)
    for title, (identifier, code) in zip(("Front door", "Back door"), DEMO_LOCKS, strict=True)
)

# scripts/develop starts the Doordeck simulator with this account administering its locks.
DOORDECK_EMAIL, DOORDECK_PASSWORD = "demo@example.com", "password"

CONFIGURATION_YAML = """\
# Written by scripts/develop_config.py on each run of scripts/develop: edits are lost.
homeassistant:
  name: multilock demo
  country: FR
  currency: EUR
  unit_system: metric
  time_zone: UTC
  latitude: 48.8566
  longitude: 2.3522
  elevation: 35

# What the web UI needs, without default_config (go2rtc, ffmpeg, ...). The HTTP server's
# settings (127.0.0.1:8123) are in .storage/http, where Home Assistant keeps them now.
frontend:
config:
lovelace:
api:
auth:
onboarding:
repairs:
diagnostics:
search:
system_log:
device_automation:
# History and logbook of the locks (in their dialogs and side panels).
history:
logbook:

logger:
  default: info
  logs:
    custom_components.multilock: debug
"""


def thekeys_entry(host: str = THEKEYS_HOST) -> config_entries.ConfigEntry:
    """Return the The Keys gateway entry with its two locks as subentries."""
    return config_entries.ConfigEntry(
        data={"vendor": "thekeys", "host": host},
        discovery_keys=MappingProxyType({}),
        domain=DOMAIN,
        minor_version=FLOW_MINOR_VERSION,
        options={},
        source=config_entries.SOURCE_USER,
        subentries_data=[
            config_entries.ConfigSubentryData(
                data={"identifier": identifier, "share_code": share_code},
                subentry_type="thekeys_lock",
                title=title,
                unique_id=str(identifier),
            )
            for title, identifier, share_code in THEKEYS_LOCKS
        ],
        title="The Keys gateway",
        unique_id=host,
        version=FLOW_VERSION,
    )


async def doordeck_entry(url: str) -> config_entries.ConfigEntry:
    """Return a Doordeck account entry, signed in and with a key, as the config flow leaves it.

    The key can only be registered with the running simulator, so this talks to it.
    """
    # The integration's own client, as its config flow uses it.
    from custom_components.multilock.vendors.doordeck.client import DoordeckClient  # noqa: PLC0415
    from custom_components.multilock.vendors.doordeck.flow import account_title  # noqa: PLC0415

    async with aiohttp.ClientSession() as session:
        client = DoordeckClient(session, base_url=url)
        await client.login(DOORDECK_EMAIL, DOORDECK_PASSWORD)
        await client.register_key()
    return config_entries.ConfigEntry(
        data={
            "vendor": "doordeck",
            "email": DOORDECK_EMAIL,
            "url": url,
            "credentials": client.credentials.to_dict(),
        },
        discovery_keys=MappingProxyType({}),
        domain=DOMAIN,
        minor_version=FLOW_MINOR_VERSION,
        options={},
        source=config_entries.SOURCE_USER,
        subentries_data=[],
        title=account_title(DOORDECK_EMAIL),
        unique_id=client.user_id,
        version=FLOW_VERSION,
    )


def _write_store(config_dir: Path, key: str, version: int, minor: int, data: Any) -> None:
    """Write one ``.storage`` file the way ``homeassistant.helpers.storage.Store`` does."""
    path = config_dir / ".storage" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"version": version, "minor_version": minor, "key": key, "data": data}
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_config(
    config_dir: Path,
    doordeck_url: str | None = None,
    *,
    thekeys_host: str = THEKEYS_HOST,
    http_port: int = 8123,
) -> None:
    """Write the whole demo configuration into ``config_dir``.

    ``thekeys_host``: the gateway simulator; ``http_port``: where Home Assistant listens.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(CONFIGURATION_YAML, encoding="utf-8")

    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    (custom / DOMAIN).symlink_to(ROOT / "custom_components" / DOMAIN, target_is_directory=True)

    _write_store(
        config_dir, onboarding.STORAGE_KEY, onboarding.STORAGE_VERSION, 1, {"done": list(STEPS)}
    )
    # The HTTP server's settings, confirmed (YAML would be migrated into a trial that asks
    # the user to confirm it and reverts it otherwise): loopback only.
    http_settings = http_config.HTTP_STORAGE_SCHEMA(
        {http_config.CONF_SERVER_HOST: ["127.0.0.1"], http_config.CONF_SERVER_PORT: http_port}
    ) | {"created_at": dt_util.utcnow().isoformat(), "error": None, "error_message": None}
    _write_store(
        config_dir,
        http_config.STORAGE_KEY,
        http_config.STORAGE_VERSION,
        http_config.STORAGE_MINOR_VERSION,
        {
            http_config.KEY_STABLE: http_settings,
            http_config.KEY_PENDING: None,
            http_config.KEY_YAML_MIGRATION_DONE: True,
        },
    )
    entries = [thekeys_entry(thekeys_host)]
    if doordeck_url:
        entries.append(asyncio.run(doordeck_entry(doordeck_url)))
    _write_store(
        config_dir,
        config_entries.STORAGE_KEY,
        config_entries.STORAGE_VERSION,
        config_entries.STORAGE_VERSION_MINOR,
        {"entries": [entry.as_dict() for entry in entries]},
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and write the configuration."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--doordeck", metavar="URL", help="the running Doordeck simulator")
    args = parser.parse_args(argv)
    write_config(args.config_dir.resolve(), args.doordeck)


if __name__ == "__main__":
    main()
