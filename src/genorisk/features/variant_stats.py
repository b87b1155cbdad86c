"""Dosage selection by genome part: per-part statistics and candidates, then a small gather.

:func:`select_dosage_variants` streams the whole cohort in one job. Here each
part of the genotype store (one input file's chromosomes: ``store/parts/<part>``)
is read by its own job (:func:`write_part_variant_stats`), which keeps only:

* the selection counts of the part (:data:`~genorisk.features.variants.SELECTION_COUNTS`);
* the part's *candidates*: the passing alleles within the rounding allowance
  of the part's own k-th largest trend statistic in some ranking (outer folds'
  training rows, then all rows; :class:`~genorisk.features.variants.InFoldSelection`
  without dosages), with their statistics;
* the ALT allele frequency of every allele read, in its own Parquet file that
  later steps read filtered (:class:`AlleleFrequencies`).

:func:`gather_dosage_selection` then takes the global selection from the
candidates. It is exactly what the single pass keeps: an allele within the
allowance of the global k-th largest statistic is within the allowance of its
part's (a part's k-th largest is at most the genome's), so every part keeps it;
and the global k-th largest is among the candidates (each part keeps its top
k). The statistics are per allele, so they do not depend on how the genome is
cut into parts or chunks. Memory per part job: one chunk (bounded in bytes,
:func:`chunk_rows`) plus the candidates' statistics; the gather holds the
candidates (about ``keep_per_fold x rankings`` rows per part).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.features.variants import (
    SELECTION_COUNTS,
    InFoldSelection,
    filter_dosage_chunk,
    unlabelled_mask,
    within_allowance_of_top_k,
)

log = logging.getLogger("genorisk.features")

KEYS = ["chrom", "pos", "ref", "alt"]
#: Bytes of float32 dosages one chunk may hold (:func:`chunk_rows`): 64 MiB is 20,000
#: rows at 800 people and 1,677 rows at 10,000 (a chunk's working copies are a few times this).
CHUNK_BYTES = 64 << 20
CANDIDATES_FILE = "candidates.parquet"
ALLELE_FREQS_FILE = "allele_freqs.parquet"
STATS_FILE = "part.json"


def chunk_rows(chunk_size: int, n_samples: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Rows per dosage chunk: ``min(chunk_size, chunk_bytes / (n_samples * 4))``, at least 1.

    Results never depend on it (statistics are per allele); only memory does.
    """
    return max(1, min(int(chunk_size), int(chunk_bytes) // max(4 * int(n_samples), 1)))


class AlleleFrequencies:
    """Cohort ALT allele frequencies, looked up by (chrom, pos, ref, alt) without a whole-genome table.

    Backed by a DataFrame (``chrom``, ``pos``, ``ref``, ``alt``, ``af``) or by
    Parquet files of that layout (one per part, :func:`write_part_variant_stats`),
    read with a filter on the positions asked for. A key present more than
    once takes its first row (file order, files in the order given), as
    :func:`select_dosage_variants`'s ``allele_freqs`` does.
    """

    def __init__(self, table: pd.DataFrame | None = None, files: Sequence[str | PathLike] = ()):
        self.table = table
        self.files = [Path(f) for f in files]

    def lookup(self, keys: pd.DataFrame) -> np.ndarray:
        """float64 frequency per row of ``keys`` (``chrom``, ``pos``, ``ref``, ``alt``); NaN where absent."""
        if not len(keys):
            return np.zeros(0)
        if self.table is not None:
            table = self.table
        else:
            import pyarrow.dataset as ds

            positions = sorted({int(p) for p in keys["pos"]})
            frames = [
                ds.dataset(str(f), format="parquet").to_table(filter=ds.field("pos").isin(positions)).to_pandas()
                for f in self.files
            ]
            table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*KEYS, "af"])
        table = table.drop_duplicates(KEYS)
        asked = pd.DataFrame(
            {
                "chrom": keys["chrom"].astype(str).to_numpy(),
                "pos": keys["pos"].to_numpy(dtype=np.int64),
                "ref": keys["ref"].astype(str).to_numpy(),
                "alt": keys["alt"].astype(str).to_numpy(),
            }
        )
        right = pd.DataFrame(
            {
                "chrom": table["chrom"].astype(str).to_numpy(),
                "pos": table["pos"].to_numpy(dtype=np.int64),
                "ref": table["ref"].astype(str).to_numpy(),
                "alt": table["alt"].astype(str).to_numpy(),
                "af": table["af"].to_numpy(dtype=np.float64),
            }
        )
        return asked.merge(right, on=KEYS, how="left")["af"].to_numpy(dtype=np.float64)


