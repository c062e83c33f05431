"""Config-flow steps of InVue: the account entry, its reauth and reconfigure, lock subentries.

The account: API key, certificate owner and the Customer Intermediate Certificate (PEM,
parsed with ``cryptography`` in an executor; its expiry is shown before the entry is made).
The API key is checked with a GET of a serial number of the documented shape that no lock
has (only 401 and 403 say that the key is refused). Each enrolled lock is a subentry; the
enrolment code is sent to InVue once and never stored, shown back or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import SectionConfig, section
from homeassistant.helpers.selector import (
    AreaSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util

from ...compat import vol
from ...const import CONF_VENDOR, DOMAIN
from ...contract import VendorFlowSteps
from ...errors import error_name
from ...flow_helpers import update_entry_and_abort
from .client import (
    DEFAULT_BASE_URL,
    IntermediateCertificate,
    InVueApiError,
    InVueAuthenticationError,
    InVueBadRequestError,
    InVueCertificateError,
    InVueConflictError,
    InVueConnectionError,
    InVueError,
    InVueForbiddenError,
    InVueMalformedReplyError,
    InVueNotFoundError,
    InVueRateLimitedError,
    KeyCertificate,
    parse_intermediate,
)
from .const import (
    CONF_API_KEY,
    CONF_AREA,
    CONF_ENROLMENT_CODE,
    CONF_INTERMEDIATE,
    CONF_LOCK_TYPE,
    CONF_OWNER,
    CONF_SERIAL,
    VENDOR,
)
from .coordinator import client_for, format_expiry, lock_subentries
from .store import StoredCertificate, async_key_store

API_KEY_FIELD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
PEM_FIELD = TextSelector(TextSelectorConfig(multiline=True))
PEM_SCHEMA = vol.Schema({vol.Required(CONF_INTERMEDIATE): PEM_FIELD})
API_KEY_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): API_KEY_FIELD})
# A collapsed section: another InVue API server (a staging or test server).
SECTION_SERVER = "server"
ACCOUNT_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_API_KEY): API_KEY_FIELD,
        vol.Required(CONF_OWNER): TextSelector(),
        vol.Required(CONF_INTERMEDIATE): PEM_FIELD,
        vol.Required(SECTION_SERVER): section(
            vol.Schema(
                {
                    vol.Required(CONF_URL, default=DEFAULT_BASE_URL): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    )
                }
            ),
            SectionConfig(collapsed=True),
        ),
    }
)
LOCK_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_SERIAL): TextSelector(),
        vol.Optional(CONF_LOCK_TYPE, default=""): TextSelector(),
        vol.Required(CONF_ENROLMENT_CODE): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        vol.Required(CONF_AREA): AreaSelector(),
        vol.Optional(CONF_NAME): TextSelector(),
    }
)
SERIAL_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
# At most this many enrolled locks are read to tell whether a new API key has their owner.
OWNER_CHECKS = 3

# What a refusal means for the person filling in the form (subclasses first).
FORM_ERRORS: tuple[tuple[type[InVueError], str], ...] = (
    (InVueAuthenticationError, "invue_invalid_auth"),
    (InVueForbiddenError, "invue_forbidden"),
    (InVueBadRequestError, "invue_invalid_enrolment_code"),
    (InVueConnectionError, "invue_cannot_connect"),
    (InVueMalformedReplyError, "invue_malformed_reply"),
    (InVueConflictError, "invue_registered_elsewhere"),
    (InVueRateLimitedError, "invue_rate_limited"),
    (InVueApiError, "invue_refused"),
)


def form_error(err: InVueError) -> str:
    """Return the form error of a client error."""
    return error_name(err, FORM_ERRORS, "unknown")


def account_title(owner: str) -> str:
    """Return the title of an account's entry."""
    return f"InVue {owner}"


def certificate_placeholders(certificate: IntermediateCertificate | None) -> dict[str, str]:
    """Return what a form says about an intermediate certificate."""
    if certificate is None:
        return {"subject": "-", "expiry": "an unknown date", "days": "-"}
    days = (certificate.not_valid_after - dt_util.utcnow()).days
    return {
        "subject": certificate.subject,
        "expiry": format_expiry(certificate.not_valid_after),
        "days": str(max(0, days)),
    }


