"""Gradient-boosted risk model: nested cross-validation, calibration, artifact.

The pipeline stage between the feature matrix and the per-patient report:

* :func:`train_model` - XGBoost (``tree_method="hist"``) with a random
  hyperparameter search nested inside stratified k-fold cross-validation, an
  in-fold dosage-feature filter, balanced class weights, a calibrator fitted on
  the out-of-fold (OOF) predictions and a logistic-regression baseline on the
  same folds.
* :func:`evaluate_predictions` - ROC AUC, PR AUC, Brier score and expected
  calibration error with paired percentile-bootstrap confidence intervals.
* :func:`save_model` / :func:`load_model` - a directory of JSON and XGBoost
  UBJSON files (never pickle), with a model card and per-file SHA-256 checks.
* :func:`score_patients` - calibrated risk, its interval, the cohort percentile
  and the TreeSHAP drivers (:mod:`genorisk.explain`) for a batch of patients.

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

import argparse
import dataclasses
import gzip
import json
import logging
import math
import pickletools
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genorisk.errors import ConfigError, InputError
from genorisk.io import atomic_output, read_json, sha256_file, write_json

LOG = logging.getLogger("genorisk.model")

SCHEMA_VERSION = 1
FEATURE_KINDS = ("dosage", "pgs", "burden", "carrier", "pc", "covariate")
#: Feature kinds the logistic-regression baseline uses (PRS plus covariates).
BASELINE_KINDS = ("pgs", "covariate", "pc")
#: Characters XGBoost refuses in feature names.
FORBIDDEN_NAME_CHARS = "[]<"
ARTIFACT_FILES = (
    "model.ubj",
    "linear_offset.json",
    "features.schema.json",
    "calibrator.json",
    "cohort_risks.json",
    "metrics.json",
    "model_card.md",
)
#: Number of cohort-risk quantiles stored (0.1 % steps) for percentiles.
N_COHORT_QUANTILES = 1001
#: Grid points at which the calibrator's bootstrap band is stored.
N_BAND_POINTS = 101


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """Settings of :func:`train_model` (the workflow config's ``model:`` section).

    Cross-validation and search
    ---------------------------
    n_folds : int, default 5
        Outer stratified folds; OOF predictions and all reported metrics come
        from them.
    n_trials : int, default 12
        Random-search budget: parameter candidates tried inside every outer
        fold. Candidate 0 is a conventional default (depth 3, eta 0.1, ...),
        clipped to the search space, so ``n_trials=1`` is a sane fixed model.
    validation_fraction : float, default 0.2
        Share of each outer training fold held out (stratified) for early
        stopping and candidate selection.
    early_stopping_rounds : int, default 30
        Stop when the inner-validation log loss has not improved for this
        many rounds.
    n_estimators : int, default 1000
        Cap on boosting rounds.

    Search space (each a ``[low, high]`` pair)
    ------------------------------------------
    max_depth : (2, 6)
        Tree depth, integer uniform.
    learning_rate : (0.02, 0.3)
        Shrinkage (eta), log-uniform.
    min_child_weight : (1.0, 20.0)
        Minimum hessian sum in a leaf, log-uniform.
    subsample : (0.6, 1.0)
        Row subsampling per tree, uniform.
    colsample_bytree : (0.3, 1.0)
        Column subsampling per tree, uniform.
    reg_lambda : (0.1, 10.0)
        L2 penalty on leaf weights, log-uniform.

    Features, classes, calibration
    ------------------------------
    max_dosage_features : int, default 1000
        Keep at most this many ``dosage`` columns, the top ones by the
        Cochran-Armitage trend statistic (n r^2) computed on the training rows
        of each fold only. Other kinds are always kept. 0 drops all dosages.
    min_dosage_features : int, default 10
        Lower end of the searched dosage count: each candidate keeps k top
        dosage columns, k log-uniform in [min, max] (candidate 0 uses max).
        Set equal to ``max_dosage_features`` for a fixed filter.
    class_weight : "balanced" | "none", default "balanced"
        "balanced" weights cases by n_controls / n_cases in training and in
        the early-stopping loss (the same effect as ``scale_pos_weight``, but
        consistent between objective and validation metric). Raw
        probabilities are then inflated; the calibrator maps them back.
    linear_offset : "search" | "always" | "never", default "search"
        Boost from the baseline: a logistic regression on the pgs, covariate
        and pc features (fitted in-fold, class-weighted like the trees) gives
        each row's starting margin (XGBoost ``base_margin``), and the trees
        learn what it misses (dosages, interactions, non-linearity). Trees
        approximate a linear PGS effect poorly from a few hundred cases, so
        the offset won in small simulated cohorts (+0.02-0.03 AUC at 1,000-
        3,000 people, single runs); in one 10,000-person cohort trees alone
        did better (+0.013). "search" makes it a searched choice (candidate 0 and about
        half of the others use it); true/false are read as always/never.
        Linear contributions are explained exactly (linear SHAP, coefficient
        x standardised value). No effect without such features.
    calibration : "auto" | "isotonic" | "platt", default "auto"
        Map from model margin (log-odds) to probability, fitted on OOF
        predictions. "auto" picks isotonic when the cohort has at least 500
        cases and 500 controls, else Platt: isotonic steps fitted on few cases
        are coarse (many tied risks, lower AUC), Platt's two parameters are
        steady.
    n_bootstrap : int, default 200
        Bootstrap resamples for the metric confidence intervals and for the
        calibrator's risk band (the per-patient interval).
    ci_level : float, default 0.95
        Confidence level of all intervals.
    ece_bins : int, default 10
        Equal-mass bins of the expected calibration error.

    Execution
    ---------
    tree_method : "hist"
        XGBoost's histogram method (the only one supported here).
    max_bin : int, default 256
        Histogram bins; used for both ``QuantileDMatrix`` and the booster
        parameters (they must agree). Dosages need only 3-4 bins, so a small
        value (e.g. 16) saves memory on wide matrices at no cost for them.
    threads : int, default 1
        XGBoost threads (``nthread``); set from the rule's ``threads:``.
    seed : int, default 42
        Seeds the folds, the search, subsampling and the bootstraps; the same
        seed and data give the same model.
    """

    n_folds: int = 5
    n_trials: int = 12
    validation_fraction: float = 0.2
    early_stopping_rounds: int = 30
    n_estimators: int = 1000
    max_depth: tuple[int, int] = (2, 6)
    learning_rate: tuple[float, float] = (0.02, 0.3)
    min_child_weight: tuple[float, float] = (1.0, 20.0)
    subsample: tuple[float, float] = (0.6, 1.0)
    colsample_bytree: tuple[float, float] = (0.3, 1.0)
    reg_lambda: tuple[float, float] = (0.1, 10.0)
    max_dosage_features: int = 1000
    min_dosage_features: int = 10
    class_weight: str = "balanced"
    calibration: str = "auto"
    linear_offset: str = "search"
    n_bootstrap: int = 200
    ci_level: float = 0.95
    ece_bins: int = 10
    tree_method: str = "hist"
    max_bin: int = 256
    threads: int = 1
    seed: int = 42

    _RANGES = ("max_depth", "learning_rate", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, source: str | None = None) -> "ModelConfig":
        """Build from a config mapping; unknown keys and bad values raise ``ConfigError``.

        ``source`` (the config file name) is put into the error message.
        """
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                source,
                f"unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}",
                record="model",
            )
        if isinstance(values.get("linear_offset"), bool):
            values["linear_offset"] = "always" if values["linear_offset"] else "never"
        for name in cls._RANGES:
            if name in values:
                v = values[name]
                if not (isinstance(v, (list, tuple)) and len(v) == 2):
                    raise ConfigError(source, f"must be a [low, high] pair, got {v!r}", record=f"model.{name}")
                values[name] = tuple(v)
        try:
            config = cls(**values)
        except TypeError as err:  # pragma: no cover - dataclass signature errors
            raise ConfigError(source, str(err), record="model") from err
        config.validate(source=source)
        return config

    def validate(self, *, source: str | None = None) -> None:
        """Raise ``ConfigError`` naming the first invalid key."""

        def bad(key: str, problem: str) -> ConfigError:
            return ConfigError(source, problem, record=f"model.{key}")

        for key in ("n_folds", "n_trials", "early_stopping_rounds", "n_estimators", "n_bootstrap",
                    "ece_bins", "max_bin", "threads", "seed", "max_dosage_features", "min_dosage_features"):
            v = getattr(self, key)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise bad(key, f"must be an integer, got {v!r}")
        if self.n_folds < 2:
            raise bad("n_folds", f"must be >= 2, got {self.n_folds}")
        for key in ("n_trials", "n_estimators", "early_stopping_rounds", "threads", "ece_bins"):
            if getattr(self, key) < 1:
                raise bad(key, f"must be >= 1, got {getattr(self, key)}")
        if self.n_bootstrap < 0 or self.max_dosage_features < 0:
            raise bad("n_bootstrap" if self.n_bootstrap < 0 else "max_dosage_features", "must be >= 0")
        if not 0 <= self.min_dosage_features <= self.max_dosage_features:
            raise bad("min_dosage_features", f"must be in [0, max_dosage_features={self.max_dosage_features}], "
                                             f"got {self.min_dosage_features}")
        if self.max_bin < 2:
            raise bad("max_bin", f"must be >= 2, got {self.max_bin}")
        if not 0.05 <= self.validation_fraction <= 0.5:
            raise bad("validation_fraction", f"must be in [0.05, 0.5], got {self.validation_fraction}")
        if not 0.5 < self.ci_level < 1:
            raise bad("ci_level", f"must be in (0.5, 1), got {self.ci_level}")
        if self.class_weight not in ("balanced", "none"):
            raise bad("class_weight", f"must be 'balanced' or 'none', got {self.class_weight!r}")
        if self.calibration not in ("auto", "isotonic", "platt"):
            raise bad("calibration", f"must be 'auto', 'isotonic' or 'platt', got {self.calibration!r}")
        if self.linear_offset not in ("search", "always", "never"):
            raise bad("linear_offset", f"must be 'search', 'always' or 'never', got {self.linear_offset!r}")
        if self.tree_method != "hist":
            raise bad("tree_method", f"only 'hist' is supported, got {self.tree_method!r}")
        limits = {"max_depth": (1, 20), "learning_rate": (1e-4, 1.0), "min_child_weight": (0.0, 1e4),
                  "subsample": (0.05, 1.0), "colsample_bytree": (0.05, 1.0), "reg_lambda": (0.0, 1e4)}
        for key, (lo_lim, hi_lim) in limits.items():
            lo, hi = getattr(self, key)
            if not (lo_lim <= lo <= hi <= hi_lim):
                raise bad(key, f"needs {lo_lim} <= low <= high <= {hi_lim}, got [{lo}, {hi}]")

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def sample_candidates(config: ModelConfig, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Draw ``config.n_trials`` XGBoost parameter sets from the search space.

    Candidate 0 is a conventional default clipped to the space; the rest are
    random (log-uniform for scale parameters and for ``n_dosage_features``,
    the number of top dosage columns kept, which is not an XGBoost parameter). Every outer fold sees the same
    list, so the final choice can average inner-validation losses over folds.
    """

    def clip(key: str, value: float) -> float:
        lo, hi = getattr(config, key)
        return min(max(value, lo), hi)

    def log_uniform(key: str) -> float:
        lo, hi = getattr(config, key)
        return float(math.exp(rng.uniform(math.log(max(lo, 1e-12)), math.log(max(hi, 1e-12)))))

    candidates = [{
        "max_depth": int(clip("max_depth", 3)),
        "learning_rate": clip("learning_rate", 0.1),
        "min_child_weight": clip("min_child_weight", 1.0),
        "subsample": clip("subsample", 0.8),
        "colsample_bytree": clip("colsample_bytree", 0.8),
        "reg_lambda": clip("reg_lambda", 1.0),
        "n_dosage_features": config.max_dosage_features,
        "linear_offset": config.linear_offset != "never",
    }]
    k_lo, k_hi = config.min_dosage_features, config.max_dosage_features
    while len(candidates) < config.n_trials:
        candidates.append({
            "max_depth": int(rng.integers(config.max_depth[0], config.max_depth[1] + 1)),
            "learning_rate": log_uniform("learning_rate"),
            "min_child_weight": log_uniform("min_child_weight") if config.min_child_weight[0] > 0
            else float(rng.uniform(*config.min_child_weight)),
            "subsample": float(rng.uniform(*config.subsample)),
            "colsample_bytree": float(rng.uniform(*config.colsample_bytree)),
            "reg_lambda": log_uniform("reg_lambda") if config.reg_lambda[0] > 0
            else float(rng.uniform(*config.reg_lambda)),
            "n_dosage_features": int(round(math.exp(rng.uniform(math.log(k_lo + 1), math.log(k_hi + 1))))) - 1,
            "linear_offset": {"search": bool(rng.random() < 0.5), "always": True, "never": False}[
                config.linear_offset],
        })
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


# ---------------------------------------------------------------------------
# Schema and input checks
# ---------------------------------------------------------------------------


def validate_schema(schema: Mapping[str, Any], *, path: str | None = "features.schema.json") -> list[dict]:
    """Check a feature schema; return its feature list. Raises ``InputError``."""
    if not isinstance(schema, Mapping):
        raise InputError(path, "feature schema must be a JSON object")
    if schema.get("schema_version") != SCHEMA_VERSION:
        raise InputError(path, f"schema_version must be {SCHEMA_VERSION}, got {schema.get('schema_version')!r}")
    features = schema.get("features")
    if not isinstance(features, list) or not features:
        raise InputError(path, "'features' must be a non-empty list")
    seen: set[str] = set()
    for i, feat in enumerate(features):
        record = f"features[{i}]"
        if not isinstance(feat, Mapping):
            raise InputError(path, "feature entry must be an object", record=record)
        missing = [k for k in ("name", "kind", "label", "group", "definition") if k not in feat]
        if missing:
            raise InputError(path, f"missing key(s) {', '.join(missing)}", record=record)
        name = feat["name"]
        if not isinstance(name, str) or not name:
            raise InputError(path, "name must be a non-empty string", record=record)
        record = f"features[{i}] ({name})"
        if any(c in name for c in FORBIDDEN_NAME_CHARS):
            raise InputError(path, f"name contains one of {FORBIDDEN_NAME_CHARS!r} (XGBoost refuses them)", record=record)
        if name in seen:
            raise InputError(path, "duplicate feature name", record=record)
        seen.add(name)
        if feat["kind"] not in FEATURE_KINDS:
            raise InputError(path, f"kind {feat['kind']!r} is not one of {', '.join(FEATURE_KINDS)}", record=record)
        if not isinstance(feat["label"], str) or not isinstance(feat["group"], str):
            raise InputError(path, "label and group must be strings", record=record)
        if not isinstance(feat["definition"], Mapping):
            raise InputError(path, "definition must be an object", record=record)
    return list(features)


def check_frame_matches_schema(
    X: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    path: str | None = None,
    frame_schema: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a feature frame whose columns, order or definitions differ from ``schema``.

    ``frame_schema``, when given, is the schema that came with ``X`` (e.g. the
    patients' ``features.schema.json``); its feature definitions, kinds and
    groups must equal the model's. The error names the differing features.
    """
    expected = [f["name"] for f in schema["features"]]
    got = [str(c) for c in X.columns]
    if got != expected:
        missing = [n for n in expected if n not in set(got)]
        extra = [n for n in got if n not in set(expected)]
        parts = []
        if missing:
            parts.append(f"missing {_name_list(missing)}")
        if extra:
            parts.append(f"unexpected {_name_list(extra)}")
        if not parts:
            first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            parts.append(f"column order differs from the model schema from position {first} "
                         f"(got {got[first]!r}, expected {expected[first]!r})")
        raise InputError(path, "feature columns do not match the model schema: " + "; ".join(parts))
    non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    if non_numeric:
        raise InputError(path, f"non-numeric feature column(s) {_name_list(non_numeric)}")
    if X.index.has_duplicates:
        dup = X.index[X.index.duplicated()][0]
        raise InputError(path, "duplicate sample_id", record=f"sample {dup}")
    if frame_schema is not None:
        theirs = {f["name"]: f for f in validate_schema(frame_schema, path=path)}
        differing = [
            f["name"] for f in schema["features"]
            if f["name"] not in theirs
            or any(theirs[f["name"]].get(k) != f.get(k) for k in ("kind", "group", "definition"))
        ]
        if differing or list(theirs) != expected:
            differing = differing or [n for n in theirs if n not in set(expected)]
            raise InputError(path, f"feature definitions differ from the model schema for {_name_list(differing)}")


def _name_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_labels(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise InputError(None, f"labels must be a 1-D array of {n} values (one per row), got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(y, (0, 1)))[0])
        raise InputError(None, f"labels must be 0/1, got {y[bad]!r}", record=f"row {bad}")
    y = y.astype(np.int8)
    n_cases = int(y.sum())
    if n_cases < 2 or n - n_cases < 2:
        raise InputError(None, f"need at least 2 cases and 2 controls, got {n_cases} cases of {n}")
    return y


# ---------------------------------------------------------------------------
# In-fold dosage filter
# ---------------------------------------------------------------------------


def trend_test_statistic(
    dosages: np.ndarray, y: np.ndarray, *, rows: np.ndarray | None = None, columns: np.ndarray | None = None
) -> np.ndarray:
    """Cochran-Armitage trend statistic of each dosage column against a 0/1 phenotype.

    Parameters
    ----------
    dosages : ndarray, float, shape (n_samples, n_variants)
        Alt-allele dosages in [0, 2]; NaN (missing) is replaced by the
        column's mean over the given rows, which leaves the statistic of the
        observed genotypes unchanged in expectation.
    y : ndarray, int, shape (n_samples,) or (len(rows),)
        0 = control, 1 = case, for the rows used.
    rows, columns : ndarray of int, optional
        Use only these rows / columns of ``dosages`` (indexed block by block,
        so no copy of the selection is made).

    Returns
    -------
    ndarray, float64, shape (n_variants,) or (len(columns),)
        ``n r^2`` with ``r`` the Pearson correlation of dosage and phenotype:
        the score-test form of the Cochran-Armitage trend test, chi-square with
        1 df under the null. Monomorphic columns get 0.
    """
    dosages = np.asarray(dosages)
    columns = np.arange(dosages.shape[1]) if columns is None else np.asarray(columns)
    n, m = (dosages.shape[0] if rows is None else len(rows)), len(columns)
    yc = np.asarray(y, dtype=np.float64) - np.mean(y)
    var_y = float(yc @ yc)
    stat = np.zeros(m)
    # Column blocks bound the float64 working copies (~32 MB per block at
    # n = 8,000) instead of doubling a whole n x m matrix.
    block = max(1, (4 << 20) // max(n, 1))
    for lo in range(0, m, block):
        cols = columns[lo:lo + block]
        d = (dosages[:, cols] if rows is None else dosages[np.ix_(rows, cols)]).astype(np.float64)
        missing = np.isnan(d)
        if missing.any():
            col_mean = np.nanmean(np.where(missing.all(axis=0), 0.0, d), axis=0)
            d = np.where(missing, col_mean, d)
        d -= d.mean(axis=0)
        cov = yc @ d
        var_d = np.einsum("ij,ij->j", d, d)
        with np.errstate(invalid="ignore", divide="ignore"):
            stat[lo:lo + block] = np.where(var_d > 1e-12 * n, n * cov * cov / (var_d * var_y), 0.0)
    return stat


def dosage_ranking(
    X: np.ndarray, y: np.ndarray, kinds: Sequence[str], *, rows: np.ndarray | None = None
) -> np.ndarray:
    """Indices of the dosage columns, most associated first (trend statistic, ties by column order).

    Only training rows may be used: pass them as ``rows`` (``y`` is then
    indexed by ``rows`` too) or pass a matrix of training rows.
    """
    dosage_cols = np.flatnonzero(np.asarray(kinds) == "dosage")
    if len(dosage_cols) == 0:
        return dosage_cols
    stat = trend_test_statistic(X, y if rows is None else np.asarray(y)[rows], rows=rows, columns=dosage_cols)
    return dosage_cols[np.argsort(-stat, kind="stable")]


def top_k_columns(ranking: np.ndarray, kinds: Sequence[str], k: int) -> np.ndarray:
    """All non-dosage columns plus the first ``k`` of ``ranking``, in schema order."""
    other_cols = np.flatnonzero(np.asarray(kinds) != "dosage")
    return np.sort(np.concatenate([other_cols, ranking[:k]]))


def select_dosage_features(
    X: np.ndarray, y: np.ndarray, kinds: Sequence[str], max_dosage_features: int
) -> np.ndarray:
    """Column indices to keep: all non-dosage columns plus the top-k dosages by trend statistic.

    Call it on training rows only. Ties are broken by column order (stable),
    and the result is sorted so column order follows the schema.
    """
    return top_k_columns(dosage_ranking(X, y, kinds), kinds, max_dosage_features)


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def expected_calibration_error(
    y: np.ndarray, prob: np.ndarray, *, n_bins: int = 10, sample_weight: np.ndarray | None = None,
    bin_edges: np.ndarray | None = None,
) -> float:
    """Expected calibration error over equal-mass bins of predicted probability.

    ``ECE = sum_b (W_b / W) |mean_b(prob) - mean_b(y)|`` with weights ``W``
    (sample weights, e.g. bootstrap counts; 1 by default). Bins are the
    ``n_bins`` quantile intervals of ``prob`` unless ``bin_edges`` is given
    (the bootstrap passes the full-sample edges so resamples share bins).
    Ties (isotonic plateaus) can leave bins empty; they are skipped.
    """
    y = np.asarray(y, dtype=np.float64)
    prob = np.asarray(prob, dtype=np.float64)
    w = np.ones_like(prob) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if bin_edges is None:
        bin_edges = np.quantile(prob, np.linspace(0, 1, n_bins + 1))
    bins = np.searchsorted(bin_edges[1:-1], prob, side="right")
    nb = len(bin_edges) - 1
    w_sum = np.bincount(bins, weights=w, minlength=nb)
    p_sum = np.bincount(bins, weights=w * prob, minlength=nb)
    y_sum = np.bincount(bins, weights=w * y, minlength=nb)
    keep = w_sum > 0
    return float(np.sum(np.abs(p_sum[keep] - y_sum[keep])) / w.sum())


class RankedPredictions:
    """Predictions sorted once, for fast weighted ROC AUC and average precision.

    The bootstrap reweights rows (multinomial counts) instead of copying
    them, so the sort order and the tie groups of the scores are the same for
    every resample; each metric is then O(n). Matches scikit-learn's
    ``roc_auc_score`` and ``average_precision_score`` with ``sample_weight``
    (ties count half in AUC; AP steps at each distinct score), which the tests
    check, at about 20x the speed.
    """

    def __init__(self, y: np.ndarray, prob: np.ndarray):
        self.y = np.asarray(y, dtype=np.float64)
        self.prob = np.asarray(prob, dtype=np.float64)
        self.order = np.argsort(-self.prob, kind="mergesort")
        sorted_prob = self.prob[self.order]
        self.y_sorted = self.y[self.order]
        self.group_starts = np.flatnonzero(np.r_[True, sorted_prob[1:] != sorted_prob[:-1]])

    def roc_pr_auc(self, weight: np.ndarray) -> tuple[float, float]:
        """(ROC AUC, average precision) with row weights ``weight``."""
        w = np.asarray(weight, dtype=np.float64)[self.order]
        pos = np.add.reduceat(w * self.y_sorted, self.group_starts)
        neg = np.add.reduceat(w * (1.0 - self.y_sorted), self.group_starts)
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        n_pos, n_neg = tp[-1], fp[-1]
        # Walking thresholds from high to low: each group's negatives rank below
        # the positives seen before it, and tie half with its own positives.
        roc_auc = float(np.sum(neg * (tp - pos + 0.5 * pos)) / (n_pos * n_neg))
        seen = tp + fp
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        pr_auc = float(np.sum(pos / n_pos * precision))
        return roc_auc, pr_auc


def _point_metrics(ranked: RankedPredictions, w: np.ndarray, edges: np.ndarray, n_bins: int) -> dict[str, float]:
    roc_auc, pr_auc = ranked.roc_pr_auc(w)
    return {
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "brier": float(np.average((ranked.prob - ranked.y) ** 2, weights=w)),
        "ece": expected_calibration_error(ranked.y, ranked.prob, n_bins=n_bins, sample_weight=w, bin_edges=edges),
    }


def evaluate_predictions(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    n_bootstrap: int = 200,
    ci_level: float = 0.95,
    n_bins: int = 10,
    seed: int = 0,
    compare: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """ROC AUC, PR AUC (average precision), Brier score and ECE with bootstrap CIs.

    Parameters
    ----------
    y : ndarray, int, shape (n,)
        0/1 outcomes.
    predictions : mapping name -> ndarray, float, shape (n,)
        Predicted probabilities of each model for the same rows.
    n_bootstrap : int
        Resamples of the rows (with replacement, stratified by outcome so each
        resample keeps the case count). The same resamples are used for every
        model, so differences are paired. 0 gives point estimates only.
    compare : sequence of (name_a, name_b)
        Also report ``roc_auc`` of a minus b with its paired bootstrap CI.

    Returns
    -------
    dict
        ``{name: {metric: {"estimate", "ci_low", "ci_high"}}}`` plus
        ``"roc_auc_difference"`` entries keyed ``"a-b"`` when ``compare``
        is given. CIs are percentile intervals at ``ci_level``.
    """
    y = np.asarray(y, dtype=np.int8)
    n = len(y)
    ones = np.ones(n)
    edges = {name: np.quantile(p, np.linspace(0, 1, n_bins + 1)) for name, p in predictions.items()}
    ranked = {name: RankedPredictions(y, p) for name, p in predictions.items()}
    point = {name: _point_metrics(ranked[name], ones, edges[name], n_bins) for name in predictions}
    rng = np.random.default_rng(seed)
    case_idx, ctrl_idx = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boot: dict[str, list[dict[str, float]]] = {name: [] for name in predictions}
    for _ in range(n_bootstrap):
        # Bootstrap counts (multinomial) as sample weights: no copies of the data.
        w = np.bincount(rng.choice(case_idx, len(case_idx)), minlength=n) + np.bincount(
            rng.choice(ctrl_idx, len(ctrl_idx)), minlength=n)
        for name in predictions:
            boot[name].append(_point_metrics(ranked[name], w, edges[name], n_bins))
    alpha = (1 - ci_level) / 2

    def summarise(estimate: float, draws: list[float]) -> dict[str, float | None]:
        if not draws:
            return {"estimate": estimate, "ci_low": None, "ci_high": None}
        lo, hi = np.quantile(draws, [alpha, 1 - alpha])
        return {"estimate": estimate, "ci_low": float(lo), "ci_high": float(hi)}

    out: dict[str, Any] = {
        name: {m: summarise(point[name][m], [b[m] for b in boot[name]]) for m in point[name]}
        for name in predictions
    }
    if compare:
        out["roc_auc_difference"] = {
            f"{a}-{b}": summarise(
                point[a]["roc_auc"] - point[b]["roc_auc"],
                [ba["roc_auc"] - bb["roc_auc"] for ba, bb in zip(boot[a], boot[b])],
            )
            for a, b in compare
        }
    return out


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass
class Calibrator:
    """Monotone map from model margin (log-odds) to calibrated probability.

    ``method="isotonic"``: piecewise-linear through ``(x, y)`` thresholds of an
    isotonic regression (the same interpolation as scikit-learn's
    ``IsotonicRegression.predict``), clipped outside. ``method="platt"``:
    ``p = sigmoid(a * margin + b)``.

    ``band_margin``, ``band_low`` and ``band_high`` hold the bootstrap band:
    at each grid margin, the ``ci_level`` interval of the calibrated
    probability over calibrators refitted on resampled OOF (margin, outcome)
    pairs. It is the per-patient risk interval: how precisely this cohort pins
    down the risk of people with this model score. It does not include the
    variance of refitting the trees themselves.
    """

    method: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    ci_level: float = 0.95
    band_margin: list[float] = field(default_factory=list)
    band_low: list[float] = field(default_factory=list)
    band_high: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray, method: str) -> "Calibrator":
        margin = np.asarray(margin, dtype=np.float64)
        if method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margin, y)
            return cls("isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
        if method == "platt":
            lr = LogisticRegression(C=np.inf).fit(margin[:, None], y)
            return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        raise ValueError(f"unknown calibration method {method!r}")

    def predict(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(margin, self.x, self.y)
        return _sigmoid(self.a * margin + self.b)

    def fit_band(self, margin: np.ndarray, y: np.ndarray, *, n_bootstrap: int, ci_level: float, seed: int) -> None:
        """Fill the bootstrap band on a grid of OOF-margin quantiles."""
        self.ci_level = ci_level
        grid = np.unique(np.quantile(margin, np.linspace(0, 1, N_BAND_POINTS)))
        self.band_margin = grid.tolist()
        if n_bootstrap == 0:
            self.band_low = self.band_high = self.predict(grid).tolist()
            return
        rng = np.random.default_rng(seed)
        draws = np.empty((n_bootstrap, len(grid)))
        n = len(margin)
        for b in range(n_bootstrap):
            idx = rng.integers(0, n, n)
            if y[idx].min() == y[idx].max():  # degenerate resample: no cases or no controls
                draws[b] = self.predict(grid)
                continue
            draws[b] = Calibrator.fit(margin[idx], y[idx], self.method).predict(grid)
        alpha = (1 - ci_level) / 2
        lo, hi = np.quantile(draws, [alpha, 1 - alpha], axis=0)
        self.band_low, self.band_high = lo.tolist(), hi.tolist()

    def interval(self, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Risk interval at each margin; always contains the point estimate."""
        point = self.predict(margin)
        lo = np.interp(margin, self.band_margin, self.band_low)
        hi = np.interp(margin, self.band_margin, self.band_high)
        return np.minimum(lo, point), np.maximum(hi, point)

    def to_dict(self) -> dict[str, Any]:
        d = {"method": self.method, "input": "xgboost margin (log-odds)", "ci_level": self.ci_level,
             "band": {"margin": self.band_margin, "low": self.band_low, "high": self.band_high}}
        if self.method == "isotonic":
            d["isotonic"] = {"x_thresholds": self.x, "y_thresholds": self.y}
        else:
            d["platt"] = {"a": self.a, "b": self.b, "formula": "p = 1 / (1 + exp(-(a * margin + b)))"}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, path: str | None = None) -> "Calibrator":
        try:
            band = d["band"]
            common = {"ci_level": float(d["ci_level"]), "band_margin": list(band["margin"]),
                      "band_low": list(band["low"]), "band_high": list(band["high"])}
            if d["method"] == "isotonic":
                return cls("isotonic", x=list(d["isotonic"]["x_thresholds"]), y=list(d["isotonic"]["y_thresholds"]),
                           **common)
            if d["method"] == "platt":
                return cls("platt", a=float(d["platt"]["a"]), b=float(d["platt"]["b"]), **common)
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(path, f"malformed calibrator: {err!r}") from err
        raise InputError(path, f"unknown calibration method {d.get('method')!r}")


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass
class LinearOffset:
    """Logistic regression on the baseline features; its logit is the trees' starting margin.

    ``margin(X) = intercept + sum_j coef_j z_j`` with ``z = (x - mean) / scale``
    after filling missing values with ``fill`` (training means). Stored as
    plain numbers (``linear_offset.json``), never as a fitted object.
    """

    features: list[str]
    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, features: Sequence[str], *, balanced: bool, seed: int) -> "LinearOffset":
        """Fit on training rows (``X`` holds the ``features`` columns)."""
        model = make_pipeline(
            SimpleImputer(strategy="mean", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=1000, random_state=seed,
                               class_weight="balanced" if balanced else None),
        ).fit(X, y)
        imputer, scaler, lr = model.steps[0][1], model.steps[1][1], model.steps[2][1]
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        return cls(list(features), imputer.statistics_.astype(np.float64), scaler.mean_.astype(np.float64),
                   scale.astype(np.float64), lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))

    def standardised(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        X = np.where(np.isnan(X), self.fill, X)
        return (X - self.mean) / self.scale

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact SHAP values of the linear margin, shape (n, n_features); they sum to margin - intercept."""
        return self.standardised(X) * self.coef

    def margin(self, X: np.ndarray) -> np.ndarray:
        return self.intercept + self.contributions(X).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"model": "logistic regression on standardised features (missing -> training mean)",
                "features": self.features, "fill": self.fill.tolist(), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, path: str | None = None) -> "LinearOffset | None":
        if not d.get("features"):
            return None
        try:
            arrays = [np.asarray(d[k], dtype=np.float64) for k in ("fill", "mean", "scale", "coef")]
            if any(a.shape != (len(d["features"]),) for a in arrays):
                raise ValueError("array lengths differ from the feature count")
            return cls(list(d["features"]), *arrays, float(d["intercept"]))
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(path, f"malformed linear offset: {err}") from err


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
        return list(self.booster.feature_names)


def _class_weights(y: np.ndarray, config: ModelConfig) -> np.ndarray | None:
    if config.class_weight == "none":
        return None
    n_cases = int(y.sum())
    return np.where(y == 1, (len(y) - n_cases) / n_cases, 1.0).astype(np.float32)


def _fit_baseline(X_train: np.ndarray, y_train: np.ndarray, seed: int):
    # Imputer and scaler live inside the pipeline, so they are fitted on the
    # training fold only.
    model = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
    )
    return model.fit(X_train, y_train)


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
    y = _check_labels(y, len(X))
    config.validate()
    kinds = [f["kind"] for f in features]
    names = [f["name"] for f in features]
    data = X.to_numpy(dtype=np.float32)
    n, p = data.shape
    n_cases = int(y.sum())
    n_folds = min(config.n_folds, n_cases, n - n_cases)
    if n_folds < config.n_folds:
        log.warning("only %d cases or controls: using %d folds instead of %d", min(n_cases, n - n_cases),
                    n_folds, config.n_folds)
    rng = np.random.default_rng(config.seed)
    candidates = sample_candidates(config, rng)
    baseline_cols = np.flatnonzero(np.isin(kinds, BASELINE_KINDS))
    log.info("training on %d samples (%d cases), %d features (%d dosage), %d folds x %d trials",
             n, n_cases, p, kinds.count("dosage"), n_folds, len(candidates))

    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=config.seed)
    fold_of = np.empty(n, dtype=np.int16)
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
        model = LinearOffset.fit(data[np.ix_(rows, baseline_cols)], y[rows], baseline_names,
                                 balanced=config.class_weight == "balanced", seed=config.seed)
        return model, model.margin(data[:, baseline_cols])

    def rows_of(margins: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
        return None if margins is None else margins[rows]

    def matrix_key(cand: Mapping[str, Any]) -> tuple[int, bool]:
        """Candidates sharing a key share their fold matrices."""
        return min(cand["n_dosage_features"], n_dosage), bool(cand["linear_offset"] and have_offset)

    for k, (train_idx, test_idx) in enumerate(folds.split(data, y)):
        fold_of[test_idx] = k
        # The offset is fitted on the whole outer training fold, inner
        # validation rows included: a few linear coefficients barely overfit,
        # and the outer test rows stay unseen.
        _, start = fit_offset(train_idx)
        ranking = dosage_ranking(data, y, kinds, rows=train_idx)
        fit_idx, val_idx = train_test_split(
            train_idx, test_size=config.validation_fraction, stratify=y[train_idx],
            random_state=config.seed + k)
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
                dfit = xgb.QuantileDMatrix(data[np.ix_(fit_idx, cols)], label=y[fit_idx], weight=w_fit,
                                           base_margin=rows_of(fold_start, fit_idx), max_bin=config.max_bin,
                                           nthread=config.threads)
                dval = xgb.QuantileDMatrix(data[np.ix_(val_idx, cols)], label=y[val_idx], weight=w_val, ref=dfit,
                                           base_margin=rows_of(fold_start, val_idx), max_bin=config.max_bin,
                                           nthread=config.threads)
                matrices[key] = (cols, dfit, dval)
            cols, dfit, dval = matrices[key]
            t0 = time.perf_counter()
            booster = xgb.train(
                _booster_params(cand, config, config.seed + k), dfit, num_boost_round=config.n_estimators,
                evals=[(dval, "validation")], early_stopping_rounds=config.early_stopping_rounds,
                verbose_eval=False)
            elapsed = time.perf_counter() - t0
            val_loss[k, t] = booster.best_score
            best_rounds[k, t] = booster.best_iteration + 1
            boosters.append(booster)
            log.info("fold %d/%d trial %d/%d: %d dosage features, offset %s, validation logloss %.4f at %d "
                     "rounds (%.0f rounds/s)", k + 1, n_folds, t + 1, len(candidates), n_keep,
                     "on" if offset_on else "off", booster.best_score,
                     booster.best_iteration + 1, booster.num_boosted_rounds() / max(elapsed, 1e-9))
        best = int(np.argmin(val_loss[k]))
        best_key = matrix_key(candidates[best])
        cols = matrices[best_key][0]
        del matrices
        dtest = xgb.DMatrix(data[np.ix_(test_idx, cols)], nthread=config.threads,
                            base_margin=rows_of(start if best_key[1] else None, test_idx))
        oof_margin[test_idx] = boosters[best].predict(
            dtest, output_margin=True, iteration_range=(0, int(best_rounds[k, best])))
        if len(baseline_cols):
            base = _fit_baseline(data[np.ix_(train_idx, baseline_cols)], y[train_idx], config.seed)
            oof_baseline[test_idx] = base.predict_proba(data[np.ix_(test_idx, baseline_cols)])[:, 1]
        per_fold.append({"fold": k, "candidate": best, "rounds": int(best_rounds[k, best]),
                         "linear_offset": best_key[1],
                         "validation_logloss": float(val_loss[k, best]), "n_features": int(len(cols))})
        log.info("fold %d/%d: chose candidate %d (%d rounds), %d features", k + 1, n_folds, best, best_rounds[k, best],
                 len(cols))

    # Final model: candidate with the best mean inner-validation loss over folds.
    chosen = int(np.argmin(val_loss.mean(axis=0)))
    n_rounds = int(np.median(best_rounds[:, chosen]))
    params = _booster_params(candidates[chosen], config, config.seed)
    cols = top_k_columns(dosage_ranking(data, y, kinds), kinds, candidates[chosen]["n_dosage_features"])
    fnames = [names[c] for c in cols]
    offset, start = fit_offset(np.arange(n)) if matrix_key(candidates[chosen])[1] else (None, None)
    dall = xgb.QuantileDMatrix(data[:, cols], label=y, weight=_class_weights(y, config), base_margin=start,
                               max_bin=config.max_bin, nthread=config.threads)
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

    predictions = {"model": oof_calibrated, "model_uncalibrated": _sigmoid(oof_margin)}
    compare = []
    if len(baseline_cols):
        predictions["baseline"] = oof_baseline
        compare = [("model", "baseline")]
    metrics = evaluate_predictions(y, predictions, n_bootstrap=config.n_bootstrap, ci_level=config.ci_level,
                                   n_bins=config.ece_bins, seed=config.seed, compare=compare)
    metrics.setdefault("baseline", None)
    metrics["baseline_features"] = [names[c] for c in baseline_cols]
    metrics["data"] = {"n_samples": n, "n_cases": n_cases, "n_features": p,
                       "n_dosage_features": kinds.count("dosage"), "n_model_features": len(cols)}
    metrics["evaluation"] = {
        "linear_offset": f"final model boosts from a logistic regression on {', '.join(baseline_names)}"
        if offset is not None else "none in the final model",
        "predictions": "out-of-fold, nested: selection and early stopping on an inner split of each training fold",
        "calibration": f"{method}, cross-fitted: each fold calibrated on the other folds' OOF predictions",
        "n_folds": n_folds, "n_bootstrap": config.n_bootstrap, "ci_level": config.ci_level,
        "ci_method": "percentile bootstrap, stratified by outcome, paired across models",
        "ece_bins": config.ece_bins,
    }
    metrics["selection"] = {"candidates": candidates, "per_fold": per_fold, "chosen_candidate": chosen,
                            "chosen_params": candidates[chosen],
                            "n_rounds": n_rounds,
                            "mean_validation_logloss": [float(v) for v in val_loss.mean(axis=0)]}
    if truth is not None:
        metrics["truth"] = _truth_metrics(truth, metrics["model"]["roc_auc"]["estimate"])
    metrics["training_seconds"] = round(time.perf_counter() - t_start, 2)
    log.info("OOF ROC AUC %.3f (calibrated, cross-fitted), done in %.1f s",
             metrics["model"]["roc_auc"]["estimate"], metrics["training_seconds"])
    return TrainedModel(booster=booster, schema=dict(schema), config=config, params=params, n_rounds=n_rounds,
                        calibrator=calibrator, cohort_quantiles=cohort_quantiles, metrics=metrics,
                        oof_margin=oof_margin, offset=offset,
                        oof_predictions={**predictions, "y": np.asarray(y)})


def _truth_metrics(truth: Mapping[str, float], auc: float) -> dict[str, float]:
    from genorisk.simulate import auc_ceiling

    unknown = set(truth) - {"h2", "prevalence", "h2_total"}
    if unknown or "h2" not in truth or "prevalence" not in truth:
        raise ConfigError(None, f"truth needs h2 and prevalence (optionally h2_total), got {sorted(truth)}",
                          record="truth")
    h2_ceiling = float(truth.get("h2_total", truth["h2"]))
    ceiling = auc_ceiling(h2_ceiling, float(truth["prevalence"]))
    out = {**{k: float(v) for k, v in truth.items()}, "auc_ceiling": ceiling, "auc_over_ceiling": auc / ceiling,
           "ceiling_h2": "h2_total" if "h2_total" in truth else "h2"}
    if "h2_total" in truth:
        out["auc_ceiling_additive"] = auc_ceiling(float(truth["h2"]), float(truth["prevalence"]))
    return out


# ---------------------------------------------------------------------------
# Artifact
# ---------------------------------------------------------------------------


def _package_versions() -> dict[str, str]:
    import scipy
    import sklearn

    import genorisk

    return {"python": platform.python_version(), "genorisk": genorisk.__version__, "xgboost": xgb.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "scipy": scipy.__version__}


def _fmt_metric(m: Mapping[str, Any] | None) -> str:
    if not m:
        return "n/a"
    if m.get("ci_low") is None:
        return f"{m['estimate']:.3f}"
    return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"


def _model_card_markdown(card: Mapping[str, Any]) -> str:
    m = card["metrics"]
    lines = [
        "# Model card: genorisk gradient-boosted risk model", "",
        f"Trained {card['created']} with genorisk {card['versions']['genorisk']}, "
        f"XGBoost {card['versions']['xgboost']}.", "",
        "## Intended use", "", card["intended_use"], "",
        "## Training data", "",
        f"- samples: {m['data']['n_samples']} ({m['data']['n_cases']} cases)",
        f"- features: {m['data']['n_features']} ({m['data']['n_dosage_features']} dosage; "
        f"{m['data']['n_model_features']} used by the final model)",
        f"- training data SHA-256: {card['training_data_sha256'] or 'not given'}", "",
        "## Performance (out-of-fold, nested CV; 95% bootstrap CI)", "",
        "| | ROC AUC | PR AUC | Brier | ECE |", "|---|---|---|---|---|",
    ]
    for name in ("model", "model_uncalibrated", "baseline"):
        if m.get(name):
            row = m[name]
            lines.append(f"| {name} | {_fmt_metric(row['roc_auc'])} | {_fmt_metric(row['pr_auc'])} | "
                         f"{_fmt_metric(row['brier'])} | {_fmt_metric(row['ece'])} |")
    if m.get("baseline_features"):
        lines += ["", f"Baseline: logistic regression on {', '.join(m['baseline_features'])}."]
    if "truth" in m:
        t = m["truth"]
        lines += ["", f"Simulated truth: AUC ceiling {t['auc_ceiling']:.3f} (Wray et al. 2010); "
                      f"model reaches {t['auc_over_ceiling']:.1%} of it."]
    lines += ["", "## Limits", ""] + [f"- {item}" for item in card["limits"]]
    lines += ["", "## Configuration", "", "```json", json.dumps(card["config"], indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


INTENDED_USE = (
    "Research estimate of disease risk for people like the training cohort, from the features in "
    "features.schema.json. Not a diagnosis; not validated for clinical decisions."
)
LIMITS = [
    "Valid only for people drawn from the same population, ancestry mix, genotyping and feature pipeline "
    "as the training cohort; transfer across ancestries is usually worse.",
    "Risks are calibrated to the case fraction of the training cohort, not to population prevalence, "
    "unless the cohort was population-based.",
    "The risk interval reflects the uncertainty of the calibration curve in this cohort, not the "
    "variance of refitting the trees.",
    "Drivers are TreeSHAP contributions (log-odds) of this model; they are associations, not causes.",
]


def save_model(model: TrainedModel, outdir: str | Path, *, training_data_sha256: str | None = None) -> Path:
    """Write the model artifact directory; every file is written atomically.

    Files: ``model.ubj`` (XGBoost UBJSON), ``features.schema.json``,
    ``calibrator.json``, ``cohort_risks.json`` (1001 quantiles of the
    cohort's calibrated OOF risks, no per-person values), ``metrics.json``,
    ``model_card.md`` and, last, ``model_card.json`` (config, parameters,
    package versions, metrics, intended use, limits and the SHA-256 of every
    other file, checked by :func:`load_model`).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with atomic_output(outdir / "model.ubj") as tmp:
        model.booster.save_model(str(tmp))
    write_json(outdir / "features.schema.json", model.schema)
    write_json(outdir / "linear_offset.json", model.offset.to_dict() if model.offset else {"features": []})
    write_json(outdir / "calibrator.json", model.calibrator.to_dict())
    write_json(outdir / "cohort_risks.json", {
        "description": "quantiles of the training cohort's calibrated out-of-fold risks",
        "probabilities": np.linspace(0, 1, N_COHORT_QUANTILES).round(4).tolist(),
        "risk_quantiles": [float(v) for v in model.cohort_quantiles],
        "n_samples": model.metrics["data"]["n_samples"],
    })
    # Run-dependent figures (wall time) go to the card beside "created", so
    # metrics.json is identical across reruns of the same data and config.
    metrics = {k: v for k, v in model.metrics.items() if k != "training_seconds"}
    write_json(outdir / "metrics.json", metrics)
    card = {
        "model": "genorisk gradient-boosted risk model",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_seconds": model.metrics.get("training_seconds"),
        "training_data_sha256": training_data_sha256,
        "config": model.config.to_dict(),
        "params": model.params,
        "n_rounds": model.n_rounds,
        "features_used": model.feature_names,
        "versions": _package_versions(),
        "metrics": metrics,
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
    }
    with atomic_output(outdir / "model_card.md") as tmp:
        tmp.write_text(_model_card_markdown(card))
    card["files_sha256"] = {name: sha256_file(outdir / name) for name in ARTIFACT_FILES}
    write_json(outdir / "model_card.json", card)
    return outdir


_COMPRESSED_MAGIC = {b"\x1f\x8b": "gzip", b"BZ": "bzip2", b"\xfd7zXZ": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


def is_pickle(path: str | Path) -> bool:
    """True when the file's bytes are a Python pickle (any protocol), whatever its name.

    Protocol 2+ starts with ``0x80`` and the protocol byte; protocols 0-1 are
    recognised by parsing opcodes with :func:`pickletools.genops`, which reads
    but never executes them. A gzip-compressed pickle (joblib) is looked into.
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError:
            return False
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if not head or head[:1] in (b"{", b"[", b"#", b"\n", b" "):  # JSON, UBJSON and text
        return False
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            if opcode.name == "STOP":
                return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return False
    return False


def load_model(outdir: str | Path) -> TrainedModel:
    """Load an artifact written by :func:`save_model`.

    Refuses (``InputError`` naming the file) any pickle in the directory,
    whatever its name, a ``model.ubj`` that is not UBJSON, and files whose
    SHA-256 differs from the model card's.
    """
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputError(outdir, "model directory does not exist")
    for path in sorted(outdir.iterdir()):
        if path.is_file() and is_pickle(path):
            raise InputError(path, "is a Python pickle; genorisk never loads pickles (they can run code). "
                                   "Retrain and save with genorisk.model.save_model")
    for name in ARTIFACT_FILES + ("model_card.json",):
        if not (outdir / name).is_file():
            raise InputError(outdir / name, "missing model artifact file")
    card = read_json(outdir / "model_card.json")
    for name, digest in card.get("files_sha256", {}).items():
        if sha256_file(outdir / name) != digest:
            raise InputError(outdir / name, "SHA-256 differs from model_card.json: file changed after training")
    with open(outdir / "model.ubj", "rb") as fh:
        if fh.read(1) != b"{":
            raise InputError(outdir / "model.ubj", "not an XGBoost UBJSON model")
    booster = xgb.Booster()
    booster.load_model(str(outdir / "model.ubj"))
    schema = read_json(outdir / "features.schema.json")
    validate_schema(schema, path=str(outdir / "features.schema.json"))
    calibrator = Calibrator.from_dict(read_json(outdir / "calibrator.json"), path=str(outdir / "calibrator.json"))
    cohort = read_json(outdir / "cohort_risks.json")
    config = ModelConfig.from_dict(card["config"], source=str(outdir / "model_card.json"))
    offset = LinearOffset.from_dict(read_json(outdir / "linear_offset.json"), path=str(outdir / "linear_offset.json"))
    booster.set_param({"nthread": config.threads})
    return TrainedModel(booster=booster, schema=schema, config=config, params=card["params"],
                        n_rounds=int(card["n_rounds"]), calibrator=calibrator,
                        cohort_quantiles=np.asarray(cohort["risk_quantiles"], dtype=np.float64),
                        metrics=read_json(outdir / "metrics.json"), offset=offset)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def cohort_percentile(quantiles: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Percentile (0-100) of each risk in the cohort, from its quantile sketch.

    Linear between neighbouring quantiles; a risk equal to a run of equal
    quantiles (an isotonic plateau) gets the middle of the run, so a tie is
    not reported as the top or bottom of its group.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    risk = np.atleast_1d(np.asarray(risk, dtype=np.float64))
    m = len(q) - 1
    lo = np.searchsorted(q, risk, side="left")
    hi = np.searchsorted(q, risk, side="right")
    out = np.empty(len(risk))
    tie = hi > lo
    out[tie] = (lo[tie] + hi[tie] - 1) / 2 / m
    j = np.clip(lo[~tie], 1, m)
    frac = np.clip((risk[~tie] - q[j - 1]) / np.maximum(q[j] - q[j - 1], 1e-300), 0, 1)
    out[~tie] = (j - 1 + frac) / m
    out[~tie & (lo == 0)] = 0.0
    out[~tie & (lo > m)] = 1.0
    return 100.0 * out


def score_patients(
    model: TrainedModel,
    X_patients: pd.DataFrame,
    *,
    coverage: Mapping[str, Any] | None = None,
    schema: Mapping[str, Any] | None = None,
    top_n: int = 5,
    batch_size: int = 4096,
    path: str | None = None,
) -> list[dict[str, Any]]:
    """Calibrated risk, interval, cohort percentile and drivers for each patient.

    Parameters
    ----------
    model : TrainedModel
    X_patients : DataFrame
        Indexed by ``sample_id``; columns exactly the model schema's, in order.
    coverage : dict, optional
        ``{sample_id: {...}}`` facts about each patient's input (e.g. PGS
        variant match rates, call rates), copied into the result so the
        report can show them next to the risk.
    schema : dict, optional
        The feature schema that came with ``X_patients``; its definitions must
        equal the model's (guards against features built differently).
    top_n : int
        Drivers per patient.
    batch_size : int
        Patients per DMatrix (bounds the memory of the n x p contributions).
    path : str, optional
        Name of the patient feature file, for error messages.

    Returns
    -------
    list of dict, one per patient in row order
        ``sample_id``; ``risk`` (calibrated probability); ``risk_interval``
        ``[low, high]`` (bootstrap band of the calibrator, see
        :class:`Calibrator`); ``interval_level``; ``percentile`` (0-100,
        among the training cohort's calibrated OOF risks); ``margin`` (model
        log-odds); ``baseline_margin`` (expected margin: TreeSHAP bias, plus
        the linear offset's intercept when used); ``n_missing_features``;
        ``drivers`` (see :func:`genorisk.explain.drivers_from_contributions`);
        ``coverage`` (from the argument, or None).
    """
    from genorisk.explain import FeatureGroups, add_linear_contributions, drivers_from_contributions, \
        tree_contributions

    check_frame_matches_schema(X_patients, model.schema, path=path, frame_schema=schema)
    used = model.feature_names
    groups = FeatureGroups.from_schema(model.schema, used)
    data = X_patients[used].to_numpy(dtype=np.float32)
    n_missing = np.isnan(X_patients.to_numpy(dtype=np.float32)).sum(axis=1)
    if model.offset is not None:
        offset_x = X_patients[model.offset.features].to_numpy(dtype=np.float64)
        offset_cols = [used.index(f) for f in model.offset.features]
    sample_ids = [str(s) for s in X_patients.index]
    results: list[dict[str, Any]] = []
    for start in range(0, len(data), batch_size):
        chunk = data[start:start + batch_size]
        linear = base_margin = None
        if model.offset is not None:
            # The trees start from the linear margin; it must be passed, or
            # XGBoost would start from its base_score instead.
            linear = model.offset.contributions(offset_x[start:start + batch_size])
            base_margin = model.offset.intercept + linear.sum(axis=1)
        dmat = xgb.DMatrix(chunk, feature_names=used, base_margin=base_margin, nthread=model.config.threads)
        margin, contribs = tree_contributions(model.booster, dmat)
        if linear is not None:
            contribs = add_linear_contributions(contribs, offset_cols, linear)
        risk = model.calibrator.predict(margin)
        low, high = model.calibrator.interval(margin)
        pct = cohort_percentile(model.cohort_quantiles, risk)
        grouped = groups.group(contribs[:, :-1])
        for i in range(len(chunk)):
            sid = sample_ids[start + i]
            results.append({
                "sample_id": sid,
                "risk": float(risk[i]),
                "risk_interval": [float(low[i]), float(high[i])],
                "interval_level": model.calibrator.ci_level,
                "percentile": float(pct[i]),
                "margin": float(margin[i]),
                "baseline_margin": float(contribs[i, -1]),
                "n_missing_features": int(n_missing[start + i]),
                "drivers": drivers_from_contributions(grouped[i], groups, top_n=top_n),
                "coverage": None if coverage is None else coverage.get(sid),
            })
    return results


# ---------------------------------------------------------------------------
# Command line (used by the workflow and the benchmarks)
# ---------------------------------------------------------------------------


def read_feature_matrix(path: str | Path) -> pd.DataFrame:
    """Read a feature matrix (Parquet, or TSV with a ``sample_id`` column)."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep="\t")
    if "sample_id" in frame.columns:
        frame = frame.set_index("sample_id")
    elif frame.index.name != "sample_id":
        raise InputError(path, "needs a sample_id column or index")
    frame.index = frame.index.astype(str)
    return frame


def read_labels(path: str | Path, sample_ids: pd.Index, column: str = "label") -> np.ndarray:
    """0/1 labels from a TSV with ``sample_id`` and ``column``, aligned to ``sample_ids``."""
    table = pd.read_csv(path, sep="\t", dtype={"sample_id": str})
    for col in ("sample_id", column):
        if col not in table.columns:
            raise InputError(path, f"needs a {col!r} column", record="header")
    table = table.set_index("sample_id")
    missing = sample_ids.difference(table.index)
    if len(missing):
        raise InputError(path, f"no label for {len(missing)} sample(s), e.g. {missing[0]!r}")
    values = table.loc[sample_ids, column]
    bad = ~values.isin([0, 1])
    if bad.any():
        sid = values.index[bad.to_numpy()][0]
        raise InputError(path, f"label must be 0 or 1, got {values[sid]!r}", record=f"sample {sid}")
    return values.to_numpy(dtype=np.int8)


def _load_config(path: str | None) -> ModelConfig:
    if path is None:
        return ModelConfig()
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    return ModelConfig.from_dict(data.get("model", data) if isinstance(data, dict) else data, source=path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genorisk.model", description="Train or apply the risk model.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train, evaluate and save a model")
    tr.add_argument("--features", required=True, help="feature matrix (.parquet or .tsv)")
    tr.add_argument("--schema", required=True, help="features.schema.json")
    tr.add_argument("--labels", required=True, help="TSV with sample_id and label (0/1)")
    tr.add_argument("--label-column", default="label")
    tr.add_argument("--config", help="YAML/JSON; its 'model' section (or the whole mapping)")
    tr.add_argument("--truth", help="JSON with h2, prevalence[, h2_total] for simulated cohorts")
    tr.add_argument("--threads", type=int, help="override config threads")
    tr.add_argument("--out", required=True, help="artifact directory")
    sc = sub.add_parser("score", help="score patients with a saved model")
    sc.add_argument("--model", required=True, help="artifact directory")
    sc.add_argument("--features", required=True, help="patient feature matrix")
    sc.add_argument("--schema", help="patients' features.schema.json (definitions are checked)")
    sc.add_argument("--top-n", type=int, default=5)
    sc.add_argument("--out", required=True, help="JSON output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "train":
            config = _load_config(args.config)
            if args.threads:
                config = dataclasses.replace(config, threads=args.threads)
            X = read_feature_matrix(args.features)
            y = read_labels(args.labels, X.index, args.label_column)
            schema = read_json(args.schema)
            truth = read_json(args.truth) if args.truth else None
            model = train_model(X, y, schema, config, truth=truth)
            save_model(model, args.out, training_data_sha256=sha256_file(Path(args.features)))
        else:
            model = load_model(args.model)
            X = read_feature_matrix(args.features)
            schema = read_json(args.schema) if args.schema else None
            results = score_patients(model, X, schema=schema, top_n=args.top_n, path=args.features)
            write_json(args.out, {"patients": results})
    except InputError as err:
        print(f"genorisk.model: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
