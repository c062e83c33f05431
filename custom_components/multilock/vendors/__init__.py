"""The vendors multilock supports, and what each brings to the shared modules.

Adding a vendor: write ``vendors/<name>/`` (client, coordinator, descriptions, flow)
and register it here; no shared module names a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigSubentryFlow
from homeassistant.core import HomeAssistant

from ..const import Vendor
from ..coordinator import MultilockConfigEntry, MultilockCoordinator
from .doordeck.coordinator import DoordeckCoordinator
from .doordeck.repairs import create_fix_flow as doordeck_fix_flow
from .thekeys.const import CONF_SHARE_CODE, SUBENTRY_LOCK
from .thekeys.coordinator import TheKeysCoordinator
from .thekeys.flow import TheKeysLockSubentryFlow
from .thekeys.repairs import create_fix_flow as thekeys_fix_flow

type FixFlowFactory = Callable[[HomeAssistant, dict[str, str]], RepairsFlow]


@dataclass(frozen=True, kw_only=True)
class VendorSpec:
    """What one vendor brings: its coordinator, sub-flows, secrets and repairs."""

    coordinator: Callable[[HomeAssistant, MultilockConfigEntry], MultilockCoordinator[Any]]
    subentry_flows: Mapping[str, type[ConfigSubentryFlow]]
    # Keys of entry data, subentry data and snapshots that diagnostics must redact.
    secrets: frozenset[str]
    fix_flow: FixFlowFactory | None = None


VENDORS: dict[Vendor, VendorSpec] = {
    Vendor.THE_KEYS: VendorSpec(
        coordinator=TheKeysCoordinator,
        subentry_flows={SUBENTRY_LOCK: TheKeysLockSubentryFlow},
        secrets=frozenset({CONF_SHARE_CODE, "hash"}),
        fix_flow=thekeys_fix_flow,
    ),
    Vendor.DOORDECK: VendorSpec(
        coordinator=DoordeckCoordinator,
        subentry_flows={},
        # The title holds the account's email too.
        secrets=frozenset(
            {
                "auth_token",
                "refresh_token",
                "private_key",
                "pending_private_key",
                "certificate_chain",
                "email",
                "title",
            }
        ),
        fix_flow=doordeck_fix_flow,
    ),
}
