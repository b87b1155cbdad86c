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

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.model_selection import train_test_split

from genorisk.errors import ConfigError
from genorisk.model.baseline import BASELINE_KINDS, LinearOffset, fit_baseline
from genorisk.model.calibration import Calibrator, sigmoid
from genorisk.model.config import ModelConfig
from genorisk.model.fold_stats import outer_folds
from genorisk.model.inputs import check_frame_matches_schema, check_labels, validate_schema
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
    val_loss = np.full((n_folds, len(candidates)), np.inf)
    best_rounds = np.zeros((n_folds, len(candidates)), dtype=np.int64)
    per_fold = []
    n_dosage = kinds.count("dosage")
    have_offset = len(baseline_cols) > 0
    baseline_names = [names[c] for c in baseline_cols]

    def fit_offset(rows: np.ndarray) -> tuple[LinearOffset | None, np.ndarray | None]:
        if not have_offset:
            return None, None
        model = LinearOffset.fit(
            data[np.ix_(rows, baseline_cols)],
            y[rows],
            baseline_names,
            balanced=config.class_weight == "balanced",
            seed=config.seed,
        )
        return model, model.margin(data[:, baseline_cols])

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
        _, start = fit_offset(train_idx)
        ranking = dosage_ranking(data, y, kinds, rows=train_idx)
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=config.validation_fraction, stratify=y[train_idx], random_state=config.seed + k
        )
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
                    data[np.ix_(fit_idx, cols)],
                    label=y[fit_idx],
                    weight=w_fit,
                    base_margin=rows_of(fold_start, fit_idx),
                    max_bin=config.max_bin,
                    nthread=config.threads,
                )
                dval = xgb.QuantileDMatrix(
                    data[np.ix_(val_idx, cols)],
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
        best = int(np.argmin(val_loss[k]))
        best_key = matrix_key(candidates[best])
        cols = matrices[best_key][0]
        del matrices
        dtest = xgb.DMatrix(
            data[np.ix_(test_idx, cols)],
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
    chosen = int(np.argmin(val_loss.mean(axis=0)))
    n_rounds = int(np.median(best_rounds[:, chosen]))
    params = _booster_params(candidates[chosen], config, config.seed)
    cols = top_k_columns(dosage_ranking(data, y, kinds), kinds, candidates[chosen]["n_dosage_features"])
    fnames = [names[c] for c in cols]
    offset, start = fit_offset(np.arange(n)) if matrix_key(candidates[chosen])[1] else (None, None)
    dall = xgb.QuantileDMatrix(
        data[:, cols],
        label=y,
        weight=_class_weights(y, config),
        base_margin=start,
        max_bin=config.max_bin,
        nthread=config.threads,
    )
    booster = xgb.train(params, dall, num_boost_round=n_rounds)
    booster.feature_names = fnames  # set after training: see the note on fold matrices
    log.info("final model: candidate %d, %d rounds, %d features", chosen, n_rounds, len(cols))

    # Calibration: deployed calibrator on all OOF; cross-fitted one for evaluation.
    method = config.calibration
    if method == "auto":
        method = "isotonic" if min(n_cases, n - n_cases) >= 500 else "platt"
    calibrator = Calibrator.fit(oof_margin, y, method)
    calibrator.fit_band(oof_margin, y, n_bootstrap=config.n_bootstrap, ci_level=config.ci_level, seed=config.seed)
    oof_calibrated = np.empty(n)
    for k in range(n_folds):
        mask = fold_of == k
        oof_calibrated[mask] = Calibrator.fit(oof_margin[~mask], y[~mask], method).predict(oof_margin[mask])
    cohort_risk = calibrator.predict(oof_margin)
    cohort_quantiles = np.quantile(cohort_risk, np.linspace(0, 1, N_COHORT_QUANTILES))

    predictions = {"model": oof_calibrated, "model_uncalibrated": sigmoid(oof_margin)}
    compare = []
    if len(baseline_cols):
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
    metrics.setdefault("baseline", None)
    metrics["baseline_features"] = [names[c] for c in baseline_cols]
    metrics["data"] = {
        "n_samples": n,
        "n_cases": n_cases,
        "n_features": p,
        "n_dosage_features": kinds.count("dosage"),
        "n_model_features": len(cols),
    }
    metrics["evaluation"] = {
        "linear_offset": f"final model boosts from a logistic regression on {', '.join(baseline_names)}"
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
