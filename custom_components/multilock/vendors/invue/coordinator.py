"""The runtime of one InVue account: its stored Key Certificates and intermediate certificate.

Nothing is polled: InVue locks are opened by the mobile SDK over Bluetooth, and the cloud API
only provisions them. The coordinator's refresh is local (hourly): it reads the stored
certificates and dates, and reports the intermediate certificate's expiry. The cloud is
asked only to enrol and delete locks, and once a day (and at start) to finish what could not
be done when it was down: deletions of removed locks, certificates missing from storage, and
a check that the API key is still accepted (a refused key starts re-authentication).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntryType
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, LOGGER
from ...coordinator import (
    DeviceDescription,
    MultilockConfigEntry,
    MultilockCoordinator,
    MultilockDevice,
)
from ...errors import error_name
from ...issues import async_clear_issue, async_raise_issue
from .client import (
    DEFAULT_BASE_URL,
    IntermediateCertificate,
    InVueApiError,
    InVueAuthenticationError,
    InVueBadRequestError,
    InVueCertificateError,
    InVueClient,
    InVueConnectionError,
    InVueError,
    InVueForbiddenError,
    InVueMalformedReplyError,
    InVueMethodNotAllowedError,
    InVueNotFoundError,
    InVueRateLimitedError,
    InVueTimeoutError,
    KeyCertificate,
    KeyValidity,
    parse_intermediate,
)
from .const import (
    ACCOUNT_KIND,
    CONF_API_KEY,
    CONF_AREA,
    CONF_INTERMEDIATE,
    CONF_LOCK_TYPE,
    CONF_OWNER,
    CONF_SERIAL,
    INTERMEDIATE_EXPIRED,
    INTERMEDIATE_EXPIRING,
    LOCK_KIND,
    MANUFACTURER,
    RENEWAL_NOTICE,
    SUBENTRY_LOCK,
    VENDOR,
    intermediate_issue_id,
)
from .descriptions import DESCRIPTIONS
from .store import InVueKeyStore, StoredCertificate, async_key_store

# Local only (no request): the validity of each Key Certificate and the intermediate's expiry
# change with time alone.
UPDATE_INTERVAL = timedelta(hours=1)
# Requests to InVue that nobody asked for: retries of what failed, and the API key check.
MAINTENANCE_INTERVAL = timedelta(hours=24)

# What each client error means, in the order to test them (subclasses first): the
# translation key of the error raised to the user is ``invue_<reason>``.
ERROR_REASONS: tuple[tuple[type[InVueError], str], ...] = (
    (InVueAuthenticationError, "authentication"),
    (InVueForbiddenError, "forbidden"),
    (InVueNotFoundError, "not_found"),
    (InVueBadRequestError, "bad_request"),
    (InVueMethodNotAllowedError, "refused"),
    (InVueRateLimitedError, "rate_limited"),
    (InVueApiError, "refused"),
    (InVueTimeoutError, "timeout"),
    (InVueConnectionError, "cannot_connect"),
    (InVueMalformedReplyError, "malformed_reply"),
)


def error_reason(err: InVueError) -> str:
    """Return the reason of a client error (``invue_<reason>`` is its translation key)."""
    return error_name(err, ERROR_REASONS, "error")


def format_expiry(when: datetime) -> str:
    """Return a date for people."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def intermediate_issue_kind(expiry: datetime, now: datetime) -> str | None:
    """Return the repair an intermediate expiring at ``expiry`` needs at ``now`` (None: none)."""
    if now >= expiry:
        return INTERMEDIATE_EXPIRED
    if now >= expiry - RENEWAL_NOTICE:
        return INTERMEDIATE_EXPIRING
    return None


def lock_subentries(entry: MultilockConfigEntry) -> dict[str, ConfigSubentry]:
    """Return the entry's enrolled locks by serial number."""
    return {
        str(subentry.data[CONF_SERIAL]): subentry
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_LOCK
    }


def client_for(hass: HomeAssistant, data: Mapping[str, Any]) -> InVueClient:
    """Return a client with the API key and server of entry data."""
    return InVueClient(
        async_get_clientsession(hass),
        data[CONF_API_KEY],
        base_url=data.get(CONF_URL, DEFAULT_BASE_URL),
    )


@dataclass(frozen=True, slots=True)
class InVueLockData:
    """An enrolled lock: its stored Key Certificate (None: missing from storage)."""

    serial: str
    name: str
    lock_type: str
    subentry_id: str
    certificate: KeyCertificate | None
    enrolled_at: datetime | None
    recovered: bool
    validity: KeyValidity | None


