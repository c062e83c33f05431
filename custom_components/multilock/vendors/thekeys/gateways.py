"""One client per The Keys gateway, owned by the entries that reach it.

The gateway's queue and its last timestamp belong to the gateway, so every entry reaching one
gateway shares one client. The entries own it: the last one unloaded releases it. A config
flow borrows the client of a loaded entry, or uses its own for as long as the flow lasts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import socket

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from ...const import DOMAIN
from .client import TheKeysGateway
from .const import VENDOR


@dataclass(slots=True)
class _SharedGateway:
    client: TheKeysGateway
    entries: int


SHARED_GATEWAYS: HassKey[dict[str, _SharedGateway]] = HassKey(f"{DOMAIN}_{VENDOR}_gateways")


async def async_resolve(host: str) -> str:
    """Return ``host[:port]`` as ``address:port``: one gateway, however it is written.

    ``localhost:8181`` and ``127.0.0.1:8181``, or a host name and its address, are one
    gateway with one queue and one last timestamp. Unresolvable names are kept as given.
    """
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    name = name or host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            name, int(port) if port.isdigit() else 80, family=socket.AF_INET
        )
    except OSError, ValueError:
        return host
    address = infos[0][4][0]
    return f"{address}:{port}" if port else str(address)


async def async_acquire_gateway(
    hass: HomeAssistant, host: str
) -> tuple[TheKeysGateway, Callable[[], None]]:
    """Return the shared client of the gateway at ``host`` and the call that releases it."""
    host = await async_resolve(host)
    shared = hass.data.setdefault(SHARED_GATEWAYS, {})
    if host not in shared:
        shared[host] = _SharedGateway(TheKeysGateway(async_get_clientsession(hass), host), 0)
    shared[host].entries += 1

    @callback
    def release() -> None:
        gateways = hass.data[SHARED_GATEWAYS]
        gateways[host].entries -= 1
        if gateways[host].entries == 0:
            del gateways[host]
            if not gateways:
                del hass.data[SHARED_GATEWAYS]

    return shared[host].client, release


async def async_gateway_for_flow(hass: HomeAssistant, host: str) -> TheKeysGateway:
    """Return the client a config flow uses: the loaded entries' own, else a new one.

    Sharing the loaded entries' client keeps one queue and one timestamp per gateway; a new
    one is referenced by the flow alone and ends with it.
    """
    host = await async_resolve(host)
    if (shared := hass.data.get(SHARED_GATEWAYS, {}).get(host)) is not None:
        return shared.client
    return TheKeysGateway(async_get_clientsession(hass), host)
