"""The Key Certificates of an account's locks, kept in Home Assistant's storage.

They survive restarts and a cloud outage: InVue is asked for a certificate only when a lock
is enrolled (or when its stored copy is missing). The file is private to Home Assistant's
user and holds nothing but certificates and the serial numbers still to delete remotely; it
is removed with the account's entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from ...const import LOGGER

STORAGE_VERSION: Final = 1
DATA_KEY_STORES: HassKey[dict[str, InVueKeyStore]] = HassKey("multilock_invue_key_stores")


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    """A lock's Key Certificate (base64, as the mobile SDK takes it) and when it was obtained.

    ``recovered``: the serial number was already registered to the account, and its
    existing certificate was fetched instead of a new enrolment.
    """

    encoded: str
    enrolled_at: datetime
    recovered: bool = False


class InVueKeyStore:
    """The stored certificates of one account entry, and the locks still to delete remotely."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare the storage of ``entry_id`` (read by ``async_load``)."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"multilock.invue.{entry_id}", private=True, atomic_writes=True
        )
        self._loaded = False
        self._lock = asyncio.Lock()
        self.certificates: dict[str, StoredCertificate] = {}
        # Serial numbers whose lock was removed here but whose remote deletion failed.
        self.deleting: set[str] = set()
        # In memory only, across reloads of the entry: serial numbers the unenroll action
        # deleted remotely, and those whose removal was handled (a removal can be heard of
        # more than once, and after a reload).
        self.deleted_remotely: set[str] = set()
        self.removed: set[str] = set()
        # In memory only: locks whose enrolment stored their certificate and whose subentry is
        # not there yet. The entry may reload in between (after the lock enrolled just before):
        # such a certificate is not one of a removed lock.
        self.enrolling: set[str] = set()

    async def async_load(self) -> None:
        """Read the stored file once; an unreadable record is dropped with a warning."""
        async with self._lock:
            if self._loaded:
                return
            stored = await self._store.async_load() or {}
            for serial, record in (stored.get("locks") or {}).items():
                if (stored_certificate := _read(record)) is None:
                    LOGGER.warning("The stored InVue Key Certificate of %s is unreadable", serial)
                else:
                    self.certificates[serial] = stored_certificate
            self.deleting = {str(serial) for serial in stored.get("deleting") or []}
            self._loaded = True

    async def async_put(
        self, serial: str, certificate: StoredCertificate, *, enrolling: bool = False
    ) -> None:
        """Keep a lock's certificate (written at once).

        ``enrolling``: its subentry comes next (see ``enrolling``); marked before the write,
        during which the entry may reload.
        """
        if enrolling:
            self.enrolling.add(serial)
        self.certificates[serial] = certificate
        self.deleting.discard(serial)
        self.deleted_remotely.discard(serial)
        self.removed.discard(serial)
        await self._async_save()

    async def async_forget(self, serial: str, *, deleted_remotely: bool) -> None:
        """Drop a lock's certificate; remember to delete it remotely when that failed."""
        self.certificates.pop(serial, None)
        self.enrolling.discard(serial)
        if deleted_remotely:
            self.deleting.discard(serial)
        else:
            self.deleting.add(serial)
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the file (the entry is gone)."""
        self.certificates.clear()
        self.deleting.clear()
        await self._store.async_remove()

    async def _async_save(self) -> None:
        await self._store.async_save(
            {
                "locks": {
                    serial: {
                        "certificate": stored.encoded,
                        "enrolled_at": stored.enrolled_at.isoformat(),
                        "recovered": stored.recovered,
                    }
                    for serial, stored in sorted(self.certificates.items())
                },
                "deleting": sorted(self.deleting),
            }
        )


def _read(record: Any) -> StoredCertificate | None:
    """Return a stored record, None when it is not one this version writes."""
    if not isinstance(record, dict) or not isinstance(record.get("certificate"), str):
        return None
    enrolled_at = record.get("enrolled_at")
    when = dt_util.parse_datetime(enrolled_at) if isinstance(enrolled_at, str) else None
    if when is None:
        return None
    return StoredCertificate(record["certificate"], when, bool(record.get("recovered")))


async def async_key_store(hass: HomeAssistant, entry_id: str) -> InVueKeyStore:
    """Return the loaded key store of an entry.

    One per entry while Home Assistant runs, shared by its flows and its runtime across
    reloads: every write goes through it, so it is what the file holds.
    """
    stores = hass.data.setdefault(DATA_KEY_STORES, {})
    if (store := stores.get(entry_id)) is None:
        store = stores[entry_id] = InVueKeyStore(hass, entry_id)
    await store.async_load()
    return store


async def async_remove_key_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored file of an entry that was removed."""
    store = hass.data.get(DATA_KEY_STORES, {}).pop(entry_id, None) or InVueKeyStore(hass, entry_id)
    await store.async_remove()
