"""Gradient-boosted risk model: the stage between the feature matrix and the patient report.

One module per job:

* :mod:`~genorisk.model.config` - :class:`ModelConfig`, the ``model:`` config section;
* :mod:`~genorisk.model.inputs` - the feature schema, feature matrix and labels, checked;
* :mod:`~genorisk.model.select` - the in-fold dosage filter (Cochran-Armitage trend test);
* :mod:`~genorisk.model.baseline` - the logistic-regression baseline and linear offset;
* :mod:`~genorisk.model.train` - :func:`train_model`: nested CV, random search, calibration;
* :mod:`~genorisk.model.calibration` - :class:`Calibrator`, margin -> probability with a band;
* :mod:`~genorisk.model.metrics` - ROC/PR AUC, Brier, the one calibration binning (ECE and
  calibration curve), ROC points, bootstrap CIs;
* :mod:`~genorisk.model.artifact` - :func:`save_model` / :func:`load_model` (JSON + UBJSON,
  never pickle) and the model card;
* :mod:`~genorisk.model.score` - :func:`score_patients` and :func:`cohort_percentile`;
* :mod:`~genorisk.model.explain` - TreeSHAP drivers and cohort feature importance.

The names below are the public API; import them from ``genorisk.model``.
"""

from genorisk.model.artifact import ARTIFACT_FILES, INTENDED_USE, LIMITS, is_pickle, load_model, save_model, trait_card
from genorisk.model.baseline import BASELINE_KINDS, LinearOffset, fit_baseline
from genorisk.model.calibration import N_BAND_POINTS, Calibrator, prior_shift, sigmoid
from genorisk.model.config import DEFAULT_TRAIT, RANGE_KEYS, ModelConfig, trait_settings
from genorisk.model.explain import (
    ExplanationError,
    FeatureGroups,
    add_linear_contributions,
    drivers_from_contributions,
    feature_importance,
    tree_contributions,
)
from genorisk.model.fold_stats import (
    FoldStats,
    concat_fold_stats,
    fold_trend_statistics,
    outer_folds,
    shard_fold_stats,
    shard_top_k,
    top_k_per_fold,
)
from genorisk.model.inputs import (
    FEATURE_KINDS,
    FORBIDDEN_NAME_CHARS,
    SCHEMA_VERSION,
    check_frame_matches_schema,
    check_labels,
    read_feature_matrix,
    read_labels,
    trait_training_rows,
    validate_schema,
)
from genorisk.model.metrics import (
    RankedPredictions,
    calibration_bins,
    calibration_curve,
    equal_mass_edges,
    evaluate_predictions,
    expected_calibration_error,
    roc_points,
)
from genorisk.model.score import cohort_percentile, score_patients
from genorisk.model.score_context import (
    ancestry_adjusted_z,
    fit_ancestry_adjustment,
    polygenic_score_context,
    score_distribution,
    score_in_context,
)
from genorisk.model.select import dosage_ranking, select_dosage_features, top_k_columns, trend_test_statistic
from genorisk.model.train import N_COHORT_QUANTILES, TrainedModel, sample_candidates, train_model

__all__ = [
    "DEFAULT_TRAIT",
    "ancestry_adjusted_z",
    "fit_ancestry_adjustment",
    "polygenic_score_context",
    "prior_shift",
    "score_distribution",
    "score_in_context",
    "trait_card",
    "trait_settings",
    "FoldStats",
    "concat_fold_stats",
    "fold_trend_statistics",
    "outer_folds",
    "shard_fold_stats",
    "shard_top_k",
    "top_k_per_fold",
    "ARTIFACT_FILES",
    "BASELINE_KINDS",
    "FEATURE_KINDS",
    "FORBIDDEN_NAME_CHARS",
    "INTENDED_USE",
    "LIMITS",
    "N_BAND_POINTS",
    "N_COHORT_QUANTILES",
    "RANGE_KEYS",
    "SCHEMA_VERSION",
    "Calibrator",
    "ExplanationError",
    "FeatureGroups",
    "LinearOffset",
    "ModelConfig",
    "RankedPredictions",
    "TrainedModel",
    "add_linear_contributions",
    "calibration_bins",
    "calibration_curve",
    "check_frame_matches_schema",
    "check_labels",
    "cohort_percentile",
    "dosage_ranking",
    "drivers_from_contributions",
    "equal_mass_edges",
    "evaluate_predictions",
    "expected_calibration_error",
    "feature_importance",
    "fit_baseline",
    "is_pickle",
    "load_model",
    "read_feature_matrix",
    "read_labels",
    "trait_training_rows",
    "roc_points",
    "sample_candidates",
    "save_model",
    "score_patients",
    "select_dosage_features",
    "sigmoid",
    "top_k_columns",
    "train_model",
    "tree_contributions",
    "trend_test_statistic",
    "validate_schema",
]
