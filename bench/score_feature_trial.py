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

On a finished pipeline run instead of the learning-curve cohorts::

    nice .venv/bin/python bench/score_feature_trial.py --pipeline-run OUTDIR --config CONFIG.yaml
        --traits demo_interaction demo_disease [--threads 2] [--starts search none]
        [--truth-table cohort_truth.tsv] [--out score_feature_trial_demo]

Each trait's training matrix is the one ``scripts/train_model.py`` builds (same
public functions), the model settings the config's ``model:`` section. Added
there: (c) the strong baseline plus a score x age product term
(:func:`product_baseline_oof`), how the chosen trees use score and age together
(:func:`score_pair_usage`: gain of trees splitting on both, SHAP interaction
values) and, for simulated cohorts, oracle models on the simulator's per-person
truth (:func:`truth_oof`).
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


def score_feature_oof(
    X, y: np.ndarray, schema: dict, config, start_modes=STARTS, *, interaction_with: str | None = None
) -> tuple[dict, dict, dict, list]:
    """OOF margins of the trees given the in-cohort score as a feature, one per start mode.

    Where the pipeline's strong baseline has a gene-burden score (``config.in_cohort_burden_score``
    and burden columns), the trees get it too, as a second column fitted the same way.

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
    interaction_with : str, optional
        A feature name (``"age"``): per fold, how the chosen trees use the score together with
        it (:func:`score_pair_usage`).

    Returns
    -------
    oof : dict
        Start mode -> OOF margins, shape (n,).
    seconds : dict
        Start mode -> wall seconds (the shared ranking, score and baseline work included in each).
    chosen : dict
        Start mode -> per-fold (candidate, rounds, score gain share) of the chosen trees.
    folds : list of dict
        Per outer fold: ``train`` and ``test`` rows, ``deployed`` (the RidgeScores fitted on the
        training rows: variants', then burden's if any) and ``columns`` (n, 1 or 2): the score
        columns the trees saw (cross-fitted for training rows, deployed for test rows).
    """
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from genorisk.model import LinearOffset
    from genorisk.model.baseline import BASELINE_KINDS
    from genorisk.model.fold_stats import outer_folds
    from genorisk.model.in_cohort import (
        BURDEN_SCORE_SIZES,
        SCORE_SIZES,
        burden_ranking,
        cross_fitted_scores,
        fit_ridge_score,
        ridge_score,
    )
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
    folds: list[dict[str, Any]] = []
    # As train.py: a burden score only with the setting on and burden columns present.
    use_burden = bool(config.in_cohort_burden_score) and "burden" in kinds
    paired_column = None if interaction_with is None else names.index(interaction_with)

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
        columns, scores = [score], [deployed]
        if use_burden:
            genes = burden_ranking(data, y, kinds, rows=train_idx)
            k_genes, g_factor, _ = fit_ridge_score(data, y, genes, fit_idx, val_idx, sizes=BURDEN_SCORE_SIZES)
            burden_score = ridge_score(data, y, genes[:k_genes], train_idx, g_factor)
            burden = np.full(n, np.nan)
            burden[train_idx] = cross_fitted_scores(data, y, genes[:k_genes], train_idx, g_factor, seed=config.seed)
            burden[test_idx] = burden_score.score(data, test_idx)
            columns.append(burden)
            scores.append(burden_score)
        extra = np.column_stack(columns).astype(np.float32)
        folds.append({"fold": k, "train": train_idx, "test": test_idx, "deployed": scores, "columns": extra})
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
                    block = np.hstack([data[:, cols], extra])
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
                criterion = booster.best_score
                if config.selection_metric == "auc":  # as train.py: lower is better, 1 - AUC
                    val_margin = booster.predict(
                        dval, output_margin=True, iteration_range=(0, booster.best_iteration + 1)
                    )
                    criterion = 1.0 - roc_auc_score(y[val_idx], val_margin)
                results.append((criterion, t, key, booster, booster.best_iteration + 1))
            _, t_best, key, booster, rounds = min(results, key=lambda r: r[0])
            block, start, _, _ = matrices[key]
            cols = top_k_columns(ranking, kinds, key[0])
            dtest = xgb.DMatrix(
                block[test_idx],
                base_margin=None if start is None else start[test_idx],
                nthread=config.threads,
            )
            oof[mode][test_idx] = booster.predict(dtest, output_margin=True, iteration_range=(0, rounds))
            gain = booster.get_score(importance_type="total_gain")
            total_gain = max(sum(gain.values()), 1e-12)
            score_key = f"f{len(cols)}"  # the score columns follow the schema columns
            record = {
                "fold": k,
                "candidate": t_best,
                "rounds": int(rounds),
                "offset": bool(key[1]),
                "n_dosage": int(key[0]),
                "score_variants": int(k_score),
                "score_gain_share": round(gain.get(score_key, 0.0) / total_gain, 3),
            }
            if use_burden:
                record["burden_score_gain_share"] = round(gain.get(f"f{len(cols) + 1}", 0.0) / total_gain, 3)
            if paired_column is not None:
                record.update(
                    score_pair_usage(
                        booster,
                        block[test_idx],
                        None if start is None else start[test_idx],
                        rounds,
                        score_position=len(cols),
                        other_position=int(np.searchsorted(cols, paired_column)),
                        threads=config.threads,
                        seed=config.seed + k,
                    )
                )
            chosen[mode].append(record)
            seconds[mode] += shared + time.perf_counter() - t0
    return oof, seconds, chosen, folds


