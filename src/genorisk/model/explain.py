"""Per-patient explanations: TreeSHAP contributions grouped into plain-language drivers.

XGBoost's exact TreeSHAP (``Booster.predict(..., pred_contribs=True)``)
splits each patient's margin (log-odds) into one contribution per feature plus
a bias term, such that they sum to the margin. The schema's ``group`` joins
related features (all PCs as "ancestry (PCs)", a gene's variants as
"gene APP"), because a report reader cares about "what raised my risk", not
about 40 correlated columns. :func:`feature_importance` averages the drivers
over a cohort for the cohort report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

#: Largest allowed |sum(contributions) - margin|: float32 accumulation over
#: hundreds of trees drifts by ~1e-5 per unit of margin, far below this.
CONTRIBUTION_ATOL = 1e-3
CONTRIBUTION_RTOL = 1e-4


class ExplanationError(RuntimeError):
    """TreeSHAP contributions do not add up to the model's margin."""


def tree_contributions(
    booster: xgb.Booster,
    dmatrix: xgb.DMatrix,
    *,
    margin: np.ndarray | None = None,
    atol: float = CONTRIBUTION_ATOL,
    rtol: float = CONTRIBUTION_RTOL,
) -> tuple[np.ndarray, np.ndarray]:
    """Margins and TreeSHAP contributions for every row of ``dmatrix``, checked.

    Parameters
    ----------
    booster : xgboost.Booster
    dmatrix : xgboost.DMatrix
        All patients at once (one batched call is far faster than one per
        patient).
    margin : ndarray, shape (n,), optional
        Margins to check against; by default ``booster.predict(dmatrix,
        output_margin=True)``.
    atol, rtol : float
        Tolerance of ``|sum(contributions) - margin|``.

    Returns
    -------
    margin : ndarray, float64, shape (n,)
    contributions : ndarray, float64, shape (n, n_features + 1)
        Log-odds contribution of each feature; the last column is the bias
        (the expected margin over the training data).

    Raises
    ------
    ExplanationError
        When a row's contributions do not sum to its margin within tolerance;
        names the first such row.
    """
    if margin is None:
        margin = booster.predict(dmatrix, output_margin=True)
    margin = np.asarray(margin, dtype=np.float64)
    contribs = np.asarray(booster.predict(dmatrix, pred_contribs=True), dtype=np.float64)
    if contribs.ndim != 2 or contribs.shape[0] != margin.shape[0]:
        raise ExplanationError(f"contributions of shape {contribs.shape} for {margin.shape[0]} margins")
    total = contribs.sum(axis=1)
    bad = np.abs(total - margin) > atol + rtol * np.abs(margin)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ExplanationError(
            f"TreeSHAP contributions of row {i} sum to {total[i]:.6f}, margin is {margin[i]:.6f} "
            f"({int(bad.sum())} of {len(margin)} rows off by more than {atol} + {rtol} x |margin|)"
        )
    return margin, contribs


