"""Repair flow asking for a new share code when the gateway rejects the stored one."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .const import CONF_IDENTIFIER, CONF_SHARE_CODE
from .flow import SHARE_CODE_SCHEMA, validate_lock
from .gateways import async_gateway_for_flow


class ShareCodeRepairFlow(RepairsFlow):
    """Ask for the lock's new share code, check it, and store it."""

    def __init__(self, entry_id: str, subentry_id: str) -> None:
        """Fix the share code of one lock subentry."""
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the share code form (``user_input`` is the issue here)."""
        return await self.async_step_share_code()

    async def async_step_share_code(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show the form, validate the code, update the lock."""
        entry = self.hass.config_entries.async_get_known_entry(self._entry_id)
        subentry = entry.subentries.get(self._subentry_id)
        if subentry is None:
            return self.async_abort(reason="lock_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            gateway = await async_gateway_for_flow(self.hass, entry.data[CONF_HOST])
            share_code = user_input[CONF_SHARE_CODE]
            error = await validate_lock(gateway, subentry.data[CONF_IDENTIFIER], share_code)
            if error is None:
                # Updating the subentry reloads the gateway entry, whose first poll
                # then clears this issue.
                self.hass.config_entries.async_update_subentry(
                    entry, subentry, data=subentry.data | {CONF_SHARE_CODE: share_code}
                )
                return self.async_create_entry(data={})
            errors["base"] = error
        return self.async_show_form(
            step_id="share_code",
            data_schema=SHARE_CODE_SCHEMA,
            errors=errors,
            description_placeholders={"lock": subentry.title},
        )


def create_fix_flow(hass: HomeAssistant, data: Mapping[str, str]) -> RepairsFlow:
    """Return the flow fixing a rejected share code."""
    return ShareCodeRepairFlow(data["entry_id"], data["subentry_id"])
