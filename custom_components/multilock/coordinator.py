"""The coordinator base every vendor's coordinator builds on."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import LOGGER

if TYPE_CHECKING:
    type MultilockConfigEntry = ConfigEntry[MultilockCoordinator[Any]]
else:
    type MultilockConfigEntry = ConfigEntry


@dataclass(frozen=True, slots=True)
class MultilockDevice:
    """One device a coordinator knows, as the entities see it.

    ``data`` is the vendor's own snapshot of the device; the entity descriptions of that
    vendor read it. ``problem`` names why the device is unavailable (None: available).
    ``via`` is the key of the device (a gateway, an account) this one is reached through.
    """

    key: str
    kind: str
    name: str
    info: DeviceInfo
    data: Any
    subentry_id: str | None = None
    problem: str | None = None
    via: str | None = None


type Descriptions = Mapping[Platform, Mapping[str, tuple[EntityDescription, ...]]]


class MultilockCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """Owns one vendor client: the only place that does I/O for its config entry.

    Subclasses fetch a typed snapshot and say which devices it holds; this base keeps
    the device map and logs each device's availability once each way (the gateway or
    account itself is logged once each way by DataUpdateCoordinator).
    """

    config_entry: MultilockConfigEntry
    # Entity descriptions offered per platform and per device kind: the vendor's data.
    descriptions: ClassVar[Descriptions]
    # The base class of the vendor client's errors.
    client_error: ClassVar[type[Exception]]

    def __init__(
        self, hass: HomeAssistant, entry: MultilockConfigEntry, *, update_interval: timedelta
    ) -> None:
        """Set up polling for ``entry``."""
        super().__init__(
            hass, LOGGER, config_entry=entry, name=entry.title, update_interval=update_interval
        )
        self._devices: dict[str, MultilockDevice] = {}
        self._devices_of: object = None
        self._unavailable: set[str] = set()
        # Commands finished per device key, so that a poll never replaces a command's
        # result with a reading taken before the command.
        self._commands_done: Counter[str] = Counter()
        # The entry data as set up or as stored by this coordinator: any other change to
        # it (a reauth, a reconfigure) reloads the entry.
        self.entry_data_written: dict[str, Any] = dict(entry.data)

    @classmethod
    def platforms(cls) -> list[Platform]:
        """Return the platforms this vendor has entities on."""
        return list(cls.descriptions)

    @property
    def devices(self) -> Mapping[str, MultilockDevice]:
        """Return the devices of the current snapshot, by key."""
        if self._devices_of is not self.data:
            self._devices = {device.key: device for device in self._build_devices(self.data)}
            self._devices_of = self.data
        return self._devices

    @callback
    def async_register_hubs(self) -> None:
        """Register the devices others are linked through (a gateway, an account) first.

        Platforms add devices in no fixed order; the others link to these by their id.
        """
        registry = dr.async_get(self.hass)
        for device in self.devices.values():
            if device.via is None:
                registry.async_get_or_create(
                    config_entry_id=self.config_entry.entry_id,
                    config_subentry_id=device.subentry_id,
                    **device.info,
                )

    @callback
    def async_store_entry_data(self, data: Mapping[str, Any]) -> None:
        """Keep ``data`` in the entry without reloading it (state the runtime owns)."""
        self.entry_data_written = dict(data)
        self.hass.config_entries.async_update_entry(self.config_entry, data=data)

    @abstractmethod
    def _build_devices(self, data: DataT) -> list[MultilockDevice]:
        """Return the devices ``data`` describes."""

    def _build_device(self, data: DataT, device_key: str) -> MultilockDevice:
        """Return one device of ``data``; a vendor builds it alone (this builds them all)."""
        return next(device for device in self._build_devices(data) if device.key == device_key)

    @abstractmethod
    def _translated(self, name: str, err: Exception) -> HomeAssistantError:
        """Return the translated error telling the user what ``err`` means for ``name``."""

    async def _run[T](self, name: str, call: Awaitable[T]) -> T:
        """Await a vendor call, turning the vendor's error into a translated one."""
        try:
            return await call
        except self.client_error as err:
            raise self._translated(name, err) from err

    def _command_finished(self, device_key: str) -> None:
        self._commands_done[device_key] += 1

    def _commands_seen(self) -> Counter[str]:
        """Return the commands finished so far; a poll takes this before it reads."""
        return self._commands_done.copy()

    def _moved_since(self, seen: Counter[str], device_key: str) -> bool:
        """Return whether a command on the device finished after ``seen`` was taken."""
        return self._commands_done[device_key] != seen[device_key]

    @callback
    def async_set_device_data(self, data: DataT, device_key: str) -> None:
        """Store ``data``, new for one device only (a command's result), and show it.

        Only that device's entities are updated (``async_set_updated_data`` would write
        every entity of the gateway or account), right after the current callback: the
        entity that sent the command shows its result first. The next poll keeps its time.
        While the last poll failed, every entity is updated as by ``async_set_updated_data``.
        """
        if not self.last_update_success:
            self.async_set_updated_data(data)
            return
        # Rebuild that device and the hubs (their data is the whole snapshot), not every
        # device of the gateway or account.
        devices = dict(self.devices)
        hubs = [key for key, device in devices.items() if device.via is None]
        for key in (device_key, *hubs):
            devices[key] = self._build_device(data, key)
        self.data = data
        self._devices, self._devices_of = devices, data
        self._log_device_availability([devices[device_key]])
        callbacks = [
            update_callback
            for update_callback, context in self._listeners.values()
            if context == device_key
        ]
        self.hass.loop.call_soon(_run_all, callbacks)

    @callback
    def async_update_listeners(self) -> None:
        """Log device availability changes, then let the entities update."""
        if self.last_update_success and self.data is not None:
            self._log_device_availability()
        super().async_update_listeners()

    def _log_device_availability(self, devices: Iterable[MultilockDevice] | None = None) -> None:
        for device in self.devices.values() if devices is None else devices:
            if device.problem is not None and device.key not in self._unavailable:
                self._unavailable.add(device.key)
                LOGGER.warning("%s is unavailable: %s", device.name, device.problem)
            elif device.problem is None and device.key in self._unavailable:
                self._unavailable.discard(device.key)
                LOGGER.info("%s is available again", device.name)


def _run_all(callbacks: list[CALLBACK_TYPE]) -> None:
    for update_callback in callbacks:
        update_callback()
