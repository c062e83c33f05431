"""Repair flows of 2N: accept a device's new certificate; rotate an old mobile key."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ...compat import vol
from ...issues import async_clear_issue
from .client import TwoNError, fetch_certificate_sha256, format_fingerprint
from .const import CERTIFICATE_CHANGED_ISSUE, CONF_CERTIFICATE_SHA256, issue_id
from .coordinator import TwoNCoordinator, client_for
from .flow import form_error


class CertificateRepairFlow(RepairsFlow):
    """Show the pinned and the presented certificate; pin the new one when accepted.

    Before it is pinned, the device must still present the certificate shown, and answer
    with the entry's serial number and account through it.
    """

    def __init__(self, entry_id: str, presented: str) -> None:
        """Fix the certificate of one entry; ``presented`` is the SHA-256 seen (hex)."""
        self._entry_id = entry_id
        self._presented = presented

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the confirmation (``user_input`` is the issue's data here)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Accept the presented certificate, after checking it once more."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                presented = await fetch_certificate_sha256(
                    async_get_clientsession(self.hass), entry.data[CONF_HOST]
                )
                if presented.hex() != self._presented:
                    # It changed again: show the one it presents now, and ask again.
                    self._presented = presented.hex()
                    errors["base"] = "changed_again"
                else:
                    data = {**entry.data, CONF_CERTIFICATE_SHA256: self._presented}
                    info = await client_for(self.hass, data).system_info()
                    if info.serial_number != entry.unique_id:
                        errors["base"] = "wrong_device"
                    else:
                        # The entry reloads with the new pin; its first poll clears the issue.
                        async_clear_issue(
                            self.hass, issue_id(CERTIFICATE_CHANGED_ISSUE, self._entry_id)
                        )
                        self.hass.config_entries.async_update_entry(entry, data=data)
                        if entry.state is not ConfigEntryState.LOADED:
                            self.hass.config_entries.async_schedule_reload(entry.entry_id)
                        return self.async_create_entry(data={})
            except TwoNError as err:
                errors["base"] = form_error(err)
        pinned = entry.data.get(CONF_CERTIFICATE_SHA256) or ""
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders={
                "name": entry.title,
                "pinned": format_fingerprint(bytes.fromhex(pinned)),
                "presented": format_fingerprint(bytes.fromhex(self._presented)),
            },
        )


class KeyAgeRepairFlow(RepairsFlow):
    """Rotate the device's mobile key now (the old keys stay as secondary keys)."""

    def __init__(self, entry_id: str) -> None:
        """Rotate the key of one entry's device."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the confirmation (``user_input`` is the issue's data here)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Rotate when confirmed; a failure is shown and can be tried again."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        coordinator: TwoNCoordinator = entry.runtime_data
        errors: dict[str, str] = {}
        placeholders = {"name": entry.title, "error": ""}
        if user_input is not None:
            try:
                await coordinator.async_rotate_mobile_key()
            except HomeAssistantError as err:
                errors["base"] = "rotation_failed"
                placeholders["error"] = f"\n\n{err}"
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders=placeholders,
        )


def create_certificate_fix_flow(hass: HomeAssistant, data: Mapping[str, str]) -> RepairsFlow:
    """Return the flow accepting a device's new certificate."""
    return CertificateRepairFlow(data["entry_id"], data["presented"])


def create_key_age_fix_flow(hass: HomeAssistant, data: Mapping[str, str]) -> RepairsFlow:
    """Return the flow rotating an old mobile key."""
    return KeyAgeRepairFlow(data["entry_id"])