def score_pair_usage(
    booster,
    block: np.ndarray,
    start: np.ndarray | None,
    rounds: int,
    *,
    score_position: int,
    other_position: int,
    threads: int,
    seed: int,
    max_rows: int = 200,
    chunk: int = 20,
) -> dict[str, float]:
    """How the trees use the score column together with another column (age).

    Parameters
    ----------
    booster : xgboost.Booster
        The fold's chosen trees (columns ``f0``, ``f1``, ... of ``block``).
    block : ndarray, shape (m, p)
        Rows to explain (the fold's outer test rows).
    start : ndarray or None
        Their base margins.
    rounds : int
        Trees used.
    score_position, other_position : int
        Columns of ``block``.
    max_rows, chunk : int
        SHAP interaction values are computed for at most ``max_rows`` random rows, ``chunk`` at a
        time (each row is a p x p matrix).

    Returns
    -------
    dict
        ``pair_tree_gain_share``: share of the total gain in trees that split on both columns;
        ``pair_shap_share``: mean |SHAP interaction| of the pair (both halves) over the sum of all
        off-diagonal pairs'; ``pair_shap_rank``: the pair's rank among all pairs (1 = largest);
        ``pair_shap_mean_abs``: its mean |interaction| in margin units (both halves).
    """
    import xgboost as xgb

    frame = booster.trees_to_dataframe()
    frame = frame[frame["Feature"] != "Leaf"]
    frame = frame[frame["Tree"] < rounds]  # one tree per round (binary objective)
    per_tree = frame.groupby("Tree").agg(gain=("Gain", "sum"), features=("Feature", set))
    both = per_tree["features"].map(lambda f: {f"f{score_position}", f"f{other_position}"} <= f)
    tree_share = float(per_tree["gain"][both].sum() / max(per_tree["gain"].sum(), 1e-12))

    rows = np.random.default_rng(seed).permutation(len(block))[:max_rows]
    total = np.zeros((block.shape[1] + 1, block.shape[1] + 1))
    for begin in range(0, len(rows), chunk):
        part = rows[begin : begin + chunk]
        matrix = xgb.DMatrix(block[part], base_margin=None if start is None else start[part], nthread=threads)
        values = booster.predict(matrix, pred_interactions=True, iteration_range=(0, rounds))
        total += np.abs(values).sum(axis=0)
    total = total[:-1, :-1] / len(rows)  # the last row and column: the bias
    pairs = np.triu(total + total.T, k=1)  # each pair's interaction is split between its two cells
    pair = pairs[min(score_position, other_position), max(score_position, other_position)]
    return {
        "pair_tree_gain_share": round(tree_share, 3),
        "pair_shap_share": round(float(pair / max(pairs.sum(), 1e-12)), 3),
        "pair_shap_rank": int((pairs > pair).sum() + 1),
        "pair_shap_mean_abs": round(float(pair), 4),
    }


