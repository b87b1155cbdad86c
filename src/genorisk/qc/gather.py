"""QC shards and their gather: :class:`ShardQC`, its folder, :func:`gather_qc` and :func:`write_gathered_qc`.

A shard (:func:`genorisk.qc.shard_qc`) holds its final per-variant rows and
its excluded variants, since each variant is judged on its own counts, plus
per-sample counters. The gather only sums the per-sample counters (then makes
the per-sample table, the sex call and the sample exclusions) and
concatenates the shards' variant rows. :func:`write_gathered_qc` streams
those rows from the shard folders into the output files in blocks, so its
memory does not grow with the number of variants; :func:`gather_qc` returns
the whole :class:`~genorisk.qc.QCResult` in memory (tests, small cohorts).
Both give the files :func:`genorisk.qc.write_qc` writes for
:func:`genorisk.qc.run_qc` on the equivalent VCF.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.io import atomic_output, write_json
from genorisk.qc.blocks import SampleCounters, empty_variant_frame
from genorisk.qc.exclusions import count_reasons, sample_exclusions
from genorisk.qc.run import QCResult
from genorisk.qc.samples import sample_qc_table
from genorisk.qc.thresholds import QCThresholds
from genorisk.qc.write import qc_summary, tsv_text, write_tsv

log = logging.getLogger("genorisk.qc")

SHARD_FORMAT = "genorisk.qc_shard/2"
# Rows per Parquet row group of variant_qc.parquet and of the shard files: the gather holds at
# most about two of these (~15 MB). A table of fewer rows is one row group, as pandas writes it.
ROW_GROUP_ROWS = 1 << 16


@dataclass
class ShardQC:
    """QC of one genome shard (:func:`genorisk.qc.shard_qc`): final variant rows, additive sample counts.

    Attributes
    ----------
    samples : list of str
        Sample IDs (IID), in the order of the per-sample arrays.
    variants : pandas.DataFrame
        The shard's rows of :attr:`genorisk.qc.QCResult.variants`, store order.
    excluded_variants : pandas.DataFrame
        The shard's failing rows (:func:`genorisk.qc.exclusions.variant_exclusions`
        with ``thresholds``).
    counts : dict of str -> ndarray
        Per-sample sums, the fields of :class:`genorisk.qc.blocks.SampleCounters`
        (int64, ``x_expected_hom`` float64).
    male : ndarray of bool
        Sex from the ``.psam``, as the store codes ploidy.
    hwe_on : str
        "controls" or "all samples".
    thresholds : QCThresholds
        Those of the variant exclusions; ``sex_min_maf`` chose the chrX variants of F.
    """

    samples: list[str]
    variants: pd.DataFrame
    excluded_variants: pd.DataFrame
    counts: dict[str, np.ndarray]
    male: np.ndarray
    hwe_on: str
    thresholds: QCThresholds = field(default_factory=QCThresholds)


def save_shard(shard: ShardQC, folder: str | PathLike) -> Path:
    """Write a :class:`ShardQC` to a folder, for the gather job: no pickle.

    ``variants.parquet`` (the final per-variant rows), ``excluded_variants.tsv``
    (as in the QC outputs), ``arrays.npz`` (per-sample counts and sex) and
    ``shard.json`` (format, samples, HWE samples, thresholds and the additive
    variant totals: rows, Ti/Tv, exclusions by reason).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shard.variants.to_parquet(folder / "variants.parquet", index=False, row_group_size=ROW_GROUP_ROWS)
    write_tsv(shard.excluded_variants, folder / "excluded_variants.tsv")
    arrays = {"male": shard.male, **{f"count_{k}": v for k, v in shard.counts.items()}}
    np.savez(folder / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    meta = {
        "format": SHARD_FORMAT,
        "samples": list(shard.samples),
        "hwe_on": shard.hwe_on,
        "thresholds": shard.thresholds.to_dict(),
        "n_variants": int(len(shard.variants)),
        "ts": int(shard.variants["is_transition"].sum()),
        "tv": int(shard.variants["is_transversion"].sum()),
        "n_excluded": int(len(shard.excluded_variants)),
        "excluded_by_reason": count_reasons(shard.excluded_variants["reason"]),
    }
    (folder / "shard.json").write_text(json.dumps(meta))
    return folder


def load_shard(folder: str | PathLike) -> ShardQC:
    """Read a :class:`ShardQC` written by :func:`save_shard` (all of it, in memory)."""
    folder = Path(folder)
    meta, counts, male = _read_small(folder)
    excluded = pd.read_csv(
        folder / "excluded_variants.tsv", sep="\t", dtype={"pos": np.int64}, keep_default_na=False, na_filter=False
    )
    excluded = excluded.astype({c: "str" for c in excluded.columns if c != "pos"})
    return ShardQC(
        samples=meta["samples"],
        variants=pd.read_parquet(folder / "variants.parquet"),
        excluded_variants=excluded,
        counts=counts,
        male=male,
        hwe_on=meta["hwe_on"],
        thresholds=_thresholds(meta),
    )


def _read_small(folder: Path) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """A shard folder's metadata and per-sample arrays (not its variant rows)."""
    path = folder / "shard.json"
    if not path.exists():
        raise InputError(path, "no shard.json: not a QC shard folder (rerun cohort_qc_shard)")
    meta = json.loads(path.read_text())
    if meta.get("format") != SHARD_FORMAT:
        raise InputError(
            path, f"QC shard format {meta.get('format')!r}, expected {SHARD_FORMAT!r} (rerun cohort_qc_shard)"
        )
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        counts = {k.removeprefix("count_"): arrays[k] for k in arrays.files if k.startswith("count_")}
        male = arrays["male"]
    return meta, counts, male


def _thresholds(meta: dict) -> QCThresholds:
    # Checked against the config schema when the shard was made; from_dict would re-read the schema per shard.
    return QCThresholds(**meta["thresholds"])


class _SampleSums:
    """Per-sample counters summed over shards that must agree on samples, HWE samples and thresholds."""

    def __init__(self):
        self.first: dict | None = None
        self.male: np.ndarray | None = None
        self.counters: SampleCounters | None = None
        self.n_variants = self.ts = self.tv = self.n_excluded = 0
        self.excluded_by_reason: dict[str, int] = {}

    def add(self, samples, hwe_on, th: QCThresholds, counts, male, where: str) -> None:
        if self.first is None:
            self.first = {"samples": list(samples), "hwe_on": hwe_on, "thresholds": th}
            self.male = male
            self.counters = SampleCounters(len(self.first["samples"]))
        elif list(samples) != self.first["samples"] or hwe_on != self.first["hwe_on"] or th != self.first["thresholds"]:
            raise ValueError(f"shards differ in samples, HWE samples or thresholds ({where})")
        for name, values in counts.items():
            setattr(self.counters, name, getattr(self.counters, name) + values)

    def sample_table(self, recorded_sex: Mapping[str, str | None] | None) -> pd.DataFrame:
        assert self.first is not None and self.counters is not None and self.male is not None
        samples = self.first["samples"]
        if recorded_sex is None:
            recorded_sex = {s: ("male" if m else "female") for s, m in zip(samples, self.male, strict=True)}
        return sample_qc_table(samples, self.counters, recorded_sex, self.first["thresholds"])

    def cohort(self) -> dict:
        assert self.first is not None
        return {
            "n_records": self.n_variants,
            "n_alt_rows": self.n_variants,
            "n_samples": len(self.first["samples"]),
            "ts": self.ts,
            "tv": self.tv,
            "titv": self.ts / self.tv if self.tv else None,
            "hwe_on": self.first["hwe_on"],
        }


def gather_qc(shards: Sequence[ShardQC], *, recorded_sex: Mapping[str, str | None] | None = None) -> QCResult:
    """The QC result of a cohort from its shards, in memory, as :func:`genorisk.qc.run_qc` computes it on the VCF.

    Parameters
    ----------
    shards : sequence of ShardQC
        In genome order (the variant table follows it); same samples, HWE
        samples and thresholds in all.
    recorded_sex : mapping IID -> "male" / "female" / None, optional
        Recorded sex for the sex check; default the ``.psam`` sex.

    Returns
    -------
    QCResult
        Same tables as :func:`run_qc` on the equivalent VCF. Holds every
        variant row: for a genome-wide cohort use :func:`write_gathered_qc`.
    """
    if not shards:
        raise ValueError("no shards to gather")
    sums = _SampleSums()
    for i, s in enumerate(shards):
        sums.add(s.samples, s.hwe_on, s.thresholds, s.counts, s.male, f"shard {i}")
        sums.n_variants += len(s.variants)
        sums.ts += int(s.variants["is_transition"].sum())
        sums.tv += int(s.variants["is_transversion"].sum())
    frames = [s.variants for s in shards if len(s.variants)]
    variants = pd.concat(frames, ignore_index=True) if frames else empty_variant_frame()
    return QCResult(
        variants=variants,
        samples=sums.sample_table(recorded_sex),
        cohort=sums.cohort(),
        thresholds=shards[0].thresholds,
    )


def write_gathered_qc(
    folders: Iterable[str | PathLike],
    outdir: str | PathLike,
    *,
    recorded_sex: Mapping[str, str | None] | None = None,
    thresholds: QCThresholds | None = None,
) -> dict:
    """Gather shard folders (:func:`save_shard`) into the QC outputs, streaming the variant rows.

    Writes the files of :func:`genorisk.qc.write_qc` (``variant_qc.parquet``,
    ``sample_qc.tsv``, ``excluded_variants.tsv``, ``excluded_samples.tsv``,
    ``qc_summary.json``), each atomically, with the same content as
    ``write_qc(gather_qc(shards), outdir, thresholds)``: byte for byte when
    the cohort has at most :data:`ROW_GROUP_ROWS` variant rows (beyond, the
    Parquet file has several row groups). Memory: the per-sample arrays and
    about two row groups of variant rows, whatever the number of variants.

    Parameters
    ----------
    folders : iterable of path
        Shard folders in genome order.
    outdir : path
    recorded_sex : mapping IID -> "male" / "female" / None, optional
        Recorded sex for the sex check; default the ``.psam`` sex.
    thresholds : QCThresholds, optional
        Must equal the shards' (they decided the variant exclusions); default theirs.

    Returns
    -------
    dict
        The summary written to ``qc_summary.json``.

    Raises
    ------
    InputError
        A folder that is not a shard of this format, or shards made with
        thresholds other than ``thresholds`` (rerun the shards).
    ValueError
        No shards, or shards that differ in samples, HWE samples or thresholds.
    """
    paths = [Path(f) for f in folders]
    if not paths:
        raise ValueError("no shards to gather")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sums = _SampleSums()
    for folder in paths:
        meta, counts, male = _read_small(folder)
        th_shard = _thresholds(meta)
        if thresholds is not None and th_shard != thresholds:
            raise InputError(
                folder / "shard.json", "QC shard made with other thresholds than the config's (rerun cohort_qc_shard)"
            )
        sums.add(meta["samples"], meta["hwe_on"], th_shard, counts, male, str(folder))
        sums.n_variants += meta["n_variants"]
        sums.ts += meta["ts"]
        sums.tv += meta["tv"]
        sums.n_excluded += meta["n_excluded"]
        for code, n in meta["excluded_by_reason"].items():
            sums.excluded_by_reason[code] = sums.excluded_by_reason.get(code, 0) + n
    assert sums.first is not None
    th = thresholds or sums.first["thresholds"]
    samples = sums.sample_table(recorded_sex)
    excluded_samples = sample_exclusions(samples, th)

    with atomic_output(outdir / "variant_qc.parquet") as tmp:
        if sums.n_variants:
            _concat_parquet([f / "variants.parquet" for f in paths], tmp)
        else:
            empty_variant_frame().to_parquet(tmp, index=False)
    with atomic_output(outdir / "excluded_variants.tsv") as tmp, open(tmp, "wb") as out:
        for i, folder in enumerate(paths):
            with open(folder / "excluded_variants.tsv", "rb") as part:
                header = part.readline()
                if i == 0:
                    out.write(header)
                shutil.copyfileobj(part, out)
    for name, frame in (("sample_qc.tsv", samples), ("excluded_samples.tsv", excluded_samples)):
        with atomic_output(outdir / name) as tmp:
            write_tsv(frame, tmp)
    summary = qc_summary(sums.cohort(), samples, sums.n_excluded, sums.excluded_by_reason, excluded_samples, th)
    write_json(outdir / "qc_summary.json", summary)
    log.info(
        "gathered %d shards: %d variant rows (%d excluded), %d samples (%d excluded)",
        len(paths), sums.n_variants, sums.n_excluded, len(samples), len(excluded_samples),
    )  # fmt: skip
    return summary


def _concat_parquet(paths: Sequence[Path], out: Path) -> None:
    """Concatenate Parquet files of one schema into ``out``, in row groups of :data:`ROW_GROUP_ROWS` rows."""
    import pyarrow.parquet as pq

    with _RowGroupWriter(out) as writer:
        for path in paths:
            with pq.ParquetFile(path) as source:
                if source.metadata.num_rows == 0:
                    continue
                for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS):
                    writer.add(batch, source.schema_arrow)


