"""Write multilock's English texts and action descriptions from the shared and vendor files.

* ``translations/en.json``: ``strings.json`` (texts no vendor owns) merged with each
  ``vendors/<name>/strings.json``, every ``[%key:...%]`` reference resolved (Home Assistant
  resolves them only for core integrations, so a custom integration ships them resolved).
* ``services.yaml``: each ``vendors/<name>/services.yaml`` in turn.
* ``icons.json``: each ``vendors/<name>/icons.json`` merged.

A key defined twice is an error. Run with ``--check`` to fail when either file is out of date
(scripts/test does).
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys
from typing import Any

import homeassistant
import yaml

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "multilock"
STRINGS = INTEGRATION / "strings.json"
VENDOR_STRINGS = sorted((INTEGRATION / "vendors").glob("*/strings.json"))
VENDOR_SERVICES = sorted((INTEGRATION / "vendors").glob("*/services.yaml"))
VENDOR_ICONS = sorted((INTEGRATION / "vendors").glob("*/icons.json"))
ICONS = INTEGRATION / "icons.json"
ENGLISH = INTEGRATION / "translations" / "en.json"
SERVICES = INTEGRATION / "services.yaml"
REFERENCE = re.compile(r"\[%key:([a-z0-9_:]+)%\]")
SERVICES_HEADER = "# Written by scripts/translations.py from vendors/*/services.yaml: edit those.\n"


def merge(into: dict[str, Any], other: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Merge ``other`` into ``into``; a text defined in both is an error."""
    for key, value in other.items():
        path = f"{where}.{key}" if where else key
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value, path)
        elif key in into:
            raise ValueError(f"{path} is defined twice")
        else:
            into[key] = value
    return into


def strings() -> dict[str, Any]:
    """Return the shared texts merged with every vendor's."""
    merged: dict[str, Any] = json.loads(STRINGS.read_text())
    for path in VENDOR_STRINGS:
        merge(merged, json.loads(path.read_text()))
    return merged


def _lookup(sources: dict[str, Any], key: str) -> str:
    namespace, *path = key.split("::")
    node: Any = sources[namespace]
    if namespace == "component":
        node = node[path.pop(0)]
    for part in path:
        node = node[part]
    if not isinstance(node, str):
        raise TypeError(f"{key} is not a text")
    return node


def resolve(texts: dict[str, Any]) -> dict[str, Any]:
    """Return ``texts`` with every reference replaced by the text it names."""
    core = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())
    sources = {"common": core["common"], "component": {"multilock": texts}}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, str):
            while match := REFERENCE.search(node):
                node = node.replace(match.group(0), _lookup(sources, match.group(1)))
            return node
        return node

    resolved: dict[str, Any] = walk(texts)
    return resolved


def render_english() -> str:
    """Return the en.json text."""
    return json.dumps(resolve(strings()), indent=2, ensure_ascii=False) + "\n"


def render_services() -> str:
    """Return the services.yaml text."""
    parts = [path.read_text() for path in VENDOR_SERVICES]
    merged: dict[str, Any] = {}
    for part in parts:
        merge(merged, yaml.safe_load(part) or {})
    return SERVICES_HEADER + "\n".join(part.rstrip() + "\n" for part in parts)


def render_icons() -> str:
    """Return the icons.json text."""
    merged: dict[str, Any] = {}
    for path in VENDOR_ICONS:
        merge(merged, json.loads(path.read_text()))
    return json.dumps(merged, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    outputs = {ENGLISH: render_english(), SERVICES: render_services(), ICONS: render_icons()}
    if "--check" in sys.argv:
        stale = [
            path for path, text in outputs.items() if not path.exists() or path.read_text() != text
        ]
        for path in stale:
            print(f"{path} is out of date: run python scripts/translations.py")
        return 1 if stale else 0
    ENGLISH.parent.mkdir(exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
