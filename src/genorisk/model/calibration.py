"""Calibration: a monotone map from the model's margin (log-odds) to a probability.

Fitted on out-of-fold margins (isotonic or Platt), with a bootstrap band that
is each patient's risk interval. Stored as plain numbers
(``calibrator.json``), never as a fitted object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from genorisk.errors import InputError

#: Grid points at which the calibrator's bootstrap band is stored.
N_BAND_POINTS = 101


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, float64."""
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
    def fit(cls, margin: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
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
        return sigmoid(self.a * margin + self.b)

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
        d = {
            "method": self.method,
            "input": "xgboost margin (log-odds)",
            "ci_level": self.ci_level,
            "band": {"margin": self.band_margin, "low": self.band_low, "high": self.band_high},
        }
        if self.method == "isotonic":
            d["isotonic"] = {"x_thresholds": self.x, "y_thresholds": self.y}
        else:
            d["platt"] = {"a": self.a, "b": self.b, "formula": "p = 1 / (1 + exp(-(a * margin + b)))"}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, path: str | None = None) -> Calibrator:
        try:
            band = d["band"]
            common: dict[str, Any] = {
                "ci_level": float(d["ci_level"]),
                "band_margin": list(band["margin"]),
                "band_low": list(band["low"]),
                "band_high": list(band["high"]),
            }
            if d["method"] == "isotonic":
                return cls(
                    "isotonic", x=list(d["isotonic"]["x_thresholds"]), y=list(d["isotonic"]["y_thresholds"]), **common
                )
            if d["method"] == "platt":
                return cls("platt", a=float(d["platt"]["a"]), b=float(d["platt"]["b"]), **common)
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(path, f"malformed calibrator: {err!r}") from err
        raise InputError(path, f"unknown calibration method {d.get('method')!r}")


def prior_shift(p: np.ndarray, from_prevalence: float, to_prevalence: float) -> np.ndarray:
    """Re-anchor probabilities calibrated at one case fraction to another prevalence.

    The prior-shift (label-shift) correction of the odds: when only the class
    priors differ between the cohort a model was calibrated on and the
    population it is applied to, and P(genotype | case) and
    P(genotype | control) are the same in both,

        odds' = odds * [pi / (1 - pi)] / [p_c / (1 - p_c)]

    with ``p_c`` the cohort's case fraction and ``pi`` the population
    prevalence (Elkan 2001, "The foundations of cost-sensitive learning",
    IJCAI, Theorem 2; Saerens, Latinne & Decaestecker 2002, Neural Comput
    14:21). A case-enriched cohort (``p_c > pi``) overstates every risk; the
    correction lowers them, monotonically, so percentiles do not change.

    Parameters
    ----------
    p : float or ndarray
        Calibrated probabilities in [0, 1].
    from_prevalence : float
        The cohort's case fraction ``p_c`` (0 < p_c < 1).
    to_prevalence : float
        The population prevalence ``pi`` (0 < pi < 1).

    Returns
    -------
    ndarray, float64
        The re-anchored probabilities; 0 and 1 stay 0 and 1.
    """
    if not (0 < from_prevalence < 1 and 0 < to_prevalence < 1):
        raise ValueError(f"prevalences must lie strictly between 0 and 1 (got {from_prevalence}, {to_prevalence})")
    p = np.asarray(p, dtype=np.float64)
    factor = (to_prevalence / (1 - to_prevalence)) / (from_prevalence / (1 - from_prevalence))
    # p * f / (p * f + 1 - p): the odds times f, back to a probability, finite at p = 0 and 1.
    return p * factor / (p * factor + (1.0 - p))
