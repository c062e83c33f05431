"""Actions of multilock: share a lock with people, and take their access back.

The actions are vendor-free: a lock can be shared when its entry's coordinator implements
``LockSharing``. Each coordinator first checks everything it is asked (and raises
ServiceValidationError before anything is sent), then returns the work to do; the work of
every coordinator runs only once all of them have accepted theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, Protocol, TypedDict, runtime_checkable

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids
from homeassistant.util import dt as dt_util

from .compat import vol
from .const import DOMAIN
from .coordinator import MultilockConfigEntry

LOCK_DOMAIN = Platform.LOCK.value

SERVICE_SHARE_LOCK = "share_lock"
SERVICE_REVOKE_LOCK_ACCESS = "revoke_lock_access"
ATTR_USERS = "users"
ATTR_ROLE = "role"
ATTR_START = "start"
ATTR_END = "end"
ROLES = ("user", "admin")

_USERS = vol.All(
    cv.ensure_list, [vol.All(cv.string, vol.Strip, vol.Length(min=1))], vol.Length(min=1)
)
SHARE_LOCK_SCHEMA = cv.make_entity_service_schema(
    {
        vol.Required(ATTR_USERS): _USERS,
        vol.Optional(ATTR_ROLE, default="user"): vol.All(cv.string, vol.Lower, vol.In(ROLES)),
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
REVOKE_LOCK_ACCESS_SCHEMA = cv.make_entity_service_schema({vol.Required(ATTR_USERS): _USERS})


class UserOutcome(TypedDict):
    """What happened for one user on one lock: done, queued or failed (with the reason)."""

    status: str
    reason: NotRequired[str]


type LockOutcomes = dict[str, dict[str, UserOutcome]]
# Work a coordinator accepted: run it to get, per device key, the outcome per user as given.
type PendingAction = Callable[[], Awaitable[LockOutcomes]]


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """Whom to share with (emails or vendor user ids, as given), with what role, and when."""

    users: tuple[str, ...]
    role: str
    start: datetime | None
    end: datetime | None


@runtime_checkable
class LockSharing(Protocol):
    """A coordinator whose locks can be shared."""

    async def async_prepare_share(
        self, device_keys: Sequence[str], request: ShareRequest
    ) -> PendingAction:
        """Check the request for these locks (ServiceValidationError); return the work."""

    async def async_prepare_revoke(
        self, device_keys: Sequence[str], users: Sequence[str]
    ) -> PendingAction:
        """Check the revocation for these locks (ServiceValidationError); return the work."""


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, in async_setup)."""

    async def share_lock(call: ServiceCall) -> ServiceResponse:
        start, end = _utc(call.data.get(ATTR_START)), _utc(call.data.get(ATTR_END))
        if start is not None and end is not None and end <= start:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="end_before_start"
            )
        request = ShareRequest(tuple(call.data[ATTR_USERS]), call.data[ATTR_ROLE], start, end)
        return await _run(call, lambda sharing, keys: sharing.async_prepare_share(keys, request))

    async def revoke_lock_access(call: ServiceCall) -> ServiceResponse:
        users = tuple(call.data[ATTR_USERS])
        return await _run(call, lambda sharing, keys: sharing.async_prepare_revoke(keys, users))

    async def _run(
        call: ServiceCall,
        prepare: Callable[[LockSharing, list[str]], Awaitable[PendingAction]],
    ) -> ServiceResponse:
        targets = _sharing_targets(hass, call)
        # Every coordinator checks its part before any of them sends anything.
        pending = [
            (locks, await prepare(sharing, [key for _, key in locks])) for sharing, locks in targets
        ]
        results: dict[str, Any] = {}
        for locks, action in pending:
            outcomes = await action()
            results.update({entity_id: outcomes[key] for entity_id, key in locks})
        _raise_when_nothing_was_done(results)
        return results if call.return_response else None

    hass.services.async_register(
        DOMAIN,
        SERVICE_SHARE_LOCK,
        share_lock,
        schema=SHARE_LOCK_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_REVOKE_LOCK_ACCESS,
        revoke_lock_access,
        schema=REVOKE_LOCK_ACCESS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _utc(value: datetime | None) -> datetime | None:
    """A datetime without a zone is in Home Assistant's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


def _sharing_targets(
    hass: HomeAssistant, call: ServiceCall
) -> list[tuple[LockSharing, list[tuple[str, str]]]]:
    """Group the targeted locks by coordinator: (entity id, device key) pairs."""
    selected = async_extract_referenced_entity_ids(hass, TargetSelection(call.data))
    entity_ids = selected.referenced | {
        entity_id
        for entity_id in selected.indirectly_referenced
        if entity_id.startswith(f"{LOCK_DOMAIN}.")
    }
    if not entity_ids:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_lock_targeted")
    entities, devices = er.async_get(hass), dr.async_get(hass)
    by_entry: dict[str, tuple[LockSharing, list[tuple[str, str]]]] = {}
    for entity_id in sorted(entity_ids):
        entity = entities.async_get(entity_id)
        device = devices.async_get(entity.device_id) if entity and entity.device_id else None
        entry: MultilockConfigEntry | None = (
            hass.config_entries.async_get_entry(entity.config_entry_id)
            if entity and entity.config_entry_id and entity.platform == DOMAIN
            else None
        )
        if entity is None or entity.domain != LOCK_DOMAIN or device is None or entry is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_a_multilock_lock",
                translation_placeholders={"entity_id": entity_id},
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"entity_id": entity_id, "entry": entry.title},
            )
        coordinator = entry.runtime_data
        if not isinstance(coordinator, LockSharing):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="lock_not_shareable",
                translation_placeholders={"entity_id": entity_id},
            )
        device_key = next(key for domain, key in device.identifiers if domain == DOMAIN)
        by_entry.setdefault(entry.entry_id, (coordinator, []))[1].append((entity_id, device_key))
    return list(by_entry.values())


def _raise_when_nothing_was_done(results: dict[str, dict[str, UserOutcome]]) -> None:
    """Fail the action when every operation failed; partial failures are in the response."""
    outcomes = [outcome for per_user in results.values() for outcome in per_user.values()]
    if outcomes and all(outcome["status"] == "failed" for outcome in outcomes):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="action_failed",
            translation_placeholders={"reason": outcomes[0].get("reason", "")},
        )
