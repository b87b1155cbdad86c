"""The public readers: :func:`iter_dosage_chunks` (streaming) and :func:`read_dosages` (a matrix)."""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from cyvcf2 import VCF

from genorisk.genome import canonical_contig, open_vcf
from genorisk.genotypes.chunks import VARIANT_COLUMNS, DosageChunk, rechunk
from genorisk.genotypes.cyvcf2_engine import cyvcf2_blocks, header_has_format
from genorisk.genotypes.text_engine import text_blocks

log = logging.getLogger("genorisk.genotypes")


_LOG_EVERY_S = 10.0


def open_vcf_checked(path: Path, samples: Sequence[str] | None) -> tuple[VCF, list[str], list[str]]:
    """Open ``path`` with :func:`genorisk.genome.open_vcf`, decoding every column.

    Returns the reader, all sample names and the names to output (``samples``
    or all). Refuses what :func:`~genorisk.genome.open_vcf` refuses.
    """
    vcf = open_vcf(path, samples, subset=False, threads=1)
    all_samples = list(vcf.samples)
    return vcf, all_samples, all_samples if samples is None else list(samples)


def column_order(decoded: list[str], names: list[str]) -> np.ndarray | None:
    """Indexes into the decoded columns giving ``names`` (None when identical)."""
    if decoded == names:
        return None
    pos = {s: i for i, s in enumerate(decoded)}
    return np.array([pos[s] for s in names], dtype=np.intp)


def is_store_source(source: object) -> bool:
    """True for a genotype store: a :class:`genorisk.store.GenotypeStore` or a manifest path (``*store.json``)."""
    if hasattr(source, "iter_chunks") and hasattr(source, "chroms"):
        return True
    return isinstance(source, str | PathLike) and Path(source).name.endswith("store.json")


def source_samples(source) -> list[str]:
    """Sample names of a genotype source (VCF/BCF or store), in column order."""
    if is_store_source(source):
        from genorisk.store import open_store

        return list(open_store(source).samples)
    vcf = VCF(str(source), lazy=True)
    try:
        return list(vcf.samples)
    finally:
        vcf.close()