@dataclass
class PartVariantStats:
    """Dosage-selection summary of one genome part (see the module docstring).

    Attributes
    ----------
    candidates : DataFrame
        chrom, pos, ref, alt, cohort_af, call_rate and ``stat_0`` ...
        ``stat_<R-1>`` (trend statistic per ranking: outer folds, then all
        rows), the part's order.
    counts : dict of str to int
        :data:`SELECTION_COUNTS`, ``passed_filters`` (distinct passing
        alleles) and, with ``min_info``, ``below_min_info``.
    folds : dict
        ``n_rankings``, ``keep_per_fold``, ``n_train``, ``sy_train`` and
        ``labels_sha256``: equal in every part of one gather.
    allele_freqs : AlleleFrequencies
        The part's ALT allele frequencies (every allele read).
    """

    candidates: pd.DataFrame
    counts: dict[str, int]
    folds: dict
    allele_freqs: AlleleFrequencies = field(default_factory=AlleleFrequencies)


def part_variant_stats(
    source: str | PathLike | Any,
    samples: list[str],
    *,
    labels: np.ndarray,
    n_folds: int,
    seed: int,
    keep_per_fold: int,
    min_maf: float,
    min_call_rate: float,
    male: np.ndarray | None = None,
    exclude: set[tuple] | None = None,
    chunk_size: int = 20000,
    chunk_bytes: int = CHUNK_BYTES,
    min_info: float | None = None,
    info_key: str = "R2",
    allele_freqs_file: str | PathLike | None = None,
) -> PartVariantStats:
    """Stream one genome part and summarise its dosage selection.

    Parameters
    ----------
    source : path or GenotypeStore
        What :func:`genorisk.genotypes.iter_dosage_chunks` reads: a VCF/BCF,
        a store manifest, or a :class:`genorisk.store.GenotypeStore` limited
        to the part's chromosomes.
    samples, male, exclude, min_maf, min_call_rate, min_info, info_key
        As for :func:`~genorisk.features.select_dosage_variants`.
    labels, n_folds, seed, keep_per_fold
        As for :func:`~genorisk.features.select_dosage_variants` (in-fold
        selection): NaN = no outcome for this trait. Every sample counts in
        the filters and allele frequencies (the same for every trait of the
        cohort); only the labelled ones in the trend statistics.
    chunk_size, chunk_bytes : int
        Rows per chunk: :func:`chunk_rows` of them.
    allele_freqs_file : path, optional
        Write the allele frequencies there as they are read (memory flat in
        the part's size); default keep them in memory.

    Returns
    -------
    PartVariantStats
    """
    if np.shape(labels) != (len(samples),):
        raise InputError(source, f"labels must be one 0/1 value per sample ({len(samples)}), got {np.shape(labels)}")
    selection = InFoldSelection(
        labels, n_folds=n_folds, seed=seed, keep_per_fold=keep_per_fold, source=str(source), keep_dosages=False
    )
    counts = dict.fromkeys(SELECTION_COUNTS, 0)
    info_counts: dict[str, int] = {}
    rows = chunk_rows(chunk_size, len(samples), chunk_bytes)
    writer, af_frames = None, []
    n_seen, t0 = 0, time.perf_counter()
    try:
        chunks = genotypes.iter_dosage_chunks(
            source, samples=samples, male=male, chunk_size=rows,
            min_info=min_info, info_key=info_key, counts=info_counts,
        )  # fmt: skip
        for chunk in chunks:
            keep, af, call_rate = filter_dosage_chunk(
                chunk, min_maf=min_maf, min_call_rate=min_call_rate, exclude=exclude, counts=counts
            )
            freqs = pd.DataFrame(
                {
                    "chrom": chunk.variants["chrom"].astype(str).to_numpy(),
                    "pos": chunk.variants["pos"].to_numpy(dtype=np.int64),
                    "ref": chunk.variants["ref"].astype(str).to_numpy(),
                    "alt": chunk.variants["alt"].astype(str).to_numpy(),
                    "af": np.nan_to_num(af, nan=0.0),
                }
            )
            if allele_freqs_file is None:
                af_frames.append(freqs)
            else:
                writer = _write_batch(writer, allele_freqs_file, freqs)
            n_seen += len(chunk.dosages)
            if keep.any():
                frame = chunk.variants.loc[keep, KEYS].reset_index(drop=True)
                frame["cohort_af"] = af[keep]
                frame["call_rate"] = call_rate[keep]
                selection.add(frame, chunk.dosages[keep])
            log.info(
                "%d ALT alleles scanned, %d passed, %d candidates (%.0f/s, %d rows per chunk)",
                n_seen,
                selection.n_passed,
                selection.n_kept,
                n_seen / max(time.perf_counter() - t0, 1e-9),
                rows,
            )
    finally:
        if writer is not None:
            writer.close()
    if allele_freqs_file is not None and writer is None:  # nothing read: an empty table of the same layout
        _write_batch(None, allele_freqs_file, pd.DataFrame({"chrom": [], "pos": [], "ref": [], "alt": [], "af": []}))
    counts["duplicates"] = selection.n_duplicates
    if min_info is not None:
        counts["below_min_info"] = info_counts.get("below_min_info", 0)
    counts["passed_filters"] = selection.n_passed
    n_r = selection.n_rankings
    if selection.variants is None:
        candidates = pd.DataFrame({**{c: [] for c in [*KEYS, "cohort_af", "call_rate"]}})
        candidates = candidates.astype({"pos": np.int64, "cohort_af": float, "call_rate": float})
    else:
        candidates = selection.variants.copy()
    for j in range(n_r):
        candidates[f"stat_{j}"] = selection.statistics[:, j] if len(selection.statistics) else np.zeros(0)
    totals = selection.weights.sum(axis=0)
    folds = {
        "n_rankings": n_r,
        "keep_per_fold": keep_per_fold,
        "n_train": totals[:n_r].tolist(),
        "sy_train": totals[n_r:].tolist(),
        "labels_sha256": labels_digest(labels),
    }
    if allele_freqs_file is None:
        table = pd.concat(af_frames, ignore_index=True) if af_frames else None
        freqs_of = AlleleFrequencies(table=table)
    else:
        freqs_of = AlleleFrequencies(files=[allele_freqs_file])
    log.info(
        "part: %d ALT alleles, %d passed filters, %d candidates for the top %d of %d rankings",
        counts["alt_alleles"],
        selection.n_passed,
        len(candidates),
        keep_per_fold,
        n_r,
    )
    return PartVariantStats(candidates, counts, folds, freqs_of)


