"""Config-flow steps of The Keys: the gateway entry and its lock subentries."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from ...compat import vol
from ...const import CONF_VENDOR, DOMAIN
from ...contract import VendorFlowSteps
from ...flow_helpers import update_entry_and_abort
from .client import Priority, TheKeysError, TheKeysGateway
from .const import CONF_IDENTIFIER, CONF_SHARE_CODE, SUBENTRY_LOCK, VENDOR
from .gateways import async_gateway_for_flow, async_resolve

GATEWAY_TITLE = "The Keys gateway"
GATEWAY_SCHEMA = vol.Schema({vol.Required(CONF_HOST): str})
SHARE_CODE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_SHARE_CODE): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        )
    }
)
LOCK_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_IDENTIFIER): str,
        vol.Required(CONF_SHARE_CODE): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        vol.Optional(CONF_NAME): str,
    }
)

# What the gateway's refusal means for the person filling in the form.
FORM_ERRORS = {
    "invalid_hmac": "invalid_share_code",
    "lock_not_shared": "not_shared",
    "lock_not_detected": "not_seen",
    "lock_not_compatible": "not_compatible",
    "invalid_key": "invalid_key",
    "lock_connection_failed": "lock_unreachable",
    "busy": "busy",
    "cannot_connect": "cannot_connect",
    "timeout": "cannot_connect",
    "malformed_reply": "malformed_reply",
}


def _form_error(err: TheKeysError) -> str:
    return FORM_ERRORS.get(err.reason, "unknown")


async def validate_gateway(gateway: TheKeysGateway) -> str | None:
    """Return a form error, or None when the gateway answers like a The Keys gateway."""
    try:
        await gateway.lockers(Priority.COMMAND)
    except TheKeysError as err:
        return _form_error(err)
    return None


async def validate_lock(gateway: TheKeysGateway, identifier: int, share_code: str) -> str | None:
    """Return a form error, or None when the gateway sees the lock and accepts the code."""
    try:
        seen = {locker.identifier for locker in await gateway.lockers(Priority.COMMAND)}
        if identifier not in seen:
            return "not_seen"
        await gateway.lock_status(identifier, share_code, Priority.COMMAND)
    except TheKeysError as err:
        return _form_error(err)
    return None


def lock_already_configured(hass: HomeAssistant, identifier: int) -> bool:
    """Return whether a The Keys gateway entry already has this lock."""
    return any(
        subentry.unique_id == str(identifier)
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_VENDOR) == VENDOR
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_LOCK
    )


def normalize_host(text: str) -> str:
    """Return the gateway address as ``host[:port]``, also from a pasted URL."""
    host = text.strip().removeprefix("http://").removeprefix("https://")
    return host.split("/", 1)[0]


def _parse_identifier(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


class TheKeysConfigFlowSteps(VendorFlowSteps):
    """The Keys steps of the multilock config flow."""

    async def async_step_thekeys(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the gateway's address and check that it answers."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = normalize_host(user_input[CONF_HOST])
            # One gateway however it is written (a name, its address): one entry.
            await self.async_set_unique_id(await async_resolve(host))
            self._abort_if_unique_id_configured()
            error = await validate_gateway(await async_gateway_for_flow(self.hass, host))
            if error is None:
                # The title does not carry the address: it names the device and its
                # entities, which keep their names when the gateway moves.
                return self.async_create_entry(
                    title=GATEWAY_TITLE, data={CONF_VENDOR: VENDOR, CONF_HOST: host}
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="thekeys",
            data_schema=self.add_suggested_values_to_schema(GATEWAY_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_thekeys_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the gateway entry to a new address."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host = normalize_host(user_input[CONF_HOST])
            address = await async_resolve(host)
            if any(
                other.unique_id == address and other.entry_id != entry.entry_id
                for other in self._async_current_entries(include_ignore=False)
            ):
                return self.async_abort(reason="already_configured")
            error = await validate_gateway(await async_gateway_for_flow(self.hass, host))
            if error is None:
                return update_entry_and_abort(
                    self, entry, unique_id=address, data_updates={CONF_HOST: host}
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="thekeys_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                GATEWAY_SCHEMA, user_input or dict(entry.data)
            ),
            errors=errors,
        )


class TheKeysLockSubentryFlow(ConfigSubentryFlow):
    """Add a lock shared with the gateway, or give it a new share code."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the lock's identifier and share code and check them live."""
        errors: dict[str, str] = {}
        if user_input is not None:
            identifier = _parse_identifier(user_input[CONF_IDENTIFIER])
            if identifier is None:
                errors[CONF_IDENTIFIER] = "invalid_identifier"
            elif lock_already_configured(self.hass, identifier):
                return self.async_abort(reason="already_configured")
            else:
                error = await validate_lock(
                    await self._gateway(), identifier, user_input[CONF_SHARE_CODE]
                )
                if error is None:
                    return self.async_create_entry(
                        title=user_input.get(CONF_NAME) or f"Lock {identifier}",
                        data={
                            CONF_IDENTIFIER: identifier,
                            CONF_SHARE_CODE: user_input[CONF_SHARE_CODE],
                        },
                        unique_id=str(identifier),
                    )
                errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                LOCK_SCHEMA, {k: v for k, v in (user_input or {}).items() if k != CONF_SHARE_CODE}
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Replace the lock's share code after checking it with the gateway."""
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await validate_lock(
                await self._gateway(), subentry.data[CONF_IDENTIFIER], user_input[CONF_SHARE_CODE]
            )
            if error is None:
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    data_updates={CONF_SHARE_CODE: user_input[CONF_SHARE_CODE]},
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=SHARE_CODE_SCHEMA,
            errors=errors,
            description_placeholders={"lock": subentry.title},
        )

    async def _gateway(self) -> TheKeysGateway:
        return await async_gateway_for_flow(self.hass, self._get_entry().data[CONF_HOST])
