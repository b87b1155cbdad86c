"""Hardy-Weinberg exact test (Wigginton, Cutler & Abecasis 2005), vectorised over variants."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln


def hwe_exact_p(n_het, n_hom1, n_hom2) -> np.ndarray:
    """Hardy-Weinberg exact test p-values (Wigginton, Cutler & Abecasis 2005).

    Parameters
    ----------
    n_het, n_hom1, n_hom2 : array_like of int, same shape
        Counts of heterozygous and of the two homozygous genotypes.

    Returns
    -------
    numpy.ndarray, float64
        Two-sided p: the total probability of all het counts no more likely
        than the observed one, given the allele counts (ties within a relative
        1e-9 count as "no more likely", for float round-off). NaN where no
        genotypes were counted.

    Notes
    -----
    Each distinct (n genotypes, n minor alleles) pair gets its whole
    distribution once, in log space (``gammaln``), so p-values down to about
    1e-320 are exact rather than underflowing. scikit-allel has no exact
    test (its ``heterozygosity_expected`` supports only the F statistic).
    """
    het = np.asarray(n_het, dtype=np.int64)
    h1 = np.asarray(n_hom1, dtype=np.int64)
    h2 = np.asarray(n_hom2, dtype=np.int64)
    if not het.shape == h1.shape == h2.shape:
        raise ValueError("n_het, n_hom1 and n_hom2 must have the same shape")
    if (het < 0).any() or (h1 < 0).any() or (h2 < 0).any():
        raise ValueError("genotype counts must be >= 0")
    shape = het.shape
    het, h1, h2 = het.ravel(), h1.ravel(), h2.ravel()
    n = het + h1 + h2
    rare = het + 2 * np.minimum(h1, h2)
    out = np.full(n.shape, np.nan)
    ok = n > 0
    if not ok.any():
        return out.reshape(shape)
    keys = np.stack([n[ok], rare[ok]], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    idx_ok = np.flatnonzero(ok)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for u, (nn, rr) in enumerate(uniq):
        members = idx_ok[order[bounds[u] : bounds[u + 1]]]
        out[members] = _hwe_p_one_key(int(nn), int(rr), het[members])
    return out.reshape(shape)


def _hwe_p_one_key(n: int, rare: int, obs_het: np.ndarray) -> np.ndarray:
    """p-values for the observed het counts of variants sharing n and rare."""
    hets = np.arange(rare % 2, rare + 1, 2, dtype=np.int64)
    hom_rare = (rare - hets) // 2
    hom_common = n - hets - hom_rare
    logp = hets * math.log(2.0) - gammaln(hom_common + 1) - gammaln(hets + 1) - gammaln(hom_rare + 1)
    order = np.argsort(logp, kind="stable")
    sorted_logp = logp[order]
    cum = np.logaddexp.accumulate(sorted_logp)  # log of the sum of all values <= each one
    total = cum[-1]
    obs_logp = logp[(obs_het - rare % 2) // 2]
    at = np.searchsorted(sorted_logp, obs_logp + 1e-9, side="right") - 1
    return np.minimum(np.exp(cum[at] - total), 1.0)