def product_baseline_oof(
    X, y: np.ndarray, schema: dict, config, folds: list[dict], *, covariate: str = "age"
) -> tuple[dict, list]:
    """The strong baseline refitted from the trial's fold scores, and with a score x covariate term.

    Parameters
    ----------
    X, y, schema, config
        As :func:`score_feature_oof`.
    folds : list of dict
        Its ``folds``: the same scores, cross-fitted for training rows, deployed for test rows.
    covariate : str
        Feature name of the product's second factor.

    Returns
    -------
    oof : dict
        ``strong_refit``: :func:`~genorisk.model.in_cohort.fit_strong_baseline` on those scores
        (the pipeline's strong baseline again: a check that the trial's scores are genorisk's);
        ``strong_x_<covariate>``: a logistic regression (C = 1 on standardised inputs, as the
        strong baseline) on the same inputs plus the product of the standardised variant score and
        the standardised covariate (a linear model told the interaction's form). OOF margins.
    coefficients : list of float
        Per fold, the product term's coefficient per standard deviation.
    """
    from sklearn.linear_model import LogisticRegression

    from genorisk.model.baseline import BASELINE_KINDS
    from genorisk.model.in_cohort import fit_strong_baseline

    kinds = [f["kind"] for f in schema["features"]]
    names = [f["name"] for f in schema["features"]]
    data = X.to_numpy(dtype=np.float32)
    baseline_cols = np.flatnonzero(np.isin(kinds, BASELINE_KINDS))
    factor_col = names.index(covariate)
    column_of = {name: j for j, name in enumerate(names)}
    n = len(y)
    refit, product = np.empty(n), np.empty(n)
    coefficients = []
    for fold in folds:
        train, test, extra = fold["train"], fold["test"], fold["columns"].astype(np.float64)
        crossed = [extra[train, j] for j in range(extra.shape[1])]
        model, _ = fit_strong_baseline(
            data, y, fold["deployed"], crossed, train, baseline_cols, names, seed=config.seed
        )
        refit[test] = model.margin(data[np.ix_(test, [column_of[f] for f in model.features])])

        base = np.asarray(data[:, baseline_cols], dtype=np.float64)
        fill = np.nanmean(np.where(np.isnan(base[train]).all(axis=0), 0.0, base[train]), axis=0)
        base = np.where(np.isnan(base), fill, base)
        used = [j for j, score in enumerate(fold["deployed"]) if len(score.columns) > 0]
        factor = base[:, list(baseline_cols).index(factor_col)]
        s = extra[:, 0]
        s_z = (s - s[train].mean()) / (s[train].std() or 1.0)
        f_z = (factor - factor[train].mean()) / (factor[train].std() or 1.0)
        inputs = np.column_stack([extra[:, used], s_z * f_z, base])
        mean, scale = inputs[train].mean(axis=0), inputs[train].std(axis=0)
        inputs = (inputs - mean) / np.where(scale > 1e-12, scale, 1.0)
        lr = LogisticRegression(C=1.0, max_iter=1000, random_state=config.seed).fit(inputs[train], y[train])
        product[test] = lr.decision_function(inputs[test])
        coefficients.append(round(float(lr.coef_[0][len(used)]), 3))
    return {"strong_refit": refit, f"strong_x_{covariate}": product}, coefficients


