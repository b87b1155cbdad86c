"""Scoring: calibrated risk, its interval, the cohort percentile and the drivers of each patient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from genorisk.model.explain import (
    FeatureGroups,
    add_linear_contributions,
    drivers_from_contributions,
    tree_contributions,
)
from genorisk.model.in_cohort import IN_COHORT_GROUP
from genorisk.model.inputs import check_frame_matches_schema
from genorisk.model.interactions import interaction_matrix
from genorisk.model.train import TrainedModel


def cohort_percentile(quantiles: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Percentile (0-100) of each risk in the cohort, from its quantile sketch.

    Parameters
    ----------
    quantiles : ndarray, shape (m + 1,)
        Non-decreasing cohort risk quantiles at ``0, 1/m, ..., 1``
        (``cohort_risks.json``).
    risk : float or ndarray
        Calibrated risks.

    Returns
    -------
    ndarray, float64
        Linear between neighbouring quantiles; a risk equal to a run of equal
        quantiles (an isotonic plateau) gets the middle of the run, so a tie
        is not reported as the top or bottom of its group. Clipped to
        [0, 100].
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
        ``drivers`` (see :func:`genorisk.model.explain.drivers_from_contributions`);
        ``coverage`` (from the argument, or None).
    """
    check_frame_matches_schema(X_patients, model.schema, path=path, frame_schema=schema)
    used = model.feature_names
    labels = {f["name"]: f["label"] for f in model.schema["features"]}
    groups = FeatureGroups.from_schema(model.schema, used, {t.name: t.label(labels) for t in model.interactions})
    # The screened interaction terms are the booster's last columns, computed from the patient's features.
    base = used[: len(used) - len(model.interactions)]
    data = X_patients[base].to_numpy(dtype=np.float32)
    everything = X_patients.to_numpy(dtype=np.float32)
    if model.interactions:
        column_of = {name: j for j, name in enumerate(X_patients.columns)}
        data = np.column_stack([data, interaction_matrix(model.interactions, everything, column_of)])
    n_missing = np.isnan(everything).sum(axis=1)
    if model.offset is not None:
        offset_x = X_patients[model.offset.features].to_numpy(dtype=np.float64)
        # The in-cohort score's dosage terms are one driver ("in-cohort polygenic score"), not
        # hundreds of tiny per-variant ones, and need not be columns of the trees; the other
        # linear terms (scores, covariates, PCs: always tree columns) join their features' drivers.
        kind_of = {f["name"]: f["kind"] for f in model.schema["features"]}
        in_score = np.array([kind_of[f] == "dosage" for f in model.offset.features], dtype=bool)
        offset_cols = [used.index(f) for f, d in zip(model.offset.features, in_score, strict=True) if not d]
        if in_score.any():
            groups = groups.with_extra_group(
                IN_COHORT_GROUP, f"polygenic score fitted on the training cohort ({int(in_score.sum()):,} variants)"
            )
    sample_ids = [str(s) for s in X_patients.index]
    results: list[dict[str, Any]] = []
    for start in range(0, len(data), batch_size):
        chunk = data[start : start + batch_size]
        linear = base_margin = None
        if model.offset is not None:
            # The trees start from the linear margin; it must be passed, or
            # XGBoost would start from its base_score instead.
            linear = model.offset.contributions(offset_x[start : start + batch_size])
            base_margin = model.offset.intercept + linear.sum(axis=1)
        dmat = xgb.DMatrix(chunk, feature_names=used, base_margin=base_margin, nthread=model.config.threads)
        margin, contribs = tree_contributions(model.booster, dmat)
        in_cohort = None
        if linear is not None:
            contribs = add_linear_contributions(contribs, offset_cols, linear[:, ~in_score])
            if in_score.any():
                in_cohort = linear[:, in_score].sum(axis=1)
                contribs[:, -1] -= in_cohort
        risk = model.calibrator.predict(margin)
        low, high = model.calibrator.interval(margin)
        pct = cohort_percentile(model.cohort_quantiles, risk)
        grouped = groups.group(contribs[:, :-1], extra=in_cohort)
        for i in range(len(chunk)):
            sid = sample_ids[start + i]
            results.append(
                {
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
                }
            )
    return results
