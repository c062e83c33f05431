"""Write multilock's texts (English, French), action descriptions and icons from their sources.

* ``translations/en.json``: ``strings.json`` (texts no vendor owns) merged with each
  ``vendors/<name>/strings.json``, every ``[%key:...%]`` reference resolved (Home Assistant
  resolves them only for core integrations, so a custom integration ships them resolved).
* ``translations/fr.json``: the same from the French twin beside each of those files,
  ``strings.fr.json``, with the same layout. A French file leaves out a text whose English is
  only a reference: it then gets the French of the text referred to (Home Assistant's own
  French for ``common::`` texts).
* ``services.yaml``: each ``vendors/<name>/services.yaml`` in turn.
* ``icons.json``: each ``vendors/<name>/icons.json`` merged.

A key defined twice is an error. Run with ``--check`` to fail when a file is out of date, an
English text has no French, a French text has no English (any more) or differs from it in its
``{placeholders}`` (scripts/test does). ``--missing-fr`` lists the English texts without French,
by the French file to write them in.
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
SOURCES = [STRINGS, *VENDOR_STRINGS]  # each with its French twin: strings.fr.json beside it
VENDOR_SERVICES = sorted((INTEGRATION / "vendors").glob("*/services.yaml"))
VENDOR_ICONS = sorted((INTEGRATION / "vendors").glob("*/icons.json"))
ICONS = INTEGRATION / "icons.json"
ENGLISH = INTEGRATION / "translations" / "en.json"
FRENCH = INTEGRATION / "translations" / "fr.json"
SERVICES = INTEGRATION / "services.yaml"
REFERENCE = re.compile(r"\[%key:([a-z0-9_:]+)%\]")
PLACEHOLDER = re.compile(r"\{\w+\}")
# Home Assistant's own French (its core integrations' translations) for the ``common::`` texts
# multilock refers to; a new reference fails until its French is added here.
COMMON_FRENCH: dict[str, Any] = {
    "config_flow": {
        "data": {
            "api_key": "Clé API",
            "email": "E-mail",
            "host": "Hôte",
            "name": "Nom",
            "password": "Mot de passe",
            "username": "Nom d'utilisateur",
        },
        "error": {
            "invalid_auth": "Authentification non valide",
            "unknown": "Erreur inattendue",
        },
        "abort": {
            "already_configured_device": "L'appareil est déjà configuré",
            "reauth_successful": "La réauthentification a réussi",
            "reconfigure_successful": "La reconfiguration a réussi",
        },
    }
}
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


def french_twin(path: Path) -> Path:
    """Return the French file of the English ``strings.json`` at ``path``."""
    return path.with_name("strings.fr.json")


def _in_french(english: dict[str, Any], french: dict[str, Any]) -> dict[str, Any]:
    """Return one file's French texts in the English order.

    A text the French file leaves out keeps its English when that is only a reference (so that
    it gets the French of the text referred to); otherwise it is missing.
    """
    texts: dict[str, Any] = {}
    for key, value in english.items():
        if isinstance(value, dict):
            nested = french.get(key)
            if inner := _in_french(value, nested if isinstance(nested, dict) else {}):
                texts[key] = inner
        elif key in french:
            texts[key] = french[key]
        elif REFERENCE.fullmatch(value):
            texts[key] = value
    return texts


def strings(language: str = "en") -> dict[str, Any]:
    """Return the shared texts merged with every vendor's, in ``language`` (en or fr)."""
    merged: dict[str, Any] = {}
    for path in SOURCES:
        english = json.loads(path.read_text())
        if language == "fr":
            twin = french_twin(path)
            english = _in_french(english, json.loads(twin.read_text()) if twin.exists() else {})
        merge(merged, english)
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


