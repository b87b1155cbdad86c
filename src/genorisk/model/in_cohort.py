"""The in-cohort polygenic score and the strong linear baseline, fitted inside the folds.

Issue #16: when a cohort has no external scoring file for its disease, "PGS +
covariates + PCs" is covariates and PCs alone, a straw man. The field's answer
is a penalised linear score fitted on the cohort itself (and boosting on top of
it: Elgart et al. 2022, Communications Biology). Here:

1. :func:`fit_stacked_score`: the variants' score. Ridge scores over the top
   50, 200 and 1,000 dosage columns of the in-fold ranking
   (:func:`genorisk.model.select.dosage_ranking`; sizes
   ``model.in_cohort_score_sizes``), each penalty at the maximum likelihood of
   the linear mixed model (GBLUP over those columns,
   :func:`likelihood_ridges`), and an elastic net over the top 200
   (``model.in_cohort_score_elastic_net``; sparse architectures), stacked by a
   non-negative logistic regression on their honest cross-fitted scores (each
   part re-ranks without its rows). Until
   0.7.0 one size and penalty were chosen by the correlation with the outcome
   on an inner split whose rows the ranking had seen: at a few hundred cases
   that choice was noise (k from 50 to 200 and lambda over a 300-fold range
   between folds of one cohort) and favoured small sizes
   (``bench/results/in_cohort_score_trial_*.md``).
2. :func:`fit_ridge_score` and :func:`cross_fitted_scores`: a ridge score
   with size and penalty chosen on the inner split, and the score of each
   training row from a ridge fitted without it (J parts), so the models
   stacked on a score see it as they will see a new person's, not as an
   overfitted in-sample value (the gene-burden score's).
3. :func:`burden_ranking`: the ranking of the gene-burden columns (rare coding
   alleles per gene) for a score of kind 2, with its own size and penalty. One shared
   penalty shrinks three causal genes as hard as a thousand variants, and the
   40-odd burden columns entered straight into the logistic regression add as
   much noise as signal; on the demo's architecture at 4,000 people (200
   causal variants in LD plus a 0.05 burden in 3 genes) the separate burden
   score moved the OOF AUC from 0.881 to 0.902 of the ceiling
   (``bench/results/burden_score.md``).
4. :func:`fit_strong_baseline`: a logistic regression on the in-cohort scores
   plus the external scores, covariates and PCs (the baseline features),
   expressed as one :class:`~genorisk.model.baseline.LinearOffset` over the
   dosage and baseline columns: exact per-feature contributions, plain numbers
   in ``linear_offset.json``, and the trees' starting margin.

Every function takes the rows it may use; nothing here sees a test row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression, enet_path

from genorisk.model.baseline import LinearOffset
from genorisk.model.calibration import sigmoid
from genorisk.model.select import trend_test_statistic

#: The driver group of the in-cohort score's terms in patients' explanations.
IN_COHORT_GROUP = "in-cohort polygenic score"
#: Dosage columns the score may use (nested top-k sets of the in-fold ranking).
SCORE_SIZES = (50, 200, 1000)
#: Gene-burden columns the burden score may use (nested top-k of the in-fold ranking).
#: 0: no burden score unless one correlates positively with the outcome on the inner split.
BURDEN_SCORE_SIZES = (0, 1, 3, 10, 30, 100)
#: Ridge penalties, relative to the number of training rows (lambda = factor x n).
PENALTY_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: Parts of the cross-fitting of training-row scores.
CROSS_FIT_PARTS = 5


@dataclass
class RidgeScore:
    """A ridge score over dosage columns: ``sum_i w_i (d_i - mean_i) / scale_i`` (NaN -> mean).

    Attributes
    ----------
    columns : ndarray of int
        Columns of the feature matrix, best ranked first.
    mean, scale : ndarray
        Standardisation of those columns on the rows the score was fitted on.
    weights : ndarray
        Ridge coefficients of the standardised columns.
    penalty : float
        The ridge lambda.
    """

    columns: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    penalty: float

    def standardised(self, data: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        block = data[:, self.columns] if rows is None else data[np.ix_(rows, self.columns)]
        z = np.asarray(block, dtype=np.float64)
        z = np.where(np.isnan(z), self.mean, z)
        return (z - self.mean) / self.scale

    def score(self, data: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        if len(self.columns) == 0:
            return np.zeros(data.shape[0] if rows is None else len(rows))
        return self.standardised(data, rows) @ self.weights


def _standardisation(data: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    block = np.asarray(data[np.ix_(rows, columns)], dtype=np.float64)
    mean = np.nanmean(np.where(np.isnan(block).all(axis=0), 0.0, block), axis=0)
    block = np.where(np.isnan(block), mean, block)
    scale = block.std(axis=0)
    return mean, np.where(scale > 1e-12, scale, 1.0)


def _standardised_block(
    data: np.ndarray, rows: np.ndarray, columns: np.ndarray, dtype: type = np.float64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns of ``rows`` standardised on those rows (NaN -> mean), in ``dtype``; mean; scale."""
    mean, scale = _standardisation(data, rows, columns)
    block = data[np.ix_(rows, columns)]
    return ((np.where(np.isnan(block), mean, block) - mean) / scale).astype(dtype, copy=False), mean, scale


