"""The Keys: locks commanded through their local Wi-Fi gateway with HMAC-signed requests."""

from __future__ import annotations

from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from ...contract import VendorFlows, VendorSpec
from ...coordinator import MultilockConfigEntry
from .const import CONF_SHARE_CODE, LEGACY_SUBENTRY_LOCK, SHARE_CODE_ISSUE, SUBENTRY_LOCK, VENDOR
from .coordinator import TheKeysCoordinator
from .flow import TheKeysConfigFlowSteps, TheKeysLockSubentryFlow
from .gateways import async_acquire_gateway
from .repairs import create_fix_flow


async def _setup(hass: HomeAssistant, entry: MultilockConfigEntry) -> TheKeysCoordinator:
    gateway, release = await async_acquire_gateway(hass, entry.data[CONF_HOST])
    entry.async_on_unload(release)
    return await TheKeysCoordinator(hass, entry, gateway).async_start()


THE_KEYS = VendorSpec(
    name=VENDOR,
    setup=_setup,
    flows=VendorFlows(
        steps=TheKeysConfigFlowSteps,
        user=TheKeysConfigFlowSteps.async_step_thekeys,
        reconfigure=TheKeysConfigFlowSteps.async_step_thekeys_reconfigure,
        subentries={SUBENTRY_LOCK: TheKeysLockSubentryFlow},
    ),
    redact=frozenset({CONF_SHARE_CODE, "hash"}),
    fix_flows={SHARE_CODE_ISSUE: create_fix_flow},
    migrate_subentry_types={LEGACY_SUBENTRY_LOCK: SUBENTRY_LOCK},
)
