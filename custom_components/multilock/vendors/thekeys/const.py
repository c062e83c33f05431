"""Constants of The Keys vendor."""

from typing import Final

# The vendor's name: stored in entries, and the prefix of its steps, issues and texts.
VENDOR: Final = "thekeys"
MANUFACTURER: Final = "The Keys"
SUBENTRY_LOCK: Final = "thekeys_lock"
# How version 1 of the config entry named the lock subentries.
LEGACY_SUBENTRY_LOCK: Final = "lock"
# The kind of the repair issue asking for a lock's new share code.
SHARE_CODE_ISSUE: Final = "share_code_rejected"
CONF_IDENTIFIER: Final = "identifier"
CONF_SHARE_CODE: Final = "share_code"
GATEWAY_KIND: Final = "gateway"
LOCK_KIND: Final = "lock"
