"""The coordinator of one 2N device: its door switches and its mobile keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
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
from .client import (
    AuthMethod,
    CameraCaps,
    MobileKey,
    MobileKeyConfig,
    Protocol,
    SwitchAction,
    SwitchCaps,
    SwitchState,
    SystemInfo,
    TwoNAnswerLostError,
    TwoNApiError,
    TwoNAuthenticationError,
    TwoNAuthMethodError,
    TwoNCertificateChangedError,
    TwoNCertificateError,
    TwoNClient,
    TwoNConnectionError,
    TwoNConnectionTypeError,
    TwoNError,
    TwoNHttpError,
    TwoNInvalidLocationError,
    TwoNKeyMaterialMissingError,
    TwoNKeyMismatchError,
    TwoNMalformedReplyError,
    TwoNNothingToCopyError,
    TwoNPrivilegeError,
    TwoNTimeoutError,
    format_fingerprint,
    generate_mobile_key,
    plan_copy,
    plan_rotation,
)
from .const import (
    CERTIFICATE_CHANGED_ISSUE,
    CONF_AUTH,
    CONF_CERTIFICATE_SHA256,
    CONF_KEY_MAX_AGE,
    CONF_KEY_STORE,
    CONF_PROTOCOL,
    DEFAULT_KEY_MAX_AGE,
    DEVICE_KIND,
    KEY_AGE_ISSUE,
    MANUFACTURER,
    MAX_SWITCHES,
    MISSING_PRIVILEGES_ISSUE,
    SLOW_UPDATE_INTERVAL,
    UPDATE_INTERVAL,
    VENDOR,
    issue_id,
    switch_kind,
)
from .descriptions import DESCRIPTIONS
from .events import EventLogStatus, TwoNEventLog, poll_interval, push_devices

# Seconds after a monostable switch's duration before its state is read again.
RELOCK_MARGIN = 0.5
# A 2N serial number (e.g. 54-1046-0745): the default location is the device's own.
SERIAL_NUMBER = re.compile(r"\d{2}-\d{4}-\d{4}")

# What each client error means, in the order to test them (subclasses first): the
# translation key of the error raised to the user is ``two_n_<reason>``.
ERROR_REASONS: tuple[tuple[type[TwoNError], str], ...] = (
    (TwoNCertificateChangedError, "certificate_changed"),
    (TwoNCertificateError, "certificate_untrusted"),
    (TwoNAuthenticationError, "authentication"),
    (TwoNAuthMethodError, "auth_method"),
    (TwoNConnectionTypeError, "connection_type"),
    (TwoNPrivilegeError, "privileges"),
    (TwoNKeyMismatchError, "key_mismatch"),
    (TwoNKeyMaterialMissingError, "key_material_missing"),
    (TwoNInvalidLocationError, "invalid_location"),
    (TwoNTimeoutError, "timeout"),
    (TwoNAnswerLostError, "answer_lost"),
    (TwoNConnectionError, "cannot_connect"),
    (TwoNMalformedReplyError, "malformed_reply"),
    (TwoNHttpError, "refused"),
    (TwoNApiError, "refused"),
)


def error_reason(err: TwoNError) -> str:
    """Return the reason of a client error (``two_n_<reason>`` is its translation key)."""
    return error_name(err, ERROR_REASONS, "error")


def holds_serial_number(location: str) -> bool:
    """Whether a mobile-key location holds a 2N serial number (the default location)."""
    return SERIAL_NUMBER.search(location) is not None


def redact_serial_location(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Diagnostics: the snapshot with its location redacted when it holds a serial number.

    For a diagnostics hook of the contract (redaction there goes by field name only, so until
    then ``location`` is redacted always).
    """
    keys = snapshot.get("mobile_keys")
    if isinstance(keys, dict) and holds_serial_number(str(keys.get("location", ""))):
        return {**snapshot, "mobile_keys": {**keys, "location": REDACTED}}
    return snapshot


@dataclass(frozen=True, slots=True)
class TwoNSwitch:
    """A door switch: its configuration and state (``active`` is the door open; None unknown)."""

    caps: SwitchCaps
    active: bool | None
    blocked: bool  # switched off and locked by the device's "lock" action

    @property
    def number(self) -> int:
        """The switch's number on the device."""
        return self.caps.number


