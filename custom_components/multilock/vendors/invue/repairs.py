"""Repair flow installing the renewed Customer Intermediate Certificate.

Raised 30 days before the intermediate expires (and again once it has): every mobile device
needs the renewed certificate, so the repair leads to the same steps as Reconfigure — paste
the renewed PEM, check whose it is and when it expires, install it.

A renewed certificate that still expires within 30 days is installed all the same, but the
repair stays: the flow ends with an abort (which keeps the issue; a finished fix flow has it
deleted by Home Assistant, possibly after the reload raised it again).
"""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from ...compat import vol
from .client import IntermediateCertificate
from .const import CONF_INTERMEDIATE, CONF_OWNER
from .coordinator import intermediate_issue_kind
from .flow import (
    PEM_SCHEMA,
    async_read_certificate,
    async_stored_certificate,
    certificate_placeholders,
)


class IntermediateRenewalRepairFlow(RepairsFlow):
    """Paste the renewed intermediate certificate, confirm it, install it."""

    _certificate: IntermediateCertificate

    def __init__(self, entry_id: str) -> None:
        """Renew the intermediate of one account entry."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the certificate form (``user_input`` is the issue's data here)."""
        return await self.async_step_certificate()

    async def async_step_certificate(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Ask for the renewed certificate (PEM) and read it."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            certificate, error = await async_read_certificate(
                self.hass, user_input[CONF_INTERMEDIATE]
            )
            if certificate is not None:
                self._certificate = certificate
                return await self.async_step_confirm()
            errors[CONF_INTERMEDIATE] = str(error)
        current = await async_stored_certificate(self.hass, entry)
        return self.async_show_form(
            step_id="certificate",
            data_schema=PEM_SCHEMA,
            errors=errors,
            description_placeholders={
                "owner": str(entry.data.get(CONF_OWNER, entry.title)),
                **certificate_placeholders(current),
            },
        )

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show whose certificate it is and when it expires; install it."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if user_input is not None:
            # A loaded entry reloads with it (its settings changed); the reload clears or
            # updates this issue.
            self.hass.config_entries.async_update_entry(
                entry, data={**entry.data, CONF_INTERMEDIATE: self._certificate.pem}
            )
            if not entry.update_listeners:
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
            expiry = self._certificate.not_valid_after
            if intermediate_issue_kind(expiry, dt_util.utcnow()) is not None:
                return self.async_abort(
                    reason="still_expiring",
                    description_placeholders=certificate_placeholders(self._certificate),
                )
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders=certificate_placeholders(self._certificate),
        )


def create_fix_flow(hass: HomeAssistant, data: Mapping[str, str]) -> RepairsFlow:
    """Return the flow installing an account's renewed intermediate certificate."""
    return IntermediateRenewalRepairFlow(data["entry_id"])
