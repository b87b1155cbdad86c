"""Scores from a genotype store: match on the variant tables, then read only the matched variants.

``plink2 --score`` reads only the score's variants from a ``.pgen``; so does
this path. Each chromosome's ``.pvar`` table (parsed once) is matched by
:class:`~genorisk.scores.compute._Matcher`, restricted first to the rows whose
position or ID a score names. Additive weights on diploid rows are then
summed as plink2 sums them: a variant the ``.pgen`` stores as a list of
non-reference calls (most variants of a real cohort) is read as that list
(pgenlib ``read_sparse_dosages32``) and only its listed samples are touched;
the others are read dense, as int8 hard calls unless the ``.pgen`` header
marks a dosage track (:func:`genorisk.store.reader.pgen_dosage_flags`). Rows
on chrX/Y/MT and dominant, recessive or dosage-weight rows are read as
genorisk dosages (:func:`genorisk.store.reader.read_store_rows`) and summed by
:func:`~genorisk.scores.compute._add_contributions`. Either way the sums are
those of the VCF path (float64, missing calls mean-imputed with the scored
samples' own frequencies).

plink2 itself is not used for the sums: it prints 6 significant digits
(``.sscore``), and the features need the float64 sums (1e-9).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, chromosome_class
from genorisk.genotypes import DosageChunk
from genorisk.scores.compute import _add_contributions, _Weights
from genorisk.scores.matching import _REF_EFFECT, _Matcher
from genorisk.store import GenotypeStore, StoreFileset
from genorisk.store.inputs import decode_pgenlib_error
from genorisk.store.reader import SampleView, open_pgen, pgen_dosage_flags, read_store_rows

log = logging.getLogger("genorisk.scores")


def _candidates(matcher: _Matcher, variants: pd.DataFrame) -> np.ndarray:
    """Rows of a variant table whose (chromosome, position) or ID some score row names."""
    pos = variants["pos"].to_numpy(dtype=np.int64)
    codes, uniq = pd.factorize(variants["chrom"])
    code_of = np.array([matcher.chrom_code.get(canonical_contig(str(c)), -1) for c in uniq], dtype=np.int64)
    code = code_of[codes] if len(uniq) else np.full(len(pos), -1, dtype=np.int64)
    ok = (code >= 0) & (pos >= 1) & (pos < (1 << 32))
    keys = np.where(ok, (code << 32) | np.where(ok, pos, 0), -1)
    known = matcher.sorted_keys
    at = np.minimum(np.searchsorted(known, keys), max(len(known) - 1, 0))
    hit = ok & (known[at] == keys) if len(known) else np.zeros(len(keys), dtype=bool)
    if matcher.by_id:
        hit |= variants["id"].isin(list(matcher.by_id)).to_numpy()
    return np.flatnonzero(hit)


def match_store(
    store: GenotypeStore, matcher: _Matcher, min_info: float | None, info_key: str | None
) -> Iterator[tuple[str, StoreFileset, np.ndarray, np.ndarray, np.ndarray]]:
    """Match every chromosome of a store.

    Yields
    ------
    chrom, fileset, rows, store_index, ranks
        Per chromosome: its parsed ``.pvar``, and the matched score rows with
        the store variant index and match type of each.
    """
    key = info_key or store.info_key
    for chrom, prefix in store.chroms.items():
        fileset = StoreFileset(prefix, key)
        variants = fileset.variants
        cand = _candidates(matcher, variants)
        if min_info is not None and len(cand):
            # A variant below the imputation-quality filter is not in the target.
            info = fileset.info[cand]
            cand = cand[np.isnan(info) | (info >= min_info)]
        rows, ts, ranks = matcher.match_chunk(variants.take(cand).reset_index(drop=True))
        yield chrom, fileset, rows, cand[ts], ranks


def score_store(
    store: GenotypeStore,
    matcher: _Matcher,
    weights: _Weights,
    samples: Sequence[str] | None,
    male: np.ndarray | None,
    missing: str,
    chunk_size: int,
    min_info: float | None,
    info_key: str | None,
) -> tuple[np.ndarray, list[str]]:
    """Match and score every sample of a store, reading only the matched variants; (sums, sample names).

    See :func:`score_store_pairs`, which sums the pairs :func:`match_store` yields.
    """

    def pairs() -> Iterator[tuple[str, StorePairs]]:
        for chrom, fileset, rows, store_index, ranks in match_store(store, matcher, min_info, info_key):
            yield chrom, StorePairs.from_fileset(fileset, rows, store_index, ranks)

    return score_store_pairs(store, pairs(), weights, samples, male, missing, chunk_size)


class StorePairs:
    """The matched (score row, store variant) pairs of one store fileset, with what summing needs of the variants.

    Parameters
    ----------
    prefix : str or PathLike
        The fileset (``.pgen``/``.pvar``).
    rows, store_index, ranks : numpy.ndarray
        Per pair: the score row (into the weights), the variant's row in the
        ``.pgen`` and the match type (index into :data:`~genorisk.scores.MATCH_TYPES`).
    sites : pandas.DataFrame
        Per pair, the store variant's ``chrom`` (as in the ``.pvar``),
        ``n_alt``, ``allele_index`` and ``ploidy_class``
        (:attr:`~genorisk.store.StoreFileset.ploidy_class`).
    n_variants : int, optional
        The fileset's variant count, checked against the ``.pgen`` when given.
    """

    def __init__(self, prefix, rows, store_index, ranks, sites: pd.DataFrame, n_variants: int | None = None):
        self.pgen, self.pvar = Path(f"{prefix}.pgen"), Path(f"{prefix}.pvar")
        self.rows = np.asarray(rows, dtype=np.int64)
        self.store_index = np.asarray(store_index, dtype=np.int64)
        self.ranks = np.asarray(ranks, dtype=np.int64)
        self.sites = sites.reset_index(drop=True)
        self.n_variants = n_variants

    @classmethod
    def from_fileset(cls, fileset: StoreFileset, rows, store_index, ranks) -> StorePairs:
        """The pairs of :func:`match_store` on a parsed fileset."""
        v = fileset.variants
        sites = pd.DataFrame(
            {
                "chrom": v["chrom"].to_numpy(dtype=object)[store_index],
                "n_alt": v["n_alt"].to_numpy()[store_index],
                "allele_index": v["allele_index"].to_numpy()[store_index],
                "ploidy_class": fileset.ploidy_class[store_index],
            }
        )
        return cls(fileset.base, rows, store_index, ranks, sites, len(fileset))


def score_store_pairs(
    store: GenotypeStore,
    pairs: Iterable[tuple[str, StorePairs]],
    weights: _Weights,
    samples: Sequence[str] | None,
    male: np.ndarray | None,
    missing: str,
    chunk_size: int,
) -> tuple[np.ndarray, list[str]]:
    """Score every sample of a store over matched pairs, reading only their variants; (sums, sample names).

    Additive weights on diploid rows (autosomes, PAR) are summed by
    :func:`_add_linear` from pgenlib's sparse reads where the ``.pgen`` has
    them; chrX/Y/MT rows and dominant, recessive or dosage-weight rows are
    read as dense dosages and summed by :func:`_add_contributions`, as the
    VCF path does.
    """
    n = len(samples) if samples is not None else len(store.samples)
    # ``male`` only scales haploid chrX calls to 0/2; which calls are haploid comes from the store's sex.
    view = SampleView(store, samples, np.zeros(n, dtype=bool) if male is None else male, "sex")
    names = view.names
    sums = np.zeros((len(names), weights.n_scores), dtype=np.float64)
    # Linear sums in pgenlib's (sorted subset) column order; reordered once at the end.
    linear = np.zeros_like(sums)
    t0, n_read, n_sparse = time.perf_counter(), 0, 0
    for chrom, part in pairs:
        rows, store_index, ranks, sites = part.rows, part.store_index, part.ranks, part.sites
        if not len(rows):
            continue
        order = np.argsort(store_index, kind="stable")
        rows, store_index, ranks = rows[order], store_index[order], ranks[order]
        sites = sites.take(order).reset_index(drop=True)
        plain = _is_linear(sites, rows, weights, male, missing)
        pvar_reader, reader = open_pgen(part.pgen, part.pvar, view.subset)
        try:
            n_variants = reader.get_variant_ct()
            if (part.n_variants is not None and part.n_variants != n_variants) or store_index[-1] >= n_variants:
                raise InputError(
                    part.pgen,
                    f"has {n_variants} variants, not those the score was matched on (rerun the matching)",
                )
            if plain.any():
                flags = pgen_dosage_flags(part.pgen, n_variants)
                n_sparse += _add_linear(
                    reader, store_index[plain], rows[plain], ranks[plain], weights, linear, missing, chunk_size, flags
                )
            rest = ~plain
            rows, store_index, ranks, sites = rows[rest], store_index[rest], ranks[rest], sites[rest]
            unique, first, inverse = np.unique(store_index, return_index=True, return_inverse=True)
            ploidy_class = np.zeros(int(unique[-1]) + 1 if len(unique) else 0, dtype=np.int8)
            ploidy_class[store_index] = sites["ploidy_class"].to_numpy()
            unique_sites = sites.take(first).reset_index(drop=True)
            for a in range(0, len(unique), chunk_size):
                idx = unique[a : a + chunk_size]
                d = read_store_rows(reader, idx, view, ploidy_class)
                chunk = DosageChunk(unique_sites.iloc[a : a + chunk_size].reset_index(drop=True), d, names)
                sel = (inverse >= a) & (inverse < a + len(idx))
                _add_contributions(chunk, rows[sel], inverse[sel] - a, ranks[sel], weights, sums, missing, male)
        except RuntimeError as err:
            raise InputError(part.pgen, f"pgenlib: {decode_pgenlib_error(err)}") from None
        finally:
            reader.close()
            pvar_reader.close()
        n_chrom = int(np.unique(store_index).size) + int(plain.sum())
        n_read += n_chrom
        log.info("scores: %s: read %d matched variants", chrom, n_chrom)
    sums += linear[view.order] if view.order is not None else linear
    elapsed = time.perf_counter() - t0
    log.info(
        "scores: %d matched variants read in %.1f s (%d as sparse lists, %.0f variants/s)",
        n_read,
        elapsed,
        n_sparse,
        n_read / max(elapsed, 1e-9),
    )
    return sums, names


def _is_linear(sites: pd.DataFrame, rows, w: _Weights, male, missing: str) -> np.ndarray:
    """Which matched pairs are a plain linear form on a diploid row (what :func:`_add_linear` sums)."""
    diploid = sites["ploidy_class"].to_numpy() == 0
    if male is not None and missing == "mean":
        # Under mean imputation with ``male``, chrX (PAR too) frequencies count males' alleles once.
        codes, uniq = pd.factorize(sites["chrom"].to_numpy(dtype=object))
        not_x = np.array([chromosome_class(str(c)) != "X" for c in uniq], dtype=bool)
        diploid &= not_x[codes] if len(uniq) else diploid
    plain = ~(w.non_additive[rows] | w.dominant[rows] | w.recessive[rows])
    return diploid & plain


def _add_linear(
    reader, store_index, rows, ranks, w: _Weights, sums, missing: str, chunk_size: int, dosage_flags: np.ndarray | None
) -> int:
    """Add ``sum_v c_v d_v + k_v`` to ``sums`` (pgenlib column order) for linear pairs on diploid rows.

    Per store variant and score, ``c`` is the weight for an ALT effect allele
    (``-w``, with ``k = 2w``, for a REF one); ``d`` is the ALT dosage. A
    missing call takes ``c`` times the variant's mean dosage over the called
    samples plus ``k`` (``missing="mean"``; a variant without any call adds
    nothing) or adds nothing (``"zero"``), as :func:`_add_contributions`.
    Variants the ``.pgen`` stores as a list of non-reference calls are read
    as such lists (``read_sparse_dosages32``, as plink2 sums them), the others
    ``chunk_size`` at a time as dense int8 hard calls, or float32 dosages where
    ``dosage_flags`` (:func:`genorisk.store.reader.pgen_dosage_flags`; None:
    everywhere) says the ``.pgen`` has a dosage track. Returns the count read sparse.
    """
    unique, inverse = np.unique(store_index, return_inverse=True)
    k = sums.shape[1]
    is_ref = _REF_EFFECT[ranks]
    weight = w.weight[rows]
    coef = np.zeros((len(unique), k))
    const = np.zeros((len(unique), k))
    np.add.at(coef, (inverse, w.score[rows]), np.where(is_ref, -weight, weight))
    np.add.at(const, (inverse, w.score[rows]), np.where(is_ref, 2.0 * weight, 0.0))
    # Python ints (tolist) are the cheapest arguments for these per-variant calls.
    has_sparse = reader.has_sparse_dosages
    sparse = np.array([has_sparse(v) for v in unique.tolist()], dtype=bool)
    at = np.flatnonzero(sparse)
    step = max(1, _SPARSE_ENTRIES // max(sums.shape[0] // 8, 1))
    for a in range(0, len(at), step):
        sel = at[a : a + step]
        read_sparse = reader.read_sparse_dosages32
        idx_lists, x_lists = zip(*map(read_sparse, unique[sel].tolist()), strict=True)
        _add_sparse_block(idx_lists, x_lists, coef[sel], const[sel], sums, missing)
    # Hard calls are read as int8 (a third of the time of float dosages); rows with a dosage track as float32.
    with_dosage = np.ones(len(unique), dtype=bool) if dosage_flags is None else dosage_flags[unique]
    for dense, dtype in ((~sparse & ~with_dosage, np.int8), (~sparse & with_dosage, np.float32)):
        rows_at = np.flatnonzero(dense)
        if not len(rows_at):
            continue
        # One buffer (and mask) for every block: no fresh pages to fault in per block.
        buf = np.empty((min(chunk_size, len(rows_at)), sums.shape[0]), dtype=dtype)
        mask = np.empty(buf.shape, dtype=bool)
        read = reader.read_list if dtype is np.int8 else reader.read_dosages_list
        for a in range(0, len(rows_at), chunk_size):
            sel = rows_at[a : a + chunk_size]
            read(unique[sel].astype(np.uint32), buf[: len(sel)])
            _add_dense_block(buf[: len(sel)], mask[: len(sel)], coef[sel], const[sel], sums, missing)
    return len(at)


# Sparse lists read per block: about this many (sample, dosage) entries at most.
_SPARSE_ENTRIES = 1 << 22


def _add_sparse_block(idx_lists, x_lists, coef: np.ndarray, const: np.ndarray, sums: np.ndarray, missing: str) -> None:
    """Sum a block of sparse variants: per variant, sample indexes and their non-zero ALT dosages (-9 = missing)."""
    n_variants = len(idx_lists)
    lengths = np.array(list(map(len, idx_lists)), dtype=np.int64)
    idx = np.concatenate(idx_lists)
    # float32 entries: float64 products and bincount weights convert them exactly, without a float64 copy.
    x = np.concatenate(x_lists)
    variant = np.repeat(np.arange(n_variants), lengths)
    absent = x == -9
    any_absent = bool(absent.any())
    if any_absent:
        x[absent] = 0.0
        n_missing = np.bincount(variant[absent], minlength=n_variants)
    else:
        n_missing = np.zeros(n_variants, dtype=np.int64)
    row_sum = np.bincount(variant, weights=x, minlength=n_variants)
    fill = _missing_fill(coef, const, row_sum, n_missing, sums.shape[0], missing)
    for s in range(sums.shape[1]):
        per_entry = coef[:, s][variant] * x
        if any_absent:
            per_entry = np.where(absent, fill[:, s][variant], per_entry)
        sums[:, s] += np.bincount(idx, weights=per_entry, minlength=sums.shape[0])
    sums += _constants(const, n_missing, sums.shape[0], missing)


def _add_dense_block(d: np.ndarray, mask: np.ndarray, coef, const, sums: np.ndarray, missing: str) -> None:
    """Sum a block of dense ALT dosages (variants x samples, float32 or int8, -9 = missing); ``mask`` is scratch."""
    n = sums.shape[0]
    # Missing calls are rare: found once as flat indexes.
    variant, idx = np.divmod(np.flatnonzero(np.equal(d, -9, out=mask)), n)
    n_missing = np.bincount(variant, minlength=len(d))
    # Sums with the -9s in, then taken out: exact (store dosages are multiples of 1/16384).
    row_sum = d.sum(axis=1, dtype=np.float64) + 9.0 * n_missing
    sums += np.einsum("ij,ik->jk", d, coef, dtype=np.float64, casting="unsafe")
    # Each -9 added -9c: give it back with the fill of the missing call.
    fill = _missing_fill(coef, const, row_sum, n_missing, n, missing) + 9.0 * coef
    for s in range(sums.shape[1]):
        sums[:, s] += np.bincount(idx, weights=fill[variant, s], minlength=n)
    sums += _constants(const, n_missing, n, missing)


def _missing_fill(coef, const, row_sum, n_missing, n: int, missing: str) -> np.ndarray:
    """Per variant and score, what a missing call adds beyond the constant of :func:`_constants`."""
    if missing == "zero":
        return -const  # a missing call adds nothing, not even the constant
    called = n - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(called > 0, row_sum / np.maximum(called, 1), 0.0)
    return coef * mean[:, None]  # a variant without any call: 0 here, and no constant


def _constants(const, n_missing, n: int, missing: str) -> np.ndarray:
    """Per score, the constant every sample gets from a block (mean imputation: variants with a call)."""
    if missing == "zero":
        return const.sum(axis=0)
    return const[n_missing < n].sum(axis=0)
