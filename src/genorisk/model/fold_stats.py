"""In-fold trend statistics from genotype shards, without the dense matrix.

Training ranks dosage variants inside each outer fold by the Cochran-Armitage
trend statistic over that fold's training rows
(:func:`genorisk.model.select.trend_test_statistic`). That statistic needs, per
variant and per fold, only five sums over the fold's non-missing training rows
O: ``n_O``, ``Sx``, ``Sxx``, ``Sy``, ``Sxy`` (x the dosage, y the 0/1
phenotype), plus the fold's ``n_T`` and ``Sy_T`` over all its training rows.
With the fold-indicator matrix ``W = [T, T*y]`` (n x 2F, ``T[i, f] = 1`` when
row i trains fold f) they are two matrix products per block of variants:
``X @ W`` gives ``Sx | Sxy`` and ``X**2 @ W[:, :F]`` gives ``Sxx``; missing
calls are rare, so ``n_O`` and ``Sy`` are the totals minus the missing cells'
rows of ``W``, taken sparsely.

Each genome shard (a chromosome, or a variant range of one) computes its
:class:`FoldStats` from its own dosage blocks; a shard's statistics are final
for its variants (every shard sees every sample), and the top k per fold of
the union of the per-shard top k is the global top k
(:func:`top_k_per_fold`). The test rows of fold f never enter fold f's sums:
``W[i, f] = 0`` for them, which is the no-leakage guarantee.

:func:`outer_folds` is the one place the outer folds are drawn, from the labels
and the seed, for training and for these statistics alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold


def outer_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Outer cross-validation fold of each sample, as training draws them.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        0/1 outcomes, in the training matrix's row order.
    n_folds : int
        Number of folds (training passes ``min(config.n_folds, n_cases,
        n_controls)``).
    seed : int
        ``ModelConfig.seed``.

    Returns
    -------
    ndarray, int16, shape (n_samples,)
        Fold index of each row (the fold whose *test* set holds it):
        ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)``, whose
        split depends only on ``y`` and the row count.
    """
    y = np.asarray(y)
    fold_of = np.full(len(y), -1, dtype=np.int16)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
        fold_of[test_idx] = k
    return fold_of