def _ridge_weights(gram: np.ndarray, zty: np.ndarray, penalties: Sequence[float]) -> np.ndarray:
    """Ridge solutions ``(G + lambda I)^-1 Z'y`` for every lambda, shape (k, n_penalties)."""
    eigval, eigvec = np.linalg.eigh(gram)
    eigval = np.clip(eigval, 0.0, None)
    projected = eigvec.T @ zty
    return eigvec @ (projected[:, None] / (eigval[:, None] + np.asarray(penalties)[None, :]))


def _correlation(score: np.ndarray, y: np.ndarray) -> float:
    s, t = score - score.mean(), y - y.mean()
    denom = float(np.sqrt((s @ s) * (t @ t)))
    return float(s @ t) / denom if denom > 0 else 0.0


def fit_ridge_score(
    data: np.ndarray,
    y: np.ndarray,
    ranking: np.ndarray,
    fit_rows: np.ndarray,
    val_rows: np.ndarray,
    *,
    sizes: Sequence[int] = SCORE_SIZES,
    penalty_factors: Sequence[float] = PENALTY_FACTORS,
) -> tuple[int, float, float]:
    """Choose the score's size k and penalty on an inner split.

    Parameters
    ----------
    data : ndarray, shape (n, p)
        Feature matrix; NaN = missing.
    y : ndarray of 0/1, shape (n,)
    ranking : ndarray of int
        Dosage columns, best first, ranked on training rows only.
    fit_rows, val_rows : ndarray of int
        The inner split of the training rows.
    sizes, penalty_factors : sequence
        Candidate k (capped at the ranking's length) and lambda / n_fit. A
        size 0 is the empty score (correlation 0): with it, a score is only
        used if it correlates positively with the outcome on the validation rows.

    Returns
    -------
    k, penalty_factor, correlation : int, float, float
        The chosen size and penalty factor and the validation correlation of
        score and outcome they gave (k 0: no dosage column).
    """
    k_max = min(max(sizes), len(ranking))
    if k_max == 0:
        return 0, float(penalty_factors[0]), 0.0
    # The empty score, if allowed, must be beaten by a positive validation correlation.
    best = (0, float(penalty_factors[0]), 0.0 if 0 in sizes else -np.inf)
    columns = ranking[:k_max]
    mean, scale = _standardisation(data, fit_rows, columns)
    z_fit = (np.where(np.isnan(data[np.ix_(fit_rows, columns)]), mean, data[np.ix_(fit_rows, columns)]) - mean) / scale
    z_val = (np.where(np.isnan(data[np.ix_(val_rows, columns)]), mean, data[np.ix_(val_rows, columns)]) - mean) / scale
    y_fit = y[fit_rows] - y[fit_rows].mean()
    gram, zty = z_fit.T @ z_fit, z_fit.T @ y_fit
    penalties = [f * len(fit_rows) for f in penalty_factors]
    for k in sorted({min(s, k_max) for s in sizes if s > 0}):
        weights = _ridge_weights(gram[:k, :k], zty[:k], penalties)
        scores = z_val[:, :k] @ weights
        for j, factor in enumerate(penalty_factors):
            r = _correlation(scores[:, j], y[val_rows].astype(np.float64))
            if r > best[2] + 1e-12:
                best = (k, float(factor), r)
    return best


