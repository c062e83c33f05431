"""Reading the HTTP headers every vendor's API may send (no Home Assistant import: the
clients use it, and they could be published as libraries)."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
import math


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP date (RFC 9110); None if unreadable.

    ``now`` is the epoch time an HTTP date is counted from (the server's, where known).
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except TypeError, ValueError, IndexError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None
