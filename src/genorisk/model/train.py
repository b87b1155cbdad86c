"""Training: nested cross-validation, random search, calibration and evaluation.

:func:`train_model` fits XGBoost (``tree_method="hist"``) with a random
hyperparameter search nested inside stratified k-fold cross-validation, an
in-fold dosage-feature filter, balanced class weights, a calibrator fitted on
the out-of-fold (OOF) predictions and a logistic-regression baseline on the
same folds.

How leakage is avoided (the "honest" part)
------------------------------------------
Every data-driven step is fitted on training rows only. For outer fold ``k``:

1. the dosage filter statistic (Cochran-Armitage trend test of every dosage
   column) is computed on the outer training rows; each candidate keeps its
   own top-k dosage columns (k is part of the search, up to
   ``max_dosage_features``), so small cohorts can choose to drop the noise;
   the interaction screen (:mod:`genorisk.model.interactions`) runs on the
   same rows, and the terms that pass it are columns of every candidate;
2. a logistic regression on the pgs, covariate and pc features is fitted on
   the outer training rows; candidates that use the linear offset (see
   ``ModelConfig.linear_offset``) start every row's margin at its logit, so
   the trees model what it misses;
3. the outer training rows are split (stratified) into an inner fit part and an
   inner validation part (``validation_fraction``);
4. each of the ``n_trials`` candidate parameter sets is trained on the inner fit
   part with early stopping on the inner validation part; the candidate with the
   lowest inner-validation log loss is this fold's model;
5. that model predicts the outer test rows, which no step above has seen.

The final model uses the candidate with the lowest mean inner-validation loss
over the folds and the median of its early-stopping round counts, refitted on
all rows (filter recomputed on all rows). Its own performance is estimated by
the OOF predictions of the fold models, the usual nested-CV convention.

The calibrator deployed with the model is fitted on all OOF predictions. The
calibrated metrics in ``metrics.json`` are *cross-fitted*: the OOF predictions
of fold ``k`` are calibrated by a calibrator fitted on the other folds' OOF
predictions, so the reported calibration is not measured on its own training
data.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from genorisk.errors import ConfigError
from genorisk.model.baseline import BASELINE_KINDS, LinearOffset, fit_baseline
from genorisk.model.calibration import Calibrator, sigmoid
from genorisk.model.config import ModelConfig
from genorisk.model.fold_stats import outer_folds
from genorisk.model.in_cohort import (
    BURDEN_SCORE_SIZES,
    CROSS_FIT_PARTS,
    ELASTIC_NET_L1_RATIO,
    burden_ranking,
    cross_fitted_scores,
    fit_ridge_score,
    fit_stacked_score,
    fit_strong_baseline,
    ridge_score,
)
from genorisk.model.inputs import check_frame_matches_schema, check_labels, validate_schema
from genorisk.model.interactions import (
    MIN_MAF,
    PARTNER_FACTOR,
    InteractionTerm,
    interaction_matrix,
    screen_interactions,
)
from genorisk.model.metrics import evaluate_predictions
from genorisk.model.select import dosage_ranking, top_k_columns

LOG = logging.getLogger("genorisk.model")

#: Number of cohort-risk quantiles stored (0.1 % steps) for percentiles.
N_COHORT_QUANTILES = 1001


@dataclass
class TrainedModel:
    """A trained, calibrated model and everything needed to score and explain.

    Attributes
    ----------
    booster : xgboost.Booster
        Final model, refitted on all rows; its ``feature_names`` are the
        schema columns it uses (all but the dosages the filter dropped).
    schema : dict
        The feature schema; patient frames must match it exactly.
    config : ModelConfig
    params : dict
        XGBoost parameters of the final model.
    n_rounds : int
        Boosting rounds of the final model (median early-stopping round of
        the chosen candidate over the folds).
    calibrator : Calibrator
        Fitted on all OOF margins; carries the risk band.
    cohort_quantiles : ndarray, shape (1001,)
        Quantiles (0.1 % steps) of the cohort's calibrated OOF risks, for
        patient percentiles.
    metrics : dict
        See :func:`train_model`.
    offset : LinearOffset or None
        Starting margin of the trees (``config.linear_offset``); scoring
        must pass it as ``base_margin``.
    oof_margin : ndarray or None
        OOF margins of the training rows (not saved with the artifact).
    """

    booster: xgb.Booster
    schema: dict
    config: ModelConfig
    params: dict
    n_rounds: int
    calibrator: Calibrator
    cohort_quantiles: np.ndarray
    metrics: dict
    oof_margin: np.ndarray | None = None
    offset: LinearOffset | None = None
    #: Out-of-fold predictions by model name ("model", "baseline", ...) and the
    #: labels ("y"), for the cohort report's curves; never part of the artifact.
    oof_predictions: dict | None = None
    #: Screened interaction terms (:mod:`genorisk.model.interactions`): the booster's last columns.
    interactions: list[InteractionTerm] = dataclasses.field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        names = self.booster.feature_names
        assert names is not None  # trained (and loaded) with the feature names
        return list(names)


def sample_candidates(config: ModelConfig, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Draw ``config.n_trials`` XGBoost parameter sets from the search space.

    Parameters
    ----------
    config : ModelConfig
        Search space and budget.
    rng : numpy.random.Generator
        Source of the random draws.

    Returns
    -------
    list of dict
        XGBoost parameters plus ``n_dosage_features`` (top dosage columns
        kept) and ``linear_offset`` (bool), which are not XGBoost parameters.
        Candidate 0 is a conventional default clipped to the space; the rest
        are random (log-uniform for scale parameters and for
        ``n_dosage_features``). Every outer fold sees the same list, so the
        final choice can average inner-validation losses over folds.
    """

    def clip(key: str, value: float) -> float:
        lo, hi = getattr(config, key)
        return min(max(value, lo), hi)

    def log_uniform(key: str) -> float:
        lo, hi = getattr(config, key)
        return float(math.exp(rng.uniform(math.log(max(lo, 1e-12)), math.log(max(hi, 1e-12)))))

    candidates = [
        {
            "max_depth": int(clip("max_depth", 3)),
            "learning_rate": clip("learning_rate", 0.1),
            "min_child_weight": clip("min_child_weight", 1.0),
            "subsample": clip("subsample", 0.8),
            "colsample_bytree": clip("colsample_bytree", 0.8),
            "reg_lambda": clip("reg_lambda", 1.0),
            "n_dosage_features": config.max_dosage_features,
            "linear_offset": config.linear_offset != "never",
        }
    ]
    k_lo, k_hi = config.min_dosage_features, config.max_dosage_features
    while len(candidates) < config.n_trials:
        candidates.append(
            {
                "max_depth": int(rng.integers(config.max_depth[0], config.max_depth[1] + 1)),
                "learning_rate": log_uniform("learning_rate"),
                "min_child_weight": log_uniform("min_child_weight")
                if config.min_child_weight[0] > 0
                else float(rng.uniform(*config.min_child_weight)),
                "subsample": float(rng.uniform(*config.subsample)),
                "colsample_bytree": float(rng.uniform(*config.colsample_bytree)),
                "reg_lambda": log_uniform("reg_lambda")
                if config.reg_lambda[0] > 0
                else float(rng.uniform(*config.reg_lambda)),
                "n_dosage_features": int(round(math.exp(rng.uniform(math.log(k_lo + 1), math.log(k_hi + 1))))) - 1,
                "linear_offset": {"search": bool(rng.random() < 0.5), "always": True, "never": False}[
                    config.linear_offset
                ],
            }
        )
    return candidates


