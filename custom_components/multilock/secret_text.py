"""Keeping a client's secrets out of the text a vendor's API sends back.

An API's error text may quote what was sent: an API key, a token, a password, an enrolment
code. Every vendor's client passes such text through its ``SecretScrubber`` before the text
goes into an exception (and so into a log line or the UI): a plain text with ``scrub``, a
decoded JSON reply with ``scrub_values`` (its strings, never its keys). No Home Assistant
import here: the clients use it, and they could be published as libraries.

What is removed, case-insensitively, each as sent, JSON-escaped (``\\/`` and ``\\u`` forms)
and URL-encoded:

* from a secret of ``FRAGMENT`` characters or more, any part of ``FRAGMENT`` characters or
  more, wherever it is (an API that cuts a quote short still leaks nothing longer);
* a shorter secret where it stands alone (not inside a longer word or number), so that a
  short password does not shred every word that contains it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import json
import re
from typing import Final
from urllib.parse import quote, quote_plus

REDACTED: Final = "***"
# Parts this long or longer of a secret are removed wherever they appear; shorter secrets
# only where they stand alone.
FRAGMENT: Final = 10

type SecretSource = Callable[[], Iterable[str | None]]


class SecretScrubber:
    """The secrets one client holds, and their removal from text the API sent.

    Secrets are given when it is made, added later (``add``: a password used to sign in), or
    read at each use from ``current`` (tokens that the client renews).
    """

    def __init__(self, *secrets: str | None, current: SecretSource | None = None) -> None:
        """Hold ``secrets``; ``current`` returns the secrets of the moment at each use."""
        self._secrets: set[str] = set()
        self._current = current
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Hold more secrets (None and blank ones are ignored)."""
        self._secrets.update(secret for secret in secrets if secret and secret.strip())

    def __repr__(self) -> str:
        """Say how many secrets, never which."""
        return f"SecretScrubber({len(self._held())} secrets)"

    def scrub(self, text: str) -> str:
        """Return ``text`` with every secret held replaced by ``***``."""
        held = self._held()
        if not held or not text:
            return text
        spans: list[tuple[int, int]] = []
        folded = _fold(text)
        for secret in held:
            for form in _forms(secret):
                spans.extend(_occurrences(folded, _fold(form)))
        return _redact(text, spans)

    __call__ = scrub

    def scrub_values(self, value: object) -> object:
        """Return decoded JSON with every string (not the keys) scrubbed."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {key: self.scrub_values(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub_values(item) for item in value]
        return value

    def _held(self) -> set[str]:
        if self._current is None:
            return self._secrets
        current = {secret for secret in self._current() if secret and secret.strip()}
        return self._secrets | current


def _forms(secret: str) -> set[str]:
    """A secret as it may be quoted back: as sent, JSON-escaped, URL-encoded."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        secret.strip(),
        escaped,
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }


def _fold(text: str) -> str:
    """Lower case, one character for one (so that positions stay those of ``text``)."""
    return "".join(lower if len(lower := char.lower()) == 1 else char for char in text)


def _occurrences(text: str, secret: str) -> list[tuple[int, int]]:
    """Where ``secret`` (or a long enough part of it) is in ``text`` (both folded)."""
    if len(secret) < FRAGMENT:
        pattern = rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])"
        return [match.span() for match in re.finditer(pattern, text)]
    parts = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    return [
        (start, start + FRAGMENT)
        for start in range(len(text) - FRAGMENT + 1)
        if text[start : start + FRAGMENT] in parts
    ]


def _redact(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace each run of overlapping or touching spans by one ``***``."""
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    end = -1
    for start, stop in sorted(spans):
        if start > end:
            if end >= 0:
                pieces.append(REDACTED)
            pieces.append(text[position:start])
        end = max(end, stop)
        position = end
    pieces.append(REDACTED)
    pieces.append(text[position:])
    return "".join(pieces)
