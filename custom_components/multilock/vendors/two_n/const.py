"""Constants of the 2N vendor."""

from datetime import timedelta
from typing import Final

# The vendor's name: stored in entries, and the prefix of its steps, issues and texts.
VENDOR: Final = "two_n"
MANUFACTURER: Final = "2N"
# 2N's MAC prefix (OUI), as the shared DHCP hand-over compares it.
MAC_PREFIX: Final = "7C1EB3"

# Entry data.
CONF_AUTH: Final = "auth"
CONF_PROTOCOL: Final = "protocol"
CONF_CERTIFICATE: Final = "certificate"  # "system" (verify) or "pin"
CONF_CERTIFICATE_SHA256: Final = "certificate_sha256"  # hex, the pinned certificate
CONF_MAC: Final = "mac"
CONF_KEY_MAX_AGE: Final = "key_max_age"  # days before the primary key should be rotated
# The private keys Home Assistant wrote to the device, by fingerprint: firmware that shows
# only public halves needs them to keep the keys on the next rotation.
CONF_KEY_STORE: Final = "mobile_key_store"
CERTIFICATE_SYSTEM: Final = "system"
CERTIFICATE_PIN: Final = "pin"
DEFAULT_KEY_MAX_AGE: Final = 90  # days: 2N advises about three months for offline phones

DEVICE_KIND: Final = "device"
# One kind per door switch number: each switch's lock is named after its number.
MAX_SWITCHES: Final = 8


def switch_kind(number: int) -> str:
    """Return the device kind of a door switch (its lock's description)."""
    return f"switch_{number}"


# Polling: the switches' state every UPDATE_INTERVAL, the rest (system info, switch
# capabilities, mobile keys) every SLOW_UPDATE_INTERVAL and after every write.
UPDATE_INTERVAL: Final = timedelta(seconds=15)
SLOW_UPDATE_INTERVAL: Final = timedelta(minutes=10)

# Repair issues: their kinds, and their ids per entry.
CERTIFICATE_CHANGED_ISSUE: Final = "certificate_changed"
KEY_AGE_ISSUE: Final = "key_age"
MISSING_PRIVILEGES_ISSUE: Final = "missing_privileges"


def issue_id(kind: str, entry_id: str) -> str:
    """Return the id of a repair issue of one entry."""
    return f"{VENDOR}_{kind}_{entry_id}"
