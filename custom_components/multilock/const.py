"""Constants shared by every vendor of multilock."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "multilock"
LOGGER = logging.getLogger(__package__)

CONF_VENDOR: Final = "vendor"


class Vendor(StrEnum):
    """The vendor families multilock brings in; the value names the config-flow step."""

    THE_KEYS = "thekeys"
    DOORDECK = "doordeck"
