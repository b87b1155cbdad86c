"""Scatter/gather: region chunks of the cohort, and the chunks' tables and BCFs joined in order."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from genorisk.annotate.bcftools import run_checked
from genorisk.annotate.table import TABLE_COLUMNS, annotation_summary
from genorisk.errors import InputError
from genorisk.io import atomic_output, write_json
from genorisk.vcf.index import plan_regions

log = logging.getLogger("genorisk.annotate")


def plan_chunks(vcf: str | os.PathLike, n_chunks: int) -> list[str]:
    """Region chunks of about equal record count for scatter/gather: :func:`genorisk.vcf.plan_regions`."""
    return plan_regions(vcf, n_chunks)


def _add_counts(total: dict, part: dict) -> dict:
    """Sum two :func:`annotation_summary` dicts (nested count dicts add key by key)."""
    out = dict(total)
    for k, v in part.items():
        if isinstance(v, dict):
            merged = dict(out.get(k, {}))
            for kk, vv in v.items():
                merged[kk] = merged.get(kk, 0) + vv
            out[k] = merged
        else:
            out[k] = out.get(k, 0) + v
    return out


def gather(
    tables: Sequence[str | os.PathLike],
    bcfs: Sequence[str | os.PathLike],
    out_table: str | os.PathLike,
    out_bcf: str | os.PathLike,
    out_summary: str | os.PathLike | None = None,
) -> None:
    """Concatenate per-chunk tables (Parquet) and BCFs, in the given (chunk) order.

    Tables are streamed chunk by chunk into one Parquet file (memory: one
    chunk). BCFs are joined with ``bcftools concat --naive`` (no recompression;
    the chunk headers are identical because every chunk is written the same
    way with ``--no-version``) and indexed; indexing fails, and nothing is
    written, if the chunks are out of order. ``out_summary`` receives the
    :func:`annotation_summary` of the whole table as JSON. All outputs are atomic.
    """
    if len(tables) != len(bcfs):
        raise ValueError(f"{len(tables)} tables but {len(bcfs)} BCFs")
    for p in [*tables, *bcfs]:
        if not Path(p).exists():
            raise InputError(p, "chunk output not found")
    summary: dict = {}
    with atomic_output(out_table) as tmp:
        writer = None
        for p in tables:
            part = pq.read_table(p)
            if writer is None:
                writer = pq.ParquetWriter(tmp, part.schema)
            elif not part.schema.equals(writer.schema):
                raise InputError(p, "chunk table has other columns than the first chunk (written by another version?)")
            writer.write_table(part)
            summary = _add_counts(summary, annotation_summary(part.to_pandas()))
        if writer is None:
            pq.write_table(pa.table({c: [] for c in TABLE_COLUMNS}), tmp)
        else:
            writer.close()
    if out_summary is not None:
        write_json(out_summary, summary)
    out_bcf = Path(out_bcf)
    naive = all(str(p).endswith(".bcf") for p in bcfs) and out_bcf.name.endswith(".bcf")
    with atomic_output(out_bcf) as tmp:
        argv = [
            "bcftools",
            "concat",
            "--no-version",
            *(["--naive"] if naive else ["-Ob" if out_bcf.name.endswith(".bcf") else "-Oz"]),
            "-o",
            str(tmp),
            *map(str, bcfs),
        ]
        run_checked(argv, "bcftools concat", out_bcf)
        run_checked(["bcftools", "index", "-f", str(tmp)], "bcftools index (are the chunks in order?)", out_bcf)
        Path(str(tmp) + ".csi").replace(str(out_bcf) + ".csi")
    log.info("gathered %d chunks into %s and %s", len(bcfs), out_table, out_bcf)
