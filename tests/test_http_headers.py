"""Retry-After as every vendor's client reads it."""

from __future__ import annotations

import pytest

from custom_components.multilock.http_headers import retry_after_seconds


@pytest.mark.parametrize(
    ("value", "now", "seconds"),
    [
        (None, 0, None),
        ("3", 0, 3.0),
        (" 1.5 ", 0, 1.5),
        ("-4", 0, 0.0),
        ("inf", 0, None),
        ("nan", 0, None),
        ("soon", 0, None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0, 10.0),
        ("Fri, 15 Jan 2027 08:00:03 GMT", 1_800_000_000.0, 3.0),
        ("Fri, 15 Jan 2027 08:00:03 -0000", 1_800_000_000.0, 3.0),  # no zone: UTC
    ],
)
def test_retry_after(value: str | None, now: float, seconds: float | None) -> None:
    """Delay-seconds or an HTTP date counted from ``now``; anything else is unreadable."""
    assert retry_after_seconds(value, now) == seconds
