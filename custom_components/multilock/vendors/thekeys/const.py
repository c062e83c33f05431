"""Constants of The Keys vendor."""

from typing import Final

MANUFACTURER: Final = "The Keys"
SUBENTRY_LOCK: Final = "lock"
CONF_IDENTIFIER: Final = "identifier"
CONF_SHARE_CODE: Final = "share_code"
GATEWAY_KIND: Final = "gateway"
LOCK_KIND: Final = "lock"