@dataclass(frozen=True, slots=True)
class TwoNData:
    """What is known of the device.

    ``switches``: the enabled switches, None when the account lacks Switches Control;
    ``mobile_keys``: None when it lacks Access Control (``missing_privileges`` names them);
    ``camera``: None without a camera (or the privilege); ``event_log``: its subscription.
    """

    info: SystemInfo
    switches: dict[int, TwoNSwitch] | None
    mobile_keys: MobileKeyConfig | None
    missing_privileges: tuple[str, ...]
    read_at: datetime
    camera: CameraCaps | None = None
    event_log: EventLogStatus = field(default_factory=EventLogStatus)

    @property
    def primary_key_created(self) -> datetime | None:
        """When the primary key (the first present) was made, if the device says."""
        keys = self.mobile_keys
        primary = None if keys is None else keys.primary
        return None if primary is None else primary.created


def client_for(hass: HomeAssistant, data: Mapping[str, Any]) -> TwoNClient:
    """Return a client with the settings an entry stores."""
    pin = data.get(CONF_CERTIFICATE_SHA256)
    return TwoNClient(
        async_get_clientsession(hass),
        data[CONF_HOST],
        protocol=data.get(CONF_PROTOCOL, Protocol.HTTPS),
        auth=data.get(CONF_AUTH, AuthMethod.DIGEST),
        username=data.get(CONF_USERNAME),
        password=data.get(CONF_PASSWORD),
        certificate_sha256=bytes.fromhex(pin) if pin else None,
    )


