"""Fixtures shared by every test: custom integrations enabled, loopback sockets allowed,
and a guard that fails any test during which Home Assistant reports a deprecated call
from multilock."""

from __future__ import annotations

from collections.abc import Iterator
import logging
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.location import PyTestLocation

# What Home Assistant's frame and deprecation helpers write when an integration uses
# something deprecated.
DEPRECATION_MARKERS = (
    "Detected that custom integration 'multilock'",
    "was called from multilock",
    "will stop working",
    "deprecated",
)


def is_multilock_deprecation(record: logging.LogRecord) -> bool:
    """Return whether ``record`` reports a deprecated call made by multilock."""
    message = record.getMessage()
    if not any(marker in message for marker in DEPRECATION_MARKERS):
        return False
    return (
        "multilock" in message
        or record.name.startswith("custom_components.multilock")
        or "custom_components/multilock" in record.pathname
    )


class _DeprecationCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if is_multilock_deprecation(record):
            self.reports.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(autouse=True)
def no_deprecated_calls() -> Iterator[None]:
    """Fail the test when Home Assistant reports multilock calling something deprecated."""
    collector = _DeprecationCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield
    finally:
        root.removeHandler(collector)
    assert not collector.reports, "deprecated calls from multilock:\n" + "\n".join(
        collector.reports
    )


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/multilock."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Let tests reach the simulators (pytest-homeassistant limits hosts to loopback)."""


class _Snapshots(AmberSnapshotExtension):
    """Snapshots in snapshots/ beside each test, the same under every supported release.

    (The pytest plugin's own extension differs between releases in where and how it writes;
    the snapshot tests record plain data, so syrupy's own format is enough.)
    """

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(test_location.filepath).parent / "snapshots")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Syrupy's snapshot assertion, stored as _Snapshots says."""
    return snapshot.use_extension(_Snapshots)