def _booster_params(candidate: Mapping[str, Any], config: ModelConfig, seed: int) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": config.tree_method,
        "max_bin": config.max_bin,
        "nthread": config.threads,
        "seed": seed,
        "verbosity": 1,
        **{k: v for k, v in candidate.items() if k not in ("n_dosage_features", "linear_offset")},
    }


def _class_weights(y: np.ndarray, config: ModelConfig) -> np.ndarray | None:
    if config.class_weight == "none":
        return None
    n_cases = int(y.sum())
    return np.where(y == 1, (len(y) - n_cases) / n_cases, 1.0).astype(np.float32)


def train_model(
    X: pd.DataFrame,
    y: Any,
    schema: Mapping[str, Any],
    config: ModelConfig,
    *,
    truth: Mapping[str, float] | None = None,
    log: logging.Logger = LOG,
) -> TrainedModel:
    """Train, cross-validate, calibrate and evaluate the risk model.

    Parameters
    ----------
    X : DataFrame, shape (n_samples, n_features)
        Indexed by ``sample_id``; numeric columns in schema order, NaN for
        missing values (XGBoost routes them by learned default directions).
    y : array-like of 0/1, shape (n_samples,)
        1 = case, aligned with the rows of ``X``.
    schema : dict
        Feature schema (``schema_version`` 1); see :func:`validate_schema`.
    config : ModelConfig
    truth : dict, optional
        For simulated cohorts: ``h2`` (liability-scale additive variance),
        ``prevalence`` and optionally ``h2_total`` (all genetic variance, for
        non-additive simulations). Adds the Wray et al. (2010) AUC ceiling.
    log : Logger
        Progress (fold, trial, rounds per second). Never logs genotypes.

    Returns
    -------
    TrainedModel
        ``metrics`` holds: ``model`` (cross-fitted calibrated OOF
        probabilities), ``model_uncalibrated`` (sigmoid of OOF margins),
        ``baseline`` (logistic regression on pgs/covariate/pc features, same
        folds; None without such features), each with ``roc_auc``, ``pr_auc``,
        ``brier`` and ``ece`` as ``{estimate, ci_low, ci_high}``;
        ``roc_auc_difference`` (model minus baseline, paired bootstrap);
        ``truth`` (``auc_ceiling``, ``auc_over_ceiling``); ``selection``
        (per-fold chosen candidates, final parameters and rounds); ``data``
        (sample, case and feature counts).
    """
    t_start = time.perf_counter()
    features = validate_schema(schema, path="features.schema.json")
    check_frame_matches_schema(X, schema, path="feature matrix")
    y = check_labels(y, len(X))
    kinds = [f["kind"] for f in features]
    names = [f["name"] for f in features]
    data = X.to_numpy(dtype=np.float32)
    n, p = data.shape
    n_cases = int(y.sum())
    n_folds = min(config.n_folds, n_cases, n - n_cases)
    if n_folds < config.n_folds:
        log.warning(
            "only %d cases or controls: using %d folds instead of %d",
            min(n_cases, n - n_cases),
            n_folds,
            config.n_folds,
        )
    rng = np.random.default_rng(config.seed)
    candidates = sample_candidates(config, rng)
    baseline_cols = np.flatnonzero(np.isin(kinds, BASELINE_KINDS))
    log.info(
        "training on %d samples (%d cases), %d features (%d dosage), %d folds x %d trials",
        n,
        n_cases,
        p,
        kinds.count("dosage"),
        n_folds,
        len(candidates),
    )

    # One fold assignment for training and for the genotype shards' in-fold statistics.
    fold_of = outer_folds(y, n_folds, config.seed)
    oof_margin = np.empty(n)
    oof_baseline = np.empty(n)
    oof_strong_margin = np.empty(n)
    val_loss = np.full((n_folds, len(candidates)), np.inf)
    val_score = np.full((n_folds, len(candidates)), np.inf)  # the selection criterion (ModelConfig.selection_metric)
    best_rounds = np.zeros((n_folds, len(candidates)), dtype=np.int64)
    per_fold = []
    n_dosage = kinds.count("dosage")
    have_offset = len(baseline_cols) > 0
    baseline_names = [names[c] for c in baseline_cols]

    use_score = config.in_cohort_score and n_dosage > 0
    use_burden_score = use_score and config.in_cohort_burden_score and "burden" in kinds
    # The trees start from the plain baseline's margin (external scores, covariates, PCs), or with
    # trees_start "strong" from the strong baseline's (which adds the in-cohort score).
    strong_start_for_trees = use_score and config.trees_start == "strong"
    have_offset = have_offset or strong_start_for_trees
    column_of = {name: j for j, name in enumerate(names)}
    score_info: list[dict[str, Any]] = []
    covariate_cols = [j for j, kind in enumerate(kinds) if kind == "covariate"]
    interaction_info: list[dict[str, Any]] = []

    def screen(rows: np.ndarray, ranking: np.ndarray) -> tuple[list[InteractionTerm], np.ndarray]:
        """The interaction terms screened on ``rows`` and their values for every row (n, terms)."""
        terms, info = screen_interactions(
            data,
            y,
            ranking,
            rows,
            names=names,
            covariate_columns=covariate_cols,
            top=config.interaction_screen if n_dosage > 1 else 0,
            max_terms=config.interaction_terms,
        )
        interaction_info.append(info)
        if terms:
            log.info(
                "interaction screen: %d of %d candidate terms pass |z| > %.2f: %s",
                len(terms),
                info["candidates"],
                info["threshold_z"],
                ", ".join(f"{t.name} (z {t.z:.1f})" for t in terms),
            )
        return terms, interaction_matrix(terms, data, column_of)

    def columns(rows: np.ndarray, cols: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """The trees' matrix of ``rows``: feature columns ``cols`` then the interaction terms."""
        block = data[np.ix_(rows, cols)]
        return np.column_stack([block, extra[rows]]) if extra.shape[1] else block

    def fit_plain_offset(rows: np.ndarray) -> tuple[LinearOffset | None, np.ndarray | None]:
        """Logistic regression on the baseline columns, fitted on ``rows`` (class-weighted as the trees); margins."""
        if not len(baseline_cols):
            return None, None
        model = LinearOffset.fit(
            data[np.ix_(rows, baseline_cols)],
            y[rows],
            baseline_names,
            balanced=config.class_weight == "balanced",
            seed=config.seed,
        )
        return model, model.margin(data[:, baseline_cols])

    def fit_strong(
        rows: np.ndarray, ranking: np.ndarray, split: tuple[np.ndarray, np.ndarray]
    ) -> tuple[LinearOffset, np.ndarray]:
        """The strong baseline fitted on ``rows`` (:mod:`genorisk.model.in_cohort`); its margin of every row.

        The margins of ``rows`` use their cross-fitted scores (as a new person's would be); its
        dosage columns need not be columns of the trees: scoring reads them from the patient's
        features (:func:`genorisk.model.score_patients`).
        """
        # The genotype shards keep each fold's top dosage_columns_per_fold variants
        # (cohort_variant_stats), so the score is the same from the shards as from every variant.
        stacked = fit_stacked_score(
            data,
            y,
            ranking,
            rows,
            sizes=config.in_cohort_score_sizes,
            elastic_net=config.in_cohort_score_elastic_net,
            seed=config.seed,
        )
        scores, crossed = [stacked.score], [stacked.cross_fitted]
        info: dict[str, Any] = dict(stacked.info)
        burden_text = ""
        if use_burden_score:
            genes = burden_ranking(data, y, kinds, rows=rows)
            k_genes, g_factor, g_val = fit_ridge_score(data, y, genes, split[0], split[1], sizes=BURDEN_SCORE_SIZES)
            scores.append(ridge_score(data, y, genes[:k_genes], rows, g_factor))
            crossed.append(cross_fitted_scores(data, y, genes[:k_genes], rows, g_factor, seed=config.seed))
            info["burden"] = {
                "n_genes": int(k_genes),
                "penalty_factor": g_factor,
                "validation_correlation": round(g_val, 4),
            }
            burden_text = f"; burden score: {k_genes} genes, lambda {g_factor:.2g} x n, validation r {g_val:.3f}"
        model, b_scores = fit_strong_baseline(data, y, scores, crossed, rows, baseline_cols, names, seed=config.seed)
        margin = model.margin(data[:, [column_of[f] for f in model.features]])
        for score, score_rows, b_s in zip(scores, crossed, b_scores, strict=True):
            margin[rows] += b_s * (score_rows - score.score(data, rows))
        score_info.append(info)
        log.info(
            "in-cohort score: stack of ridges over the top %s variants (lambda %s x n), elastic net %s, "
            "stack coefficients %s%s",
            info["sizes"],
            info.get("penalty_factors"),
            info.get("elastic_net", "none"),
            info.get("stack_coefficients"),
            burden_text,
        )
        return model, margin

    def weight_shift(rows: np.ndarray) -> float:
        """Log-odds shift of the strong baseline's margin under the trees' class weights.

        The strong baseline is an unweighted logistic regression (its probabilities are evaluated
        as they are); balanced class weights multiply the cases' odds by n_controls / n_cases, which
        moves a logistic model's intercept by the log of that. The trees start from the shifted
        margin, so they do not spend rounds learning a constant.
        """
        if not use_score or config.class_weight != "balanced":
            return 0.0
        cases = int(y[rows].sum())
        return float(np.log((len(rows) - cases) / cases))

    def rows_of(margins: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
        return None if margins is None else margins[rows]

    def matrix_key(cand: Mapping[str, Any]) -> tuple[int, bool]:
        """Candidates sharing a key share their fold matrices."""
        return min(cand["n_dosage_features"], n_dosage), bool(cand["linear_offset"] and have_offset)

    for k in range(n_folds):
        train_idx, test_idx = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        # The offset is fitted on the whole outer training fold, inner
        # validation rows included: a few linear coefficients barely overfit,
        # and the outer test rows stay unseen.
        ranking = dosage_ranking(data, y, kinds, rows=train_idx)
        _, fold_terms = screen(train_idx, ranking)
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=config.validation_fraction, stratify=y[train_idx], random_state=config.seed + k
        )
        start: np.ndarray | None = None
        if use_score:
            _, strong_margin = fit_strong(train_idx, ranking, (fit_idx, val_idx))
            # The strong baseline fitted on the training rows: its margin of the test rows is its OOF prediction.
            oof_strong_margin[test_idx] = strong_margin[test_idx]
            if strong_start_for_trees:
                start = strong_margin + weight_shift(train_idx)
        if not strong_start_for_trees:
            _, start = fit_plain_offset(train_idx)
        w_fit, w_val = _class_weights(y[fit_idx], config), _class_weights(y[val_idx], config)
        matrices: dict[tuple, tuple] = {}  # one pair per distinct (dosage count, offset)
        boosters = []
        for t, cand in enumerate(candidates):
            key = matrix_key(cand)
            n_keep, offset_on = key
            fold_start = start if offset_on else None
            if key not in matrices:
                cols = top_k_columns(ranking, kinds, n_keep)
                # Fold matrices carry no feature names: XGBoost re-validates
                # names in Python on every round, ~25% of the fit time.
                dfit = xgb.QuantileDMatrix(
                    columns(fit_idx, cols, fold_terms),
                    label=y[fit_idx],
                    weight=w_fit,
                    base_margin=rows_of(fold_start, fit_idx),
                    max_bin=config.max_bin,
                    nthread=config.threads,
                )
                dval = xgb.QuantileDMatrix(
                    columns(val_idx, cols, fold_terms),
                    label=y[val_idx],
                    weight=w_val,
                    ref=dfit,
                    base_margin=rows_of(fold_start, val_idx),
                    max_bin=config.max_bin,
                    nthread=config.threads,
                )
                matrices[key] = (cols, dfit, dval)
            cols, dfit, dval = matrices[key]
            t0 = time.perf_counter()
            booster = xgb.train(
                _booster_params(cand, config, config.seed + k),
                dfit,
                num_boost_round=config.n_estimators,
                evals=[(dval, "validation")],
                early_stopping_rounds=config.early_stopping_rounds,
                verbose_eval=False,
            )
            elapsed = time.perf_counter() - t0
            val_loss[k, t] = booster.best_score
            best_rounds[k, t] = booster.best_iteration + 1
            if config.selection_metric == "auc":
                val_margin = booster.predict(dval, output_margin=True, iteration_range=(0, int(best_rounds[k, t])))
                # Lower is better, as the log loss: 1 - AUC.
                val_score[k, t] = 1.0 - roc_auc_score(y[val_idx], val_margin)
            else:
                val_score[k, t] = booster.best_score
            boosters.append(booster)
            log.info(
                "fold %d/%d trial %d/%d: %d dosage features, offset %s, validation logloss %.4f at %d "
                "rounds (%.0f rounds/s)",
                k + 1,
                n_folds,
                t + 1,
                len(candidates),
                n_keep,
                "on" if offset_on else "off",
                booster.best_score,
                booster.best_iteration + 1,
                booster.num_boosted_rounds() / max(elapsed, 1e-9),
            )
        best = int(np.argmin(val_score[k]))
        best_key = matrix_key(candidates[best])
        cols = matrices[best_key][0]
        del matrices
        dtest = xgb.DMatrix(
            columns(test_idx, cols, fold_terms),
            nthread=config.threads,
            base_margin=rows_of(start if best_key[1] else None, test_idx),
        )
        oof_margin[test_idx] = boosters[best].predict(
            dtest, output_margin=True, iteration_range=(0, int(best_rounds[k, best]))
        )
        if len(baseline_cols):
            base = fit_baseline(data[np.ix_(train_idx, baseline_cols)], y[train_idx], config.seed)
            oof_baseline[test_idx] = base.predict_proba(data[np.ix_(test_idx, baseline_cols)])[:, 1]
        per_fold.append(
            {
                "fold": k,
                "candidate": best,
                "rounds": int(best_rounds[k, best]),
                "linear_offset": best_key[1],
                "validation_logloss": float(val_loss[k, best]),
                "n_features": int(len(cols)),
                "n_interaction_terms": int(fold_terms.shape[1]),
            }
        )
        log.info(
            "fold %d/%d: chose candidate %d (%d rounds), %d features",
            k + 1,
            n_folds,
            best,
            best_rounds[k, best],
            len(cols),
        )

    # Final model: candidate with the best mean inner-validation loss over folds.
    chosen = int(np.argmin(val_score.mean(axis=0)))
    n_rounds = int(np.median(best_rounds[:, chosen]))
    params = _booster_params(candidates[chosen], config, config.seed)
    ranking_all = dosage_ranking(data, y, kinds)
    cols = top_k_columns(ranking_all, kinds, candidates[chosen]["n_dosage_features"])
    all_rows = np.arange(n)
    interactions, final_terms = screen(all_rows, ranking_all)
    split_all = train_test_split(
        all_rows, test_size=config.validation_fraction, stratify=y, random_state=config.seed + n_folds
    )
    # On all rows: the strong baseline (it ships when the trees do not beat it) and the chosen
    # trees' starting margin.
    linear_offset, linear_start = (
        fit_strong(all_rows, ranking_all, (split_all[0], split_all[1])) if use_score else (None, None)
    )
    offset: LinearOffset | None = None
    start = None
    if matrix_key(candidates[chosen])[1]:
        if strong_start_for_trees:
            assert linear_offset is not None and linear_start is not None
            shift = weight_shift(all_rows)
            offset = dataclasses.replace(linear_offset, intercept=linear_offset.intercept + shift)
            start = linear_start + shift
        else:
            offset, start = fit_plain_offset(all_rows)
    fnames = [names[c] for c in cols] + [t.name for t in interactions]
    dall = xgb.QuantileDMatrix(
        columns(all_rows, cols, final_terms),
        label=y,
        weight=_class_weights(y, config),
        base_margin=start,
        max_bin=config.max_bin,
        nthread=config.threads,
    )
    booster = xgb.train(params, dall, num_boost_round=n_rounds)
    booster.feature_names = fnames  # set after training: see the note on fold matrices
    log.info("final model: candidate %d, %d rounds, %d features", chosen, n_rounds, len(fnames))

    # Evaluation: the boosted model's OOF margins calibrated cross-fitted (each fold by a
    # calibrator fitted on the other folds' OOF), beside the baselines on the same folds.
    method = config.calibration
    if method == "auto":
        method = "isotonic" if min(n_cases, n - n_cases) >= 500 else "platt"
    oof_calibrated = np.empty(n)
    for k in range(n_folds):
        mask = fold_of == k
        oof_calibrated[mask] = Calibrator.fit(oof_margin[~mask], y[~mask], method).predict(oof_margin[mask])

    predictions = {"model": oof_calibrated, "model_uncalibrated": sigmoid(oof_margin)}
    compare = []
    if use_score:
        # The strong baseline: in-cohort score + external scores + covariates + PCs; and its
        # margins calibrated cross-fitted as the boosted model's are (what it gives when it ships).
        predictions["baseline"] = sigmoid(oof_strong_margin)
        linear_calibrated = np.empty(n)
        for k in range(n_folds):
            mask = fold_of == k
            linear_calibrated[mask] = Calibrator.fit(oof_strong_margin[~mask], y[~mask], method).predict(
                oof_strong_margin[mask]
            )
        predictions["linear_calibrated"] = linear_calibrated
        if len(baseline_cols):
            predictions["baseline_external"] = oof_baseline
        compare = [("model", "baseline")]
    elif len(baseline_cols):
        predictions["baseline"] = oof_baseline
        compare = [("model", "baseline")]
    metrics = evaluate_predictions(
        y,
        predictions,
        n_bootstrap=config.n_bootstrap,
        ci_level=config.ci_level,
        n_bins=config.ece_bins,
        seed=config.seed,
        compare=compare,
    )

    # The shipped model, by a rule fixed before the test folds are looked at (ModelConfig.ship).
    shipped, ship_reason = "boosted", "no linear baseline to compare with"
    if use_score and linear_offset is not None:
        diff = metrics["roc_auc_difference"]["model-baseline"]
        # Without bootstrap resamples (n_bootstrap 0) there is no CI: the higher AUC wins.
        wins = (diff["ci_low"] if diff["ci_low"] is not None else diff["estimate"]) > 0
        if config.ship == "rule":
            shipped = "boosted" if wins else "linear"
            ship_reason = (
                "the boosted model beats the strong baseline: the CI of the OOF AUC difference is above 0"
                if wins
                else "the boosted model does not beat the strong baseline beyond the CI of the OOF AUC "
                "difference, so the simpler model ships"
            )
        else:
            shipped, ship_reason = config.ship, "set by model.ship"
    ship_margin = oof_margin
    if shipped == "linear":
        assert linear_offset is not None and linear_start is not None
        # No trees: a booster of 0 rounds returns its base_margin, the linear model's margin, so the
        # artifact, scoring and explanations are those of every model (contributions exact).
        cols = np.flatnonzero(np.asarray(kinds) != "dosage")
        if len(cols) == 0:  # XGBoost wants a column even for no trees
            cols = ranking_all[:1]
        fnames = [names[c] for c in cols]
        dlin = xgb.DMatrix(data[:, cols], label=y, base_margin=linear_start, nthread=config.threads)
        booster = xgb.train(params, dlin, num_boost_round=0)
        booster.feature_names = fnames
        offset, n_rounds, interactions = linear_offset, 0, []
        ship_margin = oof_strong_margin
    log.info("shipped model: %s (%s)", shipped, ship_reason)

    # The deployed calibrator: fitted on all OOF margins of the shipped kind of model.
    calibrator = Calibrator.fit(ship_margin, y, method)
    calibrator.fit_band(ship_margin, y, n_bootstrap=config.n_bootstrap, ci_level=config.ci_level, seed=config.seed)
    cohort_risk = calibrator.predict(ship_margin)
    cohort_quantiles = np.quantile(cohort_risk, np.linspace(0, 1, N_COHORT_QUANTILES))
    metrics["shipped"] = {
        "model": shipped,
        "metrics": "model" if shipped == "boosted" else "linear_calibrated",
        "rule": "boosted only if its OOF ROC AUC beats the strong baseline's with the paired-bootstrap CI of "
        "the difference above 0; else the strong baseline"
        if config.ship == "rule"
        else f"model.ship: {config.ship}",
        "reason": ship_reason,
    }
    metrics.setdefault("baseline", None)
    metrics["baseline_features"] = [names[c] for c in baseline_cols]
    if use_score:
        final_score = score_info[n_folds] if len(score_info) > n_folds else None
        metrics["baseline_features"] = [
            "in-cohort polygenic score",
            *(["in-cohort gene-burden score"] if (final_score or {}).get("burden", {}).get("n_genes") else []),
            *metrics["baseline_features"],
        ]
        metrics["in_cohort_score"] = {
            "method": "ridge regressions of the outcome on standardised dosages of the top "
            + "/".join(str(k) for k in config.in_cohort_score_sizes)
            + " in-fold variants (lambda by the linear mixed model's likelihood)"
            + (
                f" and an elastic net over the top {config.in_cohort_score_elastic_net} (l1 ratio "
                f"{ELASTIC_NET_L1_RATIO}, penalty by its cross-fitted correlation with the outcome)"
                if config.in_cohort_score_elastic_net
                else ""
            )
            + ", stacked by a logistic regression with non-negative weights on their honest cross-fitted "
            "scores (ranking redone without each part)"
            + (
                ", and a second one on the top-k in-fold gene-burden columns with its own k and lambda"
                if use_burden_score
                else ""
            )
            + f"; training rows' scores cross-fitted in {CROSS_FIT_PARTS} parts before the strong baseline's "
            "logistic regression on them",
            "per_fold": score_info[:n_folds],
            "final": final_score,
        }
    metrics["data"] = {
        "n_samples": n,
        "n_cases": n_cases,
        "n_features": p,
        "n_dosage_features": kinds.count("dosage"),
        "n_model_features": len(cols) + len(interactions),
    }
    if config.interaction_screen:
        metrics["interaction_screen"] = {
            "method": f"products of the standardised dosages of the top {config.interaction_screen} in-fold "
            f"variants with those of the top {PARTNER_FACTOR * config.interaction_screen} (each pair once; "
            f"variants of minor allele frequency {MIN_MAF} or more), each of the first times each covariate, "
            "and their heterozygote indicators; score-test "
            "z of each after the main effects, kept above the Bonferroni threshold (alpha 0.05), at most "
            f"{config.interaction_terms}; the kept terms are columns of the trees",
            "per_fold": interaction_info[:n_folds],
            "final": interaction_info[n_folds] if len(interaction_info) > n_folds else None,
            "in_shipped_model": [t.name for t in interactions],
        }
    metrics["evaluation"] = {
        "linear_offset": (
            "the shipped model is the strong baseline alone (no trees)"
            if shipped == "linear"
            else "final model boosts from a logistic regression on "
            + ", ".join((["the in-cohort polygenic score"] if use_score else []) + baseline_names)
        )
        if offset is not None
        else "none in the final model",
        "predictions": "out-of-fold, nested: selection and early stopping on an inner split of each training fold",
        "calibration": f"{method}, cross-fitted: each fold calibrated on the other folds' OOF predictions",
        "n_folds": n_folds,
        "n_bootstrap": config.n_bootstrap,
        "ci_level": config.ci_level,
        "ci_method": "percentile bootstrap, stratified by outcome, paired across models",
        "ece_bins": config.ece_bins,
    }
    metrics["selection"] = {
        "candidates": candidates,
        "per_fold": per_fold,
        "chosen_candidate": chosen,
        "chosen_params": candidates[chosen],
        "n_rounds": n_rounds,
        "mean_validation_logloss": [float(v) for v in val_loss.mean(axis=0)],
        "selection_metric": config.selection_metric,
    }
    if truth is not None:
        metrics["truth"] = _truth_metrics(truth, metrics["model"]["roc_auc"]["estimate"])
    metrics["training_seconds"] = round(time.perf_counter() - t_start, 2)
    log.info(
        "OOF ROC AUC %.3f (calibrated, cross-fitted), done in %.1f s",
        metrics["model"]["roc_auc"]["estimate"],
        metrics["training_seconds"],
    )
    return TrainedModel(
        booster=booster,
        schema=dict(schema),
        config=config,
        params=params,
        n_rounds=n_rounds,
        calibrator=calibrator,
        cohort_quantiles=cohort_quantiles,
        metrics=metrics,
        oof_margin=oof_margin,
        offset=offset,
        oof_predictions={**predictions, "y": np.asarray(y)},
        interactions=interactions,
    )


def _truth_metrics(truth: Mapping[str, float], auc: float) -> dict[str, float | str]:
    from genorisk.simulate import auc_ceiling

    unknown = set(truth) - {"h2", "prevalence", "h2_total"}
    if unknown or "h2" not in truth or "prevalence" not in truth:
        raise ConfigError(
            None, f"truth needs h2 and prevalence (optionally h2_total), got {sorted(truth)}", record="truth"
        )
    h2_ceiling = float(truth.get("h2_total", truth["h2"]))
    ceiling = auc_ceiling(h2_ceiling, float(truth["prevalence"]))
    out: dict[str, float | str] = {
        **{k: float(v) for k, v in truth.items()},
        "auc_ceiling": ceiling,
        "auc_over_ceiling": auc / ceiling,
        "ceiling_h2": "h2_total" if "h2_total" in truth else "h2",
    }
    if "h2_total" in truth:
        out["auc_ceiling_additive"] = auc_ceiling(float(truth["h2"]), float(truth["prevalence"]))
    return out
