"""A smoke run of the benchmark (scripts/bench): every row comes out, so that it cannot rot.

The figures of a smoke run mean nothing (a tiny scale, a few iterations); only the table's
rows are checked. The benchmark runs as a subprocess: it starts its own simulators and Home
Assistant cores, apart from this test's.
"""

from __future__ import annotations

import os
from pathlib import Path
import re
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "1a",
    "1b",
    "1c",
    "2",
    "2b",
    "2c",
    "2d",
    "3a",
    "3b",
    "3c",
    "3d",
    "3e",
    "4a",
    "4b",
    "4c",
    "4d",
    "5a",
    "5b",
    "6",
    "7a",
    "7b",
    "7c",
    "7d",
)


@pytest.mark.skipif(
    os.environ.get("MULTILOCK_ENV") == "floor",
    reason="scripts/bench runs on the newest release only",
)
def test_smoke_run_prints_every_row() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = re.findall(r"^\| (\w+) \| ", run.stdout, re.MULTILINE)
    assert rows == list(ROWS), run.stdout
    for row in ROWS:
        assert f"- **{row}** " in run.stdout  # how to read it
    assert "machine: " in run.stdout
