"""2N: door switches and Bluetooth mobile keys of 2N intercoms and access units."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from ...contract import VendorFlows, VendorSpec
from ...coordinator import MultilockConfigEntry
from .const import CERTIFICATE_CHANGED_ISSUE, KEY_AGE_ISSUE, MAC_PREFIX, VENDOR
from .coordinator import TwoNCoordinator
from .flow import TwoNConfigFlowSteps
from .repairs import create_certificate_fix_flow, create_key_age_fix_flow
from .services import register_actions


async def _setup(hass: HomeAssistant, entry: MultilockConfigEntry) -> TwoNCoordinator:
    coordinator = await TwoNCoordinator(hass, entry).async_start()
    coordinator.event_log.start()  # in the background: set-up does not wait for it
    return coordinator


TWO_N = VendorSpec(
    name=VENDOR,
    setup=_setup,
    flows=VendorFlows(
        steps=TwoNConfigFlowSteps,
        user=TwoNConfigFlowSteps.async_step_two_n,
        reauth=TwoNConfigFlowSteps.async_step_two_n_reauth,
        reconfigure=TwoNConfigFlowSteps.async_step_two_n_reconfigure,
        dhcp=TwoNConfigFlowSteps.async_step_two_n_dhcp,
        dhcp_mac_prefixes=frozenset({MAC_PREFIX}),
    ),
    # Key material (the device's keys and the ones Home Assistant wrote), the password, the
    # serial number and MAC address, and the location, which is the serial number by default.
    # Redaction goes by field name, so the location is always redacted; with a diagnostics
    # hook in the contract, coordinator.redact_serial_location redacts it only then.
    redact=frozenset(
        {
            "password",
            "private_key",
            "mobile_key_store",
            "location",
            "serial_number",
            "mac",
        }
    ),
    register_actions=register_actions,
    fix_flows={
        CERTIFICATE_CHANGED_ISSUE: create_certificate_fix_flow,
        KEY_AGE_ISSUE: create_key_age_fix_flow,
    },
)
