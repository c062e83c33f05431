"""Config flow of multilock: pick a vendor, then that vendor's own steps.

The flow class is composed from the registry: every vendor's steps (``VendorFlows.steps``)
are mixed in, and the shared steps hand over to the entry points each vendor declares.
"""

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
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo

from .const import CONF_VENDOR, DOMAIN
from .contract import VendorSpec
from .vendors import VENDORS

# The entries of version 1 stored subentry types without the vendor's name (see __init__).
VERSION = 2


class MultilockFlowBase(ConfigFlow):
    """The steps every vendor shares: the vendor menu, and hand-over to the vendor."""

    VERSION = VERSION
    MINOR_VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick the vendor; each vendor's first step has the vendor's name."""
        return self.async_show_menu(step_id="user", menu_options=list(VENDORS))

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Hand over to the entry's vendor, or end where its sign-in cannot be refused."""
        spec = _vendor_of(entry_data)
        if spec is None or spec.flows.reauth is None:
            return self.async_abort(reason="reauth_not_supported")
        result: ConfigFlowResult = await spec.flows.reauth(self, entry_data)
        return result

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Hand over to the entry's vendor, or end where it has nothing to reconfigure."""
        spec = _vendor_of(self._get_reconfigure_entry().data)
        if spec is None or spec.flows.reconfigure is None:
            return self.async_abort(reason="reconfigure_not_supported")
        result: ConfigFlowResult = await spec.flows.reconfigure(self, user_input)
        return result

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """Hand a device found by DHCP to the vendor whose MAC prefix it carries."""
        mac = discovery_info.macaddress.replace(":", "").replace("-", "").upper()
        for spec in VENDORS.values():
            if spec.flows.dhcp is not None and any(
                mac.startswith(prefix) for prefix in spec.flows.dhcp_mac_prefixes
            ):
                result: ConfigFlowResult = await spec.flows.dhcp(self, discovery_info)
                return result
        return self.async_abort(reason="not_supported")

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentry flows of the entry's vendor."""
        spec = _vendor_of(config_entry.data)
        return {} if spec is None else dict(spec.flows.subentries)


def _vendor_of(data: Mapping[str, Any]) -> VendorSpec | None:
    return VENDORS.get(str(data.get(CONF_VENDOR)))


# Home Assistant finds a step by its id on the flow: every vendor's steps are mixed in. Their
# ids start with the vendor's name, and the first (``VendorFlows.user``) is the vendor's
# menu item, ``async_step_<vendor>`` (both checked by the tests).
MultilockConfigFlow = type(
    "MultilockConfigFlow",
    (MultilockFlowBase, *(spec.flows.steps for spec in VENDORS.values())),
    {},
    domain=DOMAIN,
)
