"""bench/in_cohort_score_memory.py: one measurement per size, in a fresh process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_memory_bench_measures_each_size_in_its_own_process(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "bench_in_cohort_score_memory", REPO / "bench" / "in_cohort_score_memory.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "memory.md"
    assert bench.main(["--people", "400", "800", "--candidates", "300", "--out", str(out)]) == 0
    rows = [
        line.split("|") for line in out.read_text().splitlines() if line.startswith("| 400") or line.startswith("| 800")
    ]
    assert [r[1].strip() for r in rows] == ["400", "800"]
    # Seconds have two decimals: a fit of 400 people takes tens of milliseconds.
    assert all(float(r[4]) >= 0 and float(r[6]) > 0 for r in rows)
