"""The coordinator of one The Keys gateway and the locks shared with it."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed

from ...const import DOMAIN, LOGGER
from ...coordinator import (
    FAILED_POLLS_TOLERATED,
    DeviceDescription,
    MultilockConfigEntry,
    MultilockCoordinator,
    MultilockDevice,
)
from ...issues import async_clear_issue, async_raise_issue
from .client import (
    GatewayStatus,
    InvalidHmacError,
    Locker,
    LockNotSharedError,
    LockState,
    Priority,
    TheKeysBusyError,
    TheKeysConnectionError,
    TheKeysError,
    TheKeysGateway,
    TheKeysTimeoutError,
    TheKeysUnconfirmedError,
    TimestampConflictError,
)
from .const import (
    CONF_IDENTIFIER,
    CONF_SHARE_CODE,
    GATEWAY_KIND,
    LOCK_KIND,
    MANUFACTURER,
    SHARE_CODE_ISSUE,
    SUBENTRY_LOCK,
    VENDOR,
)
from .descriptions import DESCRIPTIONS

# Each locker_status costs one signed request, and the gateway takes one per second.
UPDATE_INTERVAL = timedelta(seconds=60)


def share_code_issue_id(identifier: int) -> str:
    """Return the repair issue id asking for a new share code of a lock."""
    return f"thekeys_share_code_{identifier}"


@dataclass(frozen=True, slots=True)
class TheKeysLock:
    """What the gateway last reported about one lock."""

    identifier: int
    name: str
    subentry_id: str
    locker: Locker | None = None
    state: LockState | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class TheKeysData:
    """One poll of the gateway."""

    status: GatewayStatus | None
    locks: dict[int, TheKeysLock]


class TheKeysCoordinator(MultilockCoordinator[TheKeysData]):
    """Polls ``lockers``, ``status`` and each lock's ``locker_status`` once per cycle."""

    descriptions = DESCRIPTIONS
    client_error = TheKeysError
    # A lost answer, or one that proves nothing: the lock may or may not have moved.
    outcome_unknown_errors = (TheKeysTimeoutError, TheKeysUnconfirmedError)

    def __init__(
        self, hass: HomeAssistant, entry: MultilockConfigEntry, gateway: TheKeysGateway
    ) -> None:
        """Poll ``gateway`` (the client shared by every entry reaching it)."""
        super().__init__(hass, entry, name=entry.title, update_interval=UPDATE_INTERVAL)
        self.gateway = gateway
        self.lock_subentries: dict[int, ConfigSubentry] = {
            int(subentry.data[CONF_IDENTIFIER]): subentry
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_LOCK
        }
        self.gateway_device_key = f"thekeys-gateway-{entry.entry_id}"
        self._lockers: dict[int, Locker] | None = None
        self._status: GatewayStatus | None = None
        self._failed_reads: Counter[int] = Counter()
        # Commands to one lock go out in the order they were given (asyncio.Lock is FIFO);
        # one still waiting when a newer one is given is not sent (see _move).
        self._command_order: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._commands_given: Counter[int] = Counter()

    async def _async_poll(self) -> TheKeysData:
        try:
            lockers = await self._read_lockers()
            status = await self._read_status()
        except TheKeysError as err:
            raise self._update_failed(err) from err
        commands_seen = self._commands_seen()
        locks: dict[int, TheKeysLock] = {}
        for identifier, subentry in self.lock_subentries.items():
            locks[identifier] = await self._poll_lock(identifier, subentry, lockers)
        for identifier, lock in locks.items():
            # A command that finished while this poll ran is newer than what it read.
            if self._moved_since(commands_seen, lock_device_key(identifier)):
                locks[identifier] = replace(lock, state=self._known_state(identifier))
        return TheKeysData(status=status, locks=locks)

    async def _read_lockers(self) -> dict[int, Locker]:
        """The locks the gateway sees; a busy gateway says nothing new: the last list."""
        try:
            self._lockers = {locker.identifier: locker for locker in await self.gateway.lockers()}
        except TheKeysBusyError:
            if self._lockers is None:
                raise
        return self._lockers

    async def _read_status(self) -> GatewayStatus | None:
        """Firmware and activity: a maintenance endpoint, never a reason to be unavailable."""
        try:
            self._status = await self.gateway.status()
        except TheKeysConnectionError:
            raise
        except TheKeysError as err:
            LOGGER.debug("%s: no gateway status this time: %s", self.name, err)
        return self._status

    async def _poll_lock(
        self, identifier: int, subentry: ConfigSubentry, lockers: dict[int, Locker]
    ) -> TheKeysLock:
        lock = TheKeysLock(identifier, subentry.title, subentry.subentry_id)
        locker = lockers.get(identifier)
        if locker is None:
            return replace(lock, problem="not seen by the gateway")
        lock = replace(lock, locker=locker)
        try:
            state = await self.gateway.lock_status(identifier, subentry.data[CONF_SHARE_CODE])
        except (InvalidHmacError, LockNotSharedError) as err:
            # The client already signed ahead of any timestamp the gateway can have seen
            # lately: the code itself is refused.
            self._report_share_code_rejected(identifier, subentry)
            return replace(lock, problem=str(err))
        except (TheKeysBusyError, TimestampConflictError) as err:
            # Another client is using the gateway: nothing about the lock. Keep what it last
            # reported.
            LOGGER.debug("%s: %s not read this time: %s", self.name, subentry.title, err)
            return replace(lock, state=self._known_state(identifier))
        except TheKeysConnectionError as err:
            raise self._update_failed(err) from err
        except TheKeysError as err:  # about this lock only: the gateway answered
            self._failed_reads[identifier] += 1
            if self._failed_reads[identifier] <= FAILED_POLLS_TOLERATED:
                return replace(lock, state=self._known_state(identifier))
            return replace(lock, problem=str(err))
        self._failed_reads.pop(identifier, None)
        async_clear_issue(self.hass, share_code_issue_id(identifier))
        return replace(lock, state=state)

    def _update_failed(self, err: TheKeysError) -> UpdateFailed:
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="thekeys_update_failed",
            translation_placeholders={"host": self.gateway.host, "error": str(err)},
        )

    def _known_state(self, identifier: int) -> LockState | None:
        if self.data is None or identifier not in self.data.locks:
            return None
        return self.data.locks[identifier].state

    def _report_share_code_rejected(self, identifier: int, subentry: ConfigSubentry) -> None:
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=SHARE_CODE_ISSUE,
            issue_id=share_code_issue_id(identifier),
            placeholders={"lock": subentry.title},
            data={"entry_id": self.config_entry.entry_id, "subentry_id": subentry.subentry_id},
        )

    def _build_devices(self, data: TheKeysData) -> list[MultilockDevice[Any]]:
        return [self._gateway_device(data)] + [
            self._lock_device(lock) for lock in data.locks.values()
        ]

    def _gateway_device(self, data: TheKeysData) -> MultilockDevice[Any]:
        gateway_name = self.config_entry.title
        return MultilockDevice(
            key=self.gateway_device_key,
            kind=GATEWAY_KIND,
            name=gateway_name,
            # What the gateway's own entities read: a command on a lock leaves them as they are.
            data=data.status,
            info=DeviceDescription(
                identifiers={(DOMAIN, self.gateway_device_key)},
                manufacturer=MANUFACTURER,
                model="Wi-Fi gateway",
                name=gateway_name,
                sw_version=data.status.version if data.status else None,
                configuration_url=f"http://{self.gateway.host}/status",
            ),
        )

    def _lock_device(self, lock: TheKeysLock) -> MultilockDevice[Any]:
        key = lock_device_key(lock.identifier)
        if (built := self._built_from(key, lock)) is not None:
            return built  # a command on another lock left this one as it was
        return MultilockDevice(
            key=key,
            kind=LOCK_KIND,
            name=lock.name,
            data=lock,
            subentry_id=lock.subentry_id,
            problem=lock.problem,
            info=DeviceDescription(
                identifiers={(DOMAIN, key)},
                manufacturer=MANUFACTURER,
                model="Smart lock",
                name=lock.name,
                serial_number=str(lock.identifier),
            ),
            via=self.gateway_device_key,
        )

    # Commands: one signed request each, ahead of queued polls; the gateway's answer
    # sets the state (of that lock's entities alone) and the next poll confirms it.

    async def async_open(self, device_key: str) -> None:
        """Open (unlock) a lock."""
        await self._move(device_key, self.gateway.open, LockState.OPEN)

    async def async_close(self, device_key: str) -> None:
        """Close (lock) a lock."""
        await self._move(device_key, self.gateway.close, LockState.CLOSED)

    async def _move(
        self,
        device_key: str,
        command: Callable[[int, str, Priority], Awaitable[None]],
        new_state: LockState,
    ) -> None:
        identifier = identifier_of(device_key)
        subentry = self.lock_subentries[identifier]
        self._commands_given[identifier] += 1
        given = self._commands_given[identifier]
        async with self._command_order[identifier]:
            if self._commands_given[identifier] != given:
                # A newer command for this lock came while this one waited its turn: only the
                # newest is sent (the lock ends as the last command asks, without a second per
                # superseded command); this caller is told, not falsely told it moved.
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="thekeys_superseded",
                    translation_placeholders={"device": subentry.title},
                )
            await self._async_command(
                device_key,
                subentry.title,
                command(identifier, subentry.data[CONF_SHARE_CODE], Priority.COMMAND),
            )
            self._command_finished(device_key)
            self._set_lock_state(identifier, new_state)

    def _set_state_unknown(self, device_key: str) -> None:
        self._set_lock_state(identifier_of(device_key), None)

    def _outcome_unknown(self, name: str, err: Exception) -> HomeAssistantError:
        # The gateway's own texts: a late answer (may have moved), an unconfirmed one.
        return self._translated(name, err)

    def _set_lock_state(self, identifier: int, state: LockState | None) -> None:
        locks = dict(self.data.locks)
        locks[identifier] = replace(locks[identifier], state=state, problem=None)
        self.async_set_updated_data(replace(self.data, locks=locks))

    async def async_synchronize_lock(self, device_key: str) -> None:
        """Synchronise a lock with The Keys' server."""
        identifier = identifier_of(device_key)
        await self._run(
            self.lock_subentries[identifier].title, self.gateway.synchronize_lock(identifier)
        )
        await self.async_request_refresh()

    async def async_update_lock(self, device_key: str) -> None:
        """Update a lock's firmware."""
        identifier = identifier_of(device_key)
        await self._run(
            self.lock_subentries[identifier].title, self.gateway.update_lock(identifier)
        )
        await self.async_request_refresh()

    async def async_synchronize_gateway(self) -> None:
        """Synchronise the gateway with The Keys' server."""
        await self._run(self.config_entry.title, self.gateway.synchronize())
        await self.async_request_refresh()

    async def async_update_gateway(self) -> None:
        """Update the gateway's firmware."""
        await self._run(self.config_entry.title, self.gateway.update())
        await self.async_request_refresh()

    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        reason = err.reason if isinstance(err, TheKeysError) else TheKeysError.reason
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"thekeys_{reason}",
            translation_placeholders={"device": name, "error": str(err)},
        )


def lock_device_key(identifier: int) -> str:
    """Return the device key of a lock."""
    return f"thekeys-lock-{identifier}"


def identifier_of(device_key: str) -> int:
    """Return the lock identifier in a device key."""
    return int(device_key.rsplit("-", 1)[1])
