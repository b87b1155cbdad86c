"""bench/in_cohort_score_trial.py: the example cohort's true additive value and the trial's methods."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trial_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_in_cohort_score_trial", REPO / "bench" / "in_cohort_score_trial.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_cohorts_redrawn_additive_value_is_the_simulators(trial_bench):
    # issue_cohort asserts the redrawn genotypes equal the simulator's; the value must drive status.
    x, y, genetic = trial_bench.issue_cohort(2 + 4000)
    assert x.shape == (4000, 500) and len(y) == len(genetic) == 4000
    assert roc_auc_score(y, genetic) > 0.8  # h2 0.35 at K 0.08: the Wray ceiling is 0.826


def test_the_trial_scores_every_method_against_the_truth(trial_bench, tmp_path):
    rng = np.random.default_rng(4)
    n, m = 1500, 300
    maf = rng.uniform(0.05, 0.5, m)
    x = rng.binomial(2, maf, size=(n, m)).astype(np.float64)
    genetic = ((x[:, :20] - 2 * maf[:20]) / np.sqrt(2 * maf[:20] * (1 - maf[:20]))) @ rng.normal(size=20)
    liability = genetic / genetic.std() * np.sqrt(0.5) + rng.normal(scale=np.sqrt(0.5), size=n)
    y = (liability > np.quantile(liability, 0.8)).astype(int)
    result = trial_bench.trial(x, y, genetic, [50, 200])
    # The default stack's sizes (50, 200, 1000) capped at the 300 variants, and a stack over --sizes.
    assert set(result["r"]) == {
        "old pipeline",
        "likelihood 50",
        "likelihood 200",
        "stack 50/200/300, no elastic net",
        "stack 50/200/300 + elastic net 200 (default)",
        "stack 50/200 + elastic net 200",
    }
    assert all(len(v) == 5 for v in result["r_per_fold"].values())
    # A sparse signal: the stack weighs the top 50 and tracks the truth on unseen rows; the net does better.
    r = result["r"]
    assert min(r["stack 50/200/300, no elastic net"], r["stack 50/200 + elastic net 200"]) > 0.6
    assert r["stack 50/200/300 + elastic net 200 (default)"] > r["stack 50/200/300, no elastic net"] + 0.02
    assert r["likelihood 50"] > r["likelihood 200"]
    text = trial_bench.render([{"title": "t", "command": "c", "load": [0, 0, 0], "result": result}])
    assert "| stack 50/200/300 + elastic net 200 (default) |" in text
    json.dumps(result)  # the result file is JSON