class _RowGroupWriter:
    """Rows appended in pieces, written in row groups of :data:`ROW_GROUP_ROWS` rows.

    Rows are re-blocked (and columns made contiguous) so the file is what one
    ``write_table`` of all rows with that row-group size gives; the schema and
    its pandas metadata are those of the first piece.
    """

    def __init__(self, out: Path):
        self.out = out
        self.writer: Any = None
        self.pending: list = []
        self.n_pending = 0

    def add(self, batch, schema) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:  # pandas's write_table defaults: snappy, format 2.6, dictionaries
            self.writer = pq.ParquetWriter(self.out, schema, compression="snappy")
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        self.pending.append(table)
        self.n_pending += table.num_rows
        while self.n_pending >= ROW_GROUP_ROWS:
            block = pa.concat_tables(self.pending).combine_chunks()
            self.writer.write_table(block.slice(0, ROW_GROUP_ROWS))
            self.pending, self.n_pending = [block.slice(ROW_GROUP_ROWS)], self.n_pending - ROW_GROUP_ROWS

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        import pyarrow as pa

        if self.writer is not None:
            try:
                if kind is None and self.n_pending:
                    self.writer.write_table(pa.concat_tables(self.pending).combine_chunks())
            finally:
                self.writer.close()


def write_store_qc(
    parts: Iterable[str | PathLike],
    shard_folders: Iterable[str | PathLike],
    outdir: str | PathLike,
    *,
    samples: Sequence[str],
    status: Mapping[str, object] | None = None,
    recorded_sex: Mapping[str, str | None] | None = None,
    thresholds: QCThresholds | None = None,
) -> dict:
    """The QC outputs of a store from its parts and their plink2 shard folders, streaming one fileset at a time.

    Each fileset of each part (``part.json`` order) becomes a :class:`ShardQC`
    (:func:`genorisk.qc.plink_counts.fileset_qc`: plink2's counts, or
    :func:`genorisk.qc.shard_qc` for chrX/Y/MT), whose variant rows and
    exclusions are appended to the output files and whose per-sample counts
    are summed. Same files and content as :func:`write_gathered_qc`; memory:
    one fileset's rows and the per-sample arrays.

    Parameters
    ----------
    parts : iterable of path
        Store part folders (``part.json``, ``<name>.pgen``...), in genome order.
    shard_folders : iterable of path
        The ``cohort_qc_shard`` folder of each part, same order.
    outdir : path
    samples : sequence of str
        Phenotyped samples, in the order of the sample table.
    status : mapping IID -> 0/1, optional
        Case/control: HWE on controls.
    recorded_sex : mapping IID -> "male" / "female" / None, optional
        Default the ``.psam`` sex.
    thresholds : QCThresholds, optional

    Returns
    -------
    dict
        The summary written to ``qc_summary.json``.
    """
    import time

    from genorisk.qc.plink_counts import check_shard_folder, fileset_qc

    th = thresholds or QCThresholds()
    part_dirs, shard_dirs = [Path(p) for p in parts], [Path(f) for f in shard_folders]
    if len(part_dirs) != len(shard_dirs) or not part_dirs:
        raise ValueError(f"{len(part_dirs)} store parts and {len(shard_dirs)} shard folders")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sums = _SampleSums()
    t0 = time.perf_counter()
    with (
        atomic_output(outdir / "variant_qc.parquet") as parquet_tmp,
        atomic_output(outdir / "excluded_variants.tsv") as excluded_tmp,
        _RowGroupWriter(parquet_tmp) as rows,
        open(excluded_tmp, "w") as excluded_out,
    ):
        import pyarrow as pa

        header_written = False
        for part, folder in zip(part_dirs, shard_dirs, strict=True):
            check_shard_folder(folder)
            chromosomes = json.loads((part / "part.json").read_text())["chromosomes"]
            for chrom, name in chromosomes.items():
                shard = fileset_qc(part / name, folder, samples=samples, status=status, thresholds=th, chrom=chrom)
                sums.add(shard.samples, shard.hwe_on, shard.thresholds, shard.counts, shard.male, str(part / name))
                sums.n_variants += len(shard.variants)
                sums.ts += int(shard.variants["is_transition"].sum())
                sums.tv += int(shard.variants["is_transversion"].sum())
                sums.n_excluded += len(shard.excluded_variants)
                for code, n in count_reasons(shard.excluded_variants["reason"]).items():
                    sums.excluded_by_reason[code] = sums.excluded_by_reason.get(code, 0) + n
                if len(shard.variants):
                    table = pa.Table.from_pandas(shard.variants, preserve_index=False)
                    rows.add(table, table.schema)
                text = tsv_text(shard.excluded_variants)
                excluded_out.write(text if not header_written else text.split("\n", 1)[1])
                header_written = True
                dt = time.perf_counter() - t0
                log.info(
                    "%s: %d variants (%d excluded); %d rows in %.1f s (%.0f rows/s)",
                    chrom, len(shard.variants), len(shard.excluded_variants), sums.n_variants, dt,
                    sums.n_variants / max(dt, 1e-9),
                )  # fmt: skip
        if not sums.n_variants:
            empty_variant_frame().to_parquet(parquet_tmp, index=False)
    assert sums.first is not None
    sample_table = sums.sample_table(recorded_sex)
    excluded_samples = sample_exclusions(sample_table, th)
    for name, frame in (("sample_qc.tsv", sample_table), ("excluded_samples.tsv", excluded_samples)):
        with atomic_output(outdir / name) as tmp:
            write_tsv(frame, tmp)
    summary = qc_summary(sums.cohort(), sample_table, sums.n_excluded, sums.excluded_by_reason, excluded_samples, th)
    write_json(outdir / "qc_summary.json", summary)
    log.info(
        "gathered %d store parts: %d variant rows (%d excluded), %d samples (%d excluded)",
        len(part_dirs), sums.n_variants, sums.n_excluded, len(sample_table), len(excluded_samples),
    )  # fmt: skip
    return summary
