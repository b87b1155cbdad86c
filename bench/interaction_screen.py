#!/usr/bin/env python3
"""The interaction screen: trees with and without its terms, against the strong baseline and an oracle.

Usage::

    nice .venv/bin/python bench/interaction_screen.py [--sizes 4000 10000] [--architectures non-additive additive]
        [--scores without with] [--trials 4] [--threads 2] [--out interaction_screen]

Issue #16 item 3: on non-additive cohorts of 4,000 people the boosted model
was level with the strong baseline. On the learning curve's cohorts
(``bench/learning_curve.py``: the same simulator, seeds and config), each row
trains genorisk twice, with ``model.interaction_screen`` 0 and at its default,
and reports, on the same outer folds with paired-bootstrap CIs:

* the strong baseline's OOF AUC and each boosted model's difference from it;
* an oracle: a logistic regression on the strong baseline's OOF log-odds plus
  the simulator's true non-additive terms (the product of the first two
  causal dosages, the third's dosage x age, the fourth's heterozygote
  indicator), cross-fitted over the same folds: what a learner that found
  every interaction could add;
* the screen's recall: in how many of the folds' screens (and the final
  model's) the true pair and the true gene x age term passed, and how many
  kept terms involve no true term (false; on additive cohorts every term is
  false).

Writes ``bench/results/OUT.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

import learning_curve as lc  # noqa: E402

from genorisk.model import ModelConfig, train_model  # noqa: E402
from genorisk.model.fold_stats import outer_folds  # noqa: E402
from genorisk.model.metrics import evaluate_predictions  # noqa: E402

#: The simulator's variant names of the first causal dosages (bench/learning_curve.py).
VARIANT = "chr21_{}_A_G"
TRUE_PAIR = frozenset({VARIANT.format(5030001), VARIANT.format(5030002)})
TRUE_GXAGE = frozenset({VARIANT.format(5030003), "age"})
TRUE_HET = VARIANT.format(5030004)


def true_terms(X) -> np.ndarray:
    """The simulator's non-additive terms from the features (standardised on the cohort)."""
    g = X[[VARIANT.format(5030001 + i) for i in range(4)]].to_numpy(np.float64)
    z = (g - g.mean(axis=0)) / g.std(axis=0)
    age = X["age"].to_numpy(np.float64)
    age = (age - age.mean()) / age.std()
    return np.column_stack([z[:, 0] * z[:, 1], z[:, 2] * age, (g[:, 3] == 1).astype(np.float64)])


