"""bench/learning_curve.py: the cohort simulator's held-out people and the held-out run end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.simulate import auc_ceiling

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lc():
    spec = importlib.util.spec_from_file_location("bench_learning_curve", REPO / "bench" / "learning_curve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "options",
    [
        {"architecture": "additive"},
        {"architecture": "non-additive"},
        {"architecture": "additive", "n_causal": 40, "h2": 0.35, "prevalence": 0.08, "var_age": 0.0},
    ],
)
def test_cohort_does_not_depend_on_heldout_people(lc, options):
    X, y, schema, truth = lc.simulate_cohort(700, n_variants=60, seed=11, **options)
    X2, y2, schema2, truth2, X_h, y_h = lc.simulate_cohort_and_heldout(700, 300, n_variants=60, seed=11, **options)
    pd.testing.assert_frame_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert schema == schema2 and truth == truth2
    assert list(X_h.columns) == list(X.columns)
    assert len(X_h) == len(y_h) == 300
    assert not set(X_h.index) & set(X.index)


def test_heldout_people_follow_the_cohorts_genetic_model(lc):
    # Same allele frequencies and effects: a least-squares map from the cohort's causal dosages to its
    # PGS (which follows the additive genetic value) predicts the held-out people's PGS as well.
    X, y, _, _, X_h, y_h = lc.simulate_cohort_and_heldout(5000, 5000, n_variants=40, n_causal=20, seed=4)
    causal = [c for c in X.columns if c.startswith("chr21_")][:20]
    design = np.column_stack([np.ones(len(X)), X[causal].to_numpy(float)])
    coef, *_ = np.linalg.lstsq(design, X["pgs_PGS000001"].to_numpy(float), rcond=None)
    fitted = np.column_stack([np.ones(len(X_h)), X_h[causal].to_numpy(float)]) @ coef
    r_cohort = np.corrcoef(design @ coef, X["pgs_PGS000001"])[0, 1]
    r_heldout = np.corrcoef(fitted, X_h["pgs_PGS000001"])[0, 1]
    assert r_cohort > 0.6
    assert abs(r_heldout - r_cohort) < 0.05
    # The same threshold: the held-out case fraction is the prevalence up to sampling noise.
    assert abs(y_h.mean() - 0.1) < 0.015
    assert np.allclose(X_h[causal].mean(), X[causal].mean(), atol=0.08)


def test_issue_cohort_truth_gives_the_issues_ceiling(lc):
    _, _, _, truth = lc.simulate_cohort(300, n_variants=60, n_causal=40, h2=0.35, prevalence=0.08, var_age=0.0)
    assert truth == {"h2": 0.35, "h2_total": 0.35, "prevalence": 0.08}
    assert auc_ceiling(truth["h2_total"], truth["prevalence"]) == pytest.approx(0.826, abs=5e-4)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"architecture": "dominant"}, "unknown architecture"),
        ({"h2": 0.8, "architecture": "non-additive"}, "must be in"),
        ({"prevalence": 1.0}, "prevalence"),
        ({"n_causal": 80}, "n_causal"),
    ],
)
def test_bad_settings_are_refused(lc, options, message):
    with pytest.raises(ValueError, match=message):
        lc.simulate_cohort(100, n_variants=60, **options)


@pytest.mark.integration
def test_heldout_run_scores_through_the_artifact_and_counts_targets(lc, tmp_path):
    argv = [
        "--sizes", "400", "--variants", "60", "--trials", "1", "--threads", "1", "--scores", "without",
        "--architectures", "additive", "--heldout", "200", "--results-dir", str(tmp_path), "--out", "t",
    ]  # fmt: skip
    assert lc.main(argv) == 0
    section = json.loads((tmp_path / "t.json").read_text())["sections"][0]
    (row,) = section["rows"]
    h = row["heldout"]
    assert h["n"] == 200 and h["same_oof"]
    assert {h["other_model"], row["shipped"]} == {"boosted", "linear"}
    diff = h["boosted_minus_linear"]
    assert diff["estimate"] == pytest.approx(diff["auc_a"] - diff["auc_b"])
    (summary,) = section["summary"]
    assert summary["met"]["boosted_beats_strong_oof"] is None  # additive: the non-additive target does not apply
    assert summary["met"]["oof_ratio"] == int(row["shipped_over_ceiling"] >= 0.90)
    text = (tmp_path / "t.md").read_text()
    assert "held-out / ceiling" in text and section["command"] in text
    # --append keeps the earlier section.
    assert lc.main([*argv, "--append", "--seed", "3"]) == 0
    assert len(json.loads((tmp_path / "t.json").read_text())["sections"]) == 2
    # --render-only re-renders the Markdown from the JSON, with a discussion kept in the JSON.
    (tmp_path / "reading.md").write_text("Power limits the held-out comparison.\n")
    assert lc.main(["--render-only", "--discussion", str(tmp_path / "reading.md"), "--results-dir", str(tmp_path),
                    "--out", "t"]) == 0  # fmt: skip
    assert "## Reading\n\nPower limits" in (tmp_path / "t.md").read_text()
    assert json.loads((tmp_path / "t.json").read_text())["discussion"].startswith("Power limits")


@pytest.mark.integration
def test_replicates_without_heldout_people_judge_the_oof_targets(lc, tmp_path):
    """--replicates without --heldout: every replicate's row, and the OOF verdicts in the report."""
    argv = [
        "--sizes", "300", "--variants", "60", "--trials", "1", "--threads", "1", "--scores", "without",
        "--architectures", "non-additive", "--replicates", "2", "--results-dir", str(tmp_path), "--out", "r",
    ]  # fmt: skip
    assert lc.main(argv) == 0
    section = json.loads((tmp_path / "r.json").read_text())["sections"][0]
    assert [r["replicate"] for r in section["rows"]] == [0, 1] and "heldout" not in section["rows"][0]
    (summary,) = section["summary"]
    assert summary["met"]["boosted_beats_strong_oof"] in (0, 1, 2)
    assert "boosted beats the strong baseline, OOF CI above 0" in (tmp_path / "r.md").read_text()


@pytest.mark.integration
def test_the_learning_curve_without_hgb_writes_its_table(lc, tmp_path):
    """--no-hgb on the plain learning curve: HGB's columns read "-" (a crash in its table before)."""
    argv = [
        "--sizes", "300", "--variants", "60", "--trials", "1", "--threads", "1", "--scores", "without",
        "--architectures", "additive", "--no-hgb", "--results-dir", str(tmp_path), "--out", "c",
    ]  # fmt: skip
    assert lc.main(argv) == 0
    (row,) = [line for line in (tmp_path / "c.md").read_text().splitlines() if line.startswith("| without")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[8] == "-" and cells[9] == "-" and cells[5] != "-"
