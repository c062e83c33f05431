"""Config-flow steps of 2N: the device's address, protocol, account and certificate.

One form serves a new device, a device found by DHCP and reconfiguration; every path
checks the settings live with ``system/info`` (and which privilege groups the account has)
before anything is stored. The entry is unique per serial number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo

from ...compat import vol
from ...const import CONF_VENDOR
from ...contract import VendorFlowSteps
from ...errors import error_name
from ...flow_helpers import update_entry_and_abort
from .client import (
    AuthMethod,
    Protocol,
    SystemInfo,
    TwoNApiError,
    TwoNAuthenticationError,
    TwoNAuthMethodError,
    TwoNCertificateChangedError,
    TwoNCertificateError,
    TwoNConnectionError,
    TwoNConnectionTypeError,
    TwoNError,
    TwoNHttpError,
    TwoNMalformedReplyError,
    TwoNPrivilegeError,
    fetch_certificate_sha256,
    normalize_mac,
)
from .const import (
    CERTIFICATE_PIN,
    CERTIFICATE_SYSTEM,
    CONF_AUTH,
    CONF_CERTIFICATE,
    CONF_CERTIFICATE_SHA256,
    CONF_KEY_MAX_AGE,
    CONF_MAC,
    CONF_PROTOCOL,
    DEFAULT_KEY_MAX_AGE,
    VENDOR,
)
from .coordinator import client_for

PASSWORD_FIELD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
USERNAME_FIELD = TextSelector(TextSelectorConfig(autocomplete="username"))
AUTH_FIELD = SelectSelector(
    SelectSelectorConfig(
        options=[method.value for method in AuthMethod],
        translation_key="two_n_auth",
        mode=SelectSelectorMode.DROPDOWN,
    )
)
DEVICE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_PROTOCOL, default=Protocol.HTTPS.value): SelectSelector(
            SelectSelectorConfig(
                options=[protocol.value for protocol in Protocol],
                translation_key="two_n_protocol",
                mode=SelectSelectorMode.LIST,
            )
        ),
        vol.Required(CONF_AUTH, default=AuthMethod.DIGEST.value): AUTH_FIELD,
        vol.Optional(CONF_USERNAME): USERNAME_FIELD,
        vol.Optional(CONF_PASSWORD): PASSWORD_FIELD,
        vol.Required(CONF_CERTIFICATE, default=CERTIFICATE_PIN): SelectSelector(
            SelectSelectorConfig(
                options=[CERTIFICATE_PIN, CERTIFICATE_SYSTEM],
                translation_key="two_n_certificate",
                mode=SelectSelectorMode.LIST,
            )
        ),
        vol.Required(CONF_KEY_MAX_AGE, default=DEFAULT_KEY_MAX_AGE): vol.All(
            NumberSelector(
                NumberSelectorConfig(
                    min=1, max=3650, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="d"
                )
            ),
            vol.Coerce(int),
        ),
    }
)
CREDENTIALS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_AUTH): AUTH_FIELD,
        vol.Optional(CONF_USERNAME): USERNAME_FIELD,
        vol.Optional(CONF_PASSWORD): PASSWORD_FIELD,
    }
)

# What a refusal means for the person filling in the form (subclasses first).
FORM_ERRORS: tuple[tuple[type[TwoNError], str], ...] = (
    (TwoNCertificateChangedError, "two_n_certificate_changed"),
    (TwoNCertificateError, "two_n_certificate_untrusted"),
    (TwoNAuthenticationError, "two_n_invalid_auth"),
    (TwoNAuthMethodError, "two_n_wrong_auth_method"),
    (TwoNConnectionTypeError, "two_n_wrong_protocol"),
    (TwoNConnectionError, "two_n_cannot_connect"),
    (TwoNMalformedReplyError, "two_n_not_2n"),
    (TwoNHttpError, "two_n_not_2n"),
    (TwoNApiError, "two_n_refused"),
)


class FormError(Exception):
    """A form error found before or while checking the settings (its translation key)."""

    def __init__(self, key: str) -> None:
        """Keep the error's key."""
        super().__init__(key)
        self.key = key


def form_error(err: TwoNError) -> str:
    """Return the form error of a client error (naming the method the device wants)."""
    if isinstance(err, TwoNAuthMethodError) and err.wanted is not None:
        return f"two_n_wants_{err.wanted.value}"
    return error_name(err, FORM_ERRORS, "unknown")


async def async_check_settings(
    hass: HomeAssistant, data: Mapping[str, Any], *, pin_now: bool
) -> tuple[dict[str, Any], SystemInfo]:
    """Check settings live; return the entry data to store and what the device is.

    ``pin_now``: pin the certificate the device presents now (HTTPS with the pin choice);
    otherwise a stored pin is kept. Raise ``FormError``.
    """
    host = str(data[CONF_HOST]).strip()
    auth = AuthMethod(data.get(CONF_AUTH, AuthMethod.DIGEST))
    username = str(data.get(CONF_USERNAME) or "").strip()
    password = str(data.get(CONF_PASSWORD) or "")
    if auth is not AuthMethod.NONE and not username:
        raise FormError("two_n_username_required")
    settings: dict[str, Any] = {
        **data,
        CONF_HOST: host,
        CONF_AUTH: auth.value,
        CONF_USERNAME: username,
        CONF_PASSWORD: password,
    }
    protocol = Protocol(settings.get(CONF_PROTOCOL, Protocol.HTTPS))
    pinned = protocol is Protocol.HTTPS and settings.get(CONF_CERTIFICATE) == CERTIFICATE_PIN
    if not pinned:
        settings[CONF_CERTIFICATE_SHA256] = None
    try:
        if pinned and (pin_now or not settings.get(CONF_CERTIFICATE_SHA256)):
            presented = await fetch_certificate_sha256(async_get_clientsession(hass), host)
            settings[CONF_CERTIFICATE_SHA256] = presented.hex()
        client = client_for(hass, settings)
        info = await client.system_info()
        missing = []
        for probe in (client.switch_caps, client.mobile_key_config):
            try:
                await probe()
            except TwoNPrivilegeError as err:
                missing.append(err.group)
    except ValueError as err:
        raise FormError("two_n_invalid_host") from err
    except TwoNError as err:
        raise FormError(form_error(err)) from err
    if len(missing) == 2:
        raise FormError("two_n_no_privileges")
    settings[CONF_MAC] = info.mac
    return settings, info


