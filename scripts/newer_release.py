"""Print a notice when the package index has a newer Home Assistant than the pinned one.

``python scripts/newer_release.py VERSION`` asks pip (``pip index versions``, as this machine's
pip is configured; twenty seconds at most) and only tells: the pin in
``requirements/latest.txt`` is moved by hand, so that a run stays reproducible.
"""

from __future__ import annotations

import re
import subprocess
import sys

from awesomeversion import AwesomeVersion


def main() -> None:
    """Compare the pinned release with the newest one the index offers."""
    pinned = AwesomeVersion(sys.argv[1])
    try:
        answer = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "homeassistant",
             "--ignore-requires-python", "--disable-pip-version-check"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        print(f"(could not ask the package index for a newer Home Assistant: {err})")
        return
    if (found := re.search(r"^homeassistant \(([^)]+)\)", answer, re.MULTILINE)) is None:
        print("(the package index named no Home Assistant release)")
        return
    if (newest := AwesomeVersion(found.group(1))) > pinned:
        print(
            f"NOTICE: Home Assistant {newest} is released; requirements/latest.txt pins {pinned}. "
            "Users update on release day: move the pin up."
        )
    else:
        print(f"Home Assistant {pinned} is the newest release.")


if __name__ == "__main__":
    main()
