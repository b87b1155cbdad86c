#!/usr/bin/env python3
"""Where a linear in-cohort model loses AUC on a simulated cohort, measured against its truth.

Usage::

    .venv/bin/python bench/architecture_limits.py --sim SIM_DIR --features FEATURES_PARQUET
        [--column status] [--label TEXT]

``SIM_DIR`` is a simulation folder (``cohort.vcf.gz``, ``phenotypes.tsv``,
``cohort_truth.tsv``, ``truth.json``; e.g. the one ``bench/heldout.py`` writes)
and ``FEATURES_PARQUET`` the cohort feature table a workflow run built from it
(``<results>/features/<trait>/cohort.parquet``, for its gene-burden columns).
All models are linear and share one 5-fold split: the in-cohort ridge score
over the top-k in-fold variants (MAF >= 0.01, k and penalty on an inner split,
training rows cross-fitted; :mod:`genorisk.model.in_cohort`), stacked with
age and sex in a logistic regression, and then with the burden added in four
ways, including two that use the simulation's truth (the causal genes' burden,
the causal variants) to bound what a linear model can reach at this size.
Appends a section to ``bench/results/architecture_limits.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO / "src"))
    import allel
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from genorisk.model.in_cohort import (
        BURDEN_SCORE_SIZES,
        SCORE_SIZES,
        cross_fitted_scores,
        fit_ridge_score,
        ridge_score,
    )
    from genorisk.model.select import trend_test_statistic

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sim", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--column", default="status")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    vcf = allel.read_vcf(str(args.sim / "cohort.vcf.gz"), fields=["variants/POS", "calldata/GT", "samples"])
    dosage = allel.GenotypeArray(vcf["calldata/GT"]).to_n_alt(fill=-1).T.astype(np.float32)
    dosage[dosage < 0] = np.nan
    pos, samples = vcf["variants/POS"], vcf["samples"]
    phen = pd.read_csv(args.sim / "phenotypes.tsv", sep="\t").set_index("sample_id").loc[samples]
    comp = pd.read_csv(args.sim / "cohort_truth.tsv", sep="\t").set_index("sample_id").loc[samples]
    truth = json.loads((args.sim / "truth.json").read_text())
    y = phen[args.column].to_numpy().astype(np.int8)
    covariates = np.column_stack([phen["age"].to_numpy(float), (phen["sex"] == "male").to_numpy(float)])
    af = np.nanmean(dosage, axis=0) / 2
    common = np.flatnonzero(np.minimum(af, 1 - af) >= 0.01)
    causal_pos = {c["pos"] for c in truth["causal_variants"]}
    causal = np.array([i for i in common if pos[i] in causal_pos])
    genes: dict[str, set[int]] = {}
    for b in truth["burden_variants"]:
        genes.setdefault(b["gene"], set()).add(b["pos"])
    truth_burden = (
        np.column_stack(
            [np.nansum(dosage[:, [i for i in range(len(pos)) if pos[i] in g]], axis=1) for g in genes.values()]
        )
        if genes
        else np.zeros((len(y), 0))
    )
    features = pd.read_parquet(args.features).reindex(samples)
    burden_names = [c for c in features.columns if c.startswith("burden_")]
    pipeline_burden = np.nan_to_num(features[burden_names].to_numpy(float))
    load_s = time.perf_counter() - t0
    # One matrix: dosages, then the pipeline's gene-burden columns.
    data = np.hstack([dosage, pipeline_burden.astype(np.float32)])
    burden_cols = np.arange(dosage.shape[1], data.shape[1])
    yf = y.astype(np.float64)
    folds = np.random.default_rng(1).permutation(len(y)) % 5

    def ranking(columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
        stat = trend_test_statistic(data, y[rows], rows=rows, columns=columns)
        return columns[np.argsort(-stat, kind="stable")]

    def oof_auc(scores: list[tuple[str, tuple[int, ...]]], extra: np.ndarray | None = None) -> tuple[float, list]:
        """OOF AUC of the logistic regression on the listed ridge scores + age, sex (+ extra columns)."""
        oof = np.zeros(len(y))
        chosen = []
        rng = np.random.default_rng(5)
        for f in range(5):
            train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            inner = rng.permutation(train)
            fit, val = inner[: int(0.8 * len(inner))], inner[int(0.8 * len(inner)) :]
            cols_tr, cols_te = [], []
            for kind, sizes in scores:
                if kind == "causal":
                    candidates = causal
                else:
                    pool = {"variants": common, "genes": burden_cols}.get(kind)
                    candidates = ranking(np.concatenate([common, burden_cols]) if pool is None else pool, train)
                k, factor, _ = fit_ridge_score(data, yf, candidates, fit, val, sizes=sizes)
                chosen.append((kind, int(k), factor))
                score = ridge_score(data, yf, candidates[:k], train, factor)
                cols_tr.append(cross_fitted_scores(data, yf, candidates[:k], train, factor))
                cols_te.append(score.score(data, test))
            base = covariates if extra is None else np.hstack([covariates, extra])
            x_tr = np.column_stack([*cols_tr, base[train]])
            x_te = np.column_stack([*cols_te, base[test]])
            mean, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
            sd[sd == 0] = 1
            lr = LogisticRegression(C=1.0, max_iter=1000).fit((x_tr - mean) / sd, y[train])
            oof[test] = lr.decision_function((x_te - mean) / sd)
        return float(roc_auc_score(y, oof)), chosen

    ceiling = truth["auc_ceiling"]
    rows = []
    sizes = tuple(SCORE_SIZES)
    designs = [
        ("variants' ridge score (0.6.0's strong baseline)", [("variants", sizes)], None),
        ("+ the 44 gene-burden columns in the logistic regression", [("variants", sizes)], pipeline_burden),
        ("gene-burden columns ranked with the variants, one ridge", [("variants+genes", sizes)], None),
        ("+ a separate gene-burden ridge score (0.7.0)", [("variants", sizes), ("genes", BURDEN_SCORE_SIZES)], None),
        ("+ the causal genes' burden (truth) in the regression", [("variants", sizes)], truth_burden),
        (
            "ridge on the causal variants (truth) + the causal genes' burden (truth)",
            [("causal", (len(causal),))],
            truth_burden,
        ),
    ]
    for name, scores, extra in designs:
        t1 = time.perf_counter()
        auc, chosen = oof_auc(scores, extra)
        rows.append((name, auc, time.perf_counter() - t1))
        print(f"{name}: {auc:.4f} ({auc / ceiling:.3f} of the ceiling)", flush=True)
    true_auc = {
        "additive": roc_auc_score(y, comp["additive"]),
        "additive + burden": roc_auc_score(y, comp["additive"] + comp["burden"]),
        "additive + burden + covariates": roc_auc_score(y, comp["additive"] + comp["burden"] + comp["covariates"]),
    }
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    command = "nice .venv/bin/python bench/architecture_limits.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = [
        f"## {args.label or args.sim}",
        "",
        f"{now}. Command: `{command}`. {len(y):,} people ({int(y.sum()):,} cases), {len(common):,} variants with "
        f"MAF >= 0.01 ({len(causal)} causal), {len(burden_names)} gene-burden columns ({len(genes)} causal genes). "
        f"Wray ceiling {ceiling:.3f}. Reading the VCF took {load_s:.0f} s.",
        "",
        "The true components' AUC in this cohort: " + "; ".join(f"{k} {v:.3f}" for k, v in true_auc.items()) + ".",
        "",
        "| linear model (5-fold OOF, same folds) | OOF AUC | / ceiling | s |",
        "|---|---|---|---|",
        *[f"| {name} | {auc:.4f} | {auc / ceiling:.3f} | {s:.0f} |" for name, auc, s in rows],
        "",
    ]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / "architecture_limits.md", "a") as fh:
        fh.write("\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
