#!/usr/bin/env python3
"""The strong baseline with and without the in-cohort gene-burden score, on the same folds.

Usage::

    .venv/bin/python bench/burden_score.py [--results results] [--config config/demo.yaml]
        [--trait demo_disease] [--phenotypes FILE] [--truth FILE] [--threads 2] [--label TEXT]

Trains one trait's model from a finished run's feature table
(``<results>/features/<trait>/``) twice with the run's model settings:
``model.in_cohort_burden_score`` off (0.6.0's strong baseline: the in-cohort
variant score + external scores + covariates + PCs) and on (plus a ridge score
over the top in-fold gene-burden columns with its own size and penalty,
:mod:`genorisk.model.in_cohort`). Both use the same outer folds, so the OOF
predictions of the two strong baselines are compared with a paired, stratified
bootstrap CI. With a simulation's ``truth.json`` the AUCs are also given as a
fraction of the Wray ceiling. Appends a section to
``bench/results/burden_score.md`` (and the figures to ``burden_score.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


def _fmt(metric: dict) -> str:
    return f"{metric['estimate']:.3f} ({metric['ci_low']:.3f}-{metric['ci_high']:.3f})"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO / "src"))
    import numpy as np

    from genorisk.config import read_phenotypes, read_truth
    from genorisk.model import ModelConfig, read_feature_matrix, train_model, trait_training_rows
    from genorisk.model.metrics import evaluate_predictions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "demo.yaml")
    parser.add_argument("--trait", default="demo_disease")
    parser.add_argument("--phenotypes", type=Path, help="default: the config's cohort.phenotypes")
    parser.add_argument("--truth", type=Path, help="a simulation's truth.json (default: the config's cohort.truth)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--label", default="", help="what cohort this is, for the report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config_doc = yaml.safe_load(args.config.read_text())
    trait = next(t for t in config_doc["traits"] if t["id"] == args.trait)
    phenotypes_path = args.phenotypes or REPO / config_doc["cohort"]["phenotypes"]
    truth_path = args.truth or (REPO / config_doc["cohort"]["truth"] if config_doc["cohort"].get("truth") else None)
    folder = args.results / "features" / args.trait
    features = read_feature_matrix(folder / "cohort.parquet")
    schema = json.loads((folder / "features.schema.json").read_text())
    phenotypes = read_phenotypes(phenotypes_path, columns=[trait["column"]])
    X, y = trait_training_rows(features, phenotypes, trait["column"], path=str(phenotypes_path))
    truth = read_truth(truth_path, column=trait["column"]) if truth_path else None
    n_burden = sum(f["kind"] == "burden" for f in schema["features"])

    runs: dict[bool, dict] = {}
    load_before = os.getloadavg()[0]
    for on in (False, True):
        config = ModelConfig.from_dict(
            {**config_doc.get("model", {}), "in_cohort_burden_score": on, "threads": args.threads}
        )
        t0 = time.perf_counter()
        model = train_model(X, y, schema, config, truth=truth)
        runs[on] = {
            "seconds": time.perf_counter() - t0,
            "metrics": model.metrics,
            "oof": np.asarray(model.oof_predictions["linear_calibrated"]),
        }
    load_during = os.getloadavg()[0]
    m_off, m_on = runs[False]["metrics"], runs[True]["metrics"]
    paired = evaluate_predictions(
        np.asarray(y),
        {"with": runs[True]["oof"], "without": runs[False]["oof"]},
        n_bootstrap=2000,
        ci_level=0.95,
        n_bins=10,
        seed=1,
        compare=[("with", "without")],
    )
    diff = paired["roc_auc_difference"]["with-without"]
    ceiling = m_on.get("truth", {}).get("auc_ceiling")

    def ratio(metric: dict) -> str:
        return f"{metric['estimate'] / ceiling:.3f}" if ceiling else "n/a"

    rows = []
    for on, name in ((False, "without (0.6.0)"), (True, "with the gene-burden score")):
        m = runs[on]["metrics"]
        lin = m["linear_calibrated"]
        final = m["in_cohort_score"]["final"] or {}
        per_fold = [f.get("burden", {}).get("n_genes", "-") for f in m["in_cohort_score"]["per_fold"]]
        rows.append(
            f"| {name} | {_fmt(lin['roc_auc'])} | {ratio(lin['roc_auc'])} | {lin['ece']['estimate']:.4f} | "
            f"{_fmt(m['model']['roc_auc'])} | {m['shipped']['model']} | {final.get('n_variants')} | "
            f"{final.get('burden', {}).get('n_genes', '-')} ({', '.join(map(str, per_fold))}) | "
            f"{runs[on]['seconds']:.0f} |"
        )
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    command = "nice .venv/bin/python bench/burden_score.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join(
        [
            f"## {args.label or args.results} : trait {args.trait}",
            "",
            f"{now}; {os.cpu_count()} CPUs shared with other work (load average {load_before:.2f} before, "
            f"{load_during:.2f} after). Command: `{command}`. {len(y):,} people ({int(np.sum(y)):,} cases), "
            f"{n_burden} gene-burden columns. "
            + (f"Wray ceiling {ceiling:.3f}." if ceiling else "No simulated truth."),
            "",
            "| strong baseline | OOF AUC (95% CI) | / ceiling | ECE | boosted AUC | shipped | variants "
            "| genes: final (per fold) | train s |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Paired OOF AUC difference, with - without: **{diff['estimate']:+.4f} "
            f"({diff['ci_low']:+.4f} to {diff['ci_high']:+.4f})** (stratified paired bootstrap, 2,000 resamples). "
            f"Training time with / without: {runs[True]['seconds'] / runs[False]['seconds']:.2f}x (one run each, "
            "shared machine).",
            "",
        ]
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / "burden_score.md", "a") as fh:
        fh.write(text + "\n")
    record_path = RESULTS_DIR / "burden_score.json"
    records = json.loads(record_path.read_text()) if record_path.exists() else []
    records.append(
        {
            "date": now,
            "label": args.label,
            "trait": args.trait,
            "n": len(y),
            "cases": int(np.sum(y)),
            "ceiling": ceiling,
            "difference": diff,
            "without": {
                "linear_calibrated": m_off["linear_calibrated"]["roc_auc"],
                "model": m_off["model"]["roc_auc"],
                "seconds": runs[False]["seconds"],
            },
            "with": {
                "linear_calibrated": m_on["linear_calibrated"]["roc_auc"],
                "model": m_on["model"]["roc_auc"],
                "seconds": runs[True]["seconds"],
                "in_cohort_score": m_on["in_cohort_score"],
            },
        }
    )
    record_path.write_text(json.dumps(records, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