async def async_read_certificate(
    hass: HomeAssistant, text: str
) -> tuple[IntermediateCertificate | None, str | None]:
    """Parse a pasted intermediate (in an executor); return it, or the form error."""
    try:
        certificate = await hass.async_add_executor_job(parse_intermediate, text)
    except InVueCertificateError:
        return None, "invue_invalid_certificate"
    if certificate.expired(dt_util.utcnow()):
        return None, "invue_certificate_expired"
    return certificate, None


async def async_stored_certificate(
    hass: HomeAssistant, entry: ConfigEntry
) -> IntermediateCertificate | None:
    """Return an entry's intermediate, None when it cannot be read."""
    try:
        return await hass.async_add_executor_job(
            parse_intermediate, str(entry.data.get(CONF_INTERMEDIATE, ""))
        )
    except InVueCertificateError:
        return None


async def async_validate_api_key(
    hass: HomeAssistant, data: Mapping[str, Any], serials: list[str]
) -> str | None:
    """Check the API key; return a form error or None.

    With enrolled locks, the key must also be their owner's: reading one of their
    certificates succeeds (404 for each of a few: another owner's key).
    """
    client = client_for(hass, data)
    try:
        if not serials:
            await client.check_api_key()
            return None
        for serial in serials[:OWNER_CHECKS]:
            try:
                await client.key_certificate(serial)
            except InVueNotFoundError:
                continue
            return None
    except InVueError as err:
        return form_error(err)
    return "invue_wrong_owner"


class InVueConfigFlowSteps(VendorFlowSteps):
    """InVue steps of the multilock config flow."""

    _invue_data: dict[str, Any]
    _invue_certificate: IntermediateCertificate

    async def async_step_invue(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API key, certificate owner and intermediate certificate; check them."""
        errors: dict[str, str] = {}
        if user_input is not None:
            owner = user_input[CONF_OWNER].strip()
            url = user_input.get(SECTION_SERVER, {}).get(CONF_URL, DEFAULT_BASE_URL).strip()
            if not owner:
                errors[CONF_OWNER] = "invue_invalid_owner"
            else:
                await self.async_set_unique_id(owner)
                self._abort_if_unique_id_configured()
                certificate, error = await async_read_certificate(
                    self.hass, user_input[CONF_INTERMEDIATE]
                )
                if certificate is None:
                    errors[CONF_INTERMEDIATE] = str(error)
                else:
                    data = {
                        CONF_API_KEY: user_input[CONF_API_KEY].strip(),
                        CONF_OWNER: owner,
                        CONF_URL: url,
                        CONF_INTERMEDIATE: certificate.pem,
                    }
                    error = await async_validate_api_key(self.hass, data, [])
                    if error is None:
                        self._invue_data, self._invue_certificate = data, certificate
                        return await self.async_step_invue_certificate()
                    errors["base"] = error
        return self.async_show_form(
            step_id="invue",
            data_schema=self.add_suggested_values_to_schema(
                ACCOUNT_SCHEMA, _without(user_input, CONF_API_KEY)
            ),
            errors=errors,
        )

    async def async_step_invue_certificate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show whose certificate it is and when it expires; then create or update the entry."""
        if user_input is not None:
            if self.source == SOURCE_RECONFIGURE:
                return update_entry_and_abort(
                    self,
                    self._get_reconfigure_entry(),
                    data_updates={CONF_INTERMEDIATE: self._invue_certificate.pem},
                )
            return self.async_create_entry(
                title=account_title(self._invue_data[CONF_OWNER]),
                data={CONF_VENDOR: VENDOR, **self._invue_data},
            )
        return self.async_show_form(
            step_id="invue_certificate",
            data_schema=vol.Schema({}),
            description_placeholders=certificate_placeholders(self._invue_certificate),
        )

    async def async_step_invue_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """InVue refused the API key: ask for a new one."""
        return await self.async_step_invue_reauth_confirm()

    async def async_step_invue_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the new API key (also that it is the owner's of the enrolled locks)."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            error = await async_validate_api_key(
                self.hass,
                {**entry.data, CONF_API_KEY: api_key},
                sorted(lock_subentries(entry)),
            )
            if error is None:
                return update_entry_and_abort(self, entry, data_updates={CONF_API_KEY: api_key})
            errors["base"] = error
        return self.async_show_form(
            step_id="invue_reauth_confirm",
            data_schema=API_KEY_SCHEMA,
            errors=errors,
            description_placeholders={"owner": str(entry.data.get(CONF_OWNER, entry.title))},
        )

    async def async_step_invue_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Install the renewed intermediate certificate."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            certificate, error = await async_read_certificate(
                self.hass, user_input[CONF_INTERMEDIATE]
            )
            if certificate is not None:
                self._invue_certificate = certificate
                return await self.async_step_invue_certificate()
            errors[CONF_INTERMEDIATE] = str(error)
        current = await async_stored_certificate(self.hass, entry)
        return self.async_show_form(
            step_id="invue_reconfigure",
            data_schema=PEM_SCHEMA,
            errors=errors,
            description_placeholders={
                "owner": str(entry.data.get(CONF_OWNER, entry.title)),
                **certificate_placeholders(current),
            },
        )


