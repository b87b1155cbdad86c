#!/usr/bin/env python3
"""Training time with and without the in-cohort score and strong baseline (issue #16), side by side.

Usage::

    .venv/bin/python bench/strong_baseline_cost.py [--results results] [--trait demo_disease]
        [--repeats 3] [--threads 2]

Trains the demo trait's model from its feature table (``results/features/<trait>/``)
with ``model.in_cohort_score`` off (0.5.0's training) and on, interleaved
``--repeats`` times with the demo's model settings, and writes the wall-time
ratio (median of the per-pair ratios: the machine is shared) to
``bench/results/strong_baseline_cost.md``. Target: at most about 1.5x.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO / "src"))
    from genorisk.config import read_phenotypes
    from genorisk.model import ModelConfig, read_feature_matrix, train_model, trait_training_rows

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--trait", default="demo_disease")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    trait = next(t for t in demo["traits"] if t["id"] == args.trait)
    folder = args.results / "features" / args.trait
    features = read_feature_matrix(folder / "cohort.parquet")
    schema = json.loads((folder / "features.schema.json").read_text())
    phenotypes = read_phenotypes(REPO / demo["cohort"]["phenotypes"], columns=[trait["column"]])
    X, y = trait_training_rows(features, phenotypes, trait["column"], path="phenotypes.tsv")
    times: dict[bool, list[float]] = {False: [], True: []}
    aucs: dict[bool, dict] = {}
    for _ in range(args.repeats):
        for on in (False, True):
            config = ModelConfig.from_dict({**demo["model"], "in_cohort_score": on, "threads": args.threads})
            t0 = time.perf_counter()
            m = train_model(X, y, schema, config).metrics
            times[on].append(time.perf_counter() - t0)
            aucs[on] = {k: m[k]["roc_auc"]["estimate"] for k in ("model", "baseline") if m.get(k)}
            aucs[on]["shipped"] = m.get("shipped", {}).get("model", "boosted")
    ratios = [b / a for a, b in zip(times[False], times[True], strict=True)]
    ratio = statistics.median(ratios)
    lines = [
        "## Training time with the in-cohort score and strong baseline (issue #16)",
        "",
        f"{time.strftime('%Y-%m-%d')}; the demo's `{args.trait}` features ({X.shape[0]:,} people, "
        f"{X.shape[1]:,} columns), the demo's model settings, {args.threads} threads, {args.repeats} interleaved "
        f"pairs. Command: `.venv/bin/python bench/strong_baseline_cost.py {' '.join(argv or sys.argv[1:])}`.",
        "",
        "| training | wall s (each run) | OOF AUC boosted | OOF AUC baseline | shipped |",
        "|---|---|---|---|---|",
        f"| 0.5.0: no in-cohort score | {', '.join(f'{t:.1f}' for t in times[False])} | "
        f"{aucs[False].get('model', float('nan')):.3f} | {aucs[False].get('baseline', float('nan')):.3f} | "
        f"{aucs[False]['shipped']} |",
        f"| in-cohort score + strong baseline | {', '.join(f'{t:.1f}' for t in times[True])} | "
        f"{aucs[True].get('model', float('nan')):.3f} | {aucs[True].get('baseline', float('nan')):.3f} | "
        f"{aucs[True]['shipped']} |",
        "",
        f"Ratio (median of the pairs): **{ratio:.2f}x** (pairs: {', '.join(f'{r:.2f}' for r in ratios)}); "
        "target at most about 1.5x.",
    ]
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "strong_baseline_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