def _solve_ridge(gram: np.ndarray, zty: np.ndarray, penalty: float) -> np.ndarray:
    """``(G + lambda I)^-1 Z'y`` for one lambda (one solve, not an eigendecomposition)."""
    return np.linalg.solve(gram + penalty * np.eye(len(gram)), zty)


def ridge_score(
    data: np.ndarray, y: np.ndarray, columns: np.ndarray, rows: np.ndarray, penalty_factor: float
) -> RidgeScore:
    """Fit the ridge score on ``rows`` (standardisation from those rows too)."""
    if len(columns) == 0:
        return RidgeScore(columns, np.zeros(0), np.ones(0), np.zeros(0), 0.0)
    mean, scale = _standardisation(data, rows, columns)
    block = data[np.ix_(rows, columns)]
    z = (np.where(np.isnan(block), mean, block) - mean) / scale
    yc = y[rows] - y[rows].mean()
    penalty = penalty_factor * len(rows)
    weights = _solve_ridge(z.T @ z, z.T @ yc, penalty)
    return RidgeScore(np.asarray(columns), mean, scale, weights, penalty)


def cross_fitted_scores(
    data: np.ndarray,
    y: np.ndarray,
    columns: np.ndarray,
    rows: np.ndarray,
    penalty_factor: float,
    *,
    n_parts: int = CROSS_FIT_PARTS,
    seed: int = 0,
) -> np.ndarray:
    """The score of each of ``rows`` from a ridge fitted on the other parts of ``rows``.

    The columns are standardised once over ``rows`` (no outcome enters it), so
    each part's Gram matrix is the whole one minus the part's own: one
    ``k x k`` product and ``n_parts`` solves instead of ``n_parts`` products.

    Returns
    -------
    ndarray, shape (len(rows),)
    """
    out = np.zeros(len(rows))
    if len(columns) == 0:
        return out
    mean, scale = _standardisation(data, rows, columns)
    block = data[np.ix_(rows, columns)]
    z = (np.where(np.isnan(block), mean, block) - mean) / scale
    yr = y[rows].astype(np.float64)
    gram, zty, colsum = z.T @ z, z.T @ yr, z.sum(axis=0)
    part = np.random.default_rng(seed).permutation(len(rows)) % n_parts
    for j in range(n_parts):
        held = part == j
        zh, yh = z[held], yr[held]
        n_fit = int((~held).sum())
        # The fitting rows' Gram and Z'(y - mean y), both centred on the fitting rows.
        sum_z = colsum - zh.sum(axis=0)
        mean_y = (yr.sum() - yh.sum()) / n_fit
        g = gram - zh.T @ zh - np.outer(sum_z, sum_z) / n_fit
        b = zty - zh.T @ yh - sum_z * mean_y
        out[held] = (zh - sum_z / n_fit) @ _solve_ridge(g, b, penalty_factor * n_fit)
    return out


#: The l1 share of the stack's elastic-net member's penalty (half lasso: in LD the net spreads the
#: weight over correlated variants instead of picking one of them at random).
ELASTIC_NET_L1_RATIO = 0.5
#: Elastic-net penalties searched, relative to the smallest one that zeroes every weight. Below
#: 10^-1.5 the net nears the ridges, which the stack has already, and converges slowly in LD.
ELASTIC_NET_ALPHAS = np.logspace(0.0, -1.5, 12)
#: The parts of the stack's cross-fitting re-rank the training rows' top CANDIDATE_FACTOR x the
#: largest size: a part's top k is then its top k among every variant (its fold's rank beyond 2k is
#: rare), while re-ranking only the top k would leave the largest size's selection flattering it.
CANDIDATE_FACTOR = 2
#: Noise-to-genetic variance ratios the likelihood searches (log grid, 1e-2 to 1e3).
LIKELIHOOD_DELTAS = np.exp(np.linspace(np.log(1e-2), np.log(1e3), 61))


