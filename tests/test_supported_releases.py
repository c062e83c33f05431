"""The test environments are the releases the README and hacs.json promise."""

from __future__ import annotations

import json
import os
from pathlib import Path

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as HA_VERSION
import pytest

ROOT = Path(__file__).parent.parent
FLOOR = AwesomeVersion(json.loads((ROOT / "hacs.json").read_text())["homeassistant"])


def test_no_release_below_the_floor() -> None:
    """Every environment runs a release that hacs.json lets users install multilock on."""
    assert AwesomeVersion(HA_VERSION) >= FLOOR


@pytest.mark.skipif(os.environ.get("MULTILOCK_ENV") != "floor", reason="the floor run only")
def test_the_floor_run_is_the_declared_floor() -> None:
    """scripts/test's second run is on exactly the oldest release hacs.json declares."""
    assert AwesomeVersion(HA_VERSION) == FLOOR
