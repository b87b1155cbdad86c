#!/usr/bin/env python3
"""Learning curve of the risk model: OOF ROC AUC against cohort size, next to the ceiling.

Usage::

    .venv/bin/python bench/learning_curve.py [--sizes 1000 2000 4000 10000]
        [--variants 500] [--trials 4] [--threads 2] [--scores with without] [--out learning_curve]

Cohorts are simulated under the liability-threshold model (HWE genotypes,
prevalence K, cases = top K of liability) in two architectures:

* ``additive`` - 50 causal variants (h2 = 0.4) plus age;
* ``non-additive`` - additive h2 = 0.2, plus epistasis (product of two
  centred dosages, 0.1), gene x age (centred dosage x centred age, 0.1) and
  dominance (heterozygote indicator, centred, 0.05), plus age.

Features: a noisy PGS (the additive value plus noise, correlation 0.7 with
it: a realistic external score; ``--scores without`` drops it, as for a new
endpoint), age, sex, 4 null PCs and the dosages of the causal and null
variants. The ceiling (Wray et al. 2010) uses all variance a predictor could
capture (genetic, all kinds, plus age). Beside genorisk's boosted model, on the
same outer folds: the strong baseline (logistic regression on the in-cohort
ridge score, PGS, age, sex and PCs; issue #16), the model genorisk ships by its
rule, and scikit-learn's HistGradientBoosting (defaults, early stopping, the
same in-fold dosage filter), with paired-bootstrap CIs of the differences.

Writes ``bench/results/learning_curve.md`` and ``.json``. The simulator
:func:`simulate_cohort` is shared with ``bench/cases/train_model.py`` and
``bench/cases/score_patients.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VAR_AGE = 0.05


def _scaled(v: np.ndarray, var: float) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd * np.sqrt(var) if sd > 0 else np.zeros_like(v)


def simulate_cohort(
    n: int,
    *,
    n_variants: int = 500,
    n_causal: int = 50,
    architecture: str = "additive",
    prevalence: float = 0.1,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray, dict, dict]:
    """Simulate a cohort; return (X, y, schema, truth).

    ``truth`` has ``h2`` (additive genetic variance), ``h2_total`` (all
    variance a predictor could capture: genetic of all kinds plus age) and
    ``prevalence``, ready for ``train_model(..., truth=truth)``.
    """
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, n_variants)
    g = rng.binomial(2, maf, size=(n, n_variants)).astype(np.float32)
    z = (g[:, :n_causal] - 2 * maf[:n_causal]) / np.sqrt(2 * maf[:n_causal] * (1 - maf[:n_causal]))
    age = rng.normal(size=n)
    if architecture == "additive":
        h2, parts = 0.4, []
    elif architecture == "non-additive":
        h2 = 0.2
        het = (g[:, 3] == 1).astype(float)
        parts = [
            _scaled(z[:, 0] * z[:, 1], 0.1),  # epistasis
            _scaled(z[:, 2] * age, 0.1),  # gene x age
            _scaled(het, 0.05),  # dominance (overdominance at variant 3)
        ]
    else:
        raise ValueError(f"unknown architecture {architecture!r}")
    additive = _scaled(z @ rng.normal(size=n_causal), h2)
    h2_nonadd = 0.0 if not parts else 0.25
    explained = h2 + h2_nonadd + VAR_AGE
    liability = additive + sum(parts) + _scaled(age, VAR_AGE) + rng.normal(size=n) * np.sqrt(1 - explained)
    y = (liability > norm.ppf(1 - prevalence)).astype(np.int8)
    # A realistic external PGS: correlation 0.7 with the true additive value.
    pgs = additive / np.sqrt(h2) * 0.7 + rng.normal(size=n) * np.sqrt(1 - 0.49)
    sex = rng.integers(0, 2, n)
    pcs = rng.normal(size=(n, 4))
    columns = {
        "pgs_PGS000001": pgs,
        "age": 60 + 10 * age,
        "sex": sex,
        **{f"PC{i + 1}": pcs[:, i] for i in range(4)},
        **{f"chr21_{5030001 + i}_A_G": g[:, i] for i in range(n_variants)},
    }
    X = pd.DataFrame(columns, index=pd.Index([f"SIM{i:06d}" for i in range(n)], name="sample_id"))
    X = X.astype(np.float32)
    features = [
        {
            "name": "pgs_PGS000001",
            "kind": "pgs",
            "label": "polygenic score PGS000001",
            "group": "polygenic score PGS000001",
            "definition": {"pgs_id": "PGS000001"},
        },
        {"name": "age", "kind": "covariate", "label": "age", "group": "age", "definition": {"unit": "years"}},
        {"name": "sex", "kind": "covariate", "label": "sex", "group": "sex", "definition": {"coding": "0=F,1=M"}},
    ]
    features += [
        {
            "name": f"PC{i + 1}",
            "kind": "pc",
            "label": f"ancestry PC{i + 1}",
            "group": "ancestry (PCs)",
            "definition": {"pc": i + 1},
        }
        for i in range(4)
    ]
    features += [
        {
            "name": f"chr21_{5030001 + i}_A_G",
            "kind": "dosage",
            "label": f"variant chr21:{5030001 + i} A>G",
            "group": f"gene GENE{i // 10}",
            "definition": {"chrom": "chr21", "pos": 5030001 + i, "ref": "A", "alt": "G"},
        }
        for i in range(n_variants)
    ]
    truth = {"h2": h2, "h2_total": explained, "prevalence": prevalence}
    return X, y, {"schema_version": 1, "features": features}, truth


def write_cohort(workdir: Path, name: str, X: pd.DataFrame, y: np.ndarray, schema: dict, truth: dict) -> None:
    """Write ``name.parquet``, ``name.labels.tsv``, ``name.schema.json``, ``name.truth.json``."""
    workdir.mkdir(parents=True, exist_ok=True)
    X.to_parquet(workdir / f"{name}.parquet")
    pd.DataFrame({"sample_id": X.index, "label": y}).to_csv(workdir / f"{name}.labels.tsv", sep="\t", index=False)
    (workdir / f"{name}.schema.json").write_text(json.dumps(schema))
    (workdir / f"{name}.truth.json").write_text(json.dumps(truth))


def hist_gradient_boosting_oof(X: pd.DataFrame, y: np.ndarray, schema: dict, config) -> np.ndarray:
    """Out-of-fold probabilities of scikit-learn's HistGradientBoostingClassifier under genorisk's protocol.

    The same outer folds (:func:`genorisk.model.fold_stats.outer_folds`), the same in-fold dosage
    filter (the top ``max_dosage_features`` by the trend test on the fold's training rows), and
    scikit-learn's defaults otherwise, with early stopping on its own ``validation_fraction`` of the
    training rows (the off-the-shelf learner: no search).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from genorisk.model.fold_stats import outer_folds
    from genorisk.model.select import dosage_ranking, top_k_columns

    kinds = [f["kind"] for f in schema["features"]]
    data = X.to_numpy(dtype=np.float32)
    fold_of = outer_folds(y, config.n_folds, config.seed)
    oof = np.empty(len(y))
    for k in range(config.n_folds):
        train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        cols = top_k_columns(dosage_ranking(data, y, kinds, rows=train), kinds, config.max_dosage_features)
        clf = HistGradientBoostingClassifier(
            max_iter=1000,
            early_stopping=True,
            validation_fraction=config.validation_fraction,
            n_iter_no_change=config.early_stopping_rounds,
            random_state=config.seed + k,
        )
        clf.fit(data[np.ix_(train, cols)], y[train])
        oof[test] = clf.predict_proba(data[np.ix_(test, cols)])[:, 1]
    return oof


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from genorisk.model import ModelConfig, train_model
    from genorisk.model.metrics import evaluate_predictions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 10000])
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scores", nargs="+", default=["with", "without"], help="with and/or without the external score"
    )
    parser.add_argument("--out", default="learning_curve", help="result file stem under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = ModelConfig(n_trials=args.trials, n_bootstrap=100, threads=args.threads, max_bin=32, seed=args.seed)
    rows = []
    for score in args.scores:
        for architecture in ("additive", "non-additive"):
            for n in args.sizes:
                X, y, schema, truth = simulate_cohort(
                    n, n_variants=args.variants, architecture=architecture, seed=args.seed + n
                )
                if score == "without":  # a new endpoint with no published score: the in-cohort score only
                    X = X.drop(columns="pgs_PGS000001")
                    schema = {**schema, "features": [f for f in schema["features"] if f["kind"] != "pgs"]}
                t0 = time.perf_counter()
                model = train_model(X, y, schema, config, truth=truth)
                seconds = time.perf_counter() - t0
                t0 = time.perf_counter()
                hgb = hist_gradient_boosting_oof(X, y, schema, config)
                hgb_seconds = time.perf_counter() - t0
                m = model.metrics
                shipped_key = m["shipped"]["metrics"]
                # The shipped model's OOF (calibrated boosted, or the strong baseline) against HGB, paired.
                oof = model.oof_predictions
                versus = evaluate_predictions(
                    y,
                    {"genorisk": oof[shipped_key], "boosted": oof["model"], "hgb": hgb},
                    n_bootstrap=config.n_bootstrap,
                    seed=config.seed,
                    compare=[("genorisk", "hgb"), ("boosted", "hgb")],
                )
                row = {
                    "score": score,
                    "architecture": architecture,
                    "n": n,
                    "n_cases": m["data"]["n_cases"],
                    "shipped": m["shipped"]["model"],
                    "auc": m["model"]["roc_auc"],
                    "baseline_auc": m["baseline"]["roc_auc"],
                    "baseline_external_auc": (m.get("baseline_external") or {}).get("roc_auc"),
                    "boosted_minus_baseline": m["roc_auc_difference"]["model-baseline"],
                    "shipped_auc": m[shipped_key]["roc_auc"],
                    "hgb_auc": versus["hgb"]["roc_auc"],
                    "shipped_minus_hgb": versus["roc_auc_difference"]["genorisk-hgb"],
                    "boosted_minus_hgb": versus["roc_auc_difference"]["boosted-hgb"],
                    "auc_ceiling": m["truth"]["auc_ceiling"],
                    "shipped_over_ceiling": m[shipped_key]["roc_auc"]["estimate"] / m["truth"]["auc_ceiling"],
                    "ece": m[shipped_key]["ece"]["estimate"],
                    "in_cohort_score": (m.get("in_cohort_score") or {}).get("final"),
                    "seconds": round(seconds, 1),
                    "hgb_seconds": round(hgb_seconds, 1),
                }
                rows.append(row)
                print(
                    f"{score:7s} {architecture:12s} n={n:6d} boosted {row['auc']['estimate']:.3f} strong baseline "
                    f"{row['baseline_auc']['estimate']:.3f} HGB {row['hgb_auc']['estimate']:.3f} shipped "
                    f"{row['shipped']} {row['shipped_auc']['estimate']:.3f} ceiling {row['auc_ceiling']:.3f} "
                    f"({row['shipped_over_ceiling']:.1%}) {row['seconds']} s (HGB {row['hgb_seconds']} s)",
                    flush=True,
                )

    RESULTS_DIR.mkdir(exist_ok=True)
    settings = {
        "variants": args.variants,
        "trials": args.trials,
        "threads": args.threads,
        "seed": args.seed,
        "n_folds": config.n_folds,
        "prevalence": 0.1,
    }
    (RESULTS_DIR / f"{args.out}.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")

    def ci(m):
        return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"

    def diff(m):
        return f"{m['estimate']:+.3f} ({m['ci_low']:+.3f} to {m['ci_high']:+.3f})"

    lines = [
        "## Learning curve: OOF ROC AUC against cohort size, beside the strong baseline and HistGradientBoosting",
        "",
        f"{time.strftime('%Y-%m-%d')}; prevalence 0.1; {args.variants} variants (50 causal) + age, sex, 4 PCs, "
        "with or without an external PGS (correlation 0.7 with the true additive value); "
        f"5-fold nested CV, {args.trials} trials, {args.threads} threads. AUC with 95% paired-bootstrap CI. "
        "Ceiling: Wray et al. 2010 with all capturable variance (genetic + age). Strong baseline: logistic "
        "regression on the in-cohort polygenic score (ridge, fitted in-fold) + PGS + age + sex + PCs. "
        "HGB: scikit-learn HistGradientBoostingClassifier, defaults with early stopping, same outer folds and "
        "in-fold dosage filter. Shipped: the model genorisk publishes by its rule (boosted only if it beats the "
        "strong baseline beyond the CI). Command: `.venv/bin/python bench/learning_curve.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + "`.",
        "",
        "| score | architecture | n | cases | boosted AUC | strong baseline AUC | boosted - baseline | shipped | "
        "HGB AUC | shipped - HGB | shipped / ceiling | ECE (shipped) | train s | HGB s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['score']} | {r['architecture']} | {r['n']} | {r['n_cases']} | {ci(r['auc'])} | "
            f"{ci(r['baseline_auc'])} | {diff(r['boosted_minus_baseline'])} | {r['shipped']} | {ci(r['hgb_auc'])} | "
            f"{diff(r['shipped_minus_hgb'])} | {r['shipped_over_ceiling']:.1%} | {r['ece']:.3f} | "
            f"{r['seconds']} | {r['hgb_seconds']} |"
        )
    (RESULTS_DIR / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
