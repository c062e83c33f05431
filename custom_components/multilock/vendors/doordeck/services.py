"""Doordeck's actions: share locks with people, and take their access back.

Every targeted account first checks everything it is asked (ServiceValidationError before
anything is sent) and returns the work to do; the work runs once all of them accepted theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType

from ...compat import vol
from ...const import DOMAIN
from ...services import async_targeted_devices
from .client import ShareStatus
from .coordinator import (
    DoordeckCoordinator,
    LockOutcomes,
    PendingAction,
    ShareRequest,
    UserOutcome,
)

SERVICE_SHARE_LOCK = "share_lock"
SERVICE_REVOKE_LOCK_ACCESS = "revoke_lock_access"
ATTR_USERS = "users"
ATTR_ROLE = "role"
ATTR_START = "start"
ATTR_END = "end"
ROLES = ("user", "admin")
# Outcomes where nothing reached the lock: failed, or not sent (Doordeck limited the rate).
NOTHING_DONE = frozenset({ShareStatus.FAILED.value, ShareStatus.NOT_SENT.value})

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

type Prepare = Callable[[DoordeckCoordinator, list[str]], Awaitable[PendingAction]]


def register_actions(hass: HomeAssistant) -> None:
    """Register the sharing actions (once, when multilock is set up)."""

    async def share_lock(call: ServiceCall) -> ServiceResponse:
        start, end = _utc(call.data.get(ATTR_START)), _utc(call.data.get(ATTR_END))
        if start is not None and end is not None and end <= start:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="end_before_start"
            )
        request = ShareRequest(tuple(call.data[ATTR_USERS]), call.data[ATTR_ROLE], start, end)
        return await _run(
            hass, call, lambda account, keys: account.async_prepare_share(keys, request)
        )

    async def revoke_lock_access(call: ServiceCall) -> ServiceResponse:
        users = tuple(call.data[ATTR_USERS])
        return await _run(
            hass, call, lambda account, keys: account.async_prepare_revoke(keys, users)
        )

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


async def _run(hass: HomeAssistant, call: ServiceCall, prepare: Prepare) -> ServiceResponse:
    targets = async_targeted_devices(hass, call, Platform.LOCK, DoordeckCoordinator)
    # Every account checks its part before any of them sends anything.
    pending = [
        (target.entities, await prepare(target.runtime, [key for _, key in target.entities]))
        for target in targets
    ]
    results: LockOutcomes = {}
    for entities, action in pending:
        outcomes = await action()
        results.update({entity_id: outcomes[key] for entity_id, key in entities})
    _raise_when_nothing_was_done(results)
    if not call.return_response:
        return None
    return {
        entity_id: {user: _json(outcome) for user, outcome in per_user.items()}
        for entity_id, per_user in results.items()
    }


def _json(outcome: UserOutcome) -> dict[str, JsonValueType]:
    if "reason" in outcome:
        return {"status": outcome["status"], "reason": outcome["reason"]}
    return {"status": outcome["status"]}


def _utc(value: datetime | None) -> datetime | None:
    """A datetime without a zone is in Home Assistant's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


def _raise_when_nothing_was_done(results: LockOutcomes) -> None:
    """Fail the action when every operation failed; partial failures are in the response."""
    outcomes = [outcome for per_user in results.values() for outcome in per_user.values()]
    if outcomes and all(outcome["status"] in NOTHING_DONE for outcome in outcomes):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="action_failed",
            translation_placeholders={"reason": outcomes[0].get("reason", "")},
        )
