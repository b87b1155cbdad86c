"""Settings of the risk model: the workflow config's ``model:`` section as a dataclass.

The JSON schema (``workflow/schemas/config.schema.yaml``) holds every key's
type, bounds and default and is checked before any job starts; this module
maps a mapping, checked against the schema's ``model`` section, onto
:class:`ModelConfig`; it holds no range checks of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genorisk.config import validate_section

#: Search-space keys, each a ``[low, high]`` pair.
RANGE_KEYS = ("max_depth", "learning_rate", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda")


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
    in_cohort_score : bool, default true
        Fit a penalised linear polygenic score on the cohort's own dosage
        columns inside every fold (:mod:`genorisk.model.in_cohort`: ridges over
        the top-k of the in-fold ranking for each k of ``in_cohort_score_sizes``,
        penalties from the likelihood, stacked on honest cross-fitted scores).
        It joins the external scores, covariates and PCs in the strong
        baseline (a logistic regression evaluated on the same outer folds) and
        that baseline's margin is the trees' starting margin (``linear_offset``).
        No effect without dosage columns.
    in_cohort_score_sizes : tuple of int, default (50, 200, 1000)
        The stacked ridges' sizes (sorted). The features keep each fold's top
        :attr:`dosage_columns_per_fold` variants (twice the largest size: the
        stack's cross-fitting re-ranks them without each part).
    in_cohort_score_elastic_net : int, default 200
        Top-k variants of the stack's elastic-net member (0: none). Sparse
        architectures gain from it; the features keep twice this many too.
    in_cohort_burden_score : bool, default true
        With ``in_cohort_score``: a second ridge score over the gene-burden
        columns, its gene count and penalty chosen on the inner split apart from
        the variants' (one shared penalty shrinks three causal genes as hard as
        a thousand variants, and 40 burden columns straight in the logistic
        regression add as much noise as signal), joins the strong baseline.
    trees_start : "baseline" | "strong", default "baseline"
        The margin the trees start from when a candidate uses ``linear_offset``:
        the plain baseline (external scores, covariates, PCs) or the strong one
        (plus the in-cohort score). "strong" was measured to hurt where trees
        should help (non-additive, 4,000 people: OOF AUC 0.734 against 0.766 from
        no offset; the trees stop after a few rounds), so the in-cohort score is
        the strong baseline the trees must beat, not their start, by default.
    interaction_screen : int, default 50
        Top in-fold variants whose pairwise products, products with each
        covariate and heterozygote indicators are screened, on the training
        rows, for association after the main effects (0: no screen); the terms
        that pass a Bonferroni threshold become columns of the trees
        (:mod:`genorisk.model.interactions`).
    interaction_terms : int, default 10
        Screened terms kept at most, strongest first.
    ship : "rule" | "boosted" | "linear", default "rule"
        Which model is published. "rule", decided before looking at the test
        folds: the boosted model only if its out-of-fold ROC AUC beats the strong
        baseline's with the paired-bootstrap CI of the difference above 0; else
        the strong baseline (the simpler model), as a booster with no trees on
        the linear margin, in the same artifact format and explained exactly.
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
    in_cohort_score: bool = True
    in_cohort_score_sizes: tuple[int, ...] = (50, 200, 1000)
    in_cohort_score_elastic_net: int = 200
    in_cohort_burden_score: bool = True
    trees_start: str = "baseline"
    interaction_screen: int = 50
    interaction_terms: int = 10
    selection_metric: str = "logloss"
    ship: str = "rule"
    n_bootstrap: int = 200
    ci_level: float = 0.95
    ece_bins: int = 10
    tree_method: str = "hist"
    max_bin: int = 256
    threads: int = 1
    seed: int = 42

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, source: str | None = None) -> ModelConfig:
        """Build from a ``model:`` mapping, checked against the config schema.

        The schema (section ``model``) is the one place for every key's type,
        bounds, default and the relations between keys (a search range's
        low <= high, ``min_dosage_features <= max_dosage_features``).

        Parameters
        ----------
        values : mapping or None
            Keys of the ``model:`` section, plus ``threads`` (set by the
            workflow profile or the command line, not a config key); missing
            keys take the schema's defaults. ``linear_offset`` may be a
            boolean (true -> "always", false -> "never").
        source : str, optional
            Config file name, put into error messages.

        Returns
        -------
        ModelConfig

        Raises
        ------
        ConfigError
            An unknown key or a bad value, naming the key (``model.<key>``).
        """
        values = dict(values or {})
        threads = values.pop("threads", 1)
        checked = validate_section("model", values, source=source or "config")
        if isinstance(checked.get("linear_offset"), bool):
            checked["linear_offset"] = "always" if checked["linear_offset"] else "never"
        for key in RANGE_KEYS:
            checked[key] = tuple(checked[key])
        checked["in_cohort_score_sizes"] = tuple(sorted(checked["in_cohort_score_sizes"]))
        return cls(threads=threads, **checked)

    @property
    def dosage_columns_per_fold(self) -> int:
        """Dosage columns the features keep per in-fold ranking: the trees', the in-cohort score's and the screen's."""
        # The in-cohort score's cross-fitting re-ranks its fold's top CANDIDATE_FACTOR x the largest size.
        from genorisk.model.in_cohort import CANDIDATE_FACTOR
        from genorisk.model.interactions import SCREEN_DEPTH

        widest = max(*self.in_cohort_score_sizes, self.in_cohort_score_elastic_net)
        score = CANDIDATE_FACTOR * widest if self.in_cohort_score else 0
        # The interaction screen reads the top SCREEN_DEPTH x interaction_screen (its partners).
        return max(self.max_dosage_features, score, SCREEN_DEPTH * self.interaction_screen)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field (ranges as lists); ``from_dict`` inverts it."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


#: The trait of a run whose config has ``traits: null``.
DEFAULT_TRAIT: dict[str, Any] = {
    "id": "status",
    "name": "the condition",
    "column": "status",
    "prevalence": None,
    "population": None,
    "time_frame": None,
}


def trait_settings(traits: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The config's ``traits``, each with every key (schema defaults filled).

    Parameters
    ----------
    traits : list of mapping or None
        ``config["traits"]``; None is one trait, :data:`DEFAULT_TRAIT`
        (column ``status``, named "the condition", no prevalence: risk stays
        at the cohort's case fraction).

    Returns
    -------
    list of dict
        ``id``, ``name``, ``column``, ``prevalence``, ``population``,
        ``time_frame`` per trait, in config order.
    """
    if not traits:
        return [dict(DEFAULT_TRAIT)]
    return [{**DEFAULT_TRAIT, **dict(t)} for t in traits]
