#!/usr/bin/env python3
"""Learning curve of the risk model: OOF ROC AUC against cohort size, next to the ceiling.

Usage::

    .venv/bin/python bench/learning_curve.py [--sizes 500 1000 2000 4000 8000]
        [--variants 500] [--trials 4] [--threads 2]

Cohorts are simulated under the liability-threshold model (HWE genotypes,
prevalence K, cases = top K of liability) in two architectures:

* ``additive`` - 50 causal variants (h2 = 0.4) plus age;
* ``non-additive`` - additive h2 = 0.2, plus epistasis (product of two
  centred dosages, 0.1), gene x age (centred dosage x centred age, 0.1) and
  dominance (heterozygote indicator, centred, 0.05), plus age.

Features: a noisy PGS (the additive value plus noise, correlation 0.7 with
it: a realistic external score), age, sex, 4 null PCs and the dosages of the
causal and null variants. The ceiling (Wray et al. 2010) uses all variance a
predictor could capture (genetic, all kinds, plus age). The baseline is the
logistic model on PGS + age + sex + PCs, on the same folds.

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


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from genorisk.model import ModelConfig, train_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = ModelConfig(n_trials=args.trials, n_bootstrap=100, threads=args.threads, max_bin=32, seed=args.seed)
    rows = []
    for architecture in ("additive", "non-additive"):
        for n in args.sizes:
            X, y, schema, truth = simulate_cohort(
                n, n_variants=args.variants, architecture=architecture, seed=args.seed + n
            )
            t0 = time.perf_counter()
            m = train_model(X, y, schema, config, truth=truth).metrics
            row = {
                "architecture": architecture,
                "n": n,
                "n_cases": m["data"]["n_cases"],
                "auc": m["model"]["roc_auc"],
                "baseline_auc": m["baseline"]["roc_auc"],
                "auc_ceiling": m["truth"]["auc_ceiling"],
                "auc_over_ceiling": m["truth"]["auc_over_ceiling"],
                "baseline_over_ceiling": m["baseline"]["roc_auc"]["estimate"] / m["truth"]["auc_ceiling"],
                "ece": m["model"]["ece"]["estimate"],
                "seconds": round(time.perf_counter() - t0, 1),
            }
            rows.append(row)
            print(
                f"{architecture:12s} n={n:6d} AUC {row['auc']['estimate']:.3f} baseline "
                f"{row['baseline_auc']['estimate']:.3f} ceiling {row['auc_ceiling']:.3f} "
                f"({row['auc_over_ceiling']:.1%}) {row['seconds']} s",
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
    (RESULTS_DIR / "learning_curve.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")

    def ci(m):
        return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"

    lines = [
        "## Learning curve: OOF ROC AUC against cohort size",
        "",
        f"{time.strftime('%Y-%m-%d')}; prevalence 0.1; {args.variants} variants (50 causal) + PGS, age, sex, 4 PCs; "
        f"5-fold nested CV, {args.trials} trials, {args.threads} threads. AUC with 95% bootstrap CI. "
        "Ceiling: Wray et al. 2010 with all capturable variance (genetic + age). Baseline: logistic "
        "regression on PGS + age + sex + PCs (PGS correlation 0.7 with the true additive value).",
        "",
        "| architecture | n | cases | XGBoost AUC | baseline AUC | ceiling | XGBoost / ceiling | "
        "baseline / ceiling | ECE | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['architecture']} | {r['n']} | {r['n_cases']} | {ci(r['auc'])} | {ci(r['baseline_auc'])} | "
            f"{r['auc_ceiling']:.3f} | {r['auc_over_ceiling']:.1%} | {r['baseline_over_ceiling']:.1%} | "
            f"{r['ece']:.3f} | {r['seconds']} |"
        )
    (RESULTS_DIR / "learning_curve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
