"""InVue LIVE Lock: Home Assistant as the integrator's Key Certificate backend.

InVue locks open only through InVue's mobile SDK over Bluetooth; the cloud API provisions
them. Home Assistant enrols locks (subentries, each in an area: a store), keeps their Key
Certificates, hands them to mobile apps by store with the account's intermediate certificate,
and follows that certificate's renewal.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant

from ...contract import VendorFlows, VendorSpec
from ...coordinator import MultilockConfigEntry
from .const import (
    CONF_API_KEY,
    CONF_ENROLMENT_CODE,
    CONF_INTERMEDIATE,
    CONF_SERIAL,
    INTERMEDIATE_EXPIRED,
    INTERMEDIATE_EXPIRING,
    SUBENTRY_LOCK,
    VENDOR,
)
from .coordinator import InVueCoordinator
from .flow import InVueConfigFlowSteps, InVueLockSubentryFlow
from .repairs import create_fix_flow
from .services import entry_removed, register_actions


async def _setup(hass: HomeAssistant, entry: MultilockConfigEntry) -> InVueCoordinator:
    return await InVueCoordinator(hass, entry).async_start()


async def _subentry_removed(
    hass: HomeAssistant, entry: MultilockConfigEntry, subentry: ConfigSubentry
) -> None:
    """A lock was removed: delete it from InVue (a 404 there is fine), then its certificate."""
    runtime = entry.runtime_data
    if subentry.subentry_type == SUBENTRY_LOCK and isinstance(runtime, InVueCoordinator):
        await runtime.async_lock_removed(str(subentry.data[CONF_SERIAL]))


INVUE = VendorSpec(
    name=VENDOR,
    setup=_setup,
    flows=VendorFlows(
        steps=InVueConfigFlowSteps,
        user=InVueConfigFlowSteps.async_step_invue,
        reauth=InVueConfigFlowSteps.async_step_invue_reauth,
        reconfigure=InVueConfigFlowSteps.async_step_invue_reconfigure,
        subentries={SUBENTRY_LOCK: InVueLockSubentryFlow},
    ),
    # The API key, the intermediate (entry data and snapshot: "pem"), each Key Certificate
    # (its base64 form and its key and signature), and an enrolment code should one appear.
    redact=frozenset(
        {
            CONF_API_KEY,
            CONF_INTERMEDIATE,
            CONF_ENROLMENT_CODE,
            "pem",
            "encoded",
            "key",
            "signature",
        }
    ),
    register_actions=register_actions,
    entry_removed=entry_removed,
    fix_flows={INTERMEDIATE_EXPIRING: create_fix_flow, INTERMEDIATE_EXPIRED: create_fix_flow},
    subentry_removed=_subentry_removed,
)
