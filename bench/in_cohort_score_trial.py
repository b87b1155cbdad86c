#!/usr/bin/env python3
"""Trial: how the in-cohort score's size and penalty are chosen, against the true additive value.

Usage::

    nice .venv/bin/python bench/in_cohort_score_trial.py --store RESULTS/store/parts/cohort.chr21/chr21
        --phenotypes SIM/phenotypes.tsv --column status --truth SIM/cohort_truth.tsv [--truth-column additive]
        [--sizes 200 1000 5000] [--out in_cohort_score_trial] [--append]
    nice .venv/bin/python bench/in_cohort_score_trial.py --issue-cohort [--replicates 3] [--sizes 50 200 500]

Issue #16 item 6: on the demo's architecture (200 causal variants in LD) the
additive targets were about 0.02 of the ceiling short. This bench asks whether
the score, not the learner, is the cause. Every method fits a linear score on
each outer fold's training rows (the pipeline's folds, :func:`outer_folds`)
over the common variants (MAF >= 0.01, every one the genotype file holds, not
only the feature matrix's top per fold) ranked by the in-fold trend statistic,
and is scored by the correlation of its test-row scores with the simulated
additive genetic value (per fold, then averaged; the score-alone AUC beside it):

* ``old pipeline``: genorisk 0.7's score, :func:`genorisk.model.in_cohort.fit_ridge_score`:
  k in ``SCORE_SIZES`` (capped at 1,000) and lambda from ``PENALTY_FACTORS``,
  chosen by the correlation with the outcome on the pipeline's inner split
  (whose rows the ranking saw);
* ``likelihood k``: :func:`~genorisk.model.in_cohort.likelihood_ridges`, ridge
  on the top k, lambda = k x delta at the linear mixed model's maximum
  likelihood (no validation split);
* ``stack ...``: :func:`~genorisk.model.in_cohort.fit_stacked_score`, the
  likelihood ridges of those sizes, with or without the elastic net over the
  top ``model.in_cohort_score_elastic_net``, combined by a non-negative
  logistic regression on their honest cross-fitted scores (today's in-cohort
  score: the default sizes with the net; ``--sizes`` adds a stack over those).

Writes ``bench/results/OUT.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def read_store(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Dosages (people x common variants, missing -> mean) and sample IDs of a pgen fileset."""
    import pgenlib

    pvar = pgenlib.PvarReader(f"{prefix}.pvar".encode())
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode(), pvar=pvar)
    n, m = reader.get_raw_sample_ct(), reader.get_variant_ct()
    buf = np.empty((m, n), dtype=np.float64)
    reader.read_dosages_range(0, m, buf)
    buf[buf == -9] = np.nan
    af = np.nanmean(buf, axis=1) / 2
    x = buf[np.minimum(af, 1 - af) >= 0.01].T.copy()
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    ids = pd.read_csv(f"{prefix}.psam", sep="\t")["#IID"].astype(str).to_numpy()
    return x, ids


