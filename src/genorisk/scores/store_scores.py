"""Scores from a genotype store: match on the variant tables, then read only the matched variants.

``plink2 --score`` reads only the score's variants from a ``.pgen``; so does
this path. Each chromosome's ``.pvar`` table (parsed once) is matched by
:class:`~genorisk.scores.compute._Matcher`, restricted first to the rows whose
position or ID a score names, and the matched variants' dosages are read with
pgenlib's ``read_dosages_list`` in blocks of ``chunk_size``. Dosage
conventions are those of :meth:`genorisk.store.GenotypeStore.iter_chunks`
(the same reader helpers), so sums equal the streaming path's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from genorisk.genome import canonical_contig
from genorisk.genotypes import DosageChunk
from genorisk.scores.compute import _add_contributions, _Weights
from genorisk.scores.matching import _Matcher
from genorisk.store import GenotypeStore, StoreFileset, reconcile_samples
from genorisk.store.reader import open_pgen, read_store_rows

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


class _StoreView:
    """The samples read from every fileset of a store, as :meth:`GenotypeStore.iter_chunks` reads them.

    Built once from the manifest (every fileset holds its samples in its
    order, :func:`genorisk.store.write_manifest` checks that), not from each
    ``.psam``: attributes as :class:`genorisk.store.reader.SampleView`.
    """

    def __init__(self, store: GenotypeStore, samples: Sequence[str] | None, male: np.ndarray | None):
        ids = list(store.samples)
        if samples is None:
            self.names, self.subset, self.order = ids, None, None
            haploid = store.sex == 1
        else:
            self.names = [str(s) for s in samples]
            index = reconcile_samples(ids, self.names, store_path=store.path, allow_extra=True)
            sorted_index = np.sort(index)
            self.subset = sorted_index.astype(np.uint32)
            order = np.searchsorted(sorted_index, index)
            self.order = None if np.array_equal(order, np.arange(len(order))) else order
            haploid = store.sex[index] == 1
        n = len(self.names)
        # ``male`` only scales haploid chrX calls to 0/2; which calls are haploid comes from the store's sex.
        self.male = np.zeros(n, dtype=bool) if male is None else np.asarray(male, dtype=bool)
        if self.male.shape != (n,):
            raise ValueError(f"male has shape {self.male.shape}, expected ({n},) aligned with samples")
        self.haploid_x = np.asarray(haploid, dtype=bool)


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
    """Match and score every sample of a store, reading only the matched variants; (sums, sample names)."""
    view = _StoreView(store, samples, male)
    names = view.names
    sums = np.zeros((len(names), weights.n_scores), dtype=np.float64)
    t0, n_read = time.perf_counter(), 0
    for chrom, fileset, rows, store_index, ranks in match_store(store, matcher, min_info, info_key):
        if not len(rows):
            continue
        order = np.argsort(store_index, kind="stable")
        rows, store_index, ranks = rows[order], store_index[order], ranks[order]
        unique, inverse = np.unique(store_index, return_inverse=True)
        pvar_reader, reader = open_pgen(fileset.pgen, fileset.pvar, view.subset)
        try:
            for a in range(0, len(unique), chunk_size):
                idx = unique[a : a + chunk_size]
                d = read_store_rows(reader, idx, view, fileset.ploidy_class)
                chunk = DosageChunk(fileset.variants.take(idx).reset_index(drop=True), d, names)
                sel = (inverse >= a) & (inverse < a + len(idx))
                _add_contributions(chunk, rows[sel], inverse[sel] - a, ranks[sel], weights, sums, missing, male)
                n_read += len(idx)
        finally:
            reader.close()
            pvar_reader.close()
        log.info("scores: %s: read %d matched variants", chrom, len(unique))
    log.info("scores: %d matched variants read in %.1f s", n_read, time.perf_counter() - t0)
    return sums, names