@dataclass(frozen=True)
class FeatureGroups:
    """Mapping of model features to the schema's driver groups.

    Attributes
    ----------
    names : list of str
        Group names in first-appearance order of the schema.
    labels : list of str
        Plain-language label of each group: the feature's own label when the
        group has one model feature, else the group name.
    index : ndarray, int, shape (n_features,)
        Group index of each model feature (column of the contributions).
    """

    names: list[str]
    labels: list[str]
    index: np.ndarray

    @classmethod
    def from_schema(
        cls, schema: Mapping[str, Any], feature_names: Sequence[str], derived: Mapping[str, str] | None = None
    ) -> FeatureGroups:
        """Groups of ``feature_names`` (the booster's columns) from the schema.

        ``derived`` maps columns that are not schema features (screened
        interaction terms) to their labels; each is a group of its own.
        """
        by_name = {f["name"]: f for f in schema["features"]}
        for name, label in (derived or {}).items():
            by_name[name] = {"name": name, "group": name, "label": label}
        missing = [n for n in feature_names if n not in by_name]
        if missing:
            raise KeyError(f"model features not in the schema: {missing[:10]}")
        names: list[str] = []
        members: dict[str, list[str]] = {}
        index = np.empty(len(feature_names), dtype=np.int64)
        for j, fname in enumerate(feature_names):
            group = by_name[fname]["group"]
            if group not in members:
                members[group] = []
                names.append(group)
            members[group].append(fname)
            index[j] = names.index(group)
        labels = [by_name[members[g][0]]["label"] if len(members[g]) == 1 else g for g in names]
        return cls(names=names, labels=labels, index=index)

    def with_extra_group(self, name: str, label: str) -> FeatureGroups:
        """These groups plus one with no model feature (its contributions come as ``extra``)."""
        return FeatureGroups(names=[*self.names, name], labels=[*self.labels, label], index=self.index)

    def group(self, contributions: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Sum feature contributions (n, n_features) into group contributions (n, n_groups).

        With groups added by :meth:`with_extra_group`, ``extra`` (n,) is the last
        group's contribution (0 when None).
        """
        contributions = np.asarray(contributions, dtype=np.float64)
        out = np.zeros((contributions.shape[0], len(self.names)))
        np.add.at(out.T, self.index, contributions.T)
        if extra is not None:
            out[:, -1] += np.asarray(extra, dtype=np.float64)
        return out


def drivers_from_contributions(
    group_contributions: np.ndarray, groups: FeatureGroups, *, top_n: int = 5, min_abs: float = 0.0
) -> list[dict[str, Any]]:
    """Top drivers of one patient, largest |contribution| first.

    Parameters
    ----------
    group_contributions : ndarray, shape (n_groups,)
        One patient's row of :meth:`FeatureGroups.group`.
    groups : FeatureGroups
    top_n : int
        Number of drivers returned at most.
    min_abs : float
        Drop groups whose |contribution| is at most this (0 drops exact zeros,
        e.g. features the trees never split on).

    Returns
    -------
    list of dict
        ``{"group", "label", "contribution" (log-odds, float), "direction":
        "raises risk" | "lowers risk"}``; ties in |contribution| keep schema
        order.
    """
    row = np.asarray(group_contributions, dtype=np.float64)
    order = np.argsort(-np.abs(row), kind="stable")
    drivers: list[dict[str, Any]] = []
    for g in order:
        if len(drivers) >= top_n or abs(row[g]) <= min_abs:
            break
        drivers.append(
            {
                "group": groups.names[g],
                "label": groups.labels[g],
                "contribution": float(row[g]),
                "direction": "raises risk" if row[g] > 0 else "lowers risk",
            }
        )
    return drivers


def add_linear_contributions(contributions: np.ndarray, columns: Sequence[int], linear: np.ndarray) -> np.ndarray:
    """Move a linear offset's share of the bias onto its features.

    When the trees boost from a linear margin ``b0 + sum_j c_j`` (XGBoost
    ``base_margin``), TreeSHAP puts that whole margin into the bias column.
    This adds each ``c_j`` (the exact SHAP value of a linear term with
    centred inputs) to its feature's column and subtracts it from the bias,
    so the row sums (the margins) are unchanged and the bias becomes
    ``b0`` plus the trees' expected value.

    Parameters
    ----------
    contributions : ndarray, shape (n, n_features + 1)
        From :func:`tree_contributions`; last column is the bias.
    columns : sequence of int
        Column of each linear feature in ``contributions``.
    linear : ndarray, shape (n, len(columns))
        Linear contributions ``coef_j * z_j``.

    Returns
    -------
    ndarray
        A new array; ``contributions`` is not modified.
    """
    out = np.array(contributions, dtype=np.float64, copy=True)
    linear = np.asarray(linear, dtype=np.float64)
    out[:, list(columns)] += linear
    out[:, -1] -= linear.sum(axis=1)
    return out


def feature_importance(
    drivers_per_person: Sequence[Sequence[Mapping[str, Any]]], labels: Mapping[str, str], *, top_n: int = 25
) -> list[dict[str, Any]]:
    """Mean |TreeSHAP contribution| (log-odds) per driver group over a cohort, largest first.

    Parameters
    ----------
    drivers_per_person : sequence of sequence of dict
        Each person's drivers (:func:`drivers_from_contributions`, with a
        ``top_n`` large enough to hold every group).
    labels : mapping
        Plain-language label of each group; a group without one is shown by
        its name.
    top_n : int
        Groups returned at most.

    Returns
    -------
    list of dict
        ``{"group", "label", "importance"}`` (importance rounded to 6
        decimals), by decreasing importance, ties by group name.
    """
    totals: dict[str, float] = {}
    for drivers in drivers_per_person:
        for d in drivers:
            totals[d["group"]] = totals.get(d["group"], 0.0) + abs(d["contribution"])
    n = max(len(drivers_per_person), 1)
    rows: list[dict[str, Any]] = [
        {"group": g, "label": labels.get(g, g), "importance": round(v / n, 6)} for g, v in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r["importance"], r["group"]))[:top_n]
