"""The test environments are the releases the README and hacs.json promise."""

from __future__ import annotations

import json
import os
from pathlib import Path
import re

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as HA_VERSION
import pytest

ROOT = Path(__file__).parent.parent
FLOOR = AwesomeVersion(json.loads((ROOT / "hacs.json").read_text())["homeassistant"])
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_no_release_below_the_floor() -> None:
    """Every environment runs a release that hacs.json lets users install multilock on."""
    assert AwesomeVersion(HA_VERSION) >= FLOOR


@pytest.mark.skipif(os.environ.get("MULTILOCK_ENV") != "floor", reason="the floor run only")
def test_the_floor_run_is_the_declared_floor() -> None:
    """scripts/test's second run is on exactly the oldest release hacs.json declares."""
    assert AwesomeVersion(HA_VERSION) == FLOOR


def _pinned_release(requirements: str) -> AwesomeVersion:
    """Return the Home Assistant release a requirements file of the latest run pins."""
    text = (ROOT / requirements).read_text(encoding="utf-8")
    found = re.search(r"^homeassistant==(\S+)$", text, re.MULTILINE)
    assert found is not None, f"{requirements} pins no Home Assistant release"
    return AwesomeVersion(found.group(1))


def test_the_latest_run_is_not_behind_the_newest() -> None:
    """Users run the newest release: the plugin-free run is never older than the suite's."""
    assert _pinned_release("requirements/latest.txt") >= AwesomeVersion(HA_VERSION)


def test_the_readme_names_each_release_tested() -> None:
    """The README's table of supported releases says which release each run tests."""
    section = README.split("### Supported Home Assistant releases", 1)[1].strip()
    table = section.split("\n\n", 1)[0].splitlines()[2:]  # below the header and its rule
    rows = {line.split("|")[1].strip(): line for line in table}
    assert str(_pinned_release("requirements/latest.txt")) in rows["latest"]
    assert str(FLOOR) in rows["floor"]
    if os.environ.get("MULTILOCK_ENV") == "newest":
        assert HA_VERSION in rows["newest"]
