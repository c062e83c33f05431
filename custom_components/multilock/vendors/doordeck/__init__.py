"""Doordeck: cloud locks commanded and shared with EdDSA-signed JWT operations."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from ...contract import VendorFlows, VendorSpec
from ...coordinator import MultilockConfigEntry
from .audit import async_remove_audit_store
from .const import KEY_RENEWAL_ISSUE, VENDOR
from .coordinator import DoordeckCoordinator
from .flow import DoordeckConfigFlowSteps
from .repairs import create_fix_flow
from .services import register_actions


async def _setup(hass: HomeAssistant, entry: MultilockConfigEntry) -> DoordeckCoordinator:
    coordinator = DoordeckCoordinator(hass, entry)
    await coordinator.audit.async_load()  # what was delivered before, for the first poll
    return await coordinator.async_start()


DOORDECK = VendorSpec(
    name=VENDOR,
    setup=_setup,
    flows=VendorFlows(
        steps=DoordeckConfigFlowSteps,
        user=DoordeckConfigFlowSteps.async_step_doordeck,
        reauth=DoordeckConfigFlowSteps.async_step_doordeck_reauth,
        reconfigure=DoordeckConfigFlowSteps.async_step_doordeck_reconfigure,
    ),
    redact=frozenset(
        {
            "auth_token",
            "refresh_token",
            "private_key",
            "pending_private_key",
            "certificate_chain",
            "email",
        }
    ),
    # The title names the account by its email.
    title_is_secret=True,
    register_actions=register_actions,
    fix_flows={KEY_RENEWAL_ISSUE: create_fix_flow},
    entry_removed=async_remove_audit_store,
)
