"""2N's actions: rotate the mobile key, set the location, copy both to other devices.

Targets are 2N devices (or any of their entities). Each action returns what the devices
hold once written and read back, and what they held before (``before``): the location and, per
key, its slot, creation time and fingerprint — never key material. A device that fails does not
stop the others; the action then fails naming it, and what was done elsewhere. Copying from a
device that holds no key is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

from ...compat import vol
from ...const import CONF_VENDOR, DOMAIN
from .client import MAX_LOCATION, MobileKeyConfig
from .const import VENDOR
from .coordinator import TwoNCoordinator

SERVICE_ROTATE_MOBILE_KEY = "rotate_mobile_key"
SERVICE_SET_MOBILE_KEY_LOCATION = "set_mobile_key_location"
SERVICE_COPY_MOBILE_KEYS = "copy_mobile_keys"
ATTR_LOCATION = "location"
ATTR_SOURCE = "source"

ROTATE_SCHEMA = cv.make_entity_service_schema({})
LOCATION_SCHEMA = cv.make_entity_service_schema(
    {vol.Required(ATTR_LOCATION): vol.All(cv.string, vol.Length(min=1, max=MAX_LOCATION))}
)
COPY_SCHEMA = cv.make_entity_service_schema({vol.Required(ATTR_SOURCE): cv.string})

type Target = tuple[str, TwoNCoordinator]  # device id, its coordinator


def register_actions(hass: HomeAssistant) -> None:
    """Register the mobile-key actions (once, when multilock is set up)."""

    async def rotate_mobile_key(call: ServiceCall) -> ServiceResponse:
        async def rotate(coordinator: TwoNCoordinator) -> dict[str, Any]:
            before, after = await coordinator.async_rotate_mobile_key()
            held = {key.fingerprint for key in after.keys}
            return {
                **_written(before, after),
                "new_key": after.keys[0].summary(),
                "dropped": [key.summary() for key in before.keys if key.fingerprint not in held],
            }

        results = await _on_each(_targets(hass, call), rotate)
        return _response(call, devices=results)

    async def set_mobile_key_location(call: ServiceCall) -> ServiceResponse:
        location: str = call.data[ATTR_LOCATION]

        async def write(coordinator: TwoNCoordinator) -> dict[str, Any]:
            return _written(*await coordinator.async_set_location(location))

        results = await _on_each(_targets(hass, call), write)
        return _response(call, devices=results)

    async def copy_mobile_keys(call: ServiceCall) -> ServiceResponse:
        source_id, source = _device(hass, call.data[ATTR_SOURCE])
        targets = [target for target in _targets(hass, call) if target[0] != source_id]
        if not targets:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="two_n_copy_needs_targets"
            )
        config: MobileKeyConfig = await source.async_read_for_copy()

        async def copy(coordinator: TwoNCoordinator) -> dict[str, Any]:
            return _written(*await coordinator.async_copy_from(config))

        results = await _on_each(targets, copy)
        source_summary = {"device_id": source_id, "name": source.device_name, **config.summary()}
        return _response(call, source=source_summary, devices=results)

    for name, handler, schema in (
        (SERVICE_ROTATE_MOBILE_KEY, rotate_mobile_key, ROTATE_SCHEMA),
        (SERVICE_SET_MOBILE_KEY_LOCATION, set_mobile_key_location, LOCATION_SCHEMA),
        (SERVICE_COPY_MOBILE_KEYS, copy_mobile_keys, COPY_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )


def _written(before: MobileKeyConfig, after: MobileKeyConfig) -> dict[str, Any]:
    """What a device holds after a write, and what it held before (no key material)."""
    return {**after.summary(), "before": before.summary()}


def _response(call: ServiceCall, **parts: Any) -> ServiceResponse:
    """The action's answer, when the caller asked for one."""
    answer: dict[str, Any] = parts
    return answer if call.return_response else None


async def _on_each(
    targets: list[Target], work: Callable[[TwoNCoordinator], Awaitable[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Do the work on every device, one after the other; fail naming the devices that failed."""
    results: list[dict[str, Any]] = []
    failed: list[tuple[str, HomeAssistantError]] = []
    for device_id, coordinator in targets:
        try:
            result = await work(coordinator)
        except HomeAssistantError as err:
            failed.append((coordinator.device_name, err))
            continue
        results.append({"device_id": device_id, "name": coordinator.device_name, **result})
    if len(failed) == 1 and not results:
        raise failed[0][1]
    if failed:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="two_n_partly_failed",
            translation_placeholders={
                "failed": "; ".join(f"{name}: {err}" for name, err in failed),
                "done": ", ".join(result["name"] for result in results) or "-",
            },
        )
    return results


def _targets(hass: HomeAssistant, call: ServiceCall) -> list[Target]:
    """The targeted 2N devices (by device, area or any of their entities), each once."""
    selected = async_extract_referenced_entity_ids(hass, TargetSelection(call.data))
    entities = er.async_get(hass)
    device_ids = set(selected.referenced_devices)
    for entity_id in selected.referenced:
        entity = entities.async_get(entity_id)
        if entity is None or entity.device_id is None:
            raise _invalid("two_n_not_a_device", entity_id)
        device_ids.add(entity.device_id)
    if not device_ids:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="two_n_no_device_targeted"
        )
    return [_device(hass, device_id) for device_id in sorted(device_ids)]


def _device(hass: HomeAssistant, device_id: str) -> Target:
    """Return a 2N device's id and its coordinator, or raise naming it."""
    device = dr.async_get(hass).async_get(device_id)
    entry = None
    if device is not None and device.config_entry_id is not None:
        entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if entry is None or entry.domain != DOMAIN or entry.data.get(CONF_VENDOR) != VENDOR:
        name = device_id if device is None else (device.name_by_user or device.name or device_id)
        raise _invalid("two_n_not_a_device", name)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("two_n_not_loaded", entry.title)
    coordinator: TwoNCoordinator = entry.runtime_data
    return device_id, coordinator


def _invalid(key: str, name: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders={"name": name}
    )