def truth_oof(X, y: np.ndarray, schema: dict, config, folds: list[dict], truth, column: str, *, covariate: str = "age"):
    """Diagnostics from a simulation's per-person truth: how good the score is, how much the product can give.

    Parameters
    ----------
    X, y, schema, config, folds
        As :func:`product_baseline_oof`.
    truth : DataFrame
        The simulator's ``cohort_truth.tsv`` indexed by ``sample_id``: liability components per
        person, ``additive``, ``burden``, ... for the trait of column ``status`` and
        ``<column>_additive``, ... for the others.
    column : str
        The trait's phenotype column.

    Returns
    -------
    oof : dict
        OOF margins on the same folds of ``oracle`` (logistic regression on the true additive
        genetic value, the true burden component, the covariates and PCs) and ``oracle_x_<covariate>``
        (plus the product of the standardised true additive value and covariate: the simulated
        interaction's exact form); ``oracle_all``: on every true genetic component (additive,
        burden, dominance, epistasis, gene x age, those simulated), covariates and PCs.
    score_additive_r : float
        Correlation of the deployed (OOF) in-cohort variant score with the true additive value.
    """
    from sklearn.linear_model import LogisticRegression

    from genorisk.model.baseline import BASELINE_KINDS

    prefix = "" if column == "status" else f"{column}_"
    kinds = [f["kind"] for f in schema["features"]]
    rows = truth.loc[X.index]
    additive = rows[f"{prefix}additive"].to_numpy(dtype=np.float64)
    burden = rows[f"{prefix}burden"].to_numpy(dtype=np.float64)
    base = X.to_numpy(dtype=np.float64)[:, np.isin(kinds, BASELINE_KINDS)]
    base = np.where(np.isnan(base), np.nanmean(base, axis=0), base)
    factor = X[covariate].to_numpy(dtype=np.float64)
    n = len(y)
    # Every simulated genetic component, true values: what any model of these features could reach.
    components = [
        rows[f"{prefix}{c}"].to_numpy(dtype=np.float64)
        for c in ("additive", "burden", "dominance", "epistasis", "gxage")
        if f"{prefix}{c}" in rows.columns
    ]
    oof = {"oracle": np.empty(n), f"oracle_x_{covariate}": np.empty(n), "oracle_all": np.empty(n)}
    score = np.empty(n)
    for fold in folds:
        train, test = fold["train"], fold["test"]
        score[test] = fold["columns"][test, 0]
        g_z = (additive - additive[train].mean()) / additive[train].std()
        f_z = (factor - factor[train].mean()) / factor[train].std()
        for name, inputs in (
            ("oracle", np.column_stack([additive, burden, base])),
            (f"oracle_x_{covariate}", np.column_stack([additive, burden, g_z * f_z, base])),
            ("oracle_all", np.column_stack([*components, base])),
        ):
            mean, scale = inputs[train].mean(axis=0), inputs[train].std(axis=0)
            inputs = (inputs - mean) / np.where(scale > 1e-12, scale, 1.0)
            lr = LogisticRegression(C=1.0, max_iter=1000, random_state=config.seed).fit(inputs[train], y[train])
            oof[name][test] = lr.decision_function(inputs[test])
    return oof, float(np.corrcoef(score, additive)[0, 1])


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


