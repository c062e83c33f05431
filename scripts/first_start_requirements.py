"""Print the packages Home Assistant would pip-install at the first start of the demo.

Home Assistant installs an integration's requirements when it first loads it; on a fresh
environment that is minutes of downloading and building (the voice pipeline's C extensions)
before the web UI answers. ``scripts/bootstrap`` installs what this prints, constrained by the
release's ``package_constraints.txt``, so that the environment carries them: the integrations
of the demo's configuration (``scripts/develop_config.py``), those Home Assistant always loads,
multilock's own platforms and dependencies, and all of their dependencies, read from the
release's manifests.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
import sys

from homeassistant import bootstrap
import homeassistant.components
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = Path(homeassistant.components.__file__).parent
MULTILOCK = ROOT / "custom_components" / "multilock"
# The platforms multilock forwards its entries to (one module per platform).
MULTILOCK_PLATFORMS = tuple(
    path.stem for path in MULTILOCK.glob("*.py") if path.stem in bootstrap.BASE_PLATFORMS
)


def demo_integrations() -> set[str]:
    """Return the integrations named in the demo's configuration.yaml."""
    spec = importlib.util.spec_from_file_location(
        "develop_config", ROOT / "scripts" / "develop_config.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    configuration = yaml.safe_load(module.CONFIGURATION_YAML)
    return {key for key in configuration if (COMPONENTS / key).is_dir()}


def manifest(domain: str) -> dict[str, list[str]]:
    """Return the manifest of a built-in integration (empty when there is none)."""
    path = COMPONENTS / domain / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def requirements() -> list[str]:
    """Return the requirements of every integration the demo loads, sorted, each once."""
    own = json.loads((MULTILOCK / "manifest.json").read_text(encoding="utf-8"))
    wanted = (
        demo_integrations()
        | set(bootstrap.CORE_INTEGRATIONS)
        | set(bootstrap.DEFAULT_INTEGRATIONS)
        | set(bootstrap.LOGGING_AND_HTTP_DEPS_INTEGRATIONS)
        | set(bootstrap.FRONTEND_INTEGRATIONS)
        | set(MULTILOCK_PLATFORMS)
        | set(own.get("dependencies", []))
        | set(own.get("after_dependencies", []))
    )
    seen: set[str] = set()
    found: set[str] = set()
    while wanted:
        domain = wanted.pop()
        if domain in seen:
            continue
        seen.add(domain)
        info = manifest(domain)
        found.update(info.get("requirements", []))
        wanted.update(info.get("dependencies", []))
    return sorted(found)


if __name__ == "__main__":
    sys.stdout.write("".join(f"{requirement}\n" for requirement in requirements()))
