"""Write custom_components/multilock/translations/en.json from strings.json.

Home Assistant resolves ``[%key:...%]`` references only for core integrations, so a
custom integration ships its English texts with every reference resolved. Run with
``--check`` to fail when en.json is out of date (the test suite does).
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys
from typing import Any

import homeassistant

ROOT = Path(__file__).resolve().parent.parent
STRINGS = ROOT / "custom_components" / "multilock" / "strings.json"
ENGLISH = ROOT / "custom_components" / "multilock" / "translations" / "en.json"
REFERENCE = re.compile(r"\[%key:([a-z0-9_:]+)%\]")


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


def resolve(strings: dict[str, Any]) -> dict[str, Any]:
    """Return ``strings`` with every reference replaced by the text it names."""
    core = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())
    sources = {"common": core["common"], "component": {"multilock": strings}}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, str):
            while match := REFERENCE.search(node):
                node = node.replace(match.group(0), _lookup(sources, match.group(1)))
            return node
        return node

    resolved: dict[str, Any] = walk(strings)
    return resolved


def render() -> str:
    """Return the en.json text that strings.json produces."""
    return json.dumps(resolve(json.loads(STRINGS.read_text())), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not ENGLISH.exists() or ENGLISH.read_text() != text:
            print(f"{ENGLISH} is out of date: run python scripts/translations.py")
            return 1
        return 0
    ENGLISH.parent.mkdir(exist_ok=True)
    ENGLISH.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
