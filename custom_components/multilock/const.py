"""Constants shared by every vendor of multilock (none names a vendor)."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "multilock"
LOGGER = logging.getLogger(__package__)

# Entry data: the name of the vendor (a key of vendors.VENDORS).
CONF_VENDOR: Final = "vendor"
