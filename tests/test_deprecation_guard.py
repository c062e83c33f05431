"""The guard in conftest.py recognises Home Assistant's deprecation reports about multilock."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import is_multilock_deprecation


def _record(name: str, message: str, pathname: str = "x.py") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, pathname, 1, message, None, None)


@pytest.mark.parametrize(
    "message",
    [
        "Detected that custom integration 'multilock' calls `device_registry.async_get_device`",
        "show_advanced_options was called from multilock, this is a deprecated property",
        "multilock uses X, which will stop working in Home Assistant 2027.6",
    ],
)
def test_reports_about_multilock_are_caught(message: str) -> None:
    """Each form Home Assistant writes is recognised."""
    assert is_multilock_deprecation(_record("homeassistant.helpers.frame", message))


def test_other_integrations_and_other_messages_pass() -> None:
    """A deprecation of another integration, or an ordinary message, is not ours."""
    assert not is_multilock_deprecation(
        _record("homeassistant.helpers.frame", "Detected that custom integration 'hacs' ...")
    )
    assert not is_multilock_deprecation(
        _record("custom_components.multilock", "Front door is available again")
    )