def oracle_oof(strong: np.ndarray, terms: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Cross-fitted logistic regression on the strong baseline's OOF log-odds and the true terms."""
    from scipy.special import logit
    from sklearn.linear_model import LogisticRegression

    z = np.column_stack([logit(np.clip(strong, 1e-9, 1 - 1e-9)), terms])
    out = np.empty(len(y))
    for k in np.unique(fold_of):
        test = fold_of == k
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(z[~test], y[~test])
        out[test] = fit.predict_proba(z[test])[:, 1]
    return out


def recall(screen: dict) -> dict:
    """Screens (folds and final) keeping the true pair / gene x age / heterozygote; false terms kept."""
    screens = [*screen["per_fold"], screen["final"]]
    found = {"pair": 0, "gene_x_age": 0, "heterozygote": 0, "false_terms": 0, "screens": len(screens)}
    for s in screens:
        kept = [t["name"] for t in s["terms"]]
        parts = [frozenset(name.split(" x ")) if " x " in name else None for name in kept]
        found["pair"] += TRUE_PAIR in parts
        found["gene_x_age"] += TRUE_GXAGE in parts
        found["heterozygote"] += f"{TRUE_HET} heterozygous" in kept
        true_variants = {*TRUE_PAIR, *TRUE_GXAGE, TRUE_HET}
        found["false_terms"] += sum(
            1 for name in kept if not set(name.replace(" heterozygous", "").split(" x ")) & true_variants
        )
    return found


def run_row(n: int, architecture: str, score: str, config: ModelConfig, seed: int) -> dict:
    X, y, schema, truth = lc.simulate_cohort(n, architecture=architecture, seed=seed)
    if score == "without":
        X, schema = lc.without_external_score(X, schema)
    t0 = time.perf_counter()
    plain = train_model(X, y, schema, dataclasses.replace(config, interaction_screen=0), truth=truth)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    screened = train_model(X, y, schema, config, truth=truth)
    t_screened = time.perf_counter() - t0
    strong = screened.oof_predictions["linear_calibrated"]
    predictions = {
        "strong": strong,
        "trees": plain.oof_predictions["model"],
        "screened": screened.oof_predictions["model"],
    }
    if architecture == "non-additive":
        predictions["oracle"] = oracle_oof(strong, true_terms(X), y, outer_folds(y, config.n_folds, config.seed))
    ev = evaluate_predictions(
        y, predictions, n_bootstrap=500, seed=1, compare=[(k, "strong") for k in predictions if k != "strong"]
    )
    return {
        "n": n,
        "architecture": architecture,
        "score": score,
        "cases": int(y.sum()),
        "ceiling": screened.metrics["truth"]["auc_ceiling"],
        "auc": {k: ev[k]["roc_auc"] for k in predictions},
        "minus_strong": {k: ev["roc_auc_difference"][f"{k}-strong"] for k in predictions if k != "strong"},
        "shipped": screened.metrics["shipped"]["model"],
        "recall": recall(screened.metrics["interaction_screen"]),
        "final_terms": screened.metrics["interaction_screen"]["final"]["terms"],
        "seconds": {"trees": round(t_plain, 1), "screened": round(t_screened, 1)},
    }


def _d(m: dict) -> str:
    return f"{m['estimate']:+.3f} ({m['ci_low']:+.3f} to {m['ci_high']:+.3f})"


def render(rows: list[dict], command: str, load: list[float]) -> str:
    lines = [
        "# Interaction screen: the trees with and without its terms (issue #16 item 3)",
        "",
        f"Generated by `bench/interaction_screen.py` (see its docstring). Command: `{command}`; load at the start "
        f"{load}. Cohorts of `bench/learning_curve.py` (same seeds). OOF ROC AUC differences from the strong "
        "baseline with 95% paired-bootstrap CIs (500 resamples). Recall: screens (5 folds + the final model's) "
        "keeping each true term; false: kept terms involving no true variant, summed over the screens.",
        "",
        "| score | architecture | n | cases | ceiling | strong | trees - strong | screened trees - strong | "
        "oracle - strong | shipped | pair / gene x age / het found | false terms | train s (trees / screened) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rc, ms = r["recall"], r["minus_strong"]
        lines.append(
            f"| {r['score']} | {r['architecture']} | {r['n']:,} | {r['cases']} | {r['ceiling']:.3f} | "
            f"{r['auc']['strong']['estimate']:.3f} | {_d(ms['trees'])} | {_d(ms['screened'])} | "
            f"{_d(ms['oracle']) if 'oracle' in ms else '-'} | {r['shipped']} | "
            f"{rc['pair']}/{rc['screens']}, {rc['gene_x_age']}/{rc['screens']}, {rc['heterozygote']}/{rc['screens']} | "
            f"{rc['false_terms']} | {r['seconds']['trees']} / {r['seconds']['screened']} |"
        )
    lines += ["", "Final model's terms:", ""]
    for r in rows:
        terms = ", ".join(f"{t['name']} (z {t['z']})" for t in r["final_terms"]) or "none"
        lines.append(f"- {r['score']}, {r['architecture']}, {r['n']:,}: {terms}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 10000])
    parser.add_argument("--architectures", nargs="+", default=["non-additive", "additive"])
    parser.add_argument("--scores", nargs="+", default=["without", "with"])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="interaction_screen")
    parser.add_argument("--results-dir", type=Path, default=lc.RESULTS_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The learning curve's config and seeds, so the rows are its cohorts.
    config = ModelConfig(n_trials=args.trials, n_bootstrap=100, threads=args.threads, max_bin=32, seed=args.seed)
    load = [round(v, 2) for v in os.getloadavg()]
    command = "bench/interaction_screen.py " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = []
    out = args.results_dir / args.out
    args.results_dir.mkdir(parents=True, exist_ok=True)
    for score in args.scores:
        for architecture in args.architectures:
            for n in args.sizes:
                rows.append(run_row(n, architecture, score, config, args.seed + n))
                print(next(x for x in render(rows[-1:], command, load).splitlines() if x.startswith("| " + score)))
                out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
                out.with_suffix(".md").write_text(render(rows, command, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
