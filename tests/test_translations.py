"""multilock speaks French: every English text has its French twin, and Home Assistant loads it."""

from __future__ import annotations

import json
from pathlib import Path
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from custom_components.multilock.const import DOMAIN
from scripts.translations import flatten

TRANSLATIONS = Path(__file__).parent.parent / "custom_components/multilock/translations"
PLACEHOLDER = re.compile(r"\{\w+\}")
# Texts that read the same in both languages: names of brands, protocols and methods.
SAME_IN_FRENCH = {"Basic", "Code", "Digest", "HTTP", "HTTPS", "Message", "The Keys"}


ENGLISH = flatten(json.loads((TRANSLATIONS / "en.json").read_text()))
FRENCH = flatten(json.loads((TRANSLATIONS / "fr.json").read_text()))


def test_every_english_text_has_french() -> None:
    """fr.json has the keys of en.json, no more and no fewer."""
    missing = [key for key in ENGLISH if key not in FRENCH]
    extra = [key for key in FRENCH if key not in ENGLISH]
    assert not missing, f"no French for {missing} (python scripts/translations.py --missing-fr)"
    assert not extra, f"French texts without English: {extra}"


def test_french_keeps_the_placeholders() -> None:
    """Each French text has the {placeholders} of its English text, no more and no fewer."""
    differ = {
        key: (PLACEHOLDER.findall(ENGLISH[key]), PLACEHOLDER.findall(text))
        for key, text in FRENCH.items()
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(ENGLISH.get(key, "")))
    }
    assert not differ, f"placeholders (English, French) differ: {differ}"


def test_no_english_left_in_french() -> None:
    """A French text equal to its English one is a name that reads the same in French."""
    same = {key: text for key, text in FRENCH.items() if text == ENGLISH.get(key)}
    assert set(same.values()) <= SAME_IN_FRENCH, (
        f"English left in fr.json: { {k: v for k, v in same.items() if v not in SAME_IN_FRENCH} }"
    )


async def test_home_assistant_loads_french(hass: HomeAssistant) -> None:
    """Home Assistant serves multilock's French to a user whose language is French."""
    prefix = f"component.{DOMAIN}"
    config = await async_get_translations(hass, "fr", "config", [DOMAIN])
    assert config[f"{prefix}.config.step.user.title"] == "Ajouter des serrures"
    assert config[f"{prefix}.config.step.thekeys_gateway.title"] == "Passerelle The Keys"
    assert config[f"{prefix}.config.step.doordeck.data.password"] == "Mot de passe"
    entity = await async_get_translations(hass, "fr", "entity", [DOMAIN])
    assert entity[f"{prefix}.entity.sensor.bolt.state.jammed"] == "Bloqué"
    exceptions = await async_get_translations(hass, "fr", "exceptions", [DOMAIN])
    assert exceptions[f"{prefix}.exceptions.no_lock_targeted.message"] == (
        "Choisissez au moins une serrure."
    )
