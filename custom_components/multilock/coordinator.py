"""The coordinator base every vendor's runtime builds on."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    type MultilockConfigEntry = ConfigEntry[MultilockCoordinator[Any]]
else:
    type MultilockConfigEntry = ConfigEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceDescription:
    """What the device registry shows of a device, as its vendor describes it.

    The coordinator registers each device with the registry's keyword arguments (the same
    in every release, whereas ``DeviceInfo`` was a TypedDict and is a dataclass since
    2026.11); entities then link to it by its identifiers.
    """

    identifiers: set[tuple[str, str]]
    name: str
    manufacturer: str | None = None
    model: str | None = None
    model_id: str | None = None
    serial_number: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    configuration_url: str | None = None
    entry_type: DeviceEntryType | None = None

    def register(
        self,
        registry: dr.DeviceRegistry,
        *,
        config_entry_id: str,
        config_subentry_id: str | None,
        via_device_id: str | None,
    ) -> dr.DeviceEntry:
        """Create or update the device in the registry, reached through ``via_device_id``."""
        return registry.async_get_or_create(
            config_entry_id=config_entry_id,
            config_subentry_id=config_subentry_id,
            identifiers=set(self.identifiers),
            name=self.name,
            manufacturer=self.manufacturer,
            model=self.model,
            model_id=self.model_id,
            serial_number=self.serial_number,
            sw_version=self.sw_version,
            hw_version=self.hw_version,
            configuration_url=self.configuration_url,
            entry_type=self.entry_type,
            via_device_id=via_device_id,
        )


@dataclass(frozen=True, slots=True)
class MultilockDevice[DataT]:
    """One device a coordinator knows, as the entities see it.

    ``data`` is the vendor's own snapshot of the device, which that vendor's entity
    descriptions read; ``kind`` picks those descriptions. ``problem`` names why the device
    is unavailable (None: available). ``via`` is the key of the device (a gateway, an
    account) this one is reached through; None for those devices themselves.
    """

    key: str
    kind: str
    name: str
    info: DeviceDescription
    data: DataT
    subentry_id: str | None = None
    problem: str | None = None
    via: str | None = None


# Failed polls in a row that keep the last snapshot before the devices become unavailable.
FAILED_POLLS_TOLERATED = 1

# Entity descriptions offered per platform and per device kind.
type Descriptions = Mapping[Platform, Mapping[str, tuple[EntityDescription, ...]]]


class MultilockCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """The runtime data of one entry: owns the vendor client, the only place that does I/O.

    Subclasses fetch a typed snapshot (polling, or not when ``update_interval`` is None) and
    say which devices it holds; this base keeps the device map and logs each device's
    availability once each way (the gateway or account itself is logged once each way by
    DataUpdateCoordinator).
    """

    config_entry: MultilockConfigEntry
    descriptions: ClassVar[Descriptions]
    # The base class of the vendor client's errors.
    client_error: ClassVar[type[Exception]]
    # The vendor client's errors after which a command's outcome is unknown: the answer was
    # lost or came too late (the device may have carried the command out), or proves nothing.
    outcome_unknown_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MultilockConfigEntry,
        *,
        name: str,
        update_interval: timedelta | None,
    ) -> None:
        """Set up the coordinator of ``entry``; ``name`` appears in log lines."""
        super().__init__(
            hass, LOGGER, config_entry=entry, name=name, update_interval=update_interval
        )
        self._devices: dict[str, MultilockDevice[Any]] = {}
        self._devices_of: object = None
        self._unavailable: set[str] = set()
        # Commands finished per device key, so that a poll never replaces a command's
        # result with a reading taken before the command.
        self._commands_done: Counter[str] = Counter()
        # The entry data as set up or as stored by this coordinator: any other change to
        # it (a reauth, a reconfigure) reloads the entry.
        self.entry_data_written: dict[str, Any] = dict(entry.data)
        self._failed_polls = 0

    async def async_start(self) -> Self:
        """Fetch the first snapshot (ConfigEntryNotReady when that fails), register the hubs."""
        await self.async_config_entry_first_refresh()
        self.async_register_hubs()
        return self

    @classmethod
    def platforms(cls) -> list[Platform]:
        """Return the platforms this vendor has entities on."""
        return list(cls.descriptions)

    @property
    def devices(self) -> Mapping[str, MultilockDevice[Any]]:
        """Return the devices of the current snapshot, by key.

        A device the new snapshot describes as before keeps its object: its entities then see
        at once that nothing they show changed (a command moves one lock of many). Snapshots
        are never changed in place: a change is a new snapshot.
        """
        if self._devices_of is not self.data:
            previous = self._devices
            self._devices = {
                device.key: kept if (kept := previous.get(device.key)) == device else device
                for device in self._build_devices(self.data)
            }
            self._devices_of = self.data
        return self._devices

    def _built_from(self, key: str, data: object) -> MultilockDevice[Any] | None:
        """Return the current device of ``key`` if it was built from this very ``data``.

        For a device built from its data and constants alone, this is the device the data
        would build again: ``_build_devices`` returns it as it is.
        """
        device = self._devices.get(key)
        return device if device is not None and device.data is data else None

    @callback
    def async_register_hubs(self) -> None:
        """Register the devices others are reached through (a gateway, an account) first.

        Platforms add devices in no fixed order; the others link to these by their id.
        """
        for device in self.devices.values():
            if device.via is None:
                self.async_register_device(device)

    @callback
    def async_register_device(self, device: MultilockDevice[Any]) -> dr.DeviceEntry:
        """Create or update ``device`` in the device registry, linked to its hub."""
        return device.info.register(
            dr.async_get(self.hass),
            config_entry_id=self.config_entry.entry_id,
            config_subentry_id=device.subentry_id,
            via_device_id=None if device.via is None else self.hub_device_id(device.via),
        )

    def hub_device_id(self, device_key: str) -> str:
        """Return the device registry id of a device registered by ``async_register_hubs``."""
        return dr.async_get_device_id_by_identifier(
            self.hass, (DOMAIN, device_key), config_entry_id=self.config_entry.entry_id
        )

    @callback
    def async_store_entry_data(self, data: Mapping[str, Any]) -> None:
        """Keep ``data`` in the entry without reloading it (state the runtime owns)."""
        self.entry_data_written = dict(data)
        self.hass.config_entries.async_update_entry(self.config_entry, data=data)

    async def _async_update_data(self) -> DataT:
        """Poll; one failed poll keeps the last snapshot, the next failure in a row does not.

        One busy answer, one server error or one timeout says nothing about the devices:
        they stay as last reported (and commands to them are still sent). Only a failure
        that persists makes them unavailable.
        """
        try:
            data = await self._async_poll()
        except UpdateFailed as err:
            self._failed_polls += 1
            if self.data is not None and self._failed_polls <= FAILED_POLLS_TOLERATED:
                LOGGER.debug("%s: keeping the last reading after a failed poll: %s", self.name, err)
                return self.data
            raise
        self._failed_polls = 0
        return data

    @abstractmethod
    async def _async_poll(self) -> DataT:
        """Return a new snapshot; raise UpdateFailed (or ConfigEntryAuthFailed) when none."""

    @abstractmethod
    def _build_devices(self, data: DataT) -> list[MultilockDevice[Any]]:
        """Return the devices ``data`` describes."""

    @abstractmethod
    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the translated error telling the user what ``err`` means for ``name``."""

    async def _run[T](self, name: str, call: Awaitable[T]) -> T:
        """Await a vendor call, turning the vendor's error into a translated one."""
        try:
            return await call
        except self.client_error as err:
            raise self._translated(name, err) from err

    async def _async_command[T](self, device_key: str, name: str, command: Awaitable[T]) -> T:
        """Send a command that moves a device (``name`` in errors); one path for every vendor.

        When its answer was lost, came too late or proves nothing (``outcome_unknown_errors``),
        the device may or may not have carried it out: its state becomes unknown, it is read
        again at once (a task the entry owns), and the error says it may have moved. Any other
        vendor error is translated and leaves the state as it was. The caller records the state
        a command that succeeded leaves (and calls ``_command_finished``).
        """
        try:
            return await command
        except self.outcome_unknown_errors as err:
            # Counted as finished: a poll that read before it must not overwrite the unknown.
            self._command_finished(device_key)
            self._set_state_unknown(device_key)
            self.config_entry.async_create_background_task(
                self.hass, self._async_read_state(device_key), f"{self.name}: read {device_key}"
            )
            raise self._outcome_unknown(name, err) from err
        except self.client_error as err:
            raise self._translated(name, err) from err

    def _set_state_unknown(self, device_key: str) -> None:
        """Show the device's state as unknown (vendors whose devices take commands override)."""
        raise NotImplementedError

    async def _async_read_state(self, device_key: str) -> None:
        """Read the device's state again after a command's outcome became unknown."""
        await self.async_request_refresh()

    def _outcome_unknown(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the error telling the user that ``name`` may have moved."""
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="command_outcome_unknown",
            translation_placeholders={"name": name, "error": str(err)},
        )

    def _command_finished(self, device_key: str) -> None:
        self._commands_done[device_key] += 1

    def _commands_seen(self) -> Counter[str]:
        """Return the commands finished so far; a poll takes this before it reads."""
        return self._commands_done.copy()

    def _moved_since(self, seen: Counter[str], device_key: str) -> bool:
        """Return whether a command on the device finished after ``seen`` was taken."""
        return self._commands_done[device_key] != seen[device_key]

    @callback
    def async_update_listeners(self) -> None:
        """Log device availability changes, then let the entities update."""
        if self.last_update_success and self.data is not None:
            self._log_device_availability()
        super().async_update_listeners()

    def _log_device_availability(self) -> None:
        for device in self.devices.values():
            if device.problem is not None and device.key not in self._unavailable:
                self._unavailable.add(device.key)
                LOGGER.warning("%s is unavailable: %s", device.name, device.problem)
            elif device.problem is None and device.key in self._unavailable:
                self._unavailable.discard(device.key)
                LOGGER.info("%s is available again", device.name)
