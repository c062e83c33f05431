"""Repair flow giving the second factor Doordeck wants before it accepts a renewed key."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .client import DoordeckError
from .const import CONF_CODE, CONF_METHOD
from .coordinator import DoordeckCoordinator, format_expiry
from .flow import CODE_SCHEMA, METHOD_SCHEMA, form_error


class KeyRenewalRepairFlow(RepairsFlow):
    """Choose how to receive a code, enter it; the new key then signs every operation."""

    def __init__(self, entry_id: str) -> None:
        """Renew the key of one account entry."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the method form (``user_input`` is the issue's data here)."""
        return await self.async_step_method()

    async def async_step_method(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Have Doordeck send a code the chosen way."""
        coordinator = self._coordinator()
        if coordinator is None:
            return self.async_abort(reason="not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_start_key_verification(user_input[CONF_METHOD].upper())
            except DoordeckError as err:
                errors["base"] = form_error(err)
            else:
                return await self.async_step_code()
        return self.async_show_form(
            step_id="method",
            data_schema=METHOD_SCHEMA,
            errors=errors,
            description_placeholders={
                "account": coordinator.config_entry.title,
                "expiry": format_expiry(coordinator.client.certificate_expiry),
            },
        )

    async def async_step_code(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Enter the code; a wrong one can be entered again."""
        coordinator = self._coordinator()
        if coordinator is None:
            return self.async_abort(reason="not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_complete_key_verification(user_input[CONF_CODE])
            except DoordeckError as err:
                errors["base"] = form_error(err)
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(step_id="code", data_schema=CODE_SCHEMA, errors=errors)

    def _coordinator(self) -> DoordeckCoordinator | None:
        """The running coordinator holds the key awaiting its second factor."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: DoordeckCoordinator = entry.runtime_data
        return coordinator


def create_fix_flow(hass: HomeAssistant, data: Mapping[str, str]) -> RepairsFlow:
    """Return the flow renewing an account's signing key with a second factor."""
    return KeyRenewalRepairFlow(data["entry_id"])
