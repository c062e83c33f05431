"""The coordinator of one Doordeck account and the locks it can see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NotRequired, TypedDict

from homeassistant.const import CONF_URL
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntryType
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import UpdateFailed
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
from .audit import DoordeckAudit
from .client import (
    DEFAULT_BASE_URL,
    DoordeckApiError,
    DoordeckAuthenticationError,
    DoordeckClient,
    DoordeckClockError,
    DoordeckConnectionError,
    DoordeckCredentials,
    DoordeckError,
    DoordeckKeyNotRegisteredError,
    DoordeckLock,
    DoordeckLockOfflineError,
    DoordeckLockTimeoutError,
    DoordeckMalformedReplyError,
    DoordeckOperationPendingError,
    DoordeckRateLimitedError,
    DoordeckReplayError,
    DoordeckSecondFactorRequired,
    DoordeckTimeoutError,
    DoordeckTokens,
    DoordeckUser,
    DoordeckUserNotFoundError,
    OperationResult,
    ShareOutcome,
    ShareStatus,
    ShareUser,
    VerificationMethod,
)
from .const import (
    ACCOUNT_KIND,
    ADMIN_ROLE,
    ASSUMED_LOCK_KIND,
    CONF_CREDENTIALS,
    KEY_RENEWAL_ISSUE,
    MANUFACTURER,
    REPORTING_LOCK_KIND,
    VENDOR,
    key_renewal_issue_id,
)
from .descriptions import DESCRIPTIONS

# A poll costs one request for the sites, one per site, and one per lock that reports its
# state. Doordeck rate-limits accounts (429), most locks report no state at all (their
# state comes from our own commands, right away), so once a minute is enough to follow
# connectivity and new or removed locks.
UPDATE_INTERVAL = timedelta(seconds=60)
# A failed renewal is tried again after this long rather than on every poll: a key is
# renewed 7 days before it expires, so there is time, and each try registers a new key.
RENEWAL_RETRY = timedelta(hours=1)

# What each client error means, in the order to test them (subclasses first): the
# translation key of the error raised to the user is ``doordeck_<reason>``.
ERROR_REASONS: tuple[tuple[type[DoordeckError], str], ...] = (
    (DoordeckLockOfflineError, "lock_offline"),
    (DoordeckLockTimeoutError, "lock_timeout"),
    (DoordeckRateLimitedError, "rate_limited"),
    (DoordeckClockError, "clock"),
    (DoordeckOperationPendingError, "operation_pending"),
    (DoordeckReplayError, "replay"),
    (DoordeckSecondFactorRequired, "second_factor_required"),
    (DoordeckAuthenticationError, "authentication"),
    (DoordeckKeyNotRegisteredError, "key_not_registered"),
    (DoordeckTimeoutError, "timeout"),
    (DoordeckConnectionError, "cannot_connect"),
    (DoordeckMalformedReplyError, "malformed_reply"),
    (DoordeckApiError, "refused"),
)


def error_reason(err: DoordeckError) -> str:
    """Return the reason of a client error (``doordeck_<reason>`` is its translation key)."""
    return error_name(err, ERROR_REASONS, "error")


class UserOutcome(TypedDict):
    """What happened for one user on one lock: done, queued or failed (with the reason)."""

    status: str
    reason: NotRequired[str]


# Per device key, the outcome per user as the action was given them.
type LockOutcomes = dict[str, dict[str, UserOutcome]]
# Work an account accepted (everything checked): run it to get the outcomes.
type PendingAction = Callable[[], Awaitable[LockOutcomes]]


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """Whom to share with (emails or Doordeck user ids, as given), with what role, and when."""

    users: tuple[str, ...]
    role: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class DoordeckLockData:
    """What is known of one lock.

    ``lock`` is Doordeck's last description of it. ``locked`` is what Doordeck reports
    when ``reports_state``; otherwise it is assumed: locked, except within the lock's
    unlock time after an unlock sent from here.
    """

    lock: DoordeckLock
    reports_state: bool
    locked: bool | None


@dataclass(frozen=True, slots=True)
class DoordeckData:
    """One poll of the account."""

    locks: dict[str, DoordeckLockData]
    key_expiry: datetime | None
    time_offset: float


def stored_credentials(data: Mapping[str, Any]) -> DoordeckCredentials:
    """Return the credentials an entry stores, empty when they cannot be read."""
    try:
        return DoordeckCredentials.from_dict(data.get(CONF_CREDENTIALS) or {})
    except DoordeckError as err:
        # Signing in again (reauthentication) registers a new key.
        LOGGER.warning("The stored Doordeck credentials are unreadable: %s", err)
        return DoordeckCredentials()


class DoordeckCoordinator(MultilockCoordinator[DoordeckData]):
    """Polls the account's sites and locks; sends commands and sharing operations."""

    descriptions = DESCRIPTIONS
    client_error = DoordeckError
    # No answer in time: Doordeck may have sent the operation to the lock.
    outcome_unknown_errors = (DoordeckTimeoutError,)

    def __init__(self, hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
        """Resume the account's client from the stored credentials."""
        # Log lines name the account by its Doordeck user id, never by its email.
        super().__init__(
            hass,
            entry,
            name=f"Doordeck account {entry.unique_id}",
            update_interval=UPDATE_INTERVAL,
        )
        self.client = DoordeckClient(
            async_get_clientsession(hass),
            stored_credentials(entry.data),
            base_url=entry.data.get(CONF_URL, DEFAULT_BASE_URL),
            on_tokens_changed=self._tokens_changed,
        )
        # Keys are per account: one lock shared with two configured accounts is two devices.
        self._key_prefix = f"doordeck-{entry.unique_id or entry.entry_id}-"
        self.account_device_key = f"{self._key_prefix}account"
        # The last GET /device of each lock: its capabilities, and whether it reports a state.
        self._details: dict[str, DoordeckLock] = {}
        # Locks unlocked from here, until their unlock time is over.
        self._unlock_timers: dict[str, CALLBACK_TYPE] = {}
        # Locks reporting no state whose last command's outcome is unknown: unknown until
        # their unlock time is over (then locked, whatever the command did).
        self._unknown_until_relock: set[str] = set()
        self._renewal_not_before: datetime | None = None
        # Who opened: the locks' audit trails, read at each poll (audit.py).
        self.audit = DoordeckAudit(self)

    # -- device keys ----------------------------------------------------------------------

    def lock_device_key(self, lock_id: str) -> str:
        """Return the device key of a lock."""
        return f"{self._key_prefix}lock-{lock_id}"

    def lock_id_of(self, device_key: str) -> str:
        """Return the lock id in a device key."""
        return device_key.removeprefix(f"{self._key_prefix}lock-")

    # -- polling --------------------------------------------------------------------------

    async def _async_poll(self) -> DoordeckData:
        commands_seen = self._commands_seen()
        try:
            await self._renew_key_when_due()
            locks: dict[str, DoordeckLockData] = {}
            for listed in await self.client.list_locks(details=False):
                locks[listed.id] = await self._read_lock(listed)
        except DoordeckAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="doordeck_auth_failed",
                translation_placeholders={"account": self.name},
            ) from err
        except DoordeckError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="doordeck_update_failed",
                translation_placeholders={"account": self.name, "error": str(err)},
            ) from err
        for lock_id, lock in locks.items():
            if not lock.reports_state:
                locks[lock_id] = replace(lock, locked=self._assumed_locked(lock_id))
            elif self._moved_since(commands_seen, self.lock_device_key(lock_id)):
                # A command that finished while this poll ran is newer than what it read.
                locks[lock_id] = replace(lock, locked=self._known_locked(lock_id))
        for lock_id in set(self._details) - set(locks):
            self._forget_lock(lock_id)
        self._remove_stale_devices(locks)
        # Who opened; at set-up the activity entities are not there yet to show it.
        await self.audit.async_read(locks, deliver=self.data is not None)
        return DoordeckData(
            locks=locks,
            key_expiry=self.client.certificate_expiry,
            time_offset=self.client.time_offset,
        )

    async def _read_lock(self, listed: DoordeckLock) -> DoordeckLockData:
        """Merge a lock's site listing with its details, fetched only when needed.

        Details are fetched when a lock is first seen (capabilities, and whether it
        reports a state), then on every poll only for locks that report their state.
        """
        known = self._details.get(listed.id)
        if known is None or known.locked is not None:
            lock = self._details[listed.id] = await self.client.get_lock(listed.id)
        else:
            lock = replace(listed, batch_sharing=known.batch_sharing)
        reports_state = self._details[listed.id].locked is not None
        return DoordeckLockData(lock=lock, reports_state=reports_state, locked=lock.locked)

    def _assumed_locked(self, lock_id: str) -> bool | None:
        if lock_id in self._unknown_until_relock:
            return None
        return lock_id not in self._unlock_timers

    def _known_locked(self, lock_id: str) -> bool | None:
        # The command that ran during the poll needed the lock in the previous data.
        return self.data.locks[lock_id].locked

    def _forget_lock(self, lock_id: str) -> None:
        self._details.pop(lock_id, None)
        self._commands_done.pop(self.lock_device_key(lock_id), None)
        self._unknown_until_relock.discard(lock_id)
        if cancel := self._unlock_timers.pop(lock_id, None):
            cancel()

    def _remove_stale_devices(self, locks: Mapping[str, DoordeckLockData]) -> None:
        """Drop from the device registry the locks this account no longer sees."""
        registry = dr.async_get(self.hass)
        current = {self.account_device_key} | {self.lock_device_key(i) for i in locks}
        entry_id = self.config_entry.entry_id
        for device in dr.async_entries_for_config_entry(registry, entry_id):
            if not any(domain == DOMAIN and key in current for domain, key in device.identifiers):
                LOGGER.info("%s is no longer in the Doordeck account: removing it", device.name)
                registry.async_remove_device(device.id)

    def _build_devices(self, data: DoordeckData) -> list[MultilockDevice[Any]]:
        return [self._account_device(data)] + [
            self._lock_device(lock_id, lock) for lock_id, lock in data.locks.items()
        ]

    def _account_device(self, data: DoordeckData) -> MultilockDevice[Any]:
        title = self.config_entry.title
        return MultilockDevice(
            key=self.account_device_key,
            kind=ACCOUNT_KIND,
            name=title,
            data=data,
            info=DeviceDescription(
                identifiers={(DOMAIN, self.account_device_key)},
                manufacturer=MANUFACTURER,
                model="Cloud account",
                name=title,
                entry_type=DeviceEntryType.SERVICE,
            ),
        )

    def _lock_device(self, lock_id: str, lock: DoordeckLockData) -> MultilockDevice[Any]:
        key = self.lock_device_key(lock_id)
        if (built := self._built_from(key, lock)) is not None:
            return built  # a command on another lock left this one as it was
        return MultilockDevice(
            key=key,
            kind=REPORTING_LOCK_KIND if lock.reports_state else ASSUMED_LOCK_KIND,
            name=lock.lock.name,
            data=lock,
            problem=None if lock.lock.connected else "Doordeck reports it offline",
            info=DeviceDescription(
                identifiers={(DOMAIN, key)},
                manufacturer=MANUFACTURER,
                model="Doordeck lock",
                name=lock.lock.name,
                serial_number=lock_id,
            ),
            via=self.account_device_key,
        )

    # -- credentials and the signing key ----------------------------------------------------

    @callback
    def _tokens_changed(self, tokens: DoordeckTokens) -> None:
        # The client refreshed its tokens: keep them for the next start (without a reload).
        self._store_credentials()

    @callback
    def _store_credentials(self) -> None:
        self.async_store_entry_data(
            {**self.config_entry.data, CONF_CREDENTIALS: self.client.credentials.to_dict()}
        )

    async def _renew_key_when_due(self) -> None:
        """Register a fresh signing key before the current one has 7 days left."""
        if self.client.awaiting_verification:
            # A renewal waits for its second factor, which only the user can give.
            self._report_second_factor_needed()
            return
        now = dt_util.utcnow()
        if not self.client.key_needs_renewal(now) or (
            self._renewal_not_before is not None and now < self._renewal_not_before
        ):
            return
        self._renewal_not_before = now + RENEWAL_RETRY
        try:
            await self.client.renew_key()
        except DoordeckSecondFactorRequired:
            self._store_credentials()
            self._report_second_factor_needed()
            return
        except DoordeckAuthenticationError:
            raise
        except DoordeckError as err:
            LOGGER.warning(
                "Could not renew the Doordeck signing key of %s (trying again in an hour): %s",
                self.name,
                err,
            )
            return
        self._key_renewed()

    def _report_second_factor_needed(self) -> None:
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=KEY_RENEWAL_ISSUE,
            issue_id=key_renewal_issue_id(self.config_entry.entry_id),
            severity=ir.IssueSeverity.WARNING,
            placeholders={
                "account": self.config_entry.title,
                "expiry": format_expiry(self.client.certificate_expiry),
            },
            data={"entry_id": self.config_entry.entry_id},
        )

    @callback
    def _key_renewed(self) -> None:
        self._store_credentials()
        async_clear_issue(self.hass, key_renewal_issue_id(self.config_entry.entry_id))
        LOGGER.info(
            "Registered a new Doordeck signing key for %s, valid until %s",
            self.name,
            format_expiry(self.client.certificate_expiry),
        )
        if self.data is not None:
            self.async_set_updated_data(
                replace(self.data, key_expiry=self.client.certificate_expiry)
            )

    async def async_start_key_verification(self, method: VerificationMethod | str) -> None:
        """Have Doordeck send a code for the key awaiting its second factor."""
        await self.client.start_verification(method)

    async def async_complete_key_verification(self, code: str) -> None:
        """Prove the code with the new key, which then signs every operation."""
        await self.client.complete_verification(code)
        self._key_renewed()

    # -- lock commands ----------------------------------------------------------------------

    async def async_lock(self, device_key: str) -> None:
        """Lock a lock."""
        await self._move(device_key, locked=True)

    async def async_unlock(self, device_key: str) -> None:
        """Unlock a lock; it locks again by itself after its unlock time."""
        await self._move(device_key, locked=False)

    async def _move(self, device_key: str, *, locked: bool) -> None:
        lock_id = self.lock_id_of(device_key)
        lock = self._lock_data(lock_id).lock
        command = self.client.lock if locked else self.client.unlock
        result = await self._async_command(device_key, lock.name, command(lock_id))
        if result is OperationResult.QUEUED:
            # Doordeck took the command but the lock has not carried it out: the state stays
            # what it was, and the next poll tells (for locks that report a state).
            LOGGER.info(
                "Doordeck queued the %s of %s: it has not moved yet",
                "lock" if locked else "unlock",
                lock.name,
            )
            return
        self._command_finished(device_key)
        self._unknown_until_relock.discard(lock_id)
        if cancel := self._unlock_timers.pop(lock_id, None):
            cancel()
        if not locked:
            self._start_unlock_timer(lock_id, lock.unlock_time)
        self._set_locked(lock_id, locked)

    def _start_unlock_timer(self, lock_id: str, seconds: float) -> None:
        self._unlock_timers[lock_id] = async_call_later(
            self.hass, seconds, partial(self._unlock_time_over, lock_id)
        )

    def _set_state_unknown(self, device_key: str) -> None:
        lock_id = self.lock_id_of(device_key)
        lock = self.data.locks[lock_id]
        if cancel := self._unlock_timers.pop(lock_id, None):
            cancel()
        if not lock.reports_state:
            # Nothing to read: if it unlocked, it has locked itself again after its unlock time.
            self._unknown_until_relock.add(lock_id)
            self._start_unlock_timer(lock_id, lock.lock.unlock_time)
        self._set_locked(lock_id, None)

    async def _async_read_state(self, device_key: str) -> None:
        lock = self.data.locks.get(self.lock_id_of(device_key))
        if lock is not None and lock.reports_state:
            await self.async_request_refresh()

    @callback
    def _unlock_time_over(self, lock_id: str, _now: datetime) -> None:
        """The lock has locked itself again: assume it, or ask Doordeck when it reports."""
        # A lock that left the account has had its timer cancelled (_forget_lock).
        del self._unlock_timers[lock_id]
        self._unknown_until_relock.discard(lock_id)
        if self.data.locks[lock_id].reports_state:
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"doordeck relock {lock_id}"
            )
        else:
            self._set_locked(lock_id, True)

    def _set_locked(self, lock_id: str, locked: bool | None) -> None:
        locks = dict(self.data.locks)
        locks[lock_id] = replace(locks[lock_id], locked=locked)
        # Only this lock's entities change: the account's other locks are not rewritten.
        self.async_set_updated_data(replace(self.data, locks=locks))

    async def async_shutdown(self) -> None:
        """Cancel the pending unlock timers, then stop polling."""
        for cancel in self._unlock_timers.values():
            cancel()
        self._unlock_timers.clear()
        await super().async_shutdown()

    def _lock_data(self, lock_id: str) -> DoordeckLockData:
        lock = self.data.locks.get(lock_id)
        if lock is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="doordeck_lock_gone",
                translation_placeholders={"account": self.name},
            )
        return lock

    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the error to raise for ``err``, and start what fixes it.

        A refused sign-in starts reauthentication; a second factor wanted for the signing
        key raises the repair that asks for it (the error text points there).
        """
        if isinstance(err, DoordeckAuthenticationError):
            self.config_entry.async_start_reauth(self.hass)
        elif isinstance(err, DoordeckSecondFactorRequired):
            self._report_second_factor_needed()
        reason = error_reason(err) if isinstance(err, DoordeckError) else "error"
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"doordeck_{reason}",
            translation_placeholders={"name": name, "error": str(err)},
        )

    # -- sharing (the multilock.share_lock and revoke_lock_access actions) --------------------

    async def async_prepare_share(
        self, device_keys: Sequence[str], request: ShareRequest
    ) -> PendingAction:
        """Check everything (admin role, users, capabilities); return what shares."""
        locks = [self._admin_lock(key) for key in device_keys]
        users = await self._look_up_users(request.users)
        start = None if request.start is None else int(request.start.timestamp())
        end = None if request.end is None else int(request.end.timestamp())
        # One entry per Doordeck user: the same user given by email and by id is shared once.
        share_users = list(
            {
                user.id: ShareUser(user.id, user.public_key, request.role.upper(), start, end)
                for user in users.values()
            }.values()
        )
        # Fresh details: the capabilities decide whether users go 25 to a request.
        details = [await self._run(lock.name, self.client.get_lock(lock.id)) for lock in locks]
        for lock in details:
            self._check_admin(lock)

        async def share() -> dict[str, dict[str, UserOutcome]]:
            results: dict[str, dict[str, UserOutcome]] = {}
            for device_key, lock in zip(device_keys, details, strict=True):
                outcomes = {o.user_id: o for o in await self.client.share(lock, share_users)}
                if any(isinstance(o.error, DoordeckAuthenticationError) for o in outcomes.values()):
                    self.config_entry.async_start_reauth(self.hass)
                results[device_key] = {
                    given: _user_outcome(outcomes[user.id]) for given, user in users.items()
                }
            return results

        return share

    async def async_prepare_revoke(
        self, device_keys: Sequence[str], users: Sequence[str]
    ) -> PendingAction:
        """Check everything (admin role, users); return what revokes."""
        locks = [self._admin_lock(key) for key in device_keys]
        # A Doordeck user id is used as given (the user may have left Doordeck since).
        user_ids = {
            given: (await self._look_up_user(given)).id if "@" in given else given
            for given in users
        }
        if self.client.user_id in user_ids.values():
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="doordeck_revoke_self",
                translation_placeholders={"account": self.name},
            )

        async def revoke() -> dict[str, dict[str, UserOutcome]]:
            results: dict[str, dict[str, UserOutcome]] = {}
            for device_key, lock in zip(device_keys, locks, strict=True):
                try:
                    result = await self.client.revoke(
                        lock.id, list(dict.fromkeys(user_ids.values()))
                    )
                except DoordeckError as err:
                    if isinstance(err, DoordeckAuthenticationError):
                        self.config_entry.async_start_reauth(self.hass)
                    outcome = UserOutcome(status=ShareStatus.FAILED.value, reason=str(err))
                else:
                    outcome = UserOutcome(status=ShareStatus(result.value).value)
                results[device_key] = dict.fromkeys(user_ids, outcome)
            return results

        return revoke

    def _admin_lock(self, device_key: str) -> DoordeckLock:
        lock = self._lock_data(self.lock_id_of(device_key)).lock
        self._check_admin(lock)
        return lock

    def _check_admin(self, lock: DoordeckLock) -> None:
        if lock.role != ADMIN_ROLE:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="doordeck_not_admin",
                translation_placeholders={"lock": lock.name, "role": lock.role},
            )

    async def _look_up_users(self, given: Sequence[str]) -> dict[str, DoordeckUser]:
        return {user: await self._look_up_user(user) for user in dict.fromkeys(given)}

    async def _look_up_user(self, given: str) -> DoordeckUser:
        """Find a user by email (when it has an @) or Doordeck user id."""
        try:
            if "@" in given:
                return await self.client.lookup_user(email=given)
            return await self.client.lookup_user(user_id=given)
        except DoordeckUserNotFoundError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="doordeck_unknown_user",
                translation_placeholders={"user": given},
            ) from err
        except DoordeckError as err:
            raise self._translated(self.name, err) from err


def _user_outcome(outcome: ShareOutcome) -> UserOutcome:
    if outcome.reason is None:
        return UserOutcome(status=outcome.status.value)
    return UserOutcome(status=outcome.status.value, reason=outcome.reason)


def format_expiry(expiry: datetime | None) -> str:
    """Return when a key expires, for people."""
    return "an unknown date" if expiry is None else expiry.strftime("%Y-%m-%d %H:%M UTC")