def run_pipeline(args: argparse.Namespace, command: str) -> int:
    """The trial on a finished pipeline run's training matrices (``--pipeline-run``), trait by trait.

    The matrices are built as ``scripts/train_model.py`` builds them: ``read_feature_matrix`` of
    ``features/<trait>/cohort.parquet``, ``read_phenotypes`` of the config's cohort phenotype file,
    ``trait_training_rows``, the trait's ``features.schema.json``; the model settings are the
    config's ``model:`` section (``ModelConfig.from_dict``), threads from ``--threads``.
    """
    import os

    import pandas as pd
    import yaml

    from genorisk.config import read_phenotypes
    from genorisk.io import read_json
    from genorisk.model import ModelConfig, read_feature_matrix, sigmoid, train_model, trait_training_rows
    from genorisk.model.metrics import evaluate_predictions

    run = Path(args.pipeline_run)
    config_path = Path(args.config)
    run_config = yaml.safe_load(config_path.read_text())
    traits = {t["id"]: t for t in run_config["traits"]}
    config = ModelConfig.from_dict(
        {**(run_config.get("model") or {}), "threads": args.threads}, source=str(config_path)
    )
    phenotype_path = run_config["cohort"]["phenotypes"]
    previous = RESULTS_DIR / f"{args.out}.json"
    rows: list[dict[str, Any]] = []
    commands = [command]
    if args.append and previous.exists():
        earlier = json.loads(previous.read_text())
        rows, commands = earlier["rows"], [*earlier["commands"], command]
    factor = args.interaction_with
    product = f"strong_x_{factor}"
    for trait_id in args.traits:
        column = traits[trait_id]["column"]
        folder = run / "features" / trait_id
        features = read_feature_matrix(folder / "cohort.parquet")
        phenotypes = read_phenotypes(phenotype_path, columns=[column])
        X, y = trait_training_rows(features, phenotypes, column, path=phenotype_path)
        schema = read_json(folder / "features.schema.json")
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        model = train_model(X, y, schema, config)
        t1 = time.perf_counter()
        oof, seconds, chosen, folds = score_feature_oof(X, y, schema, config, args.starts, interaction_with=factor)
        t2 = time.perf_counter()
        linear, coefficients = product_baseline_oof(X, y, schema, config, folds, covariate=factor)
        t3 = time.perf_counter()
        oracle, score_additive_r = {}, None
        if args.truth_table:
            truth = pd.read_csv(args.truth_table, sep="\t", index_col="sample_id")
            oracle, score_additive_r = truth_oof(X, y, schema, config, folds, truth, column, covariate=factor)
        assert model.oof_margin is not None and model.oof_predictions is not None
        predictions = {
            "boosted": sigmoid(model.oof_margin),
            "strong": model.oof_predictions["baseline"],
            "strong_refit": sigmoid(linear["strong_refit"]),
            product: sigmoid(linear[product]),
            **{f"score_{m}": sigmoid(oof[m]) for m in args.starts},
            **{name: sigmoid(margin) for name, margin in oracle.items()},
        }
        compare = [("boosted", "strong"), (product, "strong"), ("strong_refit", "strong")]
        if oracle:
            compare += [(f"oracle_x_{factor}", "oracle"), ("oracle_all", "oracle")]
        for m in args.starts:
            compare += [(f"score_{m}", "strong"), (f"score_{m}", "boosted"), (f"score_{m}", product)]
        ev = evaluate_predictions(
            y, predictions, n_bootstrap=config.n_bootstrap, ci_level=config.ci_level, seed=config.seed, compare=compare
        )
        metrics_path = run / "model" / trait_id / "metrics.json"
        pipeline = None
        if metrics_path.exists():
            m = read_json(metrics_path)
            pipeline = {
                "boosted": m["model_uncalibrated"]["roc_auc"],
                "strong": m["baseline"]["roc_auc"],
                "difference": m["roc_auc_difference"]["model-baseline"],
                "shipped": m["shipped"]["model"],
            }
        row = {
            "trait": trait_id,
            "column": column,
            "n": len(y),
            "n_cases": int(y.sum()),
            "auc": {name: ev[name]["roc_auc"] for name in predictions},
            "difference": ev["roc_auc_difference"],
            "pipeline": pipeline,
            "product_coefficient_per_fold": coefficients,
            "score_additive_r": score_additive_r,
            "seconds": {
                "genorisk": round(t1 - t0, 1),
                "trees_score_all_starts": round(t2 - t1, 1),
                **{m: round(v, 1) for m, v in seconds.items()},
                "linear": round(t3 - t2, 1),
            },
            "load": {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]},
            "chosen": chosen,
        }
        rows.append(row)
        print(
            f"{trait_id}: boosted {row['auc']['boosted']['estimate']:.3f} "
            f"strong {row['auc']['strong']['estimate']:.3f} "
            f"{product} {row['auc'][product]['estimate']:.3f} "
            + " ".join(f"{m} {row['auc'][f'score_{m}']['estimate']:.3f}" for m in args.starts)
            + f" ({row['seconds']})",
            flush=True,
        )
        write_pipeline_results(rows, args, commands, config)  # after every trait: a stopped run keeps it
    print(write_pipeline_results(rows, args, commands, config))
    return 0


