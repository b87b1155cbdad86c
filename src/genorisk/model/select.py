"""In-fold dosage filter: rank dosage columns by their association with the phenotype.

Called on training rows only (see :mod:`genorisk.model.train`): ranking on
all rows before cross-validation is the classic leak that makes noise look
predictive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
        cols = columns[lo : lo + block]
        d = (dosages[:, cols] if rows is None else dosages[np.ix_(rows, cols)]).astype(np.float64)
        missing = np.isnan(d)
        if missing.any():
            col_mean = np.nanmean(np.where(missing.all(axis=0), 0.0, d), axis=0)
            d = np.where(missing, col_mean, d)
        d -= d.mean(axis=0)
        cov = yc @ d
        var_d = np.einsum("ij,ij->j", d, d)
        with np.errstate(invalid="ignore", divide="ignore"):
            stat[lo : lo + block] = np.where(var_d > 1e-12 * n, n * cov * cov / (var_d * var_y), 0.0)
    return stat


def dosage_ranking(X: np.ndarray, y: np.ndarray, kinds: Sequence[str], *, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices of the dosage columns, most associated first.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        Feature matrix (all kinds).
    y : ndarray, shape (n_samples,)
        0/1 outcomes.
    kinds : sequence of str
        Feature kind of each column; only ``"dosage"`` columns are ranked.
    rows : ndarray of int, optional
        Training rows to use (``y`` is indexed by them too). Only training
        rows may be used: pass them here or pass a matrix of training rows.

    Returns
    -------
    ndarray of int
        Dosage column indices by decreasing trend statistic
        (:func:`trend_test_statistic`), ties by column order.
    """
    dosage_cols = np.flatnonzero(np.asarray(kinds) == "dosage")
    if len(dosage_cols) == 0:
        return dosage_cols
    stat = trend_test_statistic(X, y if rows is None else np.asarray(y)[rows], rows=rows, columns=dosage_cols)
    return dosage_cols[np.argsort(-stat, kind="stable")]


def top_k_columns(ranking: np.ndarray, kinds: Sequence[str], k: int) -> np.ndarray:
    """Columns a candidate keeps: every non-dosage column plus the top ``k`` dosages.

    Parameters
    ----------
    ranking : ndarray of int
        Dosage columns, best first (:func:`dosage_ranking`).
    kinds : sequence of str
        Feature kind of each column.
    k : int
        Dosage columns kept.

    Returns
    -------
    ndarray of int
        Sorted column indices (schema order).
    """
    other_cols = np.flatnonzero(np.asarray(kinds) != "dosage")
    return np.sort(np.concatenate([other_cols, ranking[:k]]))


def select_dosage_features(X: np.ndarray, y: np.ndarray, kinds: Sequence[str], max_dosage_features: int) -> np.ndarray:
    """Column indices to keep: all non-dosage columns plus the top dosages by trend statistic.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        Training rows only.
    y : ndarray, shape (n_samples,)
        0/1 outcomes of those rows.
    kinds : sequence of str
        Feature kind of each column.
    max_dosage_features : int
        Dosage columns kept at most.

    Returns
    -------
    ndarray of int
        Sorted column indices (schema order); ties broken by column order.
    """
    return top_k_columns(dosage_ranking(X, y, kinds), kinds, max_dosage_features)
