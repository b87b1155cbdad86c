#!/usr/bin/env python3
"""Trial: the in-cohort polygenic score as a feature of the boosted trees (issue #16).

Usage::

    nice .venv/bin/python bench/score_feature_trial.py [--n 4000] [--architectures non-additive additive]
        [--scores without with] [--replicates 1] [--trials 4] [--threads 1] [--out score_feature_trial]

A bench-only prototype; genorisk itself is not changed. On the learning-curve
cohorts (:func:`learning_curve.simulate_cohort`, the same seeds, replicate 0 is
the cohort of ``bench/results/learning_curve.md``) and the same outer folds
(:func:`genorisk.model.fold_stats.outer_folds`), it compares:

(a) genorisk's :func:`~genorisk.model.train_model`: the boosted model (trees
    from the plain baseline's margin, no score) and the strong baseline
    (logistic regression on the in-cohort ridge score + external score +
    covariates + PCs);
(b) the prototype, per outer fold: the same in-fold ranking and inner split,
    the in-cohort score fitted as ``train.py`` fits it (``fit_ridge_score``,
    ``ridge_score``, ``cross_fitted_scores``; sizes capped at
    ``max_dosage_features``), then XGBoost on the columns ``train.py`` gives
    the trees plus one column "in-cohort score": cross-fitted within the outer
    training rows for those rows, the fold's deployed score
    (``RidgeScore.score``) for the outer test rows. The same candidates
    (:func:`~genorisk.model.train.sample_candidates`), class weights, early
    stopping on the inner split and choice by inner-validation log loss as
    ``train.py``. Three starts: ``search`` (each candidate's ``linear_offset``
    flag, as genorisk now), ``plain`` (always from the plain baseline's
    margin: external score, covariates, PCs) and ``none`` (no margin).

Nothing is calibrated: ROC AUC of OOF margins (as sigmoids), 95% paired,
outcome-stratified bootstrap CIs (:func:`genorisk.model.metrics.evaluate_predictions`).
Writes ``bench/results/<out>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
STARTS = ("search", "plain", "none")


def score_feature_oof(X, y: np.ndarray, schema: dict, config, start_modes=STARTS) -> tuple[dict, dict, dict]:
    """OOF margins of the trees given the in-cohort score as a feature, one per start mode.

    Parameters
    ----------
    X : DataFrame
        The cohort's feature matrix (schema order).
    y : ndarray of 0/1
    schema : dict
        Feature schema.
    config : ModelConfig
        As passed to ``train_model`` (folds, candidates, inner split, early stopping).
    start_modes : sequence of str
        Subset of :data:`STARTS`.

    Returns
    -------
    oof : dict
        Start mode -> OOF margins, shape (n,).
    seconds : dict
        Start mode -> wall seconds (the shared ranking, score and baseline work included in each).
    chosen : dict
        Start mode -> per-fold (candidate, rounds, score gain share) of the chosen trees.
    """
    import xgboost as xgb
    from sklearn.model_selection import train_test_split

    from genorisk.model import LinearOffset
    from genorisk.model.baseline import BASELINE_KINDS
    from genorisk.model.fold_stats import outer_folds
    from genorisk.model.in_cohort import SCORE_SIZES, cross_fitted_scores, fit_ridge_score, ridge_score
    from genorisk.model.select import dosage_ranking, top_k_columns
    from genorisk.model.train import sample_candidates

    kinds = [f["kind"] for f in schema["features"]]
    names = [f["name"] for f in schema["features"]]
    data = X.to_numpy(dtype=np.float32)
    n = len(y)
    n_dosage = kinds.count("dosage")
    baseline_cols = np.flatnonzero(np.isin(kinds, BASELINE_KINDS))
    candidates = sample_candidates(config, np.random.default_rng(config.seed))
    fold_of = outer_folds(y, config.n_folds, config.seed)
    oof = {mode: np.empty(n) for mode in start_modes}
    seconds = dict.fromkeys(start_modes, 0.0)
    chosen: dict[str, list] = {mode: [] for mode in start_modes}

    def class_weights(labels: np.ndarray) -> np.ndarray | None:
        if config.class_weight == "none":
            return None
        cases = int(labels.sum())
        return np.where(labels == 1, (len(labels) - cases) / cases, 1.0).astype(np.float32)

    for k in range(config.n_folds):
        t_shared = time.perf_counter()
        train_idx, test_idx = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        # As train.py: ranking on the outer training rows, the same stratified inner split.
        ranking = dosage_ranking(data, y, kinds, rows=train_idx)
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=config.validation_fraction, stratify=y[train_idx], random_state=config.seed + k
        )
        sizes = sorted({min(s, config.max_dosage_features) for s in SCORE_SIZES})
        k_score, factor, _ = fit_ridge_score(data, y, ranking, fit_idx, val_idx, sizes=sizes)
        deployed = ridge_score(data, y, ranking[:k_score], train_idx, factor)
        # The score column: cross-fitted within the outer training rows (no row's own label, and
        # never a test row's), the deployed score (fitted on all training rows) for the test rows.
        score = np.full(n, np.nan)
        score[train_idx] = cross_fitted_scores(data, y, ranking[:k_score], train_idx, factor, seed=config.seed)
        score[test_idx] = deployed.score(data, test_idx)
        plain = LinearOffset.fit(
            data[np.ix_(train_idx, baseline_cols)],
            y[train_idx],
            [names[c] for c in baseline_cols],
            balanced=config.class_weight == "balanced",
            seed=config.seed,
        ).margin(data[:, baseline_cols])
        w_fit, w_val = class_weights(y[fit_idx]), class_weights(y[val_idx])
        shared = time.perf_counter() - t_shared

        for mode in start_modes:
            t0 = time.perf_counter()
            matrices: dict[tuple[int, bool], tuple] = {}
            results = []
            for t, cand in enumerate(candidates):
                offset_on = {"search": bool(cand["linear_offset"]), "plain": True, "none": False}[mode]
                key = (min(cand["n_dosage_features"], n_dosage), offset_on and len(baseline_cols) > 0)
                if key not in matrices:
                    cols = top_k_columns(ranking, kinds, key[0])
                    block = np.hstack([data[:, cols], score[:, None].astype(np.float32)])
                    start = plain if key[1] else None
                    dfit = xgb.QuantileDMatrix(
                        block[fit_idx],
                        label=y[fit_idx],
                        weight=w_fit,
                        base_margin=None if start is None else start[fit_idx],
                        max_bin=config.max_bin,
                        nthread=config.threads,
                    )
                    dval = xgb.QuantileDMatrix(
                        block[val_idx],
                        label=y[val_idx],
                        weight=w_val,
                        ref=dfit,
                        base_margin=None if start is None else start[val_idx],
                        max_bin=config.max_bin,
                        nthread=config.threads,
                    )
                    matrices[key] = (block, start, dfit, dval)
                _, _, dfit, dval = matrices[key]
                params = {
                    "objective": "binary:logistic",
                    "eval_metric": "logloss",
                    "tree_method": config.tree_method,
                    "max_bin": config.max_bin,
                    "nthread": config.threads,
                    "seed": config.seed + k,
                    "verbosity": 1,
                    **{a: v for a, v in cand.items() if a not in ("n_dosage_features", "linear_offset")},
                }
                booster = xgb.train(
                    params,
                    dfit,
                    num_boost_round=config.n_estimators,
                    evals=[(dval, "validation")],
                    early_stopping_rounds=config.early_stopping_rounds,
                    verbose_eval=False,
                )
                results.append((booster.best_score, t, key, booster, booster.best_iteration + 1))
            _, t_best, key, booster, rounds = min(results, key=lambda r: r[0])
            block, start, _, _ = matrices[key]
            dtest = xgb.DMatrix(
                block[test_idx],
                base_margin=None if start is None else start[test_idx],
                nthread=config.threads,
            )
            oof[mode][test_idx] = booster.predict(dtest, output_margin=True, iteration_range=(0, rounds))
            gain = booster.get_score(importance_type="total_gain")
            score_key = f"f{block.shape[1] - 1}"  # the score is the last column
            chosen[mode].append(
                {
                    "fold": k,
                    "candidate": t_best,
                    "rounds": int(rounds),
                    "offset": bool(key[1]),
                    "n_dosage": int(key[0]),
                    "score_variants": int(k_score),
                    "score_gain_share": round(gain.get(score_key, 0.0) / max(sum(gain.values()), 1e-12), 3),
                }
            )
            seconds[mode] += shared + time.perf_counter() - t0
    return oof, seconds, chosen


def write_results(
    rows: list[dict[str, Any]], args: argparse.Namespace, commands: list[str], *, json_too: bool = True
) -> str:
    """Write ``<out>.json`` (if ``json_too``) and ``<out>.md`` under ``bench/results/``; return the Markdown."""
    RESULTS_DIR.mkdir(exist_ok=True)
    if json_too:
        settings = {k: v for k, v in vars(args).items() if k not in ("out", "append", "first_replicate", "render")}
        document = {"settings": settings, "commands": commands, "rows": rows}
        (RESULTS_DIR / f"{args.out}.json").write_text(json.dumps(document, indent=2) + "\n")

    def ci(m: dict) -> str:
        return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"

    def diff(m: dict) -> str:
        mark = " *" if m["ci_low"] > 0 else (" -" if m["ci_high"] < 0 else "")
        return f"{m['estimate']:+.3f} ({m['ci_low']:+.3f} to {m['ci_high']:+.3f}){mark}"

    lines = [
        "## Trial: the in-cohort score as a feature of the boosted trees (issue #16)",
        "",
        f"{time.strftime('%Y-%m-%d')}; learning-curve cohorts (`bench/learning_curve.py`: prevalence 0.1, "
        f"{args.variants} variants, 50 causal, age, sex, 4 PCs, external PGS r 0.7 or none), n = {args.n}, "
        "replicate r: cohort seed 1 + n + 7919 r (r 0 = the learning curve's cohort); 5 outer folds, "
        f"{args.trials} candidates, {args.threads} thread(s), max_bin 32. (a) genorisk's `train_model`: boosted "
        "(trees from the plain baseline margin, no score) and strong baseline (logistic on in-cohort score + "
        "PGS + covariates + PCs). (b) trees + score: the same in-fold ranking, inner split, candidates and "
        "early stopping, plus one column = the in-cohort ridge score (cross-fitted within the outer training "
        "rows; deployed fold score for test rows); start `search` (per candidate, as genorisk), `plain` "
        "(plain baseline margin) or `none`. ROC AUC of uncalibrated OOF margins, 95% paired stratified "
        f"bootstrap ({args.bootstrap}). `*`: CI above 0, `-`: below 0. Seconds: 5-fold OOF only "
        "(genorisk's include its final refit and bootstrap). "
        "Commands: " + "; ".join(f"`{c}`" for c in commands) + ".",
        "",
        "| architecture | PGS | rep | cases | boosted (a) | strong baseline (a) | trees+score | trees+score - strong "
        "| trees+score - boosted | boosted - strong | s (a) | s (b) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for m in r["chosen"]:  # the start modes of that row's run
            d = r["difference"]
            lines.append(
                f"| {r['architecture']} | {r['score']} | {r['replicate']} | {r['n_cases']} | "
                f"{ci(r['auc']['boosted'])} | {ci(r['auc']['strong'])} | {m}: {ci(r['auc'][f'score_{m}'])} | "
                f"{diff(d[f'score_{m}-strong'])} | {diff(d[f'score_{m}-boosted'])} | {diff(d['boosted-strong'])} | "
                f"{r['seconds']['genorisk']} | {r['seconds'][m]} |"
            )
    lines += [
        "",
        "Over the cohorts (replicates) of each setting: mean AUC difference, and how many cohorts have its CI "
        "above 0 (`*`) / below 0 (`-`):",
        "",
        "| architecture | PGS | cohorts | boosted - strong | trees+score (search) - strong "
        "| trees+score (none) - strong | trees+score (search) - boosted | trees+score (none) - boosted |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def summary(diffs: list[dict]) -> str:
        if not diffs:
            return "n/a"
        mean = np.mean([d["estimate"] for d in diffs])
        above = sum(d["ci_low"] > 0 for d in diffs)
        below = sum(d["ci_high"] < 0 for d in diffs)
        return f"{mean:+.3f} ({above} *, {below} -)"

    for setting in dict.fromkeys((r["architecture"], r["score"]) for r in rows):
        group = [r["difference"] for r in rows if (r["architecture"], r["score"]) == setting]
        cells = [summary([d["boosted-strong"] for d in group])]
        cells += [
            summary([d[f"score_{m}-strong"] for d in group if f"score_{m}-strong" in d]) for m in ("search", "none")
        ]
        cells += [
            summary([d[f"score_{m}-boosted"] for d in group if f"score_{m}-boosted" in d]) for m in ("search", "none")
        ]
        lines.append(f"| {setting[0]} | {setting[1]} | {len(group)} | " + " | ".join(cells) + " |")
    lines += ["", "Score's share of the chosen trees' total gain (mean over folds), start `search`:", ""]
    for r in rows:
        if "search" in r["chosen"]:
            shares = [c["score_gain_share"] for c in r["chosen"]["search"]]
            lines.append(
                f"- {r['architecture']}, PGS {r['score']}, rep {r['replicate']}: {np.mean(shares):.2f} "
                f"(rounds {[c['rounds'] for c in r['chosen']['search']]})"
            )
    text = "\n".join(lines) + "\n"
    (RESULTS_DIR / f"{args.out}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(BENCH.parent / "src"))
    sys.path.insert(0, str(BENCH))
    from learning_curve import simulate_cohort

    from genorisk.model import ModelConfig, sigmoid, train_model
    from genorisk.model.metrics import evaluate_predictions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--architectures", nargs="+", default=["non-additive", "additive"])
    parser.add_argument("--scores", nargs="+", default=["without", "with"], help="with and/or without the external PGS")
    parser.add_argument("--replicates", type=int, default=1, help="cohorts per setting (replicate 0: learning curve's)")
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--trials", type=int, default=4, help="random-search candidates (demo: 6)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--starts", nargs="+", default=list(STARTS), choices=STARTS)
    parser.add_argument("--first-replicate", type=int, default=0)
    parser.add_argument("--append", action="store_true", help="keep the rows and commands of <out>.json")
    parser.add_argument("--render", action="store_true", help="only rewrite <out>.md from <out>.json")
    parser.add_argument("--out", default="score_feature_trial")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The learning curve's config (bench/learning_curve.py), bootstrap resamples aside.
    config = ModelConfig(
        n_trials=args.trials, n_bootstrap=args.bootstrap, threads=args.threads, max_bin=32, seed=args.seed
    )
    rows: list[dict[str, Any]] = []
    command = "nice .venv/bin/python bench/score_feature_trial.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    commands = [command]
    previous = RESULTS_DIR / f"{args.out}.json"
    if args.render:
        earlier = json.loads(previous.read_text())
        print(write_results(earlier["rows"], args, earlier["commands"], json_too=False))
        return 0
    if args.append and previous.exists():
        earlier = json.loads(previous.read_text())
        rows, commands = earlier["rows"], [*earlier["commands"], command]
    for architecture in args.architectures:
        for rep in range(args.first_replicate, args.first_replicate + args.replicates):
            for score in args.scores:
                cohort_seed = args.seed + args.n + 7919 * rep
                X, y, schema, _ = simulate_cohort(
                    args.n, n_variants=args.variants, architecture=architecture, seed=cohort_seed
                )
                if score == "without":
                    X = X.drop(columns="pgs_PGS000001")
                    schema = {**schema, "features": [f for f in schema["features"] if f["kind"] != "pgs"]}
                t0 = time.perf_counter()
                model = train_model(X, y, schema, config)
                genorisk_seconds = time.perf_counter() - t0
                oof, seconds, chosen = score_feature_oof(X, y, schema, config, args.starts)
                assert model.oof_margin is not None and model.oof_predictions is not None
                predictions = {
                    "boosted": sigmoid(model.oof_margin),
                    "strong": model.oof_predictions["baseline"],
                    **{f"score_{m}": sigmoid(oof[m]) for m in args.starts},
                }
                compare = [(f"score_{m}", ref) for m in args.starts for ref in ("strong", "boosted")]
                compare.append(("boosted", "strong"))
                ev = evaluate_predictions(
                    y, predictions, n_bootstrap=config.n_bootstrap, seed=config.seed, compare=compare
                )
                row = {
                    "architecture": architecture,
                    "score": score,
                    "replicate": rep,
                    "cohort_seed": cohort_seed,
                    "n": args.n,
                    "n_cases": int(y.sum()),
                    "auc": {name: ev[name]["roc_auc"] for name in predictions},
                    "difference": ev["roc_auc_difference"],
                    "boosted_calibrated_auc": model.metrics["model"]["roc_auc"]["estimate"],
                    "seconds": {"genorisk": round(genorisk_seconds, 1), **{m: round(s, 1) for m, s in seconds.items()}},
                    "chosen": chosen,
                }
                rows.append(row)
                print(
                    f"{architecture:12s} {score:7s} rep {rep}: boosted {row['auc']['boosted']['estimate']:.3f} "
                    f"strong {row['auc']['strong']['estimate']:.3f} "
                    + " ".join(f"{m} {row['auc'][f'score_{m}']['estimate']:.3f}" for m in args.starts)
                    + f" ({row['seconds']})",
                    flush=True,
                )
                write_results(rows, args, commands)  # after every cohort: a stopped run keeps what it measured

    print(write_results(rows, args, commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
