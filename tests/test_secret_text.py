"""The secret scrubber every vendor's client passes the API's text through."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from custom_components.multilock.secret_text import FRAGMENT, REDACTED, SecretScrubber

API_KEY = "181d415f34379af07b2c11d144dfbe35d.181d415f34379af07b2c11d144dfbe35e"
CODE = "Uyu7y0bmu5sTdGwN1GcJHK3MnPYGc1n2fuYFz8Tb/gbv+RNk7tgfxE1eLLrWium0T==é"


@pytest.mark.parametrize(
    "quoted",
    [
        CODE,  # as sent
        json.dumps(CODE)[1:-1],  # JSON-escaped (\u00e9)
        json.dumps(CODE)[1:-1].replace("/", "\\/"),  # JSON with \/ (PHP writes that)
        quote(CODE, safe=""),  # URL-encoded
        CODE.upper(),  # case changed
        CODE[:FRAGMENT],  # cut short by the API
        CODE[17 : 17 + FRAGMENT + 3],  # any part long enough
    ],
)
def test_a_secret_in_any_form_it_is_quoted(quoted: str) -> None:
    scrub = SecretScrubber(CODE)
    text = scrub(f"Invalid installer code '{quoted}' for this lock")
    assert text == f"Invalid installer code '{REDACTED}' for this lock"


def test_several_secrets_and_runs_of_them() -> None:
    scrub = SecretScrubber(API_KEY, CODE, None, " ")
    text = scrub(f"key {API_KEY}{CODE} and {API_KEY[:12]}, then {CODE}.")
    assert text == f"key {REDACTED} and {REDACTED}, then {REDACTED}."
    assert repr(scrub) == "SecretScrubber(2 secrets)"
    # A part shorter than FRAGMENT stays: it could be anything.
    assert scrub(f"starts {CODE[: FRAGMENT - 1]}") == f"starts {CODE[: FRAGMENT - 1]}"


def test_short_secrets_only_where_they_stand_alone() -> None:
    scrub = SecretScrubber("1", "code", "hunter2")
    assert scrub("HTTP 401: password 1 refused") == f"HTTP 401: password {REDACTED} refused"
    assert scrub('{"code": "x", "pw": "hunter2"}') == f'{{"{REDACTED}": "x", "pw": "{REDACTED}"}}'
    assert scrub("codes hunter22 _hunter2_") == f"codes hunter22 _{REDACTED}_"


def test_secrets_of_the_moment_and_later_ones() -> None:
    tokens = ["eyJfirst.4f1e9a0c2b7d"]
    scrub = SecretScrubber(current=lambda: tokens)
    assert scrub(f"Bearer {tokens[0]}") == f"Bearer {REDACTED}"
    tokens[0] = "eyJsecond.88d2e6b1f03a"
    assert scrub("Bearer eyJfirst.4f1e9a0c2b7d") == "Bearer eyJfirst.4f1e9a0c2b7d"
    assert scrub("Bearer eyJsecond.88d2e6b1f03a") == f"Bearer {REDACTED}"
    scrub.add("a password")
    assert scrub("not a password?") == f"not {REDACTED}?"
    assert scrub("") == ""
    assert SecretScrubber()("nothing to hide") == "nothing to hide"


def test_decoded_json_keeps_its_keys_and_other_values() -> None:
    scrub = SecretScrubber("code", API_KEY)
    reply = {"status": "ko", "code": 33, "detail": [f"key {API_KEY}", "code", None, 1.5]}
    assert scrub.scrub_values(reply) == {
        "status": "ko",
        "code": 33,
        "detail": [f"key {REDACTED}", REDACTED, None, 1.5],
    }
