"""The benchmark suite's quick run, so that its code cannot rot. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]


def test_quick_run_fills_every_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads((tmp_path / "benchmarks.json").read_text())
    scenarios = {figure["scenario"].split(".")[0] for figure in figures}
    assert scenarios == {"1", "2", "3 and 4", "5", "6"}
    assert all(figure["value"] >= 0 for figure in figures)
    assert all(figure["met"] is None for figure in figures)  # quick figures judge nothing
    report = (tmp_path / "benchmarks.md").read_text()
    assert "## Machine" in report and "| 6 |" in report


@pytest.mark.parametrize("path", ["import", "single"])
async def test_the_counted_paths_store_and_window_every_event(path: str) -> None:
    # bench.instructions counts these paths under valgrind; here they run bare, small.
    from bench.instructions import events, run_path

    stored, windowed = await run_path(path, events(path, 300))
    assert (stored, windowed) == (300, 300)
