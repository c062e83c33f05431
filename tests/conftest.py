"""Fixtures shared by every test: custom integrations enabled, loopback sockets allowed."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/multilock."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Let tests reach the simulators (pytest-homeassistant limits hosts to loopback)."""
