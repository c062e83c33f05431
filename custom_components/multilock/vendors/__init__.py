"""The vendors multilock supports: one registry line each.

Adding a vendor: write ``vendors/<name>/`` (its ``VendorSpec``, see ``contract.py``) and a
simulator, then add it here; no shared module names a vendor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ..contract import VendorSpec
from .doordeck import DOORDECK
from .invue import INVUE
from .thekeys import THE_KEYS
from .two_n import TWO_N

VENDORS: Final[Mapping[str, VendorSpec]] = {
    spec.name: spec for spec in (THE_KEYS, DOORDECK, INVUE, TWO_N)
}