def write_pipeline_results(rows: list[dict[str, Any]], args: argparse.Namespace, commands: list[str], config) -> str:
    """Write ``<out>.json`` and ``<out>.md`` of a ``--pipeline-run`` trial; return the Markdown."""
    RESULTS_DIR.mkdir(exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "append", "render")}
    document = {"settings": settings, "model_config": repr(config), "commands": commands, "rows": rows}
    (RESULTS_DIR / f"{args.out}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    factor = args.interaction_with
    product = f"strong_x_{factor}"

    def ci(m: dict) -> str:
        return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"

    def diff(m: dict) -> str:
        mark = " *" if m["ci_low"] > 0 else (" -" if m["ci_high"] < 0 else "")
        return f"{m['estimate']:+.3f} ({m['ci_low']:+.3f} to {m['ci_high']:+.3f}){mark}"

    starts = [m for m in STARTS if any(f"score_{m}" in r["auc"] for r in rows)]
    lines = [
        "## Trial: the in-cohort score as a tree feature, on the demo's architectures (issue #16)",
        "",
        f"{time.strftime('%Y-%m-%d')}; pipeline run `{args.pipeline_run}` (config `{args.config}`): each trait's "
        "training matrix as `scripts/train_model.py` builds it (`read_feature_matrix`, `read_phenotypes`, "
        "`trait_training_rows`, `features.schema.json`), the config's model settings, "
        f"{args.threads} thread(s). Same outer folds for every model; ROC AUC of uncalibrated OOF "
        f"predictions, 95% paired stratified bootstrap ({config.n_bootstrap}); `*`: CI above 0, `-`: below 0. "
        "(a) genorisk's `train_model`: boosted (trees from the plain baseline margin; the score is not a tree "
        "column) and strong baseline (logistic on the in-cohort variant score, the gene-burden score if chosen, "
        f"covariates, PCs). (c) `{product}`: the strong baseline's inputs plus the product of the standardised "
        f"variant score and standardised {factor} (a linear model told the interaction's form), fitted on the "
        "same cross-fitted fold scores. (b) trees + score: the trees' search as genorisk's (candidates, inner "
        "split, early stopping, selection metric) plus the in-cohort variant score (and the burden score where "
        "the strong baseline has one) as columns, cross-fitted within the outer training rows, deployed fold "
        "scores for the test rows; start `search` (per candidate: plain baseline margin or none, as genorisk) or "
        "`none`. `strong_refit`: the strong baseline refitted from the trial's fold scores (a check that they "
        "are genorisk's: difference 0). Commands: " + "; ".join(f"`{c}`" for c in commands) + ".",
        "",
        f"| trait | n | cases | boosted (a) | strong (a) | {product} (c) | "
        + " | ".join(f"trees+score {m} (b)" for m in starts)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(starts),
    ]
    for r in rows:
        lines.append(
            f"| {r['trait']} | {r['n']} | {r['n_cases']} | {ci(r['auc']['boosted'])} | {ci(r['auc']['strong'])} | "
            f"{ci(r['auc'][product])} | " + " | ".join(ci(r["auc"][f"score_{m}"]) for m in starts) + " |"
        )
    pairs = [("boosted", "strong"), (product, "strong")]
    for m in starts:
        pairs += [(f"score_{m}", "strong"), (f"score_{m}", "boosted"), (f"score_{m}", product)]
    pairs.append(("strong_refit", "strong"))
    lines += [
        "",
        "Paired differences (ROC AUC, OOF):",
        "",
        "| difference | " + " | ".join(r["trait"] for r in rows) + " |",
    ]
    lines.append("|---|" + "---|" * len(rows))
    for a, b in pairs:
        key = f"{a}-{b}"
        label = key.replace("score_", "trees+score ")
        lines.append(f"| {label} | " + " | ".join(diff(r["difference"][key]) for r in rows) + " |")
    lines += [
        "",
        "The pipeline's own run of the same matrices (`model/<trait>/metrics.json`, uncalibrated boosted):",
        "",
    ]
    for r in rows:
        p = r["pipeline"]
        if p:
            lines.append(
                f"- {r['trait']}: boosted {ci(p['boosted'])}, strong {ci(p['strong'])}, boosted - strong "
                f"{diff(p['difference'])}, shipped {p['shipped']}"
            )
    oracle_rows = [r for r in rows if f"oracle_x_{factor}" in r["auc"]]
    if oracle_rows:
        lines += [
            "",
            f"Truth diagnostics (`--truth-table`, the simulator's per-person components): `oracle` = logistic "
            "regression on the true additive genetic value, the true burden component, covariates and PCs; "
            f"`oracle_x_{factor}` adds the product of the true additive value and {factor} (the simulated "
            "interaction exactly); `oracle_all`: every true genetic component (additive, burden, epistasis, gene "
            "x age as simulated), covariates and PCs; same folds. r: correlation of the OOF in-cohort variant "
            "score with the true additive value.",
            "",
        ]
        for r in oracle_rows:
            lines.append(
                f"- {r['trait']}: oracle {ci(r['auc']['oracle'])}, oracle_x_{factor} "
                f"{ci(r['auc'][f'oracle_x_{factor}'])}, "
                f"difference {diff(r['difference'][f'oracle_x_{factor}-oracle'])}; oracle_all "
                f"{ci(r['auc']['oracle_all'])}, oracle_all - oracle {diff(r['difference']['oracle_all-oracle'])}; "
                f"r = {r['score_additive_r']:.3f}"
            )
    lines += ["", f"How the chosen trees use the score (mean over the 5 folds; {factor}: the paired column):", ""]
    lines.append(
        "| trait | start | rounds | score gain share | burden score gain share | gain share of trees splitting on "
        f"score and {factor} | score x {factor} share of SHAP interactions (rank) |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        for m, per_fold in r["chosen"].items():

            def mean(key: str, folds=per_fold) -> str:
                values = [f[key] for f in folds if key in f]
                return f"{np.mean(values):.3f}" if values else "n/a"

            ranks = [f["pair_shap_rank"] for f in per_fold if "pair_shap_rank" in f]
            lines.append(
                f"| {r['trait']} | {m} | {[f['rounds'] for f in per_fold]} | {mean('score_gain_share')} | "
                f"{mean('burden_score_gain_share')} | {mean('pair_tree_gain_share')} | "
                f"{mean('pair_shap_share')} (ranks {ranks}) |"
            )
    lines += ["", "Seconds and load:", ""]
    for r in rows:
        lines.append(
            f"- {r['trait']}: {r['seconds']}; load average (1, 5, 15 min) before {r['load']['before']}, "
            f"after {r['load']['after']}; {product} coefficient per SD, per fold: "
            f"{r['product_coefficient_per_fold']}"
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
    parser.add_argument(
        "--pipeline-run", help="a finished pipeline run's outdir: the trial on its traits' training matrices"
    )
    parser.add_argument("--config", help="with --pipeline-run: that run's config file")
    parser.add_argument("--traits", nargs="+", help="with --pipeline-run: trait ids")
    parser.add_argument("--interaction-with", default="age", help="with --pipeline-run: the score's partner")
    parser.add_argument("--truth-table", help="with --pipeline-run: the simulator's cohort_truth.tsv (diagnostics)")
    parser.add_argument("--out", help="default score_feature_trial (score_feature_trial_demo with --pipeline-run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.out is None:
        args.out = "score_feature_trial_demo" if args.pipeline_run else "score_feature_trial"
    if args.pipeline_run:
        if not args.config or not args.traits:
            parser.error("--pipeline-run needs --config and --traits")
        command = "nice .venv/bin/python bench/score_feature_trial.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        return run_pipeline(args, command)
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
                oof, seconds, chosen, _ = score_feature_oof(X, y, schema, config, args.starts)
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