def iter_dosage_chunks(
    path,
    *,
    samples: Sequence[str] | None = None,
    regions: Iterable[str] | None = None,
    chunk_size: int = 20000,
    male: np.ndarray | Sequence[bool] | None = None,
    use_ds: bool = True,
    engine: str = "auto",
    min_info: float | None = None,
    info_key: str = "R2",
    counts: MutableMapping[str, int] | None = None,
) -> Iterator[DosageChunk]:
    """Stream per-ALT dosages of a VCF/BCF or a genotype store in chunks of ``chunk_size`` rows.

    Parameters
    ----------
    path : str, PathLike or GenotypeStore
        VCF (plain, bgzipped or gzipped) or BCF; or a genotype store (its
        manifest ``store.json`` / ``*.store.json``, or an opened
        :class:`genorisk.store.GenotypeStore`), read through pgenlib with the
        same chunks a VCF of the same genotypes gives (``engine`` and
        ``use_ds`` do not apply; the store holds what the import took).
    samples : sequence of str, optional
        Samples to read, in the order wanted; default all, in file order.
    regions : iterable of str, optional
        ``CHROM``, ``CHROM:START`` or ``CHROM:START-END`` (1-based, inclusive),
        read in the order given through the .tbi/.csi index when present
        (overlapping regions then yield a record once per region), otherwise
        by one filtered pass over the file.
    chunk_size : int
        Rows (ALT alleles) per chunk; the last chunk may be shorter and the
        ALT rows of one record may span two chunks. Memory is about
        ``chunk_size * n_samples * 4`` bytes plus a 16 MB text buffer.
    male : array of bool, optional
        Aligned with the output samples; males' haploid chrX calls count 0/2
        (plink2's default). Without it, haploid calls count 0/1.
    use_ds : bool
        Use the DS FORMAT field (one value per ALT) where a record has it.
    engine : {"auto", "text", "cyvcf2"}
        ``text`` decodes VCF text with numpy (about 3.5x faster than cyvcf2
        on GT-only VCF); ``cyvcf2`` uses htslib and is needed for BCF,
        ``regions``, DS and ``min_info``. ``auto`` picks ``text`` when it can.
    min_info : float, optional
        The imputation-quality filter: drop variants whose INFO ``info_key``
        is below ``min_info`` (a variant without the key, a typed one, is
        kept). For a VCF this reads INFO through cyvcf2 (the text engine is
        not used); for a Number=A key the record's lowest value counts.
    info_key : str
        INFO key of the imputation quality (``R2``: Minimac/Beagle).
    counts : mutable mapping, optional
        Filled with ``counts["below_min_info"]``: variants (records) the
        ``min_info`` filter dropped (0 without a filter), for the schema.

    Yields
    ------
    DosageChunk
        See the module docstring for the dosage conventions.

    Raises
    ------
    InputError
        Unreadable file, unknown samples, a GT allele index beyond the ALT
        count, a non-numeric allele or POS, or a wrong column count (names
        the file and the line or ``chrom:pos``).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if engine not in ("auto", "text", "cyvcf2"):
        raise ValueError(f"engine must be 'auto', 'text' or 'cyvcf2', got {engine!r}")
    if counts is not None:
        counts.setdefault("below_min_info", 0)
    if is_store_source(path):
        from genorisk.store import open_store

        yield from open_store(path).iter_chunks(
            samples=samples,
            male=male,
            regions=regions,
            chunk_size=chunk_size,
            min_info=min_info,
            info_key=info_key,
            counts=counts,
        )
        return
    path = Path(path)
    if min_info is not None and engine == "text":
        raise ValueError("engine='text' does not read INFO; min_info needs engine='cyvcf2' (or 'auto')")
    vcf, all_samples, names = open_vcf_checked(path, samples)
    male_arr = None
    if male is not None:
        male_arr = np.asarray(male, dtype=bool)
        if male_arr.shape != (len(names),):
            raise ValueError(f"male has shape {male_arr.shape}, expected ({len(names)},) aligned with samples")

    is_bcf = _is_bcf(path)
    if engine == "auto":
        text_ok = not is_bcf and regions is None and min_info is None and not (use_ds and header_has_format(vcf, "DS"))
        engine = "text" if text_ok else "cyvcf2"
    if engine == "text" and (is_bcf or regions is not None):
        vcf.close()
        raise ValueError("engine='text' reads VCF text without regions; use engine='cyvcf2'")
    if engine == "cyvcf2" and samples is not None:
        vcf.close()  # let htslib decode only the wanted samples
        vcf = VCF(str(path), lazy=True, threads=1, samples=names)
    decoded = list(vcf.samples) if engine == "cyvcf2" else all_samples
    order = column_order(decoded, names)
    if male_arr is not None and order is not None:
        # Records are decoded in file column order, then reordered to ``names``.
        in_file_order = np.zeros(len(decoded), dtype=bool)
        in_file_order[order] = male_arr
        male_arr = in_file_order

    counter = {"n": 0}
    t0 = time.perf_counter()
    t_last = [t0]

    def progress(k: int) -> None:
        counter["n"] += k
        now = time.perf_counter()
        if now - t_last[0] > _LOG_EVERY_S:
            t_last[0] = now
            log.info("%s: %d records read (%.0f records/s)", path.name, counter["n"], counter["n"] / (now - t0))

    n_rows = 0
    try:
        if engine == "text":
            vcf.close()
            counted = None
            if order is not None and len(order) < len(decoded):
                counted = np.zeros(len(decoded), dtype=bool)
                counted[order] = True
            blocks = text_blocks(path, len(decoded), male_arr, progress, counted=counted)
        else:
            info_filter = None if min_info is None else (info_key, float(min_info))
            blocks = cyvcf2_blocks(
                vcf, path, regions, male_arr, use_ds, len(decoded), progress, info_filter=info_filter, counts=counts
            )
        for chunk in rechunk(blocks, chunk_size, order, names):
            n_rows += len(chunk.variants)
            yield chunk
    finally:
        vcf.close()
    dt = time.perf_counter() - t0
    log.info(
        "%s: done (%s engine), %d records, %d ALT rows, %d samples in %.1f s (%.0f records/s)",
        path.name,
        engine,
        counter["n"],
        n_rows,
        len(names),
        dt,
        counter["n"] / dt if dt > 0 else 0.0,
    )


def _is_bcf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            return gz.read(3) == b"BCF"
    return head[:3] == b"BCF"


def variant_keys(variants: pd.DataFrame) -> pd.Series:
    """``chrom:pos:ref:alt`` keys, the chromosome as :func:`genorisk.genome.canonical_contig` (``chr1`` -> ``1``)."""
    chrom = variants["chrom"].astype(str).map(canonical_contig)
    return (
        chrom
        + ":"
        + variants["pos"].astype("int64").astype(str)
        + ":"
        + variants["ref"].astype(str)
        + ":"
        + variants["alt"].astype(str)
    )


def read_dosages(path, variants: pd.DataFrame | None = None, **kw) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a whole dosage matrix, or the rows for given variants.

    Parameters
    ----------
    path : str, PathLike or GenotypeStore
        VCF/BCF or genotype store, as for :func:`iter_dosage_chunks`. From a
        store, only the requested variants are read (pgenlib
        ``read_dosages_list``, found through the ``.pvar`` table), with the
        result a VCF of the same genotypes gives.
    variants : pandas.DataFrame, optional
        Columns ``chrom``, ``pos``, ``ref``, ``alt``: the rows wanted, in this
        order. Chromosome names match with or without ``chr``. When a key
        occurs more than once in the file, the first occurrence is used.
    **kw
        Passed to :func:`iter_dosage_chunks` (``samples``, ``regions``,
        ``chunk_size``, ``male``, ``use_ds``, ``min_info``, ``info_key``,
        ``counts``).

    Returns
    -------
    variants : pandas.DataFrame
        Without ``variants``: every per-ALT row (see :class:`DosageChunk`).
        With it: a copy of the requested table (original index dropped) plus a
        boolean column ``found``; absent variants are never silently zero.
    dosages : numpy.ndarray
        float32, shape ``(len(variants), n_samples)``; rows of absent variants
        are NaN.
    """
    if variants is None:
        frames, mats = [], []
        for chunk in iter_dosage_chunks(path, **kw):
            frames.append(chunk.variants)
            mats.append(chunk.dosages.copy())
        if not frames:
            n = len(_sample_names(path, kw.get("samples")))
            return pd.DataFrame({c: [] for c in VARIANT_COLUMNS}), np.empty((0, n), dtype=np.float32)
        return pd.concat(frames, ignore_index=True), np.concatenate(mats)

    missing_cols = {"chrom", "pos", "ref", "alt"} - set(variants.columns)
    if missing_cols:
        raise ValueError(f"variants lacks columns {sorted(missing_cols)}")
    if is_store_source(path) and kw.get("regions") is None:
        from genorisk.store import open_store

        unknown = set(kw) - {"samples", "male", "min_info", "info_key", "chunk_size", "use_ds", "engine", "counts"}
        if unknown:
            raise TypeError(f"read_dosages got unexpected arguments {sorted(unknown)}")
        table, matrix = open_store(path).read_dosages(
            variants,
            samples=kw.get("samples"),
            male=kw.get("male"),
            min_info=kw.get("min_info"),
            info_key=kw.get("info_key"),
        )
        n_absent = int((~table["found"].to_numpy(dtype=bool)).sum())
        if n_absent:
            log.info("%s: %d of %d requested variants not in the store", Path(path).name, n_absent, len(table))
        return table, matrix
    wanted = variants.reset_index(drop=True).copy()
    # (chrom without "chr", pos, ref, alt) -> requested rows; popped at its first record.
    norm: dict[str, str] = {}

    def norm_chrom(values) -> list[str]:
        for c in set(values):
            if c not in norm:
                norm[c] = canonical_contig(c)
        return [norm[c] for c in values]

    row_of: dict[tuple, list[int]] = {}
    want_keys = zip(
        norm_chrom(wanted["chrom"].astype(str).tolist()),
        wanted["pos"].astype("int64").tolist(),
        wanted["ref"].astype(str).tolist(),
        wanted["alt"].astype(str).tolist(),
        strict=False,
    )
    for i, key in enumerate(want_keys):
        row_of.setdefault(key, []).append(i)
    out = None
    found = np.zeros(len(wanted), dtype=bool)
    for chunk in iter_dosage_chunks(path, **kw):
        if out is None:
            out = np.full((len(wanted), len(chunk.samples)), np.nan, dtype=np.float32)
        v = chunk.variants
        keys = zip(
            norm_chrom(v["chrom"].tolist()), v["pos"].tolist(), v["ref"].tolist(), v["alt"].tolist(), strict=False
        )
        hit_rows, hit_at = [], []
        for j, key in enumerate(keys):
            rows = row_of.pop(key, None)
            if rows is not None:
                hit_rows += rows
                hit_at += [j] * len(rows)
        if hit_rows:
            found[hit_rows] = True
            out[hit_rows] = chunk.dosages[hit_at]
    if out is None:
        out = np.full((len(wanted), len(_sample_names(path, kw.get("samples")))), np.nan, dtype=np.float32)
    wanted["found"] = found
    n_absent = int((~found).sum())
    if n_absent:
        log.info("%s: %d of %d requested variants not in file", Path(path).name, n_absent, len(wanted))
    return wanted, out


def _sample_names(path, samples) -> list[str]:
    return list(samples) if samples is not None else source_samples(path)
