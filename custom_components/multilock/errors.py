"""Mapping a vendor client's errors to the names its texts use."""

from __future__ import annotations

# (error class, name) pairs, subclasses first: the first class an error is an instance of wins.
type ErrorNames = tuple[tuple[type[Exception], str], ...]


def error_name(err: Exception, names: ErrorNames, default: str) -> str:
    """Return the name ``names`` gives ``err`` (its first matching class), else ``default``."""
    return next((name for cls, name in names if isinstance(err, cls)), default)
