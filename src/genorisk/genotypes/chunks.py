"""Per-ALT dosage rows: :class:`DosageChunk`, the decoded blocks the engines yield, and re-chunking.

Both engines (:mod:`.text_engine`, :mod:`.cyvcf2_engine`) yield :class:`Block`
s of consecutive rows in file column order; :func:`rechunk` cuts them into
chunks of a fixed row count in the requested sample order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Columns of :attr:`DosageChunk.variants`.
VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "id", "allele_index", "n_alt")


@dataclass
class DosageChunk:
    """A block of consecutive per-ALT dosage rows.

    Attributes
    ----------
    variants : pandas.DataFrame
        One row per (record, ALT allele), in file order, with columns
        ``chrom`` (str), ``pos`` (int64, 1-based), ``ref``, ``alt``, ``id``
        (str, ``None`` where the VCF has ``.``), ``allele_index`` (1-based ALT
        index within the record) and ``n_alt`` (ALT count of the record; > 1
        means the row comes from a multiallelic record).
    dosages : numpy.ndarray
        float32, shape ``(len(variants), len(samples))``; NaN = missing call.
    samples : list of str
        Sample names, in the order requested (or file order).
    alt_allele_count : numpy.ndarray, optional
        float64, shape ``(len(variants),)``: copies of the ALT allele among
        the chunk's samples' called alleles, each call counted by its ploidy
        (a haploid ``1`` is one copy whatever ``male`` says; the dosage scale
        of male chrX is undone here). From DS where DS gives the dosage.
    allele_number : numpy.ndarray, optional
        int64, shape ``(len(variants),)``: called alleles among the chunk's
        samples (diploid call 2, haploid call 1; a DS value without GT 2).
        ``alt_allele_count / allele_number`` is the ALT allele frequency as
        ``bcftools +fill-tags`` (AC/AN) and :func:`genorisk.qc.run_qc`
        (``alt_af``) compute it, right for every ploidy: a mean dosage / 2
        would halve it on chrY and MT. Both are None only for chunks built
        by hand.
    """

    variants: pd.DataFrame
    dosages: np.ndarray
    samples: list[str]
    alt_allele_count: np.ndarray | None = None
    allele_number: np.ndarray | None = None

    def alt_allele_frequency(self) -> np.ndarray:
        """ALT allele frequency per row, AC / AN over called alleles (NaN where nothing is called)."""
        if self.alt_allele_count is None or self.allele_number is None:
            raise ValueError("this chunk carries no allele counts")
        an = self.allele_number
        return np.divide(self.alt_allele_count, an, out=np.full(len(an), np.nan), where=an > 0)


class Block:
    """Consecutive per-ALT rows decoded by one engine (file-order sample columns).

    ``ac`` / ``an`` (one value per row) are the ALT allele count and allele
    number over the output samples (see :class:`DosageChunk`).
    """

    __slots__ = ("cols", "rows", "ac", "an")

    def __init__(self, cols: dict[str, list], rows: np.ndarray, ac: np.ndarray, an: np.ndarray):
        self.cols = cols
        self.rows = rows
        self.ac = ac
        self.an = an


def empty_cols() -> dict[str, list]:
    return {c: [] for c in VARIANT_COLUMNS}


def add_record_cols(cols: dict[str, list], chrom: str, pos: int, vid, ref: str, alts: list[str]) -> None:
    n_alt = len(alts)
    cols["chrom"] += [chrom] * n_alt
    cols["pos"] += [pos] * n_alt
    cols["ref"] += [ref] * n_alt
    cols["alt"] += alts
    cols["id"] += [vid] * n_alt
    cols["allele_index"] += range(1, n_alt + 1)
    cols["n_alt"] += [n_alt] * n_alt


def _variants_frame(cols: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chrom": pd.array(cols["chrom"], dtype="str"),
            "pos": np.asarray(cols["pos"], dtype=np.int64),
            "ref": pd.array(cols["ref"], dtype="str"),
            "alt": pd.array(cols["alt"], dtype="str"),
            "id": pd.array(cols["id"], dtype="str"),
            "allele_index": np.asarray(cols["allele_index"], dtype=np.int32),
            "n_alt": np.asarray(cols["n_alt"], dtype=np.int32),
        }
    )


def rechunk(
    blocks: Iterator[Block], chunk_size: int, order: np.ndarray | None, samples: list[str]
) -> Iterator[DosageChunk]:
    """Cut a stream of blocks into chunks of exactly ``chunk_size`` rows (the last may be shorter).

    The ALT rows of one multiallelic record may fall in two consecutive chunks.
    """
    n = len(samples)
    buf = np.empty((chunk_size, n), dtype=np.float32)
    ac = np.empty(chunk_size, dtype=np.float64)
    an = np.empty(chunk_size, dtype=np.int64)
    cols = empty_cols()
    filled = 0
    for block in blocks:
        rows = block.rows if order is None else block.rows[:, order]
        m = rows.shape[0]
        at = 0
        while at < m:
            take = min(chunk_size - filled, m - at)
            buf[filled : filled + take] = rows[at : at + take]
            ac[filled : filled + take] = block.ac[at : at + take]
            an[filled : filled + take] = block.an[at : at + take]
            for c in VARIANT_COLUMNS:
                cols[c] += block.cols[c][at : at + take]
            filled += take
            at += take
            if filled == chunk_size:
                yield DosageChunk(_variants_frame(cols), buf, samples, ac, an)
                buf = np.empty((chunk_size, n), dtype=np.float32)
                ac = np.empty(chunk_size, dtype=np.float64)
                an = np.empty(chunk_size, dtype=np.int64)
                cols = empty_cols()
                filled = 0
    if filled:
        yield DosageChunk(_variants_frame(cols), buf[:filled], samples, ac[:filled], an[:filled])
