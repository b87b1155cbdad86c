"""GT allele indexes -> per-ALT dosages, allele count and allele number (see :mod:`genorisk.genotypes`)."""

from __future__ import annotations

import numpy as np

# cyvcf2 genotype.array() codes: -1 = missing allele, -2 = vector end (padding
# of a haploid call in a diploid record).
MISSING = -1
VECTOR_END = -2


def gt_allele_dosages(alleles: np.ndarray, n_alt: int, *, male_x: np.ndarray | None = None) -> np.ndarray:
    """Per-ALT dosages from an allele-index array.

    Parameters
    ----------
    alleles : numpy.ndarray, int, shape (n_samples, ploidy)
        Allele indexes as in cyvcf2's ``variant.genotype.array()[:, :-1]``:
        0 = REF, k = k-th ALT, -1 = missing allele, -2 = vector end (padding
        of a haploid call in a diploid record).
    n_alt : int
        Number of ALT alleles of the record.
    male_x : numpy.ndarray of bool, shape (n_samples,), optional
        Samples whose haploid calls count 0/2 (males on chrX).

    Returns
    -------
    numpy.ndarray, float32, shape (n_alt, n_samples)
        Copies of each ALT allele per sample; NaN where any allele of the call
        is missing (``./.``, ``.``, ``./1``).
    """
    return gt_rows(alleles, n_alt, male_x=male_x)[0]


def gt_rows(
    alleles: np.ndarray, n_alt: int, *, male_x: np.ndarray | None = None, counted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gt_allele_dosages` plus per-ALT allele count and allele number.

    AC and AN are summed over the called samples selected by ``counted``
    (bool, per sample; None = all), each call counting its ploidy (the
    number of alleles present), before the male chrX dosage scaling.
    """
    present = alleles != VECTOR_END
    ploidy = present.sum(axis=1)
    missing = ((alleles == MISSING) & present).any(axis=1) | (ploidy == 0)
    out = np.empty((n_alt, alleles.shape[0]), dtype=np.float32)
    if n_alt == 1:
        out[0] = (alleles == 1).sum(axis=1)
    else:
        ks = np.arange(1, n_alt + 1, dtype=alleles.dtype)
        out[:] = (alleles[None, :, :] == ks[:, None, None]).sum(axis=2)
    use = ~missing if counted is None else ~missing & counted
    ac = out[:, use].sum(axis=1, dtype=np.float64)
    an = np.full(n_alt, int(ploidy[use].sum()), dtype=np.int64)
    if male_x is not None:
        out[:, (ploidy == 1) & male_x] *= 2
    out[:, missing] = np.nan
    return out, ac, an