def _profile_delta(eigval: np.ndarray, proj2: np.ndarray, yty: float, n: int) -> float:
    """The maximum-likelihood ``delta = s_e / s_g`` on the grid :data:`LIKELIHOOD_DELTAS`.

    ``eigval`` are the non-zero eigenvalues of the kernel ``ZZ' / k`` (those of
    ``Z'Z / k``), ``proj2`` the squared projections of the centred outcome on
    their eigenvectors, ``yty`` its squared norm, n the rows (one degree of
    freedom went to the centring). The rest of ``y'y`` lies in the kernel's
    null space, where the variance is ``s_e`` alone.
    """
    rest, n_zero, dof = max(yty - float(proj2.sum()), 0.0), max(n - 1 - len(eigval), 0), n - 1
    loglik = [
        -0.5
        * (
            dof * np.log((np.sum(proj2 / (eigval + d)) + rest / d) / dof)
            + np.sum(np.log(eigval + d))
            + n_zero * np.log(d)
        )
        for d in LIKELIHOOD_DELTAS
    ]
    return float(LIKELIHOOD_DELTAS[int(np.argmax(loglik))])


def likelihood_ridges(
    data: np.ndarray,
    y: np.ndarray,
    ranking: np.ndarray,
    rows: np.ndarray,
    sizes: Sequence[int],
    *,
    deltas: Sequence[float] | None = None,
) -> list[RidgeScore]:
    """Ridge scores over the top k of ``ranking``, each k of ``sizes``, penalties from the likelihood.

    The model is the linear mixed model of GBLUP over those k columns:
    ``y - mean(y) = Z b + e``, ``b ~ N(0, s_g / k)``, ``e ~ N(0, s_e)``, Z the
    standardised dosages of ``rows``; the ridge penalty is ``k x delta`` at
    delta's maximum likelihood (:func:`_profile_delta`). No validation split: on
    #16's example cohort one of a few hundred cases chose lambda over a
    300-fold range between folds (``bench/results/in_cohort_score_trial_issue.md``).
    The sizes share one standardisation; a size up to the row count solves in
    the k x k Gram matrix (nested prefixes of one), a larger one in the n x n
    kernel (built up from the previous size's), so the cost is bounded by
    ``min(k, n)`` cubed.

    Parameters
    ----------
    data : ndarray, shape (n, p)
        NaN dosages are the rows' column means.
    y : ndarray of 0/1
    ranking : ndarray of int
        Columns, best first.
    rows : ndarray of int
        The rows the ridges are fitted on.
    sizes : sequence of int
        Increasing sizes, each at most ``len(ranking)``.
    deltas : sequence of float, optional
        Given deltas (one per size) instead of the likelihood's.

    Returns
    -------
    list of RidgeScore
        One per size; ``penalty`` is the lambda.
    """
    columns = np.asarray(ranking[: max(sizes)])
    z, mean, scale = _standardised_block(data, rows, columns)
    weights, penalties = _block_ridges(z, y[rows] - y[rows].mean(), sizes, deltas)
    return [
        RidgeScore(columns[:k], mean[:k], scale[:k], w, penalty)
        for k, w, penalty in zip(sizes, weights, penalties, strict=True)
    ]


