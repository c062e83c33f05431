"""Config flow of multilock: pick a vendor, then that vendor's own steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
)
from homeassistant.core import callback

from .const import CONF_VENDOR, DOMAIN, Vendor
from .vendors import VENDORS
from .vendors.doordeck.flow import DoordeckConfigFlowSteps
from .vendors.thekeys.flow import TheKeysConfigFlowSteps


class MultilockConfigFlow(
    TheKeysConfigFlowSteps, DoordeckConfigFlowSteps, ConfigFlow, domain=DOMAIN
):
    """Set up one gateway or account of one vendor."""

    VERSION = 1
    MINOR_VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick the vendor; each vendor's step has the vendor's name."""
        return self.async_show_menu(
            step_id="user", menu_options=[vendor.value for vendor in VENDORS]
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Hand over to the entry's vendor."""
        vendor = Vendor(self._get_reconfigure_entry().data[CONF_VENDOR])
        step = getattr(self, f"async_step_{vendor.value}_reconfigure")
        result: ConfigFlowResult = await step(user_input)
        return result

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Hand over to the entry's vendor (those whose sign-in can be refused)."""
        step = getattr(self, f"async_step_{Vendor(entry_data[CONF_VENDOR]).value}_reauth")
        result: ConfigFlowResult = await step(entry_data)
        return result

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentry types of the entry's vendor (The Keys: locks)."""
        return dict(VENDORS[Vendor(config_entry.data[CONF_VENDOR])].subentry_flows)
