"""Repair flows: each issue's data names the vendor and the kind of fix (see issues.py)."""

from __future__ import annotations

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .const import CONF_VENDOR
from .issues import ISSUE_KIND
from .vendors import VENDORS


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the vendor's fix flow for the issue's kind."""
    issue_data = {key: str(value) for key, value in (data or {}).items()}
    spec = VENDORS.get(issue_data.get(CONF_VENDOR, ""))
    create = None if spec is None else spec.fix_flows.get(issue_data.get(ISSUE_KIND, ""))
    if create is None:
        return ConfirmRepairFlow()
    return create(hass, issue_data)
