"""Config-flow steps of Doordeck: sign in, register a signing key, second factor.

One path serves a new account, reauthentication and reconfiguration: sign in, register
the key (the entry's own key when it has one, so that Doordeck knows it and asks for no
second factor), then, if Doordeck asks, choose how to receive a code and enter it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlowResult,
)
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from homeassistant.data_entry_flow import SectionConfig, section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from ...compat import vol
from ...const import CONF_VENDOR
from ...contract import VendorFlowSteps
from ...errors import error_name
from ...flow_helpers import update_entry_and_abort
from .client import (
    DEFAULT_BASE_URL,
    DoordeckAuthenticationError,
    DoordeckClient,
    DoordeckConnectionError,
    DoordeckCredentials,
    DoordeckError,
    DoordeckMalformedReplyError,
    DoordeckRateLimitedError,
    DoordeckSecondFactorRequired,
    DoordeckVerificationError,
    VerificationMethod,
)
from .const import CONF_CODE, CONF_CREDENTIALS, CONF_METHOD, VENDOR
from .coordinator import stored_credentials

EMAIL_FIELD = TextSelector(TextSelectorConfig(type=TextSelectorType.EMAIL, autocomplete="email"))
PASSWORD_FIELD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
ACCOUNT_SCHEMA = vol.Schema(
    {vol.Required(CONF_EMAIL): EMAIL_FIELD, vol.Required(CONF_PASSWORD): PASSWORD_FIELD}
)
# A collapsed section: another Doordeck API server (a staging or test server).
SECTION_SERVER = "server"
SIGN_IN_SCHEMA = ACCOUNT_SCHEMA.extend(
    {
        vol.Required(SECTION_SERVER): section(
            vol.Schema(
                {
                    vol.Required(CONF_URL, default=DEFAULT_BASE_URL): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    )
                }
            ),
            SectionConfig(collapsed=True),
        )
    }
)
PASSWORD_SCHEMA = vol.Schema({vol.Required(CONF_PASSWORD): PASSWORD_FIELD})
METHOD_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_METHOD, default=VerificationMethod.EMAIL.lower()): SelectSelector(
            SelectSelectorConfig(
                options=[method.lower() for method in VerificationMethod],
                translation_key="verification_method",
                mode=SelectSelectorMode.LIST,
            )
        )
    }
)
CODE_SCHEMA = vol.Schema(
    {vol.Required(CONF_CODE): TextSelector(TextSelectorConfig(autocomplete="one-time-code"))}
)

# What a refusal means for the person filling in the form (subclasses first).
FORM_ERRORS: tuple[tuple[type[DoordeckError], str], ...] = (
    (DoordeckVerificationError, "invalid_code"),
    (DoordeckAuthenticationError, "doordeck_invalid_auth"),
    (DoordeckRateLimitedError, "rate_limited"),
    (DoordeckConnectionError, "doordeck_cannot_connect"),
    (DoordeckMalformedReplyError, "doordeck_malformed_reply"),
)


def form_error(err: DoordeckError) -> str:
    """Return the form error of a client error."""
    return error_name(err, FORM_ERRORS, "unknown")


def account_title(email: str) -> str:
    """Return the title of an account's entry: the email's first letter and its domain.

    Home Assistant writes entry titles into its own log lines (a setup retried, a slow task),
    where an account's email must never appear; this still tells two accounts apart.
    """
    local, _, domain = email.partition("@")
    return f"Doordeck {local[:1]}…@{domain}" if local and domain else "Doordeck account"


class DoordeckConfigFlowSteps(VendorFlowSteps):
    """Doordeck steps of the multilock config flow."""

    _doordeck_client: DoordeckClient
    _doordeck_email: str
    _doordeck_url: str

    async def async_step_doordeck(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the account's email and password, sign in and register a key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            email = user_input[CONF_EMAIL].strip()
            if any(
                other.data.get(CONF_VENDOR) == VENDOR and other.data.get(CONF_EMAIL) == email
                for other in self._async_current_entries(include_ignore=False)
            ):
                return self.async_abort(reason="doordeck_already_configured")
            url = user_input.get(SECTION_SERVER, {}).get(CONF_URL, DEFAULT_BASE_URL).strip()
            error = await self._doordeck_sign_in(email, user_input[CONF_PASSWORD], url, None)
            if error is None:
                return await self._doordeck_continue()
            errors["base"] = error
        return self.async_show_form(
            step_id="doordeck",
            data_schema=self.add_suggested_values_to_schema(
                SIGN_IN_SCHEMA, _without_password(user_input)
            ),
            errors=errors,
        )

    async def async_step_doordeck_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Doordeck refused the refresh token: ask for the password again."""
        return await self.async_step_doordeck_reauth_confirm()

    async def async_step_doordeck_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in again to the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await self._doordeck_sign_in_again(entry, entry.data[CONF_EMAIL], user_input)
            if error is None:
                return await self._doordeck_continue()
            errors["base"] = error
        return self.async_show_form(
            step_id="doordeck_reauth_confirm",
            data_schema=PASSWORD_SCHEMA,
            errors=errors,
            description_placeholders={"email": entry.data[CONF_EMAIL]},
        )

    async def async_step_doordeck_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the email or password of the account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            email = user_input[CONF_EMAIL].strip()
            error = await self._doordeck_sign_in_again(entry, email, user_input)
            if error is None:
                return await self._doordeck_continue()
            errors["base"] = error
        return self.async_show_form(
            step_id="doordeck_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                ACCOUNT_SCHEMA,
                _without_password(user_input) or {CONF_EMAIL: entry.data[CONF_EMAIL]},
            ),
            errors=errors,
        )

    async def async_step_doordeck_method(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Doordeck wants a second factor: choose how the code is sent."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await self._doordeck_client.start_verification(user_input[CONF_METHOD].upper())
            except DoordeckError as err:
                errors["base"] = form_error(err)
            else:
                return await self.async_step_doordeck_code()
        return self.async_show_form(
            step_id="doordeck_method",
            data_schema=METHOD_SCHEMA,
            errors=errors,
            description_placeholders={"email": self._doordeck_email},
        )

    async def async_step_doordeck_code(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the code Doordeck sent; a wrong code can be entered again."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await self._doordeck_client.complete_verification(user_input[CONF_CODE])
            except DoordeckError as err:
                errors["base"] = form_error(err)
            else:
                return await self._doordeck_finish()
        return self.async_show_form(step_id="doordeck_code", data_schema=CODE_SCHEMA, errors=errors)

    async def _doordeck_sign_in_again(
        self, entry: ConfigEntry, email: str, user_input: dict[str, Any]
    ) -> str | None:
        """Sign in for an existing entry, keeping its signing key (but not its tokens)."""
        credentials = replace(stored_credentials(entry.data), tokens=None)
        url = entry.data.get(CONF_URL, DEFAULT_BASE_URL)
        return await self._doordeck_sign_in(email, user_input[CONF_PASSWORD], url, credentials)

    async def _doordeck_sign_in(
        self, email: str, password: str, url: str, credentials: DoordeckCredentials | None
    ) -> str | None:
        """Sign in and register the key; return a form error, or None to go on."""
        client = DoordeckClient(async_get_clientsession(self.hass), credentials, base_url=url)
        self._doordeck_client, self._doordeck_email, self._doordeck_url = client, email, url
        try:
            await client.login(email, password)
            await client.register_key()
        except DoordeckSecondFactorRequired:
            return None  # the key awaits its second factor: _doordeck_continue asks for it
        except DoordeckError as err:
            return form_error(err)
        return None

    async def _doordeck_continue(self) -> ConfigFlowResult:
        if self._doordeck_client.awaiting_verification:
            return await self.async_step_doordeck_method()
        return await self._doordeck_finish()

    async def _doordeck_finish(self) -> ConfigFlowResult:
        """The key is registered: create or update the entry of this Doordeck user."""
        client = self._doordeck_client
        await self.async_set_unique_id(client.user_id)
        title = account_title(self._doordeck_email)
        data = {
            CONF_EMAIL: self._doordeck_email,
            CONF_URL: self._doordeck_url,
            CONF_CREDENTIALS: client.credentials.to_dict(),
        }
        if self.source in (SOURCE_REAUTH, SOURCE_RECONFIGURE):
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            entry = (
                self._get_reauth_entry()
                if self.source == SOURCE_REAUTH
                else self._get_reconfigure_entry()
            )
            return update_entry_and_abort(self, entry, title=title, data_updates=data)
        self._abort_if_unique_id_configured(error="doordeck_already_configured")
        return self.async_create_entry(title=title, data={CONF_VENDOR: VENDOR, **data})


def _without_password(user_input: dict[str, Any] | None) -> dict[str, Any] | None:
    if user_input is None:
        return None
    return {key: value for key, value in user_input.items() if key != CONF_PASSWORD}
