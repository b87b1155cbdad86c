"""The ancestry PCA fit and the held-out measurement of the outlier limit (used by :mod:`genorisk.ancestry`).

:func:`pca_parameters` fits scikit-allel's Patterson-scaled PCA and returns
the plain numbers :class:`genorisk.ancestry.AncestryModel` stores;
:func:`heldout_distances` refits it K times without each fold, so the
ancestry limit is set on people the PCA did not see (module notes of
:mod:`genorisk.ancestry`).
"""

from __future__ import annotations

import allel
import numpy as np

#: Above this many people x variants an exact SVD costs minutes and GBs; randomized SVD is used.
EXACT_SVD_MAX_CELLS = 5_000_000


def pca_parameters(fitting: np.ndarray, n_components: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Patterson-scaled PCA of people x variants ``fitting`` (NaN = missing, imputed with the mean).

    Returns
    -------
    (mean, loadings, explained_variance_ratio, method)
        ``mean`` float32 (n_variants,); ``loadings`` float32 (n_components,
        n_variants), each PC's largest-|loading| entry positive so refits
        agree; the explained variance ratios; ``"allel.pca"`` or
        ``"allel.randomized_pca"`` (above :data:`EXACT_SVD_MAX_CELLS`).
    """
    mean = np.nanmean(fitting, axis=0).astype(np.float32)
    filled = np.where(np.isnan(fitting), mean.astype(np.float64), fitting)
    gn = filled.T  # scikit-allel: variants x samples
    if gn.size <= EXACT_SVD_MAX_CELLS:
        _, pca = allel.pca(gn, n_components=n_components, scaler="patterson")
        method = "allel.pca"
    else:
        _, pca = allel.randomized_pca(gn, n_components=n_components, scaler="patterson", random_state=seed)
        method = "allel.randomized_pca"
    loadings = np.asarray(pca.components_, dtype=np.float32)
    # SVD signs are arbitrary: make the largest-|loading| entry of each PC positive, so refits agree.
    flip = np.sign(loadings[np.arange(len(loadings)), np.abs(loadings).argmax(axis=1)])
    loadings *= flip[:, None].astype(np.float32)
    return mean, loadings, np.asarray(pca.explained_variance_ratio_, dtype=np.float64), method


def heldout_distances(
    dosages: np.ndarray,
    *,
    n_components: int,
    distance_pcs: int,
    reference_dosages: np.ndarray | None = None,
    n_folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Each cohort person's ancestry distance from a PCA fitted without them (K-fold).

    For each fold the PCA is refitted on the other cohort people (plus the
    reference panel), the fold is projected onto it, and its Mahalanobis
    distance is taken from the other people's scores. A new person from the
    cohort's own population is projected, not fitted, so its distance shrinks
    towards the centre as a held-out person's does (Lee et al. 2010): the
    quantiles of these distances, not of the in-sample ones, give a limit
    that flags the intended share of such people.

    Parameters
    ----------
    dosages : numpy.ndarray, shape (n_cohort, n_variants)
        Cohort ALT dosages of the model variants (NaN = missing).
    n_components, distance_pcs : int
        As the model's.
    reference_dosages : numpy.ndarray, optional
        Reference panel people, in every fold's fit.
    n_folds : int
        Folds (people assigned at random with ``seed``).

    Returns
    -------
    numpy.ndarray, float64, shape (n_cohort,)
    """
    n = len(dosages)
    fold = np.random.default_rng(seed + 1).permutation(n) % n_folds
    out = np.empty(n)
    for f in range(n_folds):
        train, test = fold != f, fold == f
        fitting = dosages[train]
        if reference_dosages is not None:
            fitting = np.concatenate([fitting, reference_dosages])
        mean, loadings, _, _ = pca_parameters(fitting, n_components, seed)
        p = mean.astype(np.float64) / 2
        scale = np.sqrt(p * (1 - p))
        scale[scale == 0] = np.inf  # monomorphic in this fold's fit: contributes nothing

        def scores(d: np.ndarray, mean=mean, scale=scale, loadings=loadings) -> np.ndarray:
            x = (d - mean.astype(np.float64)) / scale
            x[np.isnan(x)] = 0.0
            return (x @ loadings.astype(np.float64).T)[:, :distance_pcs]

        inside = scores(dosages[train])
        centre = inside.mean(axis=0)
        cov = np.atleast_2d(np.cov(inside, rowvar=False))
        z = scores(dosages[test]) - centre
        out[test] = np.sqrt(np.einsum("ij,ij->i", z, np.linalg.solve(cov, z.T).T))
    return out


#: Upper quantiles of the held-out distances stored with the model, so the limit can be re-derived for another rate.
HELDOUT_PROBABILITIES = (0.9, 0.95, 0.975, 0.98, 0.99, 0.995, 0.998, 0.999)