def ranking(x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    from genorisk.model.select import trend_test_statistic

    stat = trend_test_statistic(x, y[rows].astype(int), rows=rows, columns=np.arange(x.shape[1]))
    return np.argsort(-stat, kind="stable")


def trial(x: np.ndarray, y: np.ndarray, genetic: np.ndarray, sizes: list[int], *, seed: int = 42) -> dict:
    """Per-fold correlation with ``genetic`` and AUC of each method's test-row scores."""
    from genorisk.model.config import ModelConfig
    from genorisk.model.fold_stats import outer_folds
    from genorisk.model.in_cohort import (
        SCORE_SIZES,
        fit_ridge_score,
        fit_stacked_score,
        likelihood_ridges,
        ridge_score,
    )

    y = np.asarray(y, dtype=np.float64)
    sizes = sorted({min(s, x.shape[1]) for s in sizes})
    config = ModelConfig()
    default = sorted({min(s, x.shape[1]) for s in config.in_cohort_score_sizes})
    net = config.in_cohort_score_elastic_net
    stacks = {
        f"stack {'/'.join(map(str, default))}, no elastic net": (default, 0),
        f"stack {'/'.join(map(str, default))} + elastic net {net} (default)": (default, net),
    }
    if sizes != default:
        stacks[f"stack {'/'.join(map(str, sizes))} + elastic net {net}"] = (sizes, net)
    folds = outer_folds(y.astype(int), 5, seed)
    methods = ["old pipeline", *[f"likelihood {k}" for k in sizes], *stacks]
    r: dict[str, list[float]] = {m: [] for m in methods}
    auc: dict[str, list[float]] = {m: [] for m in methods}
    chosen: dict[str, list] = {"old pipeline": [], "deltas": [], **{m: [] for m in stacks}}
    seconds = dict.fromkeys(methods, 0.0)
    for f in range(int(folds.max()) + 1):
        train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        rank = ranking(x, y, train)
        scores: dict[str, np.ndarray] = {}
        t0 = time.perf_counter()
        fit_rows, val_rows = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed + f)
        sizes_pipeline = sorted({min(s, 1000) for s in SCORE_SIZES})
        k, factor, _ = fit_ridge_score(x, y, rank, fit_rows, val_rows, sizes=sizes_pipeline)
        scores["old pipeline"] = ridge_score(x, y, rank[:k], train, factor).score(x, test)
        chosen["old pipeline"].append([int(k), factor])
        seconds["old pipeline"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        ridges = likelihood_ridges(x, y, rank, train, sizes)
        for k, ridge in zip(sizes, ridges, strict=True):
            scores[f"likelihood {k}"] = ridge.score(x, test)
            seconds[f"likelihood {k}"] += (time.perf_counter() - t0) / len(sizes)
        chosen["deltas"].append([round(rg.penalty / k, 3) for rg, k in zip(ridges, sizes, strict=True)])
        for name, (stack_sizes, stack_net) in stacks.items():
            t0 = time.perf_counter()
            stacked = fit_stacked_score(x, y, rank, train, sizes=stack_sizes, elastic_net=stack_net, seed=seed)
            scores[name] = stacked.score.score(x, test)
            chosen[name].append(stacked.info["stack_coefficients"])
            seconds[name] += time.perf_counter() - t0
        for m in methods:
            r[m].append(float(np.corrcoef(scores[m], genetic[test])[0, 1]))
            auc[m].append(float(roc_auc_score(y[test], scores[m])))
        print(f"fold {f}: " + " ".join(f"{m} {r[m][-1]:.3f}" for m in methods), flush=True)
    return {
        "n": len(y),
        "n_cases": int(y.sum()),
        "n_variants": int(x.shape[1]),
        "sizes": sizes,
        "r_per_fold": r,
        "auc_per_fold": auc,
        "r": {m: float(np.mean(v)) for m, v in r.items()},
        "auc": {m: float(np.mean(v)) for m, v in auc.items()},
        "chosen": chosen,
        "seconds": {m: round(v, 1) for m, v in seconds.items()},
    }


def issue_cohort(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """#16's example cohort (learning_curve.py --issue-cohort), its dosages and true additive value."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import learning_curve as lc

    spec = lc.ISSUE_COHORT
    X, y, _, _, _, _ = lc.simulate_cohort_and_heldout(
        4000, 0, n_causal=spec["causal"], h2=spec["h2"], prevalence=spec["prevalence"], var_age=0.0, seed=seed
    )
    # The additive value, redrawn from the same stream as the simulator draws it.
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, 500)
    g = rng.binomial(2, maf, size=(4000, 500)).astype(np.float32)
    age = rng.normal(size=4000)
    z, _ = lc._genetic_terms(g, age, maf, spec["causal"], "additive")
    genetic = z @ rng.normal(size=spec["causal"])
    dosages = X[[c for c in X.columns if c.startswith("chr21_")]].to_numpy(np.float64)
    assert np.array_equal(dosages, g), "the redrawn genotypes must be the simulator's"
    return dosages, y, genetic


def render(sections: list[dict]) -> str:
    lines = [
        "# In-cohort score: size and penalty choice against the true additive value",
        "",
        "Generated by `bench/in_cohort_score_trial.py` (see its docstring for the methods). Per outer fold, "
        "the correlation of each method's test-row scores with the simulated additive genetic value, "
        "averaged over the 5 folds; the mean per-fold AUC of the score alone beside it. The pipeline's "
        "folds and seed; every common variant of the genotype file, ranked in-fold.",
        "",
    ]
    for s in sections:
        res = s["result"]
        lines += [f"## {s['title']}", "", f"Command: `{s['command']}`; load {s['load']}.", ""]
        lines += [
            f"{res['n']} people, {res['n_cases']} cases, {res['n_variants']} common variants.",
            "",
            "| method | r with true additive value (per-fold mean) | score-alone AUC | seconds (5 folds) |",
            "|---|---|---|---|",
        ]
        for m, v in res["r"].items():
            folds = ", ".join(f"{x:.3f}" for x in res["r_per_fold"][m])
            lines.append(f"| {m} | **{v:.3f}** ({folds}) | {res['auc'][m]:.3f} | {res['seconds'][m]} |")
        lines += [
            "",
            f"Old pipeline's choices per fold (k, lambda / n): {res['chosen']['old pipeline']}. "
            f"Likelihood deltas (lambda / k) per fold, sizes {res['sizes']}: {res['chosen']['deltas']}. "
            + " ".join(f"{m} coefficients per fold: {v}." for m, v in res["chosen"].items() if m.startswith("stack")),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="pgen fileset prefix of a pipeline run's genotype store part")
    parser.add_argument("--phenotypes")
    parser.add_argument("--column", default="status")
    parser.add_argument("--truth", help="the simulation's cohort_truth.tsv")
    parser.add_argument("--truth-column", default="additive")
    parser.add_argument("--title", default=None)
    parser.add_argument("--issue-cohort", action="store_true")
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2, help="learning_curve.py's --seed (its #16 rows used 2)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--out", default="in_cohort_score_trial")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--append", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.results_dir) / args.out
    sections = (
        json.loads(out.with_suffix(".json").read_text()) if args.append and out.with_suffix(".json").exists() else []
    )
    command = "bench/in_cohort_score_trial.py " + " ".join(sys.argv[1:] if argv is None else argv)
    runs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    if args.issue_cohort:
        for rep in range(args.replicates):
            seed = args.seed + 4000 + 1_000_000 * rep  # learning_curve.py's seed of replicate rep at 4,000 people
            x, y, genetic = issue_cohort(seed)
            runs.append((f"#16's example cohort, replicate {rep} (seed {seed})", x, y, genetic))
    else:
        if not (args.store and args.phenotypes and args.truth):
            parser.error("--store, --phenotypes and --truth (or --issue-cohort)")
        x, ids = read_store(args.store)
        y = pd.read_csv(args.phenotypes, sep="\t", index_col="sample_id").loc[ids, args.column].to_numpy()
        genetic = pd.read_csv(args.truth, sep="\t", index_col="sample_id").loc[ids, args.truth_column].to_numpy()
        runs.append((args.title or f"{args.store} ({args.column})", x, y, genetic))
    for title, x, y, genetic in runs:
        load = [round(v, 2) for v in os.getloadavg()]
        result = trial(x, np.asarray(y), np.asarray(genetic, dtype=np.float64), args.sizes)
        sections.append({"title": title, "command": command, "load": load, "result": result})
        out.with_suffix(".json").write_text(json.dumps(sections, indent=1) + "\n")
        out.with_suffix(".md").write_text(render(sections))
    print(render(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