class TwoNConfigFlowSteps(VendorFlowSteps):
    """2N steps of the multilock config flow."""

    _two_n_discovered: dict[str, Any]

    async def async_step_two_n(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the device's address, account and certificate choice; check them."""
        return await self._two_n_device_form("two_n", user_input, {})

    async def async_step_two_n_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """A 2N device asked for an address: keep a known one's address up to date, or offer it."""
        mac = normalize_mac(discovery_info.macaddress)
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_VENDOR) == VENDOR and entry.data.get(CONF_MAC) == mac:
                host = _with_address(entry.data[CONF_HOST], discovery_info.ip)
                if host != entry.data[CONF_HOST]:
                    self.hass.config_entries.async_update_entry(
                        entry, data={**entry.data, CONF_HOST: host}
                    )
                    if entry.state is not ConfigEntryState.LOADED:
                        # A loaded entry reloads by itself when its settings change.
                        self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_abort(reason="already_configured")
        # Until the serial number is known (it takes the account), the MAC address names the
        # device: the same device is offered once, and an ignored one stays ignored.
        await self.async_set_unique_id(mac.replace(":", "").lower())
        self._abort_if_unique_id_configured()
        self._two_n_discovered = {CONF_HOST: discovery_info.ip}
        self.context["title_placeholders"] = {"name": discovery_info.hostname or discovery_info.ip}
        return await self.async_step_two_n_dhcp_confirm()

    async def async_step_two_n_dhcp_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add the discovered device: the same form, its address filled in."""
        return await self._two_n_device_form(
            "two_n_dhcp_confirm", user_input, self._two_n_discovered
        )

    async def async_step_two_n_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The device refused the stored password: ask for the account again."""
        return await self.async_step_two_n_reauth_confirm()

    async def async_step_two_n_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the new username and password on the same device."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                settings, info = await async_check_settings(
                    self.hass, {**entry.data, **user_input}, pin_now=False
                )
            except FormError as err:
                errors["base"] = err.key
            else:
                return await self._two_n_update(entry, settings, info)
        return self.async_show_form(
            step_id="two_n_reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                CREDENTIALS_SCHEMA, _without_password(user_input or entry.data)
            ),
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_two_n_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the address, protocol, account, certificate choice or key age."""
        entry = self._get_reconfigure_entry()
        return await self._two_n_device_form("two_n_reconfigure", user_input, entry.data, entry)

    async def _two_n_device_form(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        defaults: Mapping[str, Any],
        entry: ConfigEntry | None = None,
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = dict(user_input)
            pin_now = True
            if entry is not None:
                if not data.get(CONF_PASSWORD):
                    data[CONF_PASSWORD] = entry.data.get(CONF_PASSWORD, "")
                # A pinned certificate is only replaced from its repair, which shows both;
                # a new address or protocol is a new set-up, whose certificate is pinned.
                pin_now = any(
                    str(data.get(key, "")).strip() != str(entry.data.get(key, ""))
                    for key in (CONF_HOST, CONF_PROTOCOL, CONF_CERTIFICATE)
                ) or not entry.data.get(CONF_CERTIFICATE_SHA256)
                if not pin_now:
                    data[CONF_CERTIFICATE_SHA256] = entry.data.get(CONF_CERTIFICATE_SHA256)
            try:
                settings, info = await async_check_settings(self.hass, data, pin_now=pin_now)
            except FormError as err:
                errors["base"] = err.key
            else:
                if entry is not None:
                    return await self._two_n_update(entry, settings, info)
                await self.async_set_unique_id(info.serial_number, raise_on_progress=False)
                self._abort_if_unique_id_configured(
                    updates={CONF_HOST: settings[CONF_HOST], CONF_MAC: info.mac}
                )
                return self.async_create_entry(
                    title=info.device_name, data={CONF_VENDOR: VENDOR, **settings}
                )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                DEVICE_SCHEMA, _without_password(user_input or defaults)
            ),
            errors=errors,
        )

    async def _two_n_update(
        self, entry: ConfigEntry, settings: dict[str, Any], info: SystemInfo
    ) -> ConfigFlowResult:
        """Store a reauth's or reconfigure's settings, when they reach the same device."""
        await self.async_set_unique_id(info.serial_number)
        self._abort_if_unique_id_mismatch(reason="two_n_wrong_device")
        updates = {key: value for key, value in settings.items() if key != CONF_VENDOR}
        return update_entry_and_abort(self, entry, data_updates=updates)


def _with_address(host: str, address: str) -> str:
    """Return ``host`` with its address replaced, keeping a port it names."""
    if host.startswith("["):  # [IPv6]:port
        _, _, rest = host.partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        port = host.partition(":")[2]
    else:
        port = ""
    if ":" in address:
        address = f"[{address}]"
    return f"{address}:{port}" if port else address


def _without_password(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != CONF_PASSWORD}
