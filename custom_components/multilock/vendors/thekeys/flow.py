"""Config-flow steps of The Keys: the gateway entry and its lock subentries.

Two paths lead to the same result, a gateway entry (data ``{vendor, host}``, unique id the
resolved address) with one ``thekeys_lock`` subentry per lock (``{identifier, share_code}``):

- the account path (``thekeys_account``): sign in with the The Keys account, pick the locks;
  multilock takes each lock's gateway (the one seen most recently), finds or creates the
  gateway's share "multilock" of each lock and takes its code, and asks to confirm the
  gateway's LAN address found in the cloud; it then checks everything with the gateway itself.
  The locks of a gateway that already has an entry become subentries of that entry. One
  gateway per run: picked locks behind different gateways are refused with their gateways.
  Only the host and the share codes are stored: the password stays in memory for the flow
  (to renew the token), the token is dropped with it. After this, only the gateway is used.
- the manual path (``thekeys_gateway``): the gateway's address, then its first lock
  (identifier, share code, name); more locks are added from the entry's "Add lock".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryData,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import SectionConfig, section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from ...compat import vol
from ...const import CONF_VENDOR, DOMAIN
from ...contract import VendorFlowSteps
from ...flow_helpers import update_entry_and_abort
from .client import Priority, TheKeysError, TheKeysGateway
from .cloud import (
    DEFAULT_CLOUD_URL,
    CloudAccessory,
    CloudLock,
    TheKeysCloud,
    TheKeysCloudError,
    TheKeysCloudSessionExpiredError,
    normalize_phone,
    pick_gateway,
)
from .const import CONF_IDENTIFIER, CONF_SHARE_CODE, SUBENTRY_LOCK, VENDOR
from .gateways import async_gateway_for_flow, async_resolve

GATEWAY_TITLE = "The Keys gateway"


def gateway_title(hass: HomeAssistant) -> str:
    """Return "The Keys gateway", numbered when another entry already has that name."""
    titles = {entry.title for entry in hass.config_entries.async_entries(DOMAIN)}
    number = 1
    while (title := GATEWAY_TITLE if number == 1 else f"{GATEWAY_TITLE} {number}") in titles:
        number += 1
    return title


# The items of the vendor's menu.
STEP_ACCOUNT = "thekeys_account"
STEP_MANUAL = "thekeys_gateway"
CONF_PHONE = "phone"
CONF_LOCKS = "locks"
# A collapsed section of the sign-in form: another The Keys API server (the simulator).
SECTION_SERVER = "server"
PASSWORD_FIELD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
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
SIGN_IN_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_PHONE): TextSelector(
            TextSelectorConfig(type=TextSelectorType.TEL, autocomplete="tel")
        ),
        vol.Required(CONF_PASSWORD): PASSWORD_FIELD,
        vol.Required(SECTION_SERVER): section(
            vol.Schema(
                {
                    vol.Required(CONF_URL, default=DEFAULT_CLOUD_URL): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    )
                }
            ),
            SectionConfig(collapsed=True),
        ),
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
    "timestamp_conflict": "timestamp_conflict",
    "cannot_connect": "cannot_connect",
    "timeout": "cannot_connect",
    "malformed_reply": "malformed_reply",
}
# Form errors about the gateway itself: the same texts in the config flow and the subentry
# flow. The others are about one lock: the config flow has its own texts, naming the lock.
GATEWAY_ERRORS = frozenset({"busy", "cannot_connect", "malformed_reply", "unknown"})
# The gateway does not (yet) accept the share's code: in the account path, the share was
# just made in the cloud, or the address is another gateway's.
SHARE_REFUSED = frozenset({"invalid_share_code", "not_shared"})


def _form_error(err: TheKeysError) -> str:
    return FORM_ERRORS.get(err.reason, "unknown")


def _config_error(error: str) -> str:
    """Return the config flow's error for an error of ``validate_gateway``/``validate_lock``."""
    return error if error in GATEWAY_ERRORS else f"thekeys_{error}"


def _cloud_error(err: TheKeysCloudError) -> str:
    return f"thekeys_{err.reason}"


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


@dataclass(frozen=True, slots=True)
class _AccountLock:
    """A lock of the signed-in account, with the gateway that will serve it."""

    lock: CloudLock
    gateway: CloudAccessory | None  # the one seen most recently; None: the lock has none
    ip: str | None  # the gateway's LAN address according to the cloud

    @property
    def label(self) -> str:
        name = self.lock.name
        return name if self.gateway is None else f"{name} · {self.gateway.name}"


def _lock_subentry(identifier: int, share_code: str, title: str) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={CONF_IDENTIFIER: identifier, CONF_SHARE_CODE: share_code},
        subentry_type=SUBENTRY_LOCK,
        title=title,
        unique_id=str(identifier),
    )


def _names(locks: list[_AccountLock]) -> str:
    return ", ".join(item.lock.name for item in locks)