def _block_ridges(
    z: np.ndarray, yc: np.ndarray, sizes: Sequence[int], deltas: Sequence[float] | None
) -> tuple[list[np.ndarray], list[float]]:
    """Ridge weights over the leading k columns of a centred block ``z`` for each k; their lambdas.

    ``yc`` is the centred outcome. A size up to the row count solves in the
    k x k Gram matrix (nested prefixes of one), a larger one in the n x n
    kernel (built up from the previous size's). Deltas from the likelihood
    (:func:`_profile_delta`) unless given.
    """
    n, yty = len(yc), float(yc @ yc)
    primal = [k for k in sizes if k <= n]
    # The products in the block's own precision (float32 halves their cost), solved in float64.
    gram = (z[:, : max(primal)].T @ z[:, : max(primal)]).astype(np.float64) if primal else np.zeros((0, 0))
    zty = (z[:, : max(sizes)].T @ yc.astype(z.dtype)).astype(np.float64)
    kernel, kernel_size = np.zeros((n, n)) if len(primal) < len(sizes) else np.zeros((0, 0)), 0
    weights, penalties = [], []
    for j, k in enumerate(sizes):
        if k <= n:
            g, b = gram[:k, :k], zty[:k]
            if deltas is None:
                eigval, eigvec = np.linalg.eigh(g / k)
                keep = eigval > 1e-10
                projected = eigvec.T @ b
                # (v'Z'y)^2 / (k eigval): the projections on the kernel's eigenvectors.
                delta = _profile_delta(eigval[keep], projected[keep] ** 2 / (k * eigval[keep]), yty, n)
                # (G + k delta I)^-1 Z'y from the same eigendecomposition (G = k V diag(eigval) V').
                weights.append(eigvec @ (projected / (k * (np.clip(eigval, 0.0, None) + delta))))
            else:
                delta = float(deltas[j])
                weights.append(_solve_ridge(g, b, k * delta))
        else:
            kernel += (z[:, kernel_size:k] @ z[:, kernel_size:k].T).astype(np.float64)
            kernel_size = k
            if deltas is None:
                eigval, eigvec = np.linalg.eigh(kernel / k)
                keep = eigval > 1e-10
                delta = _profile_delta(eigval[keep], (eigvec[:, keep].T @ yc) ** 2, yty, n)
            else:
                delta = float(deltas[j])
            weights.append((z[:, :k].T @ _solve_ridge(kernel, yc, k * delta).astype(z.dtype)).astype(np.float64))
        penalties.append(k * delta)
    return weights, penalties


@dataclass
class StackedScore:
    """The in-cohort score: likelihood ridges and an elastic net, stacked on honest cross-fitted scores.

    Attributes
    ----------
    score : RidgeScore
        The stack as one linear score over the widest member's columns (the
        deployed score; its weights are the members' weights times their
        stack coefficients).
    cross_fitted : ndarray, shape (len(rows),)
        The stack's score of each training row from ranking, members and all
        fitted without its part.
    info : dict
        Sizes, the ridges' lambda / n, the elastic net's size, penalty and
        non-zero weights, and the stack coefficients (for metrics).
    """

    score: RidgeScore
    cross_fitted: np.ndarray
    info: dict