def fold_weights(y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """The fold-indicator matrix ``W = [T, T*y]``.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        0/1 outcomes.
    fold_of : ndarray of int, shape (n_samples,)
        Fold of each sample (:func:`outer_folds`); -1 = in no fold's training
        rows (e.g. a sample without a phenotype).

    Returns
    -------
    ndarray, float64, shape (n_samples, 2 * n_folds)
        Column f is 1 on the training rows of fold f (``fold_of != f``),
        column ``n_folds + f`` is that times ``y``.
    """
    fold_of = np.asarray(fold_of)
    n_folds = int(fold_of.max(initial=-1)) + 1
    train = (fold_of[:, None] != np.arange(n_folds)[None, :]) & (fold_of[:, None] >= 0)
    t = train.astype(np.float64)
    return np.hstack([t, t * np.asarray(y, dtype=np.float64)[:, None]])


@dataclass
class FoldStats:
    """Per-variant, per-fold sufficient statistics of the trend test.

    Attributes
    ----------
    variant_index : ndarray of int64, shape (m,)
        Global position of each variant in the genome-wide column order
        (shard order, then file order): ranking ties are broken by it.
    n_obs, sx, sxx, sy, sxy : ndarray of float64, shape (m, n_folds)
        Over the non-missing training rows of each fold: count, sum of
        dosages, of squared dosages, of y, of dosage times y.
    n_train, sy_train : ndarray of float64, shape (n_folds,)
        Count and sum of y over all training rows of each fold.
    """

    variant_index: np.ndarray
    n_obs: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray
    sy: np.ndarray
    sxy: np.ndarray
    n_train: np.ndarray
    sy_train: np.ndarray

    @property
    def n_folds(self) -> int:
        return len(self.n_train)


def block_fold_sums(dosages: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """The five sums of one block of variants.

    Parameters
    ----------
    dosages : ndarray, shape (b, n_samples)
        Variants in rows (as :class:`genorisk.genotypes.DosageChunk` and
        pgenlib give them); NaN or a negative value (pgenlib's -9) = missing.
        Not modified.
    weights : ndarray, float64, shape (n_samples, 2 * n_folds)
        :func:`fold_weights`.

    Returns
    -------
    n_obs, sx, sxx, sy, sxy : ndarray of float64, shape (b, n_folds)
    """
    x = np.array(dosages, dtype=np.float64)  # a copy: missing cells are zeroed below
    n_folds = weights.shape[1] // 2
    ri, ci = np.nonzero(~(x >= 0))  # NaN and -9 alike
    x[ri, ci] = 0.0
    a = x @ weights
    sxx = np.square(x) @ weights[:, :n_folds]
    total = np.broadcast_to(weights.sum(axis=0), (x.shape[0], 2 * n_folds)).copy()
    if len(ri):
        # Missing cells are rare: subtract their weight rows per variant instead of a third product.
        for k in range(2 * n_folds):
            total[:, k] -= np.bincount(ri, weights=weights[ci, k], minlength=x.shape[0])
    return total[:, :n_folds], a[:, :n_folds], sxx, total[:, n_folds:], a[:, n_folds:]


def shard_fold_stats(
    blocks: Iterable[np.ndarray], y: np.ndarray, fold_of: np.ndarray, *, first_index: int = 0
) -> FoldStats:
    """Fold statistics of one shard from its dosage blocks.

    Parameters
    ----------
    blocks : iterable of ndarray, each (b, n_samples)
        Consecutive dosage blocks of the shard (variants in rows, samples in
        the order of ``y``), e.g. ``chunk.dosages`` of
        :func:`genorisk.store.iter_store_chunks` or pgenlib
        ``read_dosages_range`` buffers. Memory stays one block plus
        ``m x n_folds`` sums.
    y : ndarray, shape (n_samples,)
        0/1 outcomes.
    fold_of : ndarray of int, shape (n_samples,)
        :func:`outer_folds`.
    first_index : int
        Global index of the shard's first variant.

    Returns
    -------
    FoldStats
    """
    weights = fold_weights(y, fold_of)
    parts: list[tuple[np.ndarray, ...]] = [block_fold_sums(b, weights) for b in blocks]
    n_folds = weights.shape[1] // 2
    if parts:
        n_obs, sx, sxx, sy, sxy = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    else:
        n_obs = sx = sxx = sy = sxy = np.zeros((0, n_folds))
    totals = weights.sum(axis=0)
    return FoldStats(
        variant_index=np.arange(first_index, first_index + len(n_obs), dtype=np.int64),
        n_obs=n_obs,
        sx=sx,
        sxx=sxx,
        sy=sy,
        sxy=sxy,
        n_train=totals[:n_folds],
        sy_train=totals[n_folds:],
    )


def concat_fold_stats(shards: Sequence[FoldStats]) -> FoldStats:
    """The statistics of several shards (same samples and folds) as one, in the given order."""
    if not shards:
        raise ValueError("no shards to concatenate")
    first = shards[0]
    for s in shards[1:]:
        if not (np.array_equal(s.n_train, first.n_train) and np.array_equal(s.sy_train, first.sy_train)):
            raise ValueError("shards were computed with different samples, labels or folds")
    return FoldStats(
        variant_index=np.concatenate([s.variant_index for s in shards]),
        **{name: np.concatenate([getattr(s, name) for s in shards]) for name in ("n_obs", "sx", "sxx", "sy", "sxy")},
        n_train=first.n_train,
        sy_train=first.sy_train,
    )


def fold_trend_statistics(stats: FoldStats) -> np.ndarray:
    """Trend statistic of each variant over each fold's training rows.

    Parameters
    ----------
    stats : FoldStats

    Returns
    -------
    ndarray, float64, shape (m, n_folds)
        Column f equals ``trend_test_statistic(X, y[train_f], rows=train_f)``
        on the dense matrix (missing dosages mean-imputed over the fold's
        training rows): ``n_T cov^2 / (var_d var_y)`` with ``cov = Sxy -
        mu Sy``, ``var_d = Sxx - Sx mu``, ``mu = Sx / n_O``, ``var_y = Sy_T -
        Sy_T^2 / n_T``; 0 where ``var_d <= 1e-12 n_T`` (monomorphic or
        all missing).
    """
    n_t, sy_t = stats.n_train[None, :], stats.sy_train[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = stats.sx / stats.n_obs
        cov = stats.sxy - mu * stats.sy
        var_d = stats.sxx - stats.sx * mu
        var_y = sy_t - sy_t * sy_t / n_t
        stat = np.where(var_d > 1e-12 * n_t, n_t * cov * cov / (var_d * var_y), 0.0)
    return np.where(np.isnan(stat), 0.0, stat)


def shard_top_k(statistics: np.ndarray, variant_index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best variants of one shard per fold, for :func:`top_k_per_fold`.

    Parameters
    ----------
    statistics : ndarray, shape (m, n_folds)
        :func:`fold_trend_statistics` of the shard.
    variant_index : ndarray of int, shape (m,)
        Global index of each row.
    k : int

    Returns
    -------
    index, statistic : ndarray, shape (min(k, m), n_folds)
        Per fold, best first; ties by global index.
    """
    variant_index = np.asarray(variant_index, dtype=np.int64)
    kk = min(k, len(variant_index))
    order = np.empty((kk, statistics.shape[1]), dtype=np.int64)
    for f in range(statistics.shape[1]):
        order[:, f] = np.lexsort((variant_index, -statistics[:, f]))[:kk]
    return variant_index[order], np.take_along_axis(statistics, order, axis=0)


def top_k_per_fold(stat_shards: Sequence[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    """Merge per-shard rankings into the genome-wide top k per fold.

    Parameters
    ----------
    stat_shards : sequence of (variant_index, statistics)
        Per shard: global indices, shape (m_s,), and statistics (m_s,
        n_folds); or a shard's own top k from :func:`shard_top_k`, where both
        are (k_s, n_folds).
    k : int
        Variants kept per fold.

    Returns
    -------
    ndarray of int64, shape (min(k, m), n_folds)
        Global indices per fold, best first: the first k of
        ``argsort(-stat, kind="stable")`` over all variants in global order,
        which is how :func:`genorisk.model.select.dosage_ranking` breaks ties.
    """
    if not stat_shards:
        raise ValueError("no shards to merge")
    n_folds = np.asarray(stat_shards[0][1]).shape[1]
    columns = []
    for f in range(n_folds):
        index_f, stat_f = [], []
        for index, stats in stat_shards:
            index = np.asarray(index, dtype=np.int64)
            index_f.append(index if index.ndim == 1 else index[:, f])
            stat_f.append(np.asarray(stats, dtype=np.float64)[:, f])
        idx, st = np.concatenate(index_f), np.concatenate(stat_f)
        columns.append(idx[np.lexsort((idx, -st))[:k]])
    return np.stack(columns, axis=1)
