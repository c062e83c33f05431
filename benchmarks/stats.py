"""Medians, percentiles, and the one table of a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math


def percentile(values: Sequence[float], share: float) -> float:
    """Return the ``share`` (0..1) percentile, linear between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """Return the median."""
    return percentile(values, 0.5)


@dataclass
class Row:
    """One row of the table: samples of a figure, its baseline samples and its target.

    ``unit`` is "s", "ms", "us" (values in seconds, shown in that unit), "op" (seconds per
    operation, shown in µs and per second), "MB", "%", or "" (a count). ``ratio`` is
    median / baseline median. ``target`` is a check on the row: ``("ratio<=", 1.5)``,
    ``("p95<=", 1.0)``, ``("max<=", 0)``, ``("median<=", 5.0)`` or
    ``("median==baseline", None)``; None: no target (shown as "-").
    """

    key: str
    what: str
    unit: str
    samples: list[float]
    baseline_what: str = ""
    baseline: list[float] = field(default_factory=list)
    target: tuple[str, float | None] | None = None
    target_text: str = "-"
    how: str = ""

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def baseline_median(self) -> float:
        return median(self.baseline)

    @property
    def ratio(self) -> float:
        base = self.baseline_median
        if not self.baseline or base == 0 or math.isnan(base):
            return math.nan
        return self.median / base

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.samples:
            return None
        kind, value = self.target
        checks = {
            "ratio<=": lambda: self.ratio <= (value or 0),
            "median<=": lambda: self.median <= (value or 0),
            "p95<=": lambda: self.p95 <= (value or 0),
            "max<=": lambda: max(self.samples) <= (value or 0),
            "median==baseline": lambda: self.median == self.baseline_median,
        }
        return bool(checks[kind]())


def fmt(value: float, unit: str) -> str:
    """Format a value (seconds for time units) in ``unit``."""
    if math.isnan(value):
        return "n/a"
    if unit == "op":  # seconds per operation: shown in µs and operations per second
        rate = 1 / value
        shown_rate = f"{rate / 1e3:.0f} k/s" if rate >= 1e4 else f"{rate:.0f}/s"
        return f"{fmt(value, 'us')} ({shown_rate})"
    scaled = {"s": value, "ms": value * 1e3, "us": value * 1e6}.get(unit, value)
    if unit == "":
        return f"{scaled:g}" if scaled == int(scaled) else f"{scaled:.1f}"
    digits = 0 if abs(scaled) >= 100 else 1 if abs(scaled) >= 10 else 2
    shown = {"us": "µs"}.get(unit, unit)
    space = "" if unit == "%" else " "
    return f"{scaled:.{digits}f}{space}{shown}"


def render(rows: Sequence[Row]) -> str:
    """Return the table (Markdown) of the rows."""
    header = ["#", "what", "n", "median", "p95", "baseline (median)", "ratio", "target", "met"]
    lines = [header, ["---"] * len(header)]
    for row in rows:
        ratio = row.ratio
        met = row.met
        lines.append(
            [
                row.key,
                row.what,
                str(len(row.samples)),
                fmt(row.median, row.unit),
                fmt(row.p95, row.unit),
                (
                    f"{fmt(row.baseline_median, row.unit)} {row.baseline_what}".strip()
                    if row.baseline
                    else "-"
                ),
                "-" if math.isnan(ratio) else f"{ratio:.2f}",
                row.target_text,
                {True: "yes", False: "**NO**", None: "-"}[met],
            ]
        )
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def legend(rows: Sequence[Row]) -> str:
    """Return one line per row on how to read it."""
    return "\n".join(f"- **{row.key}** {row.how}" for row in rows if row.how)