async def async_enrol(
    hass: HomeAssistant, entry: ConfigEntry, serial: str, lock_type: str, enrolment_code: str
) -> tuple[KeyCertificate, bool]:
    """Enrol a lock; return its Key Certificate and whether it was already registered.

    A serial number already registered to the account answers 400 or 409 (the page does not
    say which): its existing certificate is read instead. So is one whose enrolment reply was
    lost (the connection broke, or the reply could not be read): the enrolment may have been
    done.
    """
    client = client_for(hass, entry.data)
    try:
        certificate = await client.enrol(
            serial,
            certificate_owner=entry.data[CONF_OWNER],
            enrolment_code=enrolment_code,
            lock_type=lock_type,
        )
    except (InVueBadRequestError, InVueConflictError) as err:
        refusal: InVueError = err
        recovered = True
    except (InVueConnectionError, InVueMalformedReplyError) as err:
        refusal, recovered = err, False
    else:
        return certificate, False
    try:
        certificate = await client.key_certificate(serial)
    except InVueNotFoundError:
        raise refusal from None
    return certificate, recovered


def serial_enrolled(hass: HomeAssistant, serial: str) -> bool:
    """Return whether an InVue entry already has this lock."""
    return any(
        serial in lock_subentries(entry)
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_VENDOR) == VENDOR
    )


class InVueLockSubentryFlow(ConfigSubentryFlow):
    """Enrol a lock: its serial number, type, enrolment code and area (the store)."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Enrol the lock with InVue and keep its Key Certificate."""
        errors: dict[str, str] = {}
        if user_input is not None:
            serial = user_input[CONF_SERIAL].strip()
            code = "".join(user_input[CONF_ENROLMENT_CODE].split())
            if not SERIAL_PATTERN.fullmatch(serial):
                errors[CONF_SERIAL] = "invalid_serial"
            elif not code:
                errors[CONF_ENROLMENT_CODE] = "missing_code"
            elif serial_enrolled(self.hass, serial):
                return self.async_abort(reason="already_configured")
            else:
                lock_type = user_input.get(CONF_LOCK_TYPE, "").strip()
                error = await self._enrol(serial, lock_type, code)
                if error is None:
                    return self.async_create_entry(
                        title=(user_input.get(CONF_NAME) or "").strip() or f"Lock {serial}",
                        data={
                            CONF_SERIAL: serial,
                            CONF_LOCK_TYPE: lock_type,
                            CONF_AREA: user_input[CONF_AREA],
                        },
                        unique_id=serial,
                    )
                errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                LOCK_SCHEMA, _without(user_input, CONF_ENROLMENT_CODE)
            ),
            errors=errors,
        )

    async def _enrol(self, serial: str, lock_type: str, code: str) -> str | None:
        """Enrol and store the certificate; return a form error or None."""
        entry = self._get_entry()
        try:
            certificate, recovered = await async_enrol(self.hass, entry, serial, lock_type, code)
        except InVueError as err:
            if isinstance(err, InVueAuthenticationError):
                entry.async_start_reauth(self.hass)
            return form_error(err)
        store = await async_key_store(self.hass, entry.entry_id)
        await store.async_put(
            serial,
            StoredCertificate(certificate.encoded, dt_util.utcnow(), recovered),
            enrolling=True,
        )
        return None


def _without(user_input: dict[str, Any] | None, secret: str) -> dict[str, Any] | None:
    if user_input is None:
        return None
    return {key: value for key, value in user_input.items() if key != secret}