def _elastic_net_path(z: np.ndarray, yc: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Elastic-net weights of the centred block ``z`` and outcome ``yc`` at each of ``alphas``, shape (k, len(alphas)).

    scikit-learn's coordinate descent on the Gram matrix (k small), warm-started
    along the decreasing ``alphas``.
    """
    z = np.asarray(z, dtype=np.float64)
    _, coefs, _ = enet_path(
        z,
        yc,
        l1_ratio=ELASTIC_NET_L1_RATIO,
        alphas=alphas,
        precompute=z.T @ z,
        Xy=z.T @ yc,
        check_input=False,
        max_iter=5000,
    )
    return np.asarray(coefs)


def _elastic_net_alphas(z: np.ndarray, yc: np.ndarray) -> np.ndarray:
    """:data:`ELASTIC_NET_ALPHAS` times the smallest penalty that zeroes every weight of ``z`` (centred)."""
    alpha_max = float(np.max(np.abs(z.T @ yc))) / (len(yc) * ELASTIC_NET_L1_RATIO)
    return max(alpha_max, 1e-12) * ELASTIC_NET_ALPHAS


def _nonnegative_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients >= 0 of a logistic regression of ``y`` on ``x`` (intercept free, penalty 0.5 |b|^2).

    The penalty is scikit-learn's ``C = 1``; L-BFGS-B with the coefficients bounded below by 0.
    """

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = theta[0] + x @ theta[1:]
        p = sigmoid(margin)
        value = float(np.sum(np.logaddexp(0.0, margin) - y * margin) + 0.5 * theta[1:] @ theta[1:])
        grad = np.concatenate([[np.sum(p - y)], x.T @ (p - y) + theta[1:]])
        return value, grad

    start = np.zeros(x.shape[1] + 1)
    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    return minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x[1:]


def fit_stacked_score(
    data: np.ndarray,
    y: np.ndarray,
    ranking: np.ndarray,
    rows: np.ndarray,
    *,
    sizes: Sequence[int],
    elastic_net: int,
    n_parts: int = CROSS_FIT_PARTS,
    seed: int = 0,
) -> StackedScore:
    """Likelihood ridges over the top-k variants and an elastic net, combined by a non-negative logistic regression.

    Regenie's level 1 in miniature: each size's ridge
    (:func:`likelihood_ridges`) and an elastic net over the top ``elastic_net``
    variants (l1 ratio :data:`ELASTIC_NET_L1_RATIO`) are cross-fitted in
    ``n_parts`` parts, each part re-ranking the candidates (the top
    ``CANDIDATE_FACTOR x`` the widest member of ``ranking``) without its rows,
    so a member's selection does not flatter its cross-fitted scores. The net's
    penalty (of :data:`ELASTIC_NET_ALPHAS`) is the one whose pooled cross-fitted
    scores correlate best with the outcome; a logistic regression of the
    outcome on the members' cross-fitted scores (standardised), its
    coefficients bounded below by 0, weighs them.
    Sparse architectures weigh the net and the top 50, many small effects in
    LD the largest ridge. Only the candidates are read, so a feature matrix
    holding each fold's top candidates (the genotype shards' selection,
    :attr:`~genorisk.model.config.ModelConfig.dosage_columns_per_fold`) gives
    the same score as one holding every variant. Nothing outside ``rows`` is
    seen.

    Parameters
    ----------
    data : ndarray, shape (n, p)
    y : ndarray of 0/1
    ranking : ndarray of int
        Dosage columns ranked on ``rows``, best first
        (:func:`genorisk.model.select.dosage_ranking`).
    rows : ndarray of int
        Training rows.
    sizes : sequence of int
        Sizes of the ridges, ``model.in_cohort_score_sizes`` (capped at the
        ranking's length; repeats dropped).
    elastic_net : int
        Size of the elastic net, ``model.in_cohort_score_elastic_net`` (capped
        likewise; 0: no net).
    n_parts, seed : int
        The cross-fitting's parts and their random assignment.

    Returns
    -------
    StackedScore
    """
    sizes = sorted({min(s, len(ranking)) for s in sizes if s > 0} - {0})
    net_k = min(elastic_net, len(ranking))
    if not sizes:
        empty = RidgeScore(ranking[:0], np.zeros(0), np.ones(0), np.zeros(0), 0.0)
        return StackedScore(empty, np.zeros(len(rows)), {"n_variants": 0, "sizes": []})
    width = max(sizes[-1], net_k)
    candidates = np.asarray(ranking[: CANDIDATE_FACTOR * width])
    z, mean, scale = _standardised_block(data, rows, candidates, np.float32)
    yr = np.asarray(y[rows], dtype=np.float64)
    weights, penalties = _block_ridges(z, yr - yr.mean(), sizes, None)
    members = [np.concatenate([w, np.zeros(width - len(w))]) for w in weights]
    alphas = _elastic_net_alphas(z[:, :net_k], yr - yr.mean()) if net_k else np.zeros(0)
    # The parts re-rank the same standardised block (standardised over all of ``rows``, no outcome
    # enters it), re-centred on their fitting rows, and reuse the training rows' deltas (one number
    # per size): an eigendecomposition and a copy of the data per part and size cost twice the trees.
    deltas = [penalty / k for penalty, k in zip(penalties, sizes, strict=True)]
    part = np.random.default_rng(seed).permutation(len(rows)) % n_parts
    crossed = np.zeros((len(rows), len(sizes)))
    net_crossed = np.zeros((len(rows), len(alphas)))
    col_sum, col_sumsq = z.sum(axis=0, dtype=np.float64), (z**2).sum(axis=0, dtype=np.float64)
    for q in range(n_parts):
        held = part == q
        fit_idx, z_held = np.flatnonzero(~held), z[held]
        n_fit = len(fit_idx)
        centre_fit = (col_sum - z_held.sum(axis=0, dtype=np.float64)) / n_fit
        y_fit = np.where(held, 0.0, yr - yr[~held].mean())
        # The part's ranking: the trend statistic n r^2 orders as |r| (mean-filled missing calls);
        # the sums of the fitting rows are the block's minus the held part's, without a copy.
        sumsq_fit = col_sumsq - (z_held**2).sum(axis=0, dtype=np.float64) - n_fit * centre_fit**2
        r_abs = np.abs(z.T @ y_fit.astype(np.float32)) / np.sqrt(np.maximum(sumsq_fit, 1e-12))
        order = np.argsort(-r_abs, kind="stable")[:width]
        z_fit = z[np.ix_(fit_idx, order)] - centre_fit[order].astype(np.float32)
        z_held = z_held[:, order] - centre_fit[order].astype(np.float32)
        part_weights, _ = _block_ridges(z_fit[:, : sizes[-1]], y_fit[fit_idx], sizes, deltas)
        for j, (k, w) in enumerate(zip(sizes, part_weights, strict=True)):
            crossed[held, j] = z_held[:, :k] @ w.astype(np.float32)
        if net_k:
            net_crossed[held] = z_held[:, :net_k] @ _elastic_net_path(z_fit[:, :net_k], y_fit[fit_idx], alphas)
    info: dict = {"n_variants": int(width), "sizes": [int(k) for k in sizes]}
    info["penalty_factors"] = [round(p / len(rows), 4) for p in penalties]
    if net_k:
        # The largest penalty zeroes every weight: an all-zero score is never the choice.
        net_fit = [
            _correlation(net_crossed[:, a], yr) if net_crossed[:, a].any() else -np.inf for a in range(len(alphas))
        ]
        best = int(np.argmax(net_fit))
        net = _elastic_net_path(z[:, :net_k], yr - yr.mean(), alphas[: best + 1])[:, -1]
        members.append(np.concatenate([net, np.zeros(width - net_k)]))
        crossed = np.column_stack([crossed, net_crossed[:, best]])
        info["elastic_net"] = {
            "n_variants": int(net_k),
            "alpha_factor": round(float(ELASTIC_NET_ALPHAS[best]), 4),
            "nonzero": int(np.count_nonzero(net)),
        }
    centre, spread = crossed.mean(axis=0), crossed.std(axis=0)
    spread = np.where(spread > 1e-12, spread, 1.0)
    # Non-negative weights (Breiman's stacked regressions): the nested ridges are collinear, and free
    # signs traded them against each other ([0.19, -0.14, 0.84]); on a dense architecture a fourth,
    # free member cost 0.024 in correlation with the truth, a non-negative one nothing.
    coef_std = _nonnegative_logistic((crossed - centre) / spread, yr)
    coefficients = coef_std / spread
    # One score over the widest member's columns: the members share the columns' standardisation.
    stacked = np.sum([c * w for c, w in zip(coefficients, members, strict=True)], axis=0)
    score = RidgeScore(candidates[:width], mean[:width], scale[:width], stacked, penalties[-1])
    info["stack_coefficients"] = [round(float(c), 4) for c in coef_std]
    return StackedScore(score, (crossed - centre) @ coefficients, info)


def burden_ranking(data: np.ndarray, y: np.ndarray, kinds: Sequence[str], *, rows: np.ndarray) -> np.ndarray:
    """Indices of the gene-burden columns, most associated with ``y`` on ``rows`` first.

    Parameters
    ----------
    data : ndarray, shape (n, p)
    y : ndarray of 0/1, shape (n,)
    kinds : sequence of str
        Feature kind of each column; only ``"burden"`` columns are ranked.
    rows : ndarray of int
        Training rows: the only rows the ranking may see.

    Returns
    -------
    ndarray of int
        Burden columns by decreasing trend statistic (``n r^2`` of allele count
        and outcome, :func:`genorisk.model.select.trend_test_statistic`), ties by
        column order.
    """
    columns = np.flatnonzero(np.asarray(kinds) == "burden")
    if len(columns) == 0:
        return columns
    stat = trend_test_statistic(data, np.asarray(y)[rows], rows=rows, columns=columns)
    return columns[np.argsort(-stat, kind="stable")]


def fit_strong_baseline(
    data: np.ndarray,
    y: np.ndarray,
    scores: Sequence[RidgeScore],
    train_scores: Sequence[np.ndarray],
    rows: np.ndarray,
    baseline_cols: np.ndarray,
    names: Sequence[str],
    *,
    seed: int,
) -> tuple[LinearOffset, list[float]]:
    """Logistic regression on the in-cohort scores and the baseline columns, as one linear model.

    Parameters
    ----------
    data : ndarray, shape (n, p)
    y : ndarray of 0/1
    scores : sequence of RidgeScore
        The in-cohort scores deployed for new rows (each fitted on all of
        ``rows``): the variants' and the gene burdens'. Their columns must not
        overlap each other or ``baseline_cols``; a score without columns is
        left out (coefficient 0).
    train_scores : sequence of ndarray, shape (len(rows),) each
        The scores of ``rows`` the regression is fitted on: cross-fitted
        (:func:`cross_fitted_scores`), so their coefficients are not inflated
        by the ridges' in-sample fit.
    rows : ndarray of int
        Training rows.
    baseline_cols : ndarray of int
        External-score, covariate and PC columns.
    names : sequence of str
        Column names of ``data``.
    seed : int

    Returns
    -------
    offset : LinearOffset
        Over the scores' columns and the baseline columns: the margin
        ``intercept + sum_s b_s (s - m_s) / sd_s + sum_j b_j z_j`` with each score
        ``s`` written out per column, so contributions are exact per feature
        (logistic regression, C = 1 on standardised inputs as the plain baseline).
    score_coefficients : list of float
        ``b_s / sd_s`` per score, the margin per unit of that score: a row's
        margin with another value of a score (a cross-fitted one) moves by this
        times the difference.
    """
    base = np.asarray(data[np.ix_(rows, baseline_cols)], dtype=np.float64)
    fill = np.nanmean(np.where(np.isnan(base).all(axis=0), 0.0, base), axis=0) if len(baseline_cols) else np.zeros(0)
    base = np.where(np.isnan(base), fill, base)
    b_mean, b_scale = base.mean(axis=0), base.std(axis=0)
    b_scale = np.where(b_scale > 1e-12, b_scale, 1.0)
    used = [j for j, score in enumerate(scores) if len(score.columns) > 0]
    s_mean = {j: float(train_scores[j].mean()) for j in used}
    s_sd = {j: float(train_scores[j].std()) or 1.0 for j in used}
    X = np.hstack([((train_scores[j] - s_mean[j]) / s_sd[j])[:, None] for j in used] + [(base - b_mean) / b_scale])
    lr = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(X, y[rows])
    coef = lr.coef_[0]
    intercept = float(lr.intercept_[0])
    features: list[str] = []
    fills, means, scales, coefs = [], [], [], []
    score_coefficients = [0.0] * len(scores)
    for position, j in enumerate(used):
        score = scores[j]
        b_s = float(coef[position]) / s_sd[j]
        score_coefficients[j] = b_s
        # score = sum_i w_i z_i, z_i = (d_i - mean_i) / scale_i: each column's coefficient is b_s w_i.
        features += [names[c] for c in score.columns]
        fills.append(score.mean)
        means.append(score.mean)
        scales.append(score.scale)
        coefs.append(b_s * score.weights)
        intercept -= b_s * s_mean[j]
    features += [names[c] for c in baseline_cols]
    fills.append(fill)
    means.append(b_mean)
    scales.append(b_scale)
    coefs.append(np.asarray(coef[len(used) :], dtype=np.float64))
    offset = LinearOffset(
        features,
        np.concatenate(fills),
        np.concatenate(means),
        np.concatenate(scales),
        np.concatenate(coefs),
        intercept,
    )
    return offset, score_coefficients