class TwoNCoordinator(MultilockCoordinator[TwoNData]):
    """Polls one 2N device; switches its doors and writes its mobile keys."""

    descriptions = DESCRIPTIONS
    client_error = TwoNError
    # Errors after which a switch command may or may not have been carried out: no answer in
    # time, a connection closed after the request went out, an answer that cannot be read.
    outcome_unknown_errors = (
        TwoNTimeoutError,
        TwoNAnswerLostError,
        TwoNMalformedReplyError,
        TwoNHttpError,
    )

    def __init__(self, hass: HomeAssistant, entry: MultilockConfigEntry) -> None:
        """Talk to the device with the entry's settings."""
        # Log lines name the device by its serial number, never with credentials.
        super().__init__(
            hass, entry, name=f"2N device {entry.unique_id}", update_interval=UPDATE_INTERVAL
        )
        self.client = client_for(hass, entry.data)
        self.serial = entry.unique_id or entry.entry_id
        self._slow_due: datetime | None = None
        self._relock_timers: dict[int, CALLBACK_TYPE] = {}
        # The device's event log, pushed (events.py); started once the first poll is done.
        self.event_log = TwoNEventLog(self)

    @property
    def device_name(self) -> str:
        """The device's name, as its entry is titled."""
        return self.config_entry.title

    def switch_device_key(self, number: int) -> str:
        """Return the device key of a door switch."""
        return f"{self.serial}-switch-{number}"

    # -- polling --------------------------------------------------------------------------

    async def _async_poll(self) -> TwoNData:
        commands_seen = self._commands_seen()
        now = dt_util.utcnow()
        try:
            if self.data is None or self._slow_due is None or now >= self._slow_due:
                data = await self._read_everything(now)
                self._slow_due = now + SLOW_UPDATE_INTERVAL
            else:
                data = replace(self.data, switches=await self._read_switches(self.data.switches))
        except TwoNAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="two_n_auth_failed",
                translation_placeholders={"name": self.device_name},
            ) from err
        except TwoNAuthMethodError as err:
            # The device's API now wants another method: re-authentication lets the user pick it.
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="two_n_auth_method_changed",
                translation_placeholders={"name": self.device_name, "method": _method(err)},
            ) from err
        except TwoNCertificateChangedError as err:
            self._report_certificate_changed(err)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="two_n_certificate_changed",
                translation_placeholders={"name": self.device_name, "error": str(err)},
            ) from err
        except TwoNError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="two_n_update_failed",
                translation_placeholders={"name": self.device_name, "error": str(err)},
            ) from err
        async_clear_issue(self.hass, issue_id(CERTIFICATE_CHANGED_ISSUE, self.entry_id))
        if data.switches is not None and self.data is not None and self.data.switches:
            # A command that finished while this poll ran is newer than what it read.
            switches = dict(data.switches)
            for number, switch in switches.items():
                old = self.data.switches.get(number)
                if old is not None and self._moved_since(
                    commands_seen, self.switch_device_key(number)
                ):
                    switches[number] = replace(switch, active=old.active)
            data = replace(data, switches=switches)
        return replace(data, event_log=self.event_log.status)

    @property
    def entry_id(self) -> str:
        """The entry's id."""
        return self.config_entry.entry_id

    async def _read_everything(self, now: datetime) -> TwoNData:
        info = await self.client.system_info()
        missing: list[str] = []
        switches: dict[int, TwoNSwitch] | None = None
        mobile_keys: MobileKeyConfig | None = None
        try:
            caps = await self.client.switch_caps()
        except TwoNPrivilegeError as err:
            missing.append(err.group)
        else:
            switches = await self._read_switches(
                {
                    item.number: TwoNSwitch(item, active=False, blocked=False)
                    for item in caps
                    if item.enabled
                }
            )
        try:
            # What is kept in memory (and shown in diagnostics) has no private key.
            mobile_keys = (await self.client.mobile_key_config()).without_material()
        except TwoNPrivilegeError as err:
            missing.append(err.group)
        camera = await self._camera()
        await self.event_log.async_read_caps()
        data = TwoNData(info, switches, mobile_keys, tuple(missing), now, camera)
        self._check_privileges(data)
        self._check_key_age(data)
        return data

    async def _read_switches(
        self, switches: dict[int, TwoNSwitch] | None
    ) -> dict[int, TwoNSwitch] | None:
        if not switches:
            return switches
        states: dict[int, SwitchState] = {
            state.number: state for state in await self.client.switch_status()
        }
        return {
            number: replace(
                switch,
                active=states[number].active if number in states else False,
                blocked=states[number].locked if number in states else False,
            )
            for number, switch in switches.items()
        }

    def _build_devices(self, data: TwoNData) -> list[MultilockDevice[Any]]:
        info = self._device_info(data.info)
        devices: list[MultilockDevice[Any]] = [
            MultilockDevice(
                key=self.serial,
                kind=DEVICE_KIND,
                name=self.device_name,
                info=info,
                data=data,
                problem=(
                    None
                    if data.mobile_keys is not None
                    else "the account lacks the Access Control privilege group (mobile keys)"
                ),
            )
        ]
        for number, switch in sorted((data.switches or {}).items()):
            if number > MAX_SWITCHES:
                continue
            # Each switch's lock belongs to the device itself (the same DeviceInfo).
            devices.append(
                MultilockDevice(
                    key=self.switch_device_key(number),
                    kind=switch_kind(number),
                    name=f"{self.device_name} switch {number}",
                    info=info,
                    data=switch,
                )
            )
        return devices + push_devices(self, info, data)

    def _device_info(self, info: SystemInfo) -> DeviceDescription:
        return DeviceDescription(
            identifiers={(DOMAIN, self.serial)},
            manufacturer=MANUFACTURER,
            model=info.variant or None,
            name=self.device_name,
            serial_number=info.serial_number,
            sw_version=info.sw_version or None,
            hw_version=info.hw_version or None,
        )

    # -- repairs --------------------------------------------------------------------------

    def _report_certificate_changed(self, err: TwoNCertificateChangedError) -> None:
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=CERTIFICATE_CHANGED_ISSUE,
            issue_id=issue_id(CERTIFICATE_CHANGED_ISSUE, self.entry_id),
            placeholders={
                "name": self.device_name,
                "pinned": format_fingerprint(err.pinned),
                "presented": format_fingerprint(err.presented),
            },
            data={"entry_id": self.entry_id, "presented": err.presented.hex()},
        )

    def _check_privileges(self, data: TwoNData) -> None:
        key = issue_id(MISSING_PRIVILEGES_ISSUE, self.entry_id)
        if not data.missing_privileges:
            async_clear_issue(self.hass, key)
            return
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=MISSING_PRIVILEGES_ISSUE,
            issue_id=key,
            fixable=False,
            severity=ir.IssueSeverity.WARNING,
            placeholders={
                "name": self.device_name,
                "username": str(self.config_entry.data.get(CONF_USERNAME) or ""),
                "groups": ", ".join(data.missing_privileges),
            },
            data={"entry_id": self.entry_id},
        )

    @property
    def key_max_age(self) -> timedelta:
        """How old the primary key may get before a repair asks for a rotation."""
        return timedelta(days=self.config_entry.data.get(CONF_KEY_MAX_AGE, DEFAULT_KEY_MAX_AGE))

    def _check_key_age(self, data: TwoNData) -> None:
        key = issue_id(KEY_AGE_ISSUE, self.entry_id)
        created = data.primary_key_created
        if created is None or data.read_at - created <= self.key_max_age:
            async_clear_issue(self.hass, key)
            return
        async_raise_issue(
            self.hass,
            vendor=VENDOR,
            kind=KEY_AGE_ISSUE,
            issue_id=key,
            severity=ir.IssueSeverity.WARNING,
            placeholders={
                "name": self.device_name,
                "created": created.date().isoformat(),
                "days": str(self.key_max_age.days),
            },
            data={"entry_id": self.entry_id},
        )

    # -- door switches --------------------------------------------------------------------

    async def async_open(self, device_key: str) -> None:
        """Open the door: trigger a monostable switch, switch a bistable one on."""
        switch = self._switch(device_key)
        action = SwitchAction.TRIGGER if switch.caps.monostable else SwitchAction.ON
        await self._switch_to(device_key, switch, action, active=True)
        if switch.caps.monostable:
            self._read_after_opening(switch)

    async def async_close(self, device_key: str) -> None:
        """Close the door: switch the switch off."""
        switch = self._switch(device_key)
        await self._switch_to(device_key, switch, SwitchAction.OFF, active=False)

    async def _switch_to(
        self, device_key: str, switch: TwoNSwitch, action: SwitchAction, *, active: bool
    ) -> None:
        name = f"{self.device_name} switch {switch.number}"
        await self._async_command(
            device_key, name, self.client.switch_control(switch.number, action)
        )
        self._command_finished(device_key)
        self._set_switch(switch.number, active)

    def _set_switch(self, number: int, active: bool | None) -> None:
        """Show what a command left (None: unknown); a pending read after an opening ends."""
        if cancel := self._relock_timers.pop(number, None):
            cancel()
        switches = dict(self.data.switches or {})
        switches[number] = replace(switches[number], active=active)
        self.async_set_updated_data(replace(self.data, switches=switches))

    def _set_state_unknown(self, device_key: str) -> None:
        self._set_switch(self._switch(device_key).number, None)

    async def _async_read_state(self, device_key: str) -> None:
        """After a lost answer: read the switches at once; unknown stays unknown on failure."""
        switches = await self._async_refresh_switches()
        switch = (switches or {}).get(self._switch_number(device_key))
        if switch is not None and switch.active and switch.caps.monostable:
            self._read_after_opening(switch)  # it was triggered: it closes by itself

    def _read_after_opening(self, switch: TwoNSwitch) -> None:
        """Read a monostable switch again just after its switch-on duration."""
        if cancel := self._relock_timers.pop(switch.number, None):
            cancel()
        duration = switch.caps.on_duration or 0.0
        self._relock_timers[switch.number] = async_call_later(
            self.hass, duration + RELOCK_MARGIN, partial(self._relock_time, switch.number)
        )

    @callback
    def _relock_time(self, number: int, _now: datetime) -> None:
        """A monostable switch's duration is over: read the switches again."""
        self._relock_timers.pop(number, None)
        self.config_entry.async_create_background_task(
            self.hass, self._async_read_after_opening(number), f"two_n relock {self.serial}"
        )

    async def _async_read_after_opening(self, number: int) -> None:
        """Without this read, "unlocked" is only an assumption: unknown when it fails."""
        if await self._async_refresh_switches() is None:
            switch = (self.data.switches or {}).get(number)
            if switch is not None and switch.active:
                self._set_switch(number, None)

    async def _async_refresh_switches(self) -> dict[int, TwoNSwitch] | None:
        """Read the switches and show them; None (and nothing shown) when the read fails."""
        try:
            switches = await self._read_switches(self.data.switches)
        except TwoNError as err:
            LOGGER.debug("Could not read the switches of %s: %s", self.device_name, err)
            return None
        self.async_set_updated_data(replace(self.data, switches=switches))
        return switches

    @callback
    def async_switch_reported(self, number: int, active: bool) -> None:
        """The device's log says a switch changed: show it at once."""
        switches = dict(self.data.switches or {})
        if number not in switches:
            return
        # A poll under way read the switch before this change.
        self._command_finished(self.switch_device_key(number))
        if switches[number].active != active:
            switches[number] = replace(switches[number], active=active)
            self.async_set_updated_data(replace(self.data, switches=switches))

    # -- event log and camera -------------------------------------------------------------

    @callback
    def async_event_log_changed(self, status: EventLogStatus) -> None:
        """Show the subscription's new state; poll the switches as often as it needs."""
        data: TwoNData | None = self.data
        interval = poll_interval(status, switches_read=data is not None and bool(data.switches))
        faster = self.update_interval is not None and interval < self.update_interval
        self.update_interval = interval
        if data is None:  # the first poll is under way: it takes the status
            return
        self.data = replace(data, event_log=status)
        self.async_update_listeners()
        # The log no longer reports the switches, or it is back while the last poll failed
        # (the device was away): read the device now rather than at the next poll.
        back = status.state == "connected" and not self.last_update_success
        if faster or back:
            self.config_entry.async_create_task(self.hass, self.async_refresh())

    async def _camera(self) -> CameraCaps | None:
        try:
            return await self.client.camera_caps()
        except TwoNApiError as err:  # no camera, or no Camera Monitoring privilege
            LOGGER.debug("%s has no camera to show: %s", self.device_name, err)
            return None

    async def async_camera_image(self, width: int | None, height: int | None) -> bytes:
        """A JPEG snapshot at the camera's resolution nearest above the size asked for."""
        camera = self.data.camera
        size = None if camera is None else camera.resolution_for(width, height)
        if size is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="two_n_no_camera",
                translation_placeholders={"name": self.device_name},
            )
        return await self._run(self.device_name, self.client.camera_snapshot(*size))

    def _switch(self, device_key: str) -> TwoNSwitch:
        return (self.data.switches or {})[self._switch_number(device_key)]

    @staticmethod
    def _switch_number(device_key: str) -> int:
        return int(device_key.rsplit("-", 1)[1])

    async def async_shutdown(self) -> None:
        """Cancel the pending relock reads, then stop polling."""
        for cancel in self._relock_timers.values():
            cancel()
        self._relock_timers.clear()
        await super().async_shutdown()

    # -- mobile keys ----------------------------------------------------------------------

    @property
    def key_store(self) -> dict[str, str]:
        """The private keys Home Assistant wrote to this device, by fingerprint."""
        return dict(self.config_entry.data.get(CONF_KEY_STORE) or {})

    async def async_rotate_mobile_key(self) -> tuple[MobileKeyConfig, MobileKeyConfig]:
        """Write a new primary key, keeping the others; return (before, after)."""
        new_key = await self.hass.async_add_executor_job(generate_mobile_key, dt_util.utcnow())
        before, after = await self._async_write_keys(
            lambda current: plan_rotation(current, new_key, self.key_store), new_keys=[new_key]
        )
        LOGGER.info(
            "Wrote a new primary mobile key to %s (SHA-256 %s…)",
            self.device_name,
            new_key.fingerprint[:16],
        )
        return before, after

    async def async_set_location(self, location: str) -> tuple[MobileKeyConfig, MobileKeyConfig]:
        """Write a new location, keeping the keys; return (before, after)."""
        return await self._async_write_keys(
            lambda current: MobileKeyConfig(location, list(current.slots))
        )

    async def async_read_for_copy(self) -> MobileKeyConfig:
        """Read the location and keys to copy, each with its private half.

        A device without keys (new or reset) is refused: copying it would empty the others.
        """
        config = await self._run(self.device_name, self.client.mobile_key_config())
        try:
            return plan_copy(config, self.key_store)
        except TwoNNothingToCopyError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="two_n_copy_source_empty",
                translation_placeholders={"name": self.device_name},
            ) from err
        except TwoNError as err:
            raise self._translated(self.device_name, err) from err

    async def async_copy_from(
        self, source: MobileKeyConfig
    ) -> tuple[MobileKeyConfig, MobileKeyConfig]:
        """Write another device's location and keys here (``async_read_for_copy``'s).

        Return (before, after): what this device held, and holds now.
        """
        return await self._async_write_keys(lambda _current: source, new_keys=source.keys)

    async def _async_write_keys(
        self,
        plan: Callable[[MobileKeyConfig], MobileKeyConfig],
        *,
        new_keys: list[MobileKey] | None = None,
    ) -> tuple[MobileKeyConfig, MobileKeyConfig]:
        """Every mobile-key write: read, plan from it, write, read back, repair; (before, after).

        ``new_keys`` (with their private halves) are kept in the entry before anything is sent:
        whatever happens to the write, they are not lost. When the device does not keep the
        write, the client writes back what it held before; the error says what it holds.
        """
        name = self.device_name
        before = await self._run(name, self.client.mobile_key_config())
        try:
            planned = plan(before)
        except TwoNError as err:
            raise self._translated(name, err) from err
        if new_keys:
            self._store_keys({key.fingerprint: key.private_key or "" for key in new_keys})
        try:
            after = await self.client.write_mobile_keys(
                planned, before=before, known=self.key_store
            )
        except TwoNKeyMismatchError as err:
            # Shown as last read; every private half stays kept until a write is verified.
            self._show_keys(err.actual)
            raise self._translated(name, err) from err
        except TwoNError as err:
            raise self._translated(name, err) from err
        self._keys_written(after)
        return before, after

    def _store_keys(self, keys: Mapping[str, str]) -> None:
        self.async_store_entry_data(
            {**self.config_entry.data, CONF_KEY_STORE: {**self.key_store, **keys}}
        )

    def _keys_written(self, config: MobileKeyConfig) -> None:
        """The device holds ``config`` (verified): keep only its keys' private halves."""
        held = {key.fingerprint for key in config.keys}
        self.async_store_entry_data(
            {
                **self.config_entry.data,
                CONF_KEY_STORE: {
                    fingerprint: private
                    for fingerprint, private in self.key_store.items()
                    if fingerprint in held
                },
            }
        )
        self._show_keys(config)

    def _show_keys(self, config: MobileKeyConfig) -> None:
        """Show what the device holds, as just read from it."""
        data = replace(self.data, mobile_keys=config.without_material(), read_at=dt_util.utcnow())
        self._check_key_age(data)
        self.async_set_updated_data(data)

    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the error to raise for ``err``; a refused account also starts reauth."""
        if isinstance(err, TwoNAuthenticationError | TwoNAuthMethodError):
            self.config_entry.async_start_reauth(self.hass)
        if isinstance(err, TwoNCertificateChangedError):
            self._report_certificate_changed(err)
        placeholders = {"name": name, "error": str(err)}
        reason = error_reason(err) if isinstance(err, TwoNError) else "error"
        if isinstance(err, TwoNKeyMismatchError):
            placeholders = {"name": name, "problem": err.problem, "holds": err.holds}
            if err.restored:
                reason = "keys_restored"
            else:
                placeholders["restore"] = err.restore_problem
        elif isinstance(err, TwoNAuthMethodError) and err.wanted is not None:
            reason = "wants_method"
            placeholders["method"] = _method(err)
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"two_n_{reason}",
            translation_placeholders=placeholders,
        )


def _method(err: TwoNAuthMethodError) -> str:
    """The authentication method the device wants, as the form names it."""
    return "another" if err.wanted is None else err.wanted.value.capitalize()