class TheKeysConfigFlowSteps(VendorFlowSteps):
    """The Keys steps of the multilock config flow."""

    # Attributes of the flow (it mixes every vendor's steps: each name carries the vendor's).
    _thekeys_host: str
    _thekeys_phone: str
    _thekeys_url: str
    _thekeys_cloud: TheKeysCloud
    _thekeys_locks: dict[str, _AccountLock]
    _thekeys_gateway: CloudAccessory
    _thekeys_picked: list[_AccountLock]
    _thekeys_skipped: list[_AccountLock]

    async def async_step_thekeys(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with a The Keys account, or enter the gateway's address."""
        return self.async_show_menu(step_id="thekeys", menu_options=[STEP_ACCOUNT, STEP_MANUAL])

    # The manual path.

    async def async_step_thekeys_gateway(
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
                self._thekeys_host = host
                return await self.async_step_thekeys_gateway_lock()
            errors["base"] = error
        return self.async_show_form(
            step_id="thekeys_gateway",
            data_schema=self.add_suggested_values_to_schema(GATEWAY_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_thekeys_gateway_lock(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the gateway's first lock; create the entry with it once checked."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            identifier = _parse_identifier(user_input[CONF_IDENTIFIER])
            if identifier is None:
                errors[CONF_IDENTIFIER] = "thekeys_invalid_identifier"
            elif lock_already_configured(self.hass, identifier):
                errors[CONF_IDENTIFIER] = "thekeys_lock_already_configured"
            else:
                title = user_input.get(CONF_NAME) or f"Lock {identifier}"
                share_code = user_input[CONF_SHARE_CODE]
                gateway = await async_gateway_for_flow(self.hass, self._thekeys_host)
                error = await validate_lock(gateway, identifier, share_code)
                if error is None:
                    # The title does not carry the address: it names the device and its
                    # entities, which keep their names when the gateway moves.
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=gateway_title(self.hass),
                        data={CONF_VENDOR: VENDOR, CONF_HOST: self._thekeys_host},
                        subentries=[_lock_subentry(identifier, share_code, title)],
                    )
                errors["base"] = _config_error(error)
                placeholders["lock"] = title
        return self.async_show_form(
            step_id="thekeys_gateway_lock",
            data_schema=self.add_suggested_values_to_schema(
                LOCK_SCHEMA, {k: v for k, v in (user_input or {}).items() if k != CONF_SHARE_CODE}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    # The account path.

    async def async_step_thekeys_account(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with the The Keys account and read its locks and their gateways."""
        errors: dict[str, str] = {}
        if user_input is not None:
            phone = normalize_phone(user_input[CONF_PHONE])
            self._thekeys_url = user_input.get(SECTION_SERVER, {}).get(CONF_URL, DEFAULT_CLOUD_URL)
            if phone is None:
                errors[CONF_PHONE] = "thekeys_invalid_phone"
            else:
                self._thekeys_phone = phone
                error = await self._thekeys_sign_in(phone, user_input[CONF_PASSWORD])
                if error is None:
                    return await self.async_step_thekeys_account_locks()
                errors["base"] = error
        return self._thekeys_sign_in_form(user_input, errors)

    async def async_step_thekeys_account_locks(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick the locks to add (of one gateway)."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            picked = [self._thekeys_locks[key] for key in user_input[CONF_LOCKS]]
            new = [item for item in picked if not self._thekeys_configured(item)]
            without = [item for item in new if item.gateway is None]
            by_gateway: dict[CloudAccessory, list[_AccountLock]] = {}
            for item in new:
                if item.gateway is not None:
                    by_gateway.setdefault(item.gateway, []).append(item)
            if not picked:
                errors["base"] = "thekeys_no_lock_picked"
            elif without:
                errors["base"] = "thekeys_no_gateway"
                placeholders["locks"] = _names(without)
            elif not new:
                errors["base"] = "thekeys_already_added"
                placeholders["locks"] = _names(picked)
            elif len(by_gateway) > 1:
                errors["base"] = "thekeys_several_gateways"
                placeholders["gateways"] = "; ".join(
                    f"{gateway.name} ({_names(items)})" for gateway, items in by_gateway.items()
                )
            else:
                self._thekeys_gateway = next(iter(by_gateway))
                self._thekeys_picked = new
                self._thekeys_skipped = [item for item in picked if item not in new]
                return await self.async_step_thekeys_account_address()
        options = [
            SelectOptionDict(value=key, label=item.label)
            for key, item in self._thekeys_locks.items()
        ]
        # First the locks that can be added; after an error, what the user ticked.
        default = (
            user_input[CONF_LOCKS]
            if user_input is not None
            else [
                key
                for key, item in self._thekeys_locks.items()
                if item.gateway is not None and not self._thekeys_configured(item)
            ]
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_LOCKS, default=default): SelectSelector(
                    SelectSelectorConfig(
                        options=options, multiple=True, mode=SelectSelectorMode.LIST
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="thekeys_account_locks",
            data_schema=schema,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_thekeys_account_address(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm (or give) the gateway's LAN address; then share, check and add the locks."""
        gateway = self._thekeys_gateway
        found = self._thekeys_picked[0].ip
        errors: dict[str, str] = {}
        placeholders = {"gateway": gateway.name, "locks": _names(self._thekeys_picked)}
        if user_input is None:
            if found is None:
                errors["base"] = "thekeys_address_unknown"
        else:
            host = normalize_host(user_input[CONF_HOST])
            try:
                outcome = await self._thekeys_add_locks(host, gateway, placeholders)
            except TheKeysCloudSessionExpiredError as err:
                return self._thekeys_sign_in_form(None, {"base": _cloud_error(err)})
            if not isinstance(outcome, str):
                return outcome
            errors["base"] = outcome
        return self.async_show_form(
            step_id="thekeys_account_address",
            data_schema=self.add_suggested_values_to_schema(
                GATEWAY_SCHEMA, user_input or {CONF_HOST: found or ""}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _thekeys_sign_in_form(
        self, user_input: dict[str, Any] | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        """The sign-in form (the password never filled in again)."""
        suggested = {k: v for k, v in (user_input or {}).items() if k != CONF_PASSWORD}
        if user_input is None and errors:  # sent back here: the account and server kept
            suggested = {
                CONF_PHONE: self._thekeys_phone,
                SECTION_SERVER: {CONF_URL: self._thekeys_url},
            }
        return self.async_show_form(
            step_id="thekeys_account",
            data_schema=self.add_suggested_values_to_schema(SIGN_IN_SCHEMA, suggested),
            errors=errors,
        )

    async def _thekeys_sign_in(self, phone: str, password: str) -> str | None:
        """Sign in and read the account's locks; return a form error, or None to go on."""
        cloud = TheKeysCloud(async_get_clientsession(self.hass), base_url=self._thekeys_url)
        try:
            # The password is kept by the client (in memory, for this flow) to renew the
            # token when it expires; it is never stored.
            await cloud.login(phone, password, keep_password=True)
            locks = await cloud.locks()
            infos = await cloud.gateway_infos(locks)
        except TheKeysCloudError as err:
            return _cloud_error(err)
        if not locks:
            return "thekeys_no_locks"
        self._thekeys_cloud = cloud
        self._thekeys_locks = {}
        for lock in locks:
            gateway = pick_gateway(lock, infos)
            ip = infos[gateway.id].ip if gateway is not None else None
            self._thekeys_locks[str(lock.identifier)] = _AccountLock(lock, gateway, ip)
        return None

    def _thekeys_configured(self, item: _AccountLock) -> bool:
        return lock_already_configured(self.hass, item.lock.identifier)

    async def _thekeys_add_locks(
        self, host: str, gateway: CloudAccessory, placeholders: dict[str, str]
    ) -> ConfigFlowResult | str:
        """Check the gateway, find or create each share, check each lock, then add them.

        Returns the flow's end, or a form error (``placeholders`` then names the lock).
        """
        address = await async_resolve(host)
        client = await async_gateway_for_flow(self.hass, host)
        if (error := await validate_gateway(client)) is not None:
            return error
        subentries: list[ConfigSubentryData] = []
        for item in self._thekeys_picked:
            placeholders["lock"] = item.lock.name
            try:
                share = await self._thekeys_cloud.share_code(item.lock, gateway)
            except TheKeysCloudSessionExpiredError:
                raise
            except TheKeysCloudError as err:
                return _cloud_error(err)
            error = await validate_lock(client, item.lock.identifier, share.code)
            if error in SHARE_REFUSED:
                return "thekeys_share_not_accepted"
            if error is not None:
                return _config_error(error)
            subentries.append(_lock_subentry(item.lock.identifier, share.code, item.lock.name))
        self._thekeys_cloud.forget_password()
        placeholders |= {"skipped": _names(self._thekeys_skipped)}
        entry = next(
            (
                entry
                for entry in self._async_current_entries(include_ignore=False)
                if entry.data.get(CONF_VENDOR) == VENDOR and entry.unique_id == address
            ),
            None,
        )
        if entry is not None:
            return self._thekeys_add_to_entry(entry, subentries, placeholders)
        await self.async_set_unique_id(address, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=gateway_title(self.hass),
            data={CONF_VENDOR: VENDOR, CONF_HOST: host},
            subentries=subentries,
            description="thekeys_skipped" if self._thekeys_skipped else None,
            description_placeholders=placeholders,
        )

    def _thekeys_add_to_entry(
        self,
        entry: ConfigEntry,
        subentries: list[ConfigSubentryData],
        placeholders: dict[str, str],
    ) -> ConfigFlowResult:
        """The gateway has an entry already: its new locks become its subentries."""
        for subentry in subentries:
            self.hass.config_entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType(dict(subentry["data"])),
                    subentry_type=subentry["subentry_type"],
                    title=subentry["title"],
                    unique_id=subentry["unique_id"],
                ),
            )
        placeholders["entry"] = entry.title
        reason = "thekeys_locks_added_skipped" if self._thekeys_skipped else "thekeys_locks_added"
        return self.async_abort(reason=reason, description_placeholders=placeholders)

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