@dataclass(frozen=True, slots=True)
class InVueData:
    """The account: its intermediate certificate and its enrolled locks by serial number."""

    owner: str
    intermediate_certificate: IntermediateCertificate
    locks: dict[str, InVueLockData]


class InVueCoordinator(MultilockCoordinator[InVueData]):
    """Serves the stored certificates; enrols, deletes and checks with InVue on demand."""

    descriptions = DESCRIPTIONS
    client_error = InVueError

    keys: InVueKeyStore
    intermediate: IntermediateCertificate

    def __init__(self, hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
        """Prepare the account's client; ``async_start`` reads the stored certificates."""
        # Log lines name the account by its title ("InVue <owner>"), never by its key.
        super().__init__(hass, entry, name=entry.title, update_interval=UPDATE_INTERVAL)
        self.client = client_for(hass, entry.data)
        self.owner: str = entry.data[CONF_OWNER]
        self._key_prefix = f"invue-{entry.entry_id}-"
        self.account_device_key = f"{self._key_prefix}account"
        self._decoded: dict[str, KeyCertificate] = {}
        self._intermediate_kind: str | None = None
        self._cloud_problem: str | None = None

    @property
    def lock_subentries(self) -> dict[str, ConfigSubentry]:
        """Return the enrolled locks by serial number, as the entry has them now.

        Read live: a lock removed while the entry reloads is not set up again.
        """
        return lock_subentries(self.config_entry)

    # -- device keys ----------------------------------------------------------------------

    def lock_device_key(self, serial: str) -> str:
        """Return the device key of a lock."""
        return f"{self._key_prefix}lock-{serial}"

    # -- start and refresh ----------------------------------------------------------------

    async def _async_setup(self) -> None:
        """Read the stored certificates and parse the intermediate (no request to InVue)."""
        entry = self.config_entry
        self.keys = await async_key_store(self.hass, entry.entry_id)
        try:
            self.intermediate = await self.hass.async_add_executor_job(
                parse_intermediate, entry.data[CONF_INTERMEDIATE]
            )
        except InVueCertificateError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="invue_intermediate_unreadable",
                translation_placeholders={"owner": self.owner},
            ) from err
        locks = set(self.lock_subentries)
        self.keys.enrolling -= locks  # their subentries are there now
        for serial in set(self.keys.certificates) - locks - self.keys.enrolling:
            # Its subentry was removed while the entry was not loaded (nothing was deleted
            # remotely then): the certificate is of no use here any more. (A lock whose
            # enrolment is still adding its subentry is not one of them.)
            LOGGER.info("Forgetting the stored Key Certificate of removed InVue lock %s", serial)
            await self.keys.async_forget(serial, deleted_remotely=True)

    async def async_start(self) -> Self:
        """Start from storage, place new locks in their areas, then check with InVue."""
        await super().async_start()
        self._async_place_new_locks()
        entry = self.config_entry
        entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._async_scheduled_maintenance, MAINTENANCE_INTERVAL
            )
        )
        entry.async_create_background_task(
            self.hass, self.async_maintain(), f"invue maintenance {entry.entry_id}"
        )
        return self

    async def _async_poll(self) -> InVueData:
        now = dt_util.utcnow()
        self._report_intermediate(now)
        return InVueData(
            owner=self.owner,
            intermediate_certificate=self.intermediate,
            locks={
                serial: self._lock_data(serial, subentry, now)
                for serial, subentry in self.lock_subentries.items()
            },
        )

    def _lock_data(self, serial: str, subentry: ConfigSubentry, now: datetime) -> InVueLockData:
        stored = self.keys.certificates.get(serial)
        certificate = None if stored is None else self._decode(serial, stored)
        return InVueLockData(
            serial=serial,
            name=subentry.title,
            lock_type=str(subentry.data.get(CONF_LOCK_TYPE, "")),
            subentry_id=subentry.subentry_id,
            certificate=certificate,
            enrolled_at=None if stored is None else stored.enrolled_at,
            recovered=stored is not None and stored.recovered,
            validity=None if certificate is None else certificate.validity(now),
        )

    def _decode(self, serial: str, stored: StoredCertificate) -> KeyCertificate | None:
        known = self._decoded.get(serial)
        if known is not None and known.encoded == stored.encoded:
            return known
        try:
            certificate = self._decoded[serial] = KeyCertificate.from_base64(stored.encoded)
        except InVueError:
            LOGGER.warning("The stored InVue Key Certificate of %s cannot be decoded", serial)
            return None
        return certificate

    def _build_devices(self, data: InVueData) -> list[MultilockDevice[Any]]:
        return [self._account_device(data)] + [
            self._lock_device(lock) for lock in data.locks.values()
        ]

    def _account_device(self, data: InVueData) -> MultilockDevice[Any]:
        title = self.config_entry.title
        return MultilockDevice(
            key=self.account_device_key,
            kind=ACCOUNT_KIND,
            name=title,
            data=data,
            info=DeviceDescription(
                identifiers={(DOMAIN, self.account_device_key)},
                manufacturer=MANUFACTURER,
                model="LIVE Lock account",
                name=title,
                entry_type=DeviceEntryType.SERVICE,
            ),
        )

    def _lock_device(self, lock: InVueLockData) -> MultilockDevice[Any]:
        key = self.lock_device_key(lock.serial)
        return MultilockDevice(
            key=key,
            kind=LOCK_KIND,
            name=lock.name,
            data=lock,
            subentry_id=lock.subentry_id,
            problem=None if lock.certificate is not None else "no Key Certificate is stored",
            info=DeviceDescription(
                identifiers={(DOMAIN, key)},
                manufacturer=MANUFACTURER,
                # One model for every lock (the actions' pickers filter on it), the type
                # beside it.
                model="LIVE Lock",
                model_id=lock.lock_type or None,
                name=lock.name,
                serial_number=lock.serial,
            ),
            via=self.account_device_key,
        )

    @callback
    def _async_place_new_locks(self) -> None:
        """Register each new lock's device in the area chosen when it was enrolled.

        Later the device registry is the truth: a lock moved to another area there is
        served with that area's certificates.
        """
        registry = dr.async_get(self.hass)
        entry_id = self.config_entry.entry_id
        subentries = self.config_entry.subentries
        for device in self.devices.values():
            subentry = subentries.get(device.subentry_id or "")
            if subentry is None or registry.async_get_device_by_identifier(
                (DOMAIN, device.key), entry_id
            ):
                continue  # the account, a lock removed meanwhile, or a lock placed before
            created = self.async_register_device(device)
            if area_id := subentry.data.get(CONF_AREA):
                registry.async_update_device(created.id, area_id=area_id)

    def _lock_device_entry(self, serial: str) -> dr.DeviceEntry | None:
        return dr.async_get(self.hass).async_get_device_by_identifier(
            (DOMAIN, self.lock_device_key(serial)), self.config_entry.entry_id
        )

    def device_area(self, serial: str) -> str | None:
        """Return the area of a lock's device now (the store it is in)."""
        device = self._lock_device_entry(serial)
        return None if device is None else device.area_id

    def device_id(self, serial: str) -> str | None:
        """Return the device registry id of a lock."""
        device = self._lock_device_entry(serial)
        return None if device is None else device.id

    # -- the intermediate certificate ---------------------------------------------------------

    def _report_intermediate(self, now: datetime) -> None:
        """Raise the repair from 30 days before the intermediate expires; clear it after renewal."""
        issue_id = intermediate_issue_id(self.config_entry.entry_id)
        expiry = self.intermediate.not_valid_after
        kind = intermediate_issue_kind(expiry, now)
        if kind != self._intermediate_kind:
            if kind == INTERMEDIATE_EXPIRED:
                LOGGER.warning(
                    "The InVue intermediate certificate of %s expired on %s: mobile devices "
                    "cannot open its locks until they get the renewed certificate",
                    self.owner,
                    format_expiry(expiry),
                )
            elif kind == INTERMEDIATE_EXPIRING:
                LOGGER.warning(
                    "The InVue intermediate certificate of %s expires on %s: renew it",
                    self.owner,
                    format_expiry(expiry),
                )
            self._intermediate_kind = kind
        if kind is None:
            async_clear_issue(self.hass, issue_id)
            return
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=kind,
            issue_id=issue_id,
            severity=(
                ir.IssueSeverity.ERROR if kind == INTERMEDIATE_EXPIRED else ir.IssueSeverity.WARNING
            ),
            placeholders={
                "owner": self.owner,
                "expiry": format_expiry(expiry),
                "days": str(max(0, (expiry - now).days)),
            },
            data={"entry_id": self.config_entry.entry_id},
        )

    # -- requests to InVue ----------------------------------------------------------------

    async def _async_scheduled_maintenance(self, _now: datetime) -> None:
        await self.async_maintain()

    async def async_maintain(self) -> None:
        """Retry deletions, fetch missing certificates, check the key; never raise.

        The API key check is sent only when nothing else was: any request tells whether
        InVue accepts the key.
        """
        changed = False
        try:
            sent = False
            for serial in sorted(self.keys.deleting - set(self.lock_subentries)):
                sent = True
                await self._async_delete_and_verify(serial)
                await self.keys.async_forget(serial, deleted_remotely=True)
                LOGGER.info("Deleted removed InVue lock %s from InVue", serial)
            for serial in self._missing():
                sent = True
                changed |= await self._async_fetch_missing(serial)
            if not sent:
                await self.client.check_api_key()
        except (InVueError, HomeAssistantError) as err:
            self._cloud_failed(err)
        else:
            if self._cloud_problem is not None:
                LOGGER.info("InVue answers again for %s", self.config_entry.title)
                self._cloud_problem = None
        if changed:
            await self.async_refresh()

    def _missing(self) -> list[str]:
        """Return the locks without a readable stored certificate."""
        return sorted(
            serial for serial, lock in self.data.locks.items() if lock.certificate is None
        )

    async def _async_fetch_missing(self, serial: str) -> bool:
        """Fetch a certificate missing from storage; return whether one was stored."""
        try:
            certificate = await self.client.key_certificate(serial)
        except InVueNotFoundError:
            LOGGER.warning(
                "InVue lock %s is not registered to %s: enrol it again (remove and add it)",
                serial,
                self.owner,
            )
            return False
        stored = StoredCertificate(certificate.encoded, dt_util.utcnow(), recovered=True)
        await self.keys.async_put(serial, stored)
        LOGGER.info("Fetched the missing Key Certificate of InVue lock %s", serial)
        return True

    def _cloud_failed(self, err: Exception) -> None:
        if isinstance(err, InVueAuthenticationError):
            self.config_entry.async_start_reauth(self.hass)
        problem = str(err)
        if problem != self._cloud_problem:
            LOGGER.warning(
                "InVue cannot finish its work for %s now (the stored certificates are still "
                "served): %s",
                self.config_entry.title,
                problem,
            )
            self._cloud_problem = problem

    async def _async_delete_and_verify(self, serial: str) -> bool:
        """Delete a lock's registration, then check that InVue no longer knows it.

        Return whether it was registered (False: InVue answered 404 to the deletion).
        """
        try:
            await self.client.delete(serial)
        except InVueNotFoundError:
            registered = False
        else:
            registered = True
        try:
            await self.client.key_certificate(serial)
        except InVueNotFoundError:
            return registered
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="invue_still_registered",
            translation_placeholders={"serial": serial},
        )

    async def async_unenroll(self, serial: str) -> bool:
        """Delete a lock remotely for the unenroll action (translated errors).

        Return whether it was registered. Removing its subentry afterwards deletes nothing.
        """
        name = self.lock_subentries[serial].title
        registered = await self._run(name, self._async_delete_and_verify(serial))
        self.keys.deleted_remotely.add(serial)
        return registered

    async def async_lock_removed(self, serial: str) -> None:
        """A lock's subentry was removed: delete it remotely (404 is fine), then locally.

        When InVue cannot be reached, the certificate is dropped all the same and the
        deletion is tried again later (``async_maintain``).
        """
        if serial in self.keys.removed:
            return  # heard of again
        self.keys.removed.add(serial)
        deleted = serial in self.keys.deleted_remotely
        if not deleted:
            try:
                await self._async_delete_and_verify(serial)
            except (InVueError, HomeAssistantError) as err:
                if isinstance(err, InVueAuthenticationError):
                    self.config_entry.async_start_reauth(self.hass)
                LOGGER.warning(
                    "Removed InVue lock %s is still registered with InVue (trying again later): %s",
                    serial,
                    err,
                )
            else:
                deleted = True
                LOGGER.info("Deleted InVue lock %s from InVue", serial)
        await self.keys.async_forget(serial, deleted_remotely=deleted)

    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the error to raise for ``err``; a refused API key also starts reauth."""
        if isinstance(err, InVueAuthenticationError):
            self.config_entry.async_start_reauth(self.hass)
        reason = error_reason(err) if isinstance(err, InVueError) else "error"
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"invue_{reason}",
            translation_placeholders={"name": name, "error": str(err)},
        )
