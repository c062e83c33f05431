"""InVue's actions: the Key Certificates a mobile app needs for a store, and unenrolment.

``multilock.get_key_certificates`` returns, for the locks of one or more areas (stores),
devices or serial numbers, their base64 Key Certificates grouped by account, each account
with its Customer Intermediate Certificate: the bundle InVue's mobile SDK is initialised
with. It reads only what is stored, so it answers during a cloud outage.

``multilock.unenroll_lock`` deletes locks from InVue (only with ``confirm: true``), checks
that InVue no longer knows them, then removes their subentries. It stops at the first lock
that fails (InVue refusing the key or limiting the rate would refuse the next ones too): the
locks done before are removed all the same. The action then fails, unless its response was
asked for and some locks were done: the response says what happened to each lock
("deleted", "not_registered", "failed", "not_sent") and why it stopped ("error").
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_AREA_ID, ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import area_registry as ar, config_validation as cv
from homeassistant.util.json import JsonValueType

from ...compat import vol
from ...const import DOMAIN
from ...issues import async_clear_issue
from .const import CONF_SERIAL, intermediate_issue_id
from .coordinator import InVueCoordinator
from .store import async_remove_key_store

SERVICE_GET_KEY_CERTIFICATES = "get_key_certificates"
SERVICE_UNENROLL_LOCK = "unenroll_lock"
ATTR_AREA = "area"
ATTR_CONFIRM = "confirm"

_LIST = vol.All(cv.ensure_list, [vol.All(cv.string, vol.Strip, vol.Length(min=1))])
GET_KEY_CERTIFICATES_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_AREA): _LIST,
            vol.Optional(ATTR_DEVICE_ID): _LIST,
            vol.Optional(CONF_SERIAL): _LIST,
        }
    ),
    cv.has_at_least_one_key(ATTR_AREA, ATTR_DEVICE_ID, CONF_SERIAL),
)
UNENROLL_LOCK_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_DEVICE_ID): _LIST,
            vol.Optional(CONF_SERIAL): _LIST,
            vol.Optional(ATTR_CONFIRM, default=False): cv.boolean,
        }
    ),
    cv.has_at_least_one_key(ATTR_DEVICE_ID, CONF_SERIAL),
)

# Selected locks: per account (by entry id), the account and its serial numbers in order.
type Selection = dict[str, tuple[InVueCoordinator, list[str]]]


def register_actions(hass: HomeAssistant) -> None:
    """Register the actions (once, when multilock is set up)."""

    async def get_key_certificates(call: ServiceCall) -> ServiceResponse:
        accounts = _accounts(hass)
        selection: Selection = {}
        for area in call.data.get(ATTR_AREA, []):
            area_id = _area_id(hass, area)
            for account in accounts:
                for serial in account.data.locks:
                    if account.device_area(serial) == area_id:
                        _select(selection, account, serial)
        _select_devices_and_serials(call, accounts, selection)
        return {"accounts": [_bundle(account, serials) for account, serials in _ordered(selection)]}

    async def unenroll_lock(call: ServiceCall) -> ServiceResponse:
        if not call.data[ATTR_CONFIRM]:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="invue_confirm_required"
            )
        selection: Selection = {}
        _select_devices_and_serials(call, _accounts(hass), selection)
        results: dict[str, JsonValueType] = {}
        done: list[tuple[InVueCoordinator, str]] = []
        stopped: HomeAssistantError | None = None
        try:
            for account, serials in _ordered(selection):
                for serial in serials:
                    if stopped is not None:
                        results[serial] = "not_sent"
                        continue
                    try:
                        registered = await account.async_unenroll(serial)
                    except HomeAssistantError as err:
                        stopped, results[serial] = err, "failed"
                        continue
                    results[serial] = "deleted" if registered else "not_registered"
                    done.append((account, serial))
        finally:
            # Removed together once deleted: each removal reloads the entry afterwards.
            for account, serial in done:
                if (subentry := account.lock_subentries.get(serial)) is not None:
                    hass.config_entries.async_remove_subentry(
                        account.config_entry, subentry.subentry_id
                    )
        if stopped is not None and not (done and call.return_response):
            raise stopped
        if not call.return_response:
            return None
        if stopped is None:
            return {"locks": results}
        return {"locks": results, "error": str(stopped)}

    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_KEY_CERTIFICATES,
        get_key_certificates,
        schema=GET_KEY_CERTIFICATES_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_UNENROLL_LOCK,
        unenroll_lock,
        schema=UNENROLL_LOCK_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _accounts(hass: HomeAssistant) -> list[InVueCoordinator]:
    return [
        entry.runtime_data
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(entry.runtime_data, InVueCoordinator)
    ]


def _area_id(hass: HomeAssistant, given: str) -> str:
    """Return the id of an area given by id or by name."""
    registry = ar.async_get(hass)
    area = registry.async_get_area(given) or registry.async_get_area_by_name(given)
    if area is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invue_unknown_area",
            translation_placeholders={"area": given},
        )
    return area.id


def _select(selection: Selection, account: InVueCoordinator, serial: str) -> None:
    serials = selection.setdefault(account.config_entry.entry_id, (account, []))[1]
    if serial not in serials:
        serials.append(serial)


def _select_devices_and_serials(
    call: ServiceCall, accounts: list[InVueCoordinator], selection: Selection
) -> None:
    for device_id in call.data.get(ATTR_DEVICE_ID, []):
        found = next(
            (
                (account, serial)
                for account in accounts
                for serial in account.data.locks
                if account.device_id(serial) == device_id
            ),
            None,
        )
        if found is None:
            raise _not_a_lock(device_id)
        _select(selection, *found)
    for serial in call.data.get(CONF_SERIAL, []):
        account = next((a for a in accounts if serial in a.data.locks), None)
        if account is None:
            raise _not_a_lock(serial)
        _select(selection, account, serial)


def _not_a_lock(given: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invue_not_a_lock",
        translation_placeholders={"target": given},
    )


def _ordered(selection: Selection) -> list[tuple[InVueCoordinator, list[str]]]:
    """The selected accounts by owner, each with its serial numbers in order."""
    return sorted(
        ((account, sorted(serials)) for account, serials in selection.values()),
        key=lambda item: item[0].owner,
    )


def _bundle(account: InVueCoordinator, serials: list[str]) -> dict[str, Any]:
    """What a mobile app needs for these locks of one account."""
    locks: list[dict[str, Any]] = []
    missing: list[str] = []
    for serial in serials:
        lock = account.data.locks[serial]
        if lock.certificate is None:
            missing.append(serial)
            continue
        locks.append(
            {
                "serial": serial,
                "name": lock.name,
                "lock_type": lock.lock_type,
                ATTR_AREA_ID: account.device_area(serial),
                "key_certificate": lock.certificate.encoded,
                "validity": None if lock.validity is None else lock.validity.value,
                "enrolled_at": None if lock.enrolled_at is None else lock.enrolled_at.isoformat(),
            }
        )
    intermediate = account.data.intermediate_certificate
    return {
        "owner": account.owner,
        "intermediate_certificate": intermediate.pem,
        "intermediate_expires": intermediate.not_valid_after.isoformat(),
        "locks": locks,
        "missing": missing,
    }


async def entry_removed(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the stored certificates and the repair issue of a deleted InVue entry."""
    async_clear_issue(hass, intermediate_issue_id(entry.entry_id))
    await async_remove_key_store(hass, entry.entry_id)
