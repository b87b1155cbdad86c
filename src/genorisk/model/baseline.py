"""The linear baseline: logistic regression on the pgs, covariate and pc features.

It serves twice: as the comparison model of the evaluation
(:func:`fit_baseline`, "does boosting beat PRS plus covariates?") and as the
trees' starting margin (:class:`LinearOffset`, ``ModelConfig.linear_offset``).
Imputer and scaler are fitted inside, on training rows only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from genorisk.errors import InputError

#: Feature kinds the logistic-regression baseline uses (PRS plus covariates).
BASELINE_KINDS = ("pgs", "covariate", "pc")


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
    def fit(cls, X: np.ndarray, y: np.ndarray, features: Sequence[str], *, balanced: bool, seed: int) -> LinearOffset:
        """Fit on training rows (``X`` holds the ``features`` columns)."""
        model = make_pipeline(
            SimpleImputer(strategy="mean", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=1000, random_state=seed, class_weight="balanced" if balanced else None),
        ).fit(X, y)
        imputer, scaler, lr = model.steps[0][1], model.steps[1][1], model.steps[2][1]
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        return cls(
            list(features),
            imputer.statistics_.astype(np.float64),
            scaler.mean_.astype(np.float64),
            scale.astype(np.float64),
            lr.coef_[0].astype(np.float64),
            float(lr.intercept_[0]),
        )

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
        return {
            "model": "logistic regression on standardised features (missing -> training mean)",
            "features": self.features,
            "fill": self.fill.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, path: str | None = None) -> LinearOffset | None:
        if not d.get("features"):
            return None
        try:
            arrays = [np.asarray(d[k], dtype=np.float64) for k in ("fill", "mean", "scale", "coef")]
            if any(a.shape != (len(d["features"]),) for a in arrays):
                raise ValueError("array lengths differ from the feature count")
            fill, mean, scale, coef = arrays
            return cls(list(d["features"]), fill, mean, scale, coef, float(d["intercept"]))
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(path, f"malformed linear offset: {err}") from err


def fit_baseline(X_train: np.ndarray, y_train: np.ndarray, seed: int) -> Pipeline:
    """Fit the comparison model: mean imputation, standardisation, logistic regression (C=1).

    Parameters
    ----------
    X_train : ndarray, shape (n, n_baseline_features)
        Training rows of the baseline columns (NaN = missing).
    y_train : ndarray, shape (n,)
        0/1 outcomes.
    seed : int
        ``random_state`` of the solver.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; ``predict_proba(X)[:, 1]`` gives case probabilities.
    """
    # Imputer and scaler live inside the pipeline, so they are fitted on the
    # training fold only.
    model = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
    )
    return model.fit(X_train, y_train)
