"""Repair flows: each issue names the vendor whose flow fixes it."""

from __future__ import annotations

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .const import CONF_VENDOR, Vendor
from .vendors import VENDORS


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the vendor's fix flow for a fixable issue."""
    spec = VENDORS.get(Vendor(str(data[CONF_VENDOR]))) if data and CONF_VENDOR in data else None
    if data and spec and spec.fix_flow:
        return spec.fix_flow(hass, {k: str(v) for k, v in data.items()})
    return ConfirmRepairFlow()