def labels_digest(labels: np.ndarray) -> str:
    """SHA-256 of the 0/1 labels (int8 bytes, NaN = unknown as -1).

    The same people, order and outcomes give the same digest.
    """
    y = np.asarray(labels)
    unknown = unlabelled_mask(y)
    if unknown.any():
        y = np.where(unknown, -1, y)
    return hashlib.sha256(np.asarray(y, dtype=np.int8).tobytes()).hexdigest()


def _write_batch(writer, path, frame: pd.DataFrame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [("chrom", pa.string()), ("pos", pa.int64()), ("ref", pa.string()), ("alt", pa.string()), ("af", pa.float64())]
    )
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(str(path), schema)
    writer.write_table(table)
    return writer


def write_part_variant_stats(source, folder: str | PathLike, samples: list[str], **kw) -> PartVariantStats:
    """:func:`part_variant_stats` written to ``folder`` (candidates, allele frequencies, counts), atomically.

    The folder is built beside its final name and renamed into place, so a
    crash leaves no folder a rerun would trust. Files: ``candidates.parquet``,
    ``allele_freqs.parquet`` and ``part.json`` (counts and folds).
    """
    folder = Path(folder)
    tmp = folder.parent / f".{folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        stats = part_variant_stats(source, samples, allele_freqs_file=tmp / ALLELE_FREQS_FILE, **kw)
        stats.candidates.to_parquet(tmp / CANDIDATES_FILE, index=False)
        (tmp / STATS_FILE).write_text(json.dumps({"counts": stats.counts, "folds": stats.folds}, indent=1) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stats.allele_freqs = AlleleFrequencies(files=[folder / ALLELE_FREQS_FILE])
    return stats


def read_part_variant_stats(folder: str | PathLike) -> PartVariantStats:
    """A :class:`PartVariantStats` written by :func:`write_part_variant_stats`."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / STATS_FILE).read_text())
        candidates = pd.read_parquet(folder / CANDIDATES_FILE)
    except (OSError, ValueError) as err:
        raise InputError(folder, f"not a part variant-statistics folder ({err})") from None
    return PartVariantStats(
        candidates, meta["counts"], meta["folds"], AlleleFrequencies(files=[folder / ALLELE_FREQS_FILE])
    )


def gather_dosage_selection(
    parts: Sequence[PartVariantStats],
    *,
    chrom_order: Sequence[str] | None = None,
    min_info: float | None = None,
    source: str | PathLike | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The in-fold dosage selection of the whole genome from its parts' summaries.

    Parameters
    ----------
    parts : sequence of PartVariantStats
        One per genome part, computed with the same samples, labels and folds.
    chrom_order : sequence of str, optional
        Genome column order (the store manifest's chromosomes); default the
        parts' order. Within a chromosome, file order.
    min_info : float, optional
        Whether the imputation-quality filter was on (adds ``below_min_info``).
    source : path, optional
        Named in errors.

    Returns
    -------
    variants : DataFrame
        chrom, pos, ref, alt, cohort_af, call_rate of the selected alleles, in
        genome order: what ``select_dosage_variants(..., labels=...)`` returns.
    counts : dict of str to int
        Its ``counts``, summed over the parts, in the schema's order.

    Raises
    ------
    InputError
        Parts from different labels or folds, a chromosome not in
        ``chrom_order``, or no allele passing the filters.
    """
    if not parts:
        raise ValueError("no parts to gather")
    folds = parts[0].folds
    for p in parts[1:]:
        if p.folds != folds:
            raise InputError(source, "genome parts were summarised with different samples, labels or folds")
    counts = {k: sum(int(p.counts.get(k, 0)) for p in parts) for k in SELECTION_COUNTS}
    if not counts["kept"]:
        raise InputError(source, "no variant passes min_maf and min_call_rate in any genome part")
    if min_info is not None:
        counts["below_min_info"] = sum(int(p.counts.get("below_min_info", 0)) for p in parts)
    counts["passed_filters"] = sum(int(p.counts["passed_filters"]) for p in parts)
    table = pd.concat([p.candidates for p in parts], ignore_index=True)
    if chrom_order is not None and len(table):
        rank = {c: i for i, c in enumerate(chrom_order)}
        unknown = sorted(set(table["chrom"].astype(str)) - set(rank))
        if unknown:
            raise InputError(source, f"genome parts hold chromosomes the store does not list: {unknown[:5]}")
        order = np.argsort(table["chrom"].astype(str).map(rank).to_numpy(), kind="stable")
        table = table.iloc[order].reset_index(drop=True)
    stat_cols = [f"stat_{j}" for j in range(int(folds["n_rankings"]))]
    stats = table[stat_cols].to_numpy(dtype=np.float64)
    keep = np.asarray(within_allowance_of_top_k(stats, int(folds["keep_per_fold"])).any(axis=1), dtype=bool)
    variants: pd.DataFrame = table[[*KEYS, "cohort_af", "call_rate"]][keep].reset_index(drop=True)
    counts["selected_in_folds"] = len(variants)
    if counts["duplicates"]:
        log.warning("%d duplicate alleles dropped (first occurrence kept)", counts["duplicates"])
    log.info(
        "in-fold selection: %d of %d passing alleles kept (%d candidates from %d parts; top %d per ranking)",
        len(variants),
        counts["passed_filters"],
        len(table),
        len(parts),
        folds["keep_per_fold"],
    )
    return variants, counts


def merged_allele_frequencies(parts: Sequence[PartVariantStats]) -> AlleleFrequencies:
    """One :class:`AlleleFrequencies` over every part (first occurrence wins, parts in the order given)."""
    tables = [p.allele_freqs.table for p in parts if p.allele_freqs.table is not None]
    files = [f for p in parts for f in p.allele_freqs.files]
    if tables and files:
        raise ValueError("parts mix in-memory and on-disk allele frequencies")
    if tables:
        return AlleleFrequencies(table=pd.concat(tables, ignore_index=True))
    return AlleleFrequencies(files=files)


def store_part_source(store, chromosomes: Mapping[str, str] | Sequence[str]):
    """The :class:`genorisk.store.GenotypeStore` of a store limited to some chromosomes, in the store's order."""
    from dataclasses import replace

    from genorisk.store import open_store

    store = open_store(store)
    wanted = set(chromosomes)
    missing = sorted(wanted - set(store.chroms))
    if missing:
        raise InputError(store.path, f"chromosomes {missing} are not in the store")
    return replace(store, chroms={c: p for c, p in store.chroms.items() if c in wanted})


def open_store_part(folder: str | PathLike, *, info_key: str = "R2"):
    """A store part folder (``store/parts/<part>``, its ``part.json``) as a :class:`genorisk.store.GenotypeStore`.

    Reads only the part: its chromosomes' filesets, and samples and sex from
    the first ``.psam`` (the store holds the same samples in every fileset).
    """
    from genorisk.store import GenotypeStore, store_samples

    folder = Path(folder)
    try:
        chromosomes = json.loads((folder / "part.json").read_text())["chromosomes"]
    except (OSError, ValueError, KeyError) as err:
        raise InputError(folder / "part.json", f"not a store part ({err})") from None
    chroms = {c: folder / name for c, name in chromosomes.items()}
    if not chroms:
        raise InputError(folder / "part.json", "the part holds no chromosome")
    psam = store_samples(next(iter(chroms.values())))
    return GenotypeStore(
        folder / "part.json", chroms, psam["IID"].tolist(), psam["SEX"].to_numpy(dtype=np.int64), info_key
    )
