"""Benchmark case: train the risk model (nested CV + final refit) on simulated cohorts.

Two cohorts: one like the demo's (3,000 people x 3,000 features: PGS, age,
sex, 4 PCs, 2,993 dosages) and a 10,000-person one with the same features.
Both sides run the same protocol: 5 outer stratified folds, the same number of
random-search candidates in each, early stopping on a 20% inner split of the
training fold, an in-fold dosage filter, balanced class weights, then a final
refit on all rows.

Reference: scikit-learn's HistGradientBoostingClassifier under that same
protocol (run by this file as a script, ``python bench/cases/train_model.py
reference ...``). It is the field's other histogram gradient-boosting
implementation, so the comparison is library against library for identical
work; a LogisticRegression baseline does a different, far smaller job and
would say nothing about whether our training is efficient.

genorisk also does what the reference script does not: calibration with a
bootstrap band, bootstrap CIs for four metrics and a baseline, all included
in its timing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
BENCH = HERE.parents[1]
PYTHON = sys.executable

DESCRIPTION = "train: nested 5-fold CV x 6 candidates + refit, 3k x 3k and 10k x 3k features"
SIZES = {"3k": 3000, "10k": 10000}
N_VARIANTS = 2993
N_TRIALS = 6
THREADS = 2
MAX_BIN = 32


def _simulator():
    sys.path.insert(0, str(BENCH))
    from learning_curve import simulate_cohort, write_cohort

    return simulate_cohort, write_cohort


def prepare(workdir: Path) -> None:
    simulate_cohort, write_cohort = _simulator()
    for name, n in SIZES.items():
        X, y, schema, truth = simulate_cohort(n, n_variants=N_VARIANTS, architecture="non-additive", seed=n)
        write_cohort(workdir, f"cohort_{name}", X, y, schema, truth)
    (workdir / "model_config.json").write_text(
        json.dumps(
            {
                "model": {
                    "n_folds": 5,
                    "n_trials": N_TRIALS,
                    "max_bin": MAX_BIN,
                    "n_bootstrap": 200,
                    "max_dosage_features": 1000,
                }
            }
        )
    )


def commands(workdir: Path) -> dict[str, list[str]]:
    out = {}
    for name in SIZES:
        stem = str(workdir / f"cohort_{name}")
        out[f"genorisk_{name}"] = [
            PYTHON,
            "-m",
            "genorisk",
            "train",
            "--threads",
            str(THREADS),
            "--features",
            f"{stem}.parquet",
            "--schema",
            f"{stem}.schema.json",
            "--labels",
            f"{stem}.labels.tsv",
            "--truth",
            f"{stem}.truth.json",
            "--config",
            str(workdir / "model_config.json"),
            "--out",
            str(workdir / f"model_{name}"),
        ]
        out[f"sklearn_hgb_{name}"] = [PYTHON, str(HERE), "reference", "--stem", stem]
    # Order: genorisk first, its reference second (the runner's ratio), then the rest.
    return {k: out[k] for k in ("genorisk_3k", "sklearn_hgb_3k", "genorisk_10k", "sklearn_hgb_10k")}


def reference(stem: str) -> None:
    """Same nested protocol with HistGradientBoostingClassifier; prints the OOF AUC."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from genorisk.model import (
        ModelConfig,
        dosage_ranking,
        read_feature_matrix,
        read_labels,
        sample_candidates,
        top_k_columns,
    )

    X = read_feature_matrix(f"{stem}.parquet")
    y = read_labels(f"{stem}.labels.tsv", X.index)
    kinds = [f["kind"] for f in json.loads(Path(f"{stem}.schema.json").read_text())["features"]]
    data = X.to_numpy(dtype=np.float32)
    config = ModelConfig(n_trials=N_TRIALS, threads=THREADS, max_bin=MAX_BIN)
    candidates = sample_candidates(config, np.random.default_rng(config.seed))

    def model(c, seed):
        return HistGradientBoostingClassifier(
            learning_rate=c["learning_rate"],
            max_depth=c["max_depth"],
            max_iter=config.n_estimators,
            l2_regularization=c["reg_lambda"],
            max_features=c["colsample_bytree"],
            min_samples_leaf=max(1, int(round(c["min_child_weight"] * 4))),  # hessian ~0.25 per row at p=0.5
            max_bins=MAX_BIN - 1,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=config.early_stopping_rounds,
            scoring="loss",
            class_weight="balanced",
            random_state=seed,
        )

    t0 = time.perf_counter()
    oof = np.empty(len(y))
    losses = np.zeros((config.n_folds, len(candidates)))
    iters = np.zeros_like(losses)
    for k, (tr, te) in enumerate(
        StratifiedKFold(config.n_folds, shuffle=True, random_state=config.seed).split(data, y)
    ):
        ranking = dosage_ranking(data[tr], y[tr], kinds)
        fitted = []
        for t, c in enumerate(candidates):
            cols = top_k_columns(ranking, kinds, c["n_dosage_features"])
            m = model(c, config.seed + k).fit(data[np.ix_(tr, cols)], y[tr])
            losses[k, t] = -np.max(m.validation_score_)  # scores are negative losses
            iters[k, t] = m.n_iter_
            fitted.append((m, cols))
        m, cols = fitted[int(np.argmin(losses[k]))]
        oof[te] = m.predict_proba(data[np.ix_(te, cols)])[:, 1]
    chosen = int(np.argmin(losses.mean(axis=0)))
    cols = top_k_columns(dosage_ranking(data, y, kinds), kinds, candidates[chosen]["n_dosage_features"])
    final = model(candidates[chosen], config.seed)
    final.set_params(early_stopping=False, max_iter=max(1, int(math.floor(np.median(iters[:, chosen])))))
    final.fit(data[:, cols], y)
    print(f"sklearn HGB: OOF ROC AUC {roc_auc_score(y, oof):.4f} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="reference side of the train_model benchmark")
    parser.add_argument("mode", choices=["reference"])
    parser.add_argument("--stem", required=True)
    args = parser.parse_args()
    reference(args.stem)
