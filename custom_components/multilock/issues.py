"""Repair issues a vendor raises: their data names the vendor and the kind of fix."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_VENDOR, DOMAIN

ISSUE_KIND = "kind"


def async_raise_issue(
    hass: HomeAssistant,
    *,
    vendor: str,
    kind: str,
    issue_id: str,
    placeholders: Mapping[str, str],
    data: Mapping[str, str],
    fixable: bool = True,
    severity: ir.IssueSeverity = ir.IssueSeverity.ERROR,
) -> None:
    """Raise (or refresh) a repair issue whose translation key is ``<vendor>_<kind>``.

    The vendor's ``fix_flows[kind]`` fixes it; ``issue_id`` should start with the vendor's name.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=fixable,
        severity=severity,
        translation_key=f"{vendor}_{kind}",
        translation_placeholders=dict(placeholders),
        data={**data, CONF_VENDOR: vendor, ISSUE_KIND: kind},
    )


def async_clear_issue(hass: HomeAssistant, issue_id: str) -> None:
    """Clear a repair issue once what it reported is fixed."""
    ir.async_delete_issue(hass, DOMAIN, issue_id)