def resolve(texts: dict[str, Any], common: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """Return ``texts`` with every reference replaced by the text it names.

    ``partial``: leave out a text whose reference names a missing text (a French text whose
    English twin has no French yet) instead of failing.
    """
    sources = {"common": common, "component": {"multilock": texts}}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            inner = {key: walk(value) for key, value in node.items()}
            kept = {key: value for key, value in inner.items() if value is not None}
            return kept if kept or not node else None
        while match := REFERENCE.search(node):
            try:
                text = _lookup(sources, match.group(1))
            except KeyError as err:
                if partial and match.group(1).startswith("component::"):
                    return None
                raise KeyError(f"{match.group(1)} has no text here (COMMON_FRENCH?)") from err
            node = node.replace(match.group(0), text)
        return node

    resolved: dict[str, Any] = walk(texts) or {}
    return resolved


def english() -> dict[str, Any]:
    """Return the texts of en.json."""
    core = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())
    return resolve(strings(), core["common"])


def french() -> dict[str, Any]:
    """Return the texts of fr.json (those with a French text)."""
    return resolve(strings("fr"), COMMON_FRENCH, partial=True)


def flatten(texts: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Return ``{"a.b.c": text}`` for nested texts (a value that is no dict is kept as it is)."""
    flat: dict[str, Any] = {}
    for key, value in texts.items():
        path = f"{where}.{key}" if where else key
        flat.update(flatten(value, path) if isinstance(value, dict) else {path: value})
    return flat


def missing_french(
    english_texts: dict[str, Any], french_texts: dict[str, Any]
) -> dict[Path, dict[str, str]]:
    """Return the English texts without French, by the French file to write them in."""
    have = flatten(french_texts)
    wanted = flatten(english_texts)
    missing: dict[Path, dict[str, str]] = {}
    for path in SOURCES:
        keys = [
            key
            for key, text in flatten(json.loads(path.read_text())).items()
            if key not in have and not REFERENCE.fullmatch(text)  # a reference follows its text
        ]
        if keys:
            missing[french_twin(path)] = {key: wanted[key] for key in keys}
    return missing


def french_problems(english_texts: dict[str, Any], french_texts: dict[str, Any]) -> list[str]:
    """Return what keeps fr.json from matching en.json, a line each."""
    problems = []
    if missing := missing_french(english_texts, french_texts):
        count = sum(len(texts) for texts in missing.values())
        files = ", ".join(str(path.relative_to(ROOT)) for path in missing)
        problems.append(
            f"No French for {count} English text(s) (in {files}): "
            "python scripts/translations.py --missing-fr lists them"
        )
    for path in SOURCES:
        twin = french_twin(path)
        if twin.exists():
            known = flatten(json.loads(path.read_text()))
            problems.extend(
                f"{twin.relative_to(ROOT)}: {key} has no English text in {path.name}"
                for key in flatten(json.loads(twin.read_text()))
                if key not in known
            )
    wanted = flatten(english_texts)
    for key, text in flatten(french_texts).items():
        ours, theirs = sorted(PLACEHOLDER.findall(text)), sorted(PLACEHOLDER.findall(wanted[key]))
        if ours != theirs:
            problems.append(f"fr.json {key}: placeholders {ours}, the English has {theirs}")
    return problems


def render(texts: dict[str, Any]) -> str:
    """Return the text of a translations file."""
    return json.dumps(texts, indent=2, ensure_ascii=False) + "\n"


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
    return render(merged)


def main() -> int:
    english_texts, french_texts = english(), french()
    if "--missing-fr" in sys.argv:
        missing = missing_french(english_texts, french_texts)
        for path, texts in missing.items():
            print(f"{path.relative_to(ROOT)}:")
            for key, text in texts.items():
                print(f"  {key}: {json.dumps(text, ensure_ascii=False)}")
        return 1 if missing else 0
    outputs = {
        ENGLISH: render(english_texts),
        FRENCH: render(french_texts),
        SERVICES: render_services(),
        ICONS: render_icons(),
    }
    problems = french_problems(english_texts, french_texts)
    if "--check" in sys.argv:
        stale = [
            path for path, text in outputs.items() if not path.exists() or path.read_text() != text
        ]
        for path in stale:
            print(f"{path} is out of date: run python scripts/translations.py")
        for problem in problems:
            print(problem)
        return 1 if stale or problems else 0
    ENGLISH.parent.mkdir(exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text)
    # Written all the same: Home Assistant shows the English of a text without French.
    for problem in problems:
        print(problem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
