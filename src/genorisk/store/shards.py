"""Genome shards: the units the per-shard jobs run on, planned before any job runs.

A store part (one job of rule ``store_part``) is one input file, or one
chromosome of a single indexed VCF/BCF. A genome shard is what the per-shard
jobs (QC counts, per-variant statistics) read: one chromosome of a part, or,
with ``cohort.shard_mb``, a region chunk of it. Shards are known when the
workflow is parsed, from what the config names (a ``{chrom}`` pattern, the
simulation's contigs) or from what can be read without reading genotypes:
VCF/BCF indexes, a ``.pvar``/``.bim`` variant table, a BGEN ``.bgi`` index.
Chunk boundaries come from the build's chromosome lengths
(:func:`genorisk.genome.contig_length`); a chunk with no records is merged
into its neighbour when the records can be seen (an index, a variant
table), and a chromosome whose records cannot be seen is not chunked.

A shard that is not a store part itself is a folder written by
:func:`write_shard`: a ``part.json`` and links to the part's fileset (a whole
chromosome: nothing is copied), or a region chunk's own fileset (plink2
``--extract bed1``, the ``.pgen`` of that region only).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.config import part_name
from genorisk.errors import InputError
from genorisk.genome import canonical_contig, contig_length
from genorisk.store.inputs import pvar_header_lines

log = logging.getLogger("genorisk.store")

#: Contigs that belong to chrX's fileset in the store (plink2 ``--split-par`` and PLINK 1 codes).
X_ALIASES = ("PAR1", "PAR2", "XY", "25")


@dataclass(frozen=True)
class GenomeShard:
    """One shard: a chromosome of a store part, or a region of it.

    Attributes
    ----------
    name : str
        The shard's name (wildcard ``part`` of the per-shard rules).
    part : str
        The store part holding it.
    chrom : str or None
        The chromosome; None for a part whose chromosomes are not known
        before it is converted (the shard is then the whole part).
    start, end : int or None
        1-based inclusive bounds of a region chunk; None for a whole chromosome.
    """

    name: str
    part: str
    chrom: str | None = None
    start: int | None = None
    end: int | None = None

    @property
    def region(self) -> str | None:
        """``CHROM:START-END`` for a chunk, ``CHROM`` for a whole chromosome, None for a whole part."""
        if self.chrom is None:
            return None
        return self.chrom if self.start is None else f"{self.chrom}:{self.start}-{self.end}"


def chromosome_key(chrom: str) -> str:
    """The chromosome a contig belongs to in the store (PAR1/PAR2/XY are chrX's)."""
    return "X" if chrom in X_ALIASES else canonical_contig(chrom)


def plan_shards(
    part_chromosomes: Mapping[str, Sequence[str] | None],
    *,
    build: str | None = None,
    shard_mb: float | None = None,
    extents: Mapping[str, tuple[int, int]] | None = None,
    has_records: Callable[[str, str, int, int], bool] | None = None,
) -> list[GenomeShard]:
    """The genome shards of the store parts, in part order and position order.

    Parameters
    ----------
    part_chromosomes : mapping of str to sequence of str or None
        Store part -> its chromosomes (in file order), or None when unknown.
    build : str, optional
        Genome build, for chromosome lengths (chunks need them).
    shard_mb : float, optional
        Chunk length in Mb; None = one shard per chromosome.
    extents : mapping of str to (int, int), optional
        Chromosome -> (first, last) position of its records, when known
        without reading them (the simulation's segments): chunks cover only
        that span, so none is empty.
    has_records : callable, optional
        ``has_records(part, chrom, start, end)``: True if the part holds a
        record in the region (an index or a variant table says so). Empty
        chunks are merged into the previous chunk (the first into the next).

    Returns
    -------
    list of GenomeShard
        A part with one known chromosome and no chunks is its own shard (same
        name); a part of unknown chromosomes is one shard. A chromosome is
        chunked only with a known length and either ``extents`` or
        ``has_records``.

    Raises
    ------
    InputError
        Two parts holding the same chromosome, or two shard names alike.
    """
    shards: list[GenomeShard] = []
    owner: dict[str, str] = {}
    for part, chroms in part_chromosomes.items():
        if chroms is None:
            shards.append(GenomeShard(part, part))
            continue
        wanted = list(dict.fromkeys(chromosome_key(c) for c in chroms))
        spelled: dict[str, str] = {}
        for c in chroms:  # a chromosome's own spelling (chrX, not PAR1) names its shards
            key = chromosome_key(c)
            if key not in spelled or spelled[key] in X_ALIASES:
                spelled[key] = c
        for key in wanted:
            if key in owner:
                raise InputError(part, f"chromosome {spelled[key]} is also in part {owner[key]}", record=spelled[key])
            owner[key] = part
        for key in wanted:
            chrom = spelled[key]
            chunks = _chunks(part, chrom, build, shard_mb, extents, has_records)
            if chunks is None:
                name = part if len(wanted) == 1 else part_name(chrom)
                shards.append(GenomeShard(name, part, chrom))
                continue
            shards += [
                GenomeShard(f"{part_name(chrom)}_c{i:03d}", part, chrom, a, b) for i, (a, b) in enumerate(chunks)
            ]
    names = [s.name for s in shards]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError("cohort", f"genome shards named alike: {', '.join(dup[:5])} (rename the contigs)")
    return shards


#: The end of the last chunk: past any contig, so no record beyond the build's length is left out.
LAST_END = 2**31 - 2


def _chunks(part, chrom, build, shard_mb, extents, has_records) -> list[tuple[int, int]] | None:
    """Chunk bounds of a chromosome (the first from 1, the last to :data:`LAST_END`), or None to keep it whole."""
    if not shard_mb:
        return None
    length = contig_length(build, chrom) if build else None
    step = int(round(shard_mb * 1_000_000))
    if extents is not None and chrom in extents:
        first, last = extents[chrom]
        bounds = [
            (first + i * step, first + (i + 1) * step - 1) for i in range(max(1, math.ceil((last - first + 1) / step)))
        ]
    elif length is not None and has_records is not None:
        bounds = [(1 + i * step, (i + 1) * step) for i in range(max(1, math.ceil(length / step)))]
        # An empty chunk joins the previous one (the first full chunk starts at 1 anyway, below).
        merged: list[tuple[int, int]] = []
        for a, b in bounds:
            if has_records(part, chrom, a, b):
                merged.append((a, b))
            elif merged:
                merged[-1] = (merged[-1][0], b)
        bounds = merged
    else:
        return None
    if len(bounds) < 2:
        return None
    bounds[0] = (1, bounds[0][1])
    bounds[-1] = (bounds[-1][0], LAST_END)
    return bounds


# ----------------------------------------------------------------------------
# What the inputs hold, read before any job (indexes and variant tables only)
# ----------------------------------------------------------------------------


def vcf_index_path(path: str | PathLike) -> str:
    """The index of a VCF/BCF: its ``.csi`` or ``.tbi`` if one exists, else ``<path>.tbi`` (what bgzip/tabix write)."""
    for ext in (".csi", ".tbi"):
        if Path(f"{path}{ext}").exists():
            return f"{path}{ext}"
    return f"{path}.tbi"


class VcfRecordProbe:
    """``probe(chrom, start, end)``: True if an indexed VCF/BCF has a record with POS in [start, end]."""

    def __init__(self, path: str | PathLike):
        import pysam

        self.path = str(path)
        self._file = pysam.VariantFile(self.path)

    def __call__(self, chrom: str, start: int, end: int) -> bool:
        # fetch() gives records overlapping the region: one starting before it is skipped.
        return any(start <= rec.pos <= end for rec in self._fetch(chrom, start, end))

    def _fetch(self, chrom, start, end):
        for rec in self._file.fetch(chrom, start - 1, end):
            yield rec
            if rec.pos >= start:
                return


def plink_variant_positions(prefix: str | PathLike, form: str) -> pd.DataFrame | None:
    """``chrom``, ``pos`` of a ``.pvar`` (``pfile``) or ``.bim`` (``bfile``); None for a compressed ``.pvar.zst``.

    Reads two columns of the variant table (about 1 s per million variants).
    """
    if form == "pfile":
        path = Path(f"{prefix}.pvar")
        if not path.exists():
            return None
        skip = pvar_header_lines(path)
        with open(path) as fh:
            for _ in range(skip):
                fh.readline()
            has_header = fh.readline().startswith("#CHROM")
        table = pd.read_csv(
            path, sep="\t", skiprows=skip, header=0 if has_header else None, usecols=[0, 1], dtype={0: str}
        )
        table.columns = ["chrom", "pos"]
        return table
    path = Path(f"{prefix}.bim")
    if not path.exists():
        return None
    table = pd.read_csv(path, sep=r"\s+", header=None, usecols=[0, 3], dtype={0: str})
    table.columns = ["chrom", "pos"]
    return table


def bgen_index_positions(bgen: str | PathLike) -> pd.DataFrame | None:
    """``chrom``, ``pos`` from a BGEN's ``.bgi`` index (SQLite, as bgenix writes it); None without one."""
    path = Path(f"{bgen}.bgi")
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT chromosome, position FROM Variant ORDER BY file_start_position").fetchall()
    except sqlite3.Error as err:
        raise InputError(path, f"not a readable bgenix index ({err})") from None
    return pd.DataFrame(rows, columns=["chrom", "pos"]).astype({"chrom": str, "pos": np.int64})


def _table_chromosomes(table: pd.DataFrame) -> tuple[list[str], Callable[[str, int, int], bool]]:
    chroms = list(dict.fromkeys(table["chrom"]))
    keys = table["chrom"].map(chromosome_key).to_numpy(dtype=object)
    by_key = {k: np.sort(table["pos"].to_numpy(dtype=np.int64)[keys == k]) for k in dict.fromkeys(keys)}

    def probe(chrom: str, start: int, end: int) -> bool:
        pos = by_key.get(chromosome_key(chrom), np.empty(0, dtype=np.int64))
        return bool(np.searchsorted(pos, end, side="right") > np.searchsorted(pos, start, side="left"))

    return chroms, probe


def cohort_shards(
    form: str,
    vcf_parts: Mapping[str, tuple[str, str | None]],
    cohort: Mapping[str, object],
    *,
    build: str | None,
    shard_mb: float | None,
    simulated: Mapping[str, tuple[int, int]] | None = None,
) -> list[GenomeShard]:
    """The genome shards of the cohort's store parts (see :func:`plan_shards`).

    Parameters
    ----------
    form : str
        The cohort's genotype form (:func:`genorisk.config.cohort_genotype_form`).
    vcf_parts : mapping
        Part -> ``(path, region)`` (:func:`genorisk.config.cohort_vcf_parts`); empty for PLINK/BGEN.
    cohort : mapping
        The validated ``cohort:`` section.
    build, shard_mb
        As for :func:`plan_shards`.
    simulated : mapping of str to (int, int), optional
        For files the simulation writes (they need not exist yet): each
        contig's segment, first and last position.

    Returns
    -------
    list of GenomeShard
        A VCF part's chromosome is its region, its ``{chrom}``, or (a listed
        file) its index's contigs; a PLINK/BGEN input (one part, ``cohort``)
        has the chromosomes of its ``.pvar``/``.bim``/``.bgi``. Without any of
        these a part is one shard.
    """
    part_chroms: dict[str, list[str] | None] = {}
    probes: dict[str, Callable[[str, int, int], bool]] = {}
    if vcf_parts:
        files: dict[str, VcfRecordProbe] = {}
        for part, (path, region) in vcf_parts.items():
            indexed = simulated is None and Path(path).exists() and Path(vcf_index_path(path)).exists()
            if region is not None:
                part_chroms[part] = [region]
            elif simulated is not None and part.startswith("cohort.") and not part.startswith("cohort.part"):
                part_chroms[part] = [_simulated_contig(part[len("cohort.") :], simulated)]
            elif indexed:
                from genorisk.vcf.index import indexed_contigs

                part_chroms[part] = indexed_contigs(path)
            else:
                part_chroms[part] = None
            if indexed and shard_mb:
                files.setdefault(path, VcfRecordProbe(path))
                probes[part] = files[path]
    else:
        table = None
        if form in ("pfile", "bfile"):
            table = plink_variant_positions(str(cohort[form]), form)
        elif form == "bgen":
            table = bgen_index_positions(str(cohort["bgen"]))
        if table is None:
            part_chroms["cohort"] = None
        else:
            part_chroms["cohort"], probes["cohort"] = _table_chromosomes(table)

    def has_records(part: str, chrom: str, start: int, end: int) -> bool:
        return probes[part](chrom, start, end)

    return plan_shards(
        part_chroms,
        build=build,
        shard_mb=shard_mb,
        extents=simulated,
        has_records=has_records if probes and len(probes) == len(part_chroms) else None,
    )


def _simulated_contig(chrom: str, simulated: Mapping[str, tuple[int, int]]) -> str:
    """The simulated contig a pattern's ``{chrom}`` value names (``1`` of ``cohort.chr{chrom}`` is ``chr1``)."""
    return next((c for c in simulated if canonical_contig(c) == canonical_contig(chrom)), chrom)


def simulated_extents(sim: Mapping[str, object] | None) -> dict[str, tuple[int, int]] | None:
    """Each simulated contig's segment (first, last position), from the ``simulate:`` section."""
    if not sim:
        return None
    from genorisk.simulate.config import CHROM, CHROM_X, CHRX_START

    genome = sim.get("genome_wide")
    if isinstance(genome, Mapping):
        first = int(genome["start"])
        return {f"chr{c}": (first, first + int(genome["bp_per_chromosome"]) - 1) for c in genome["chromosomes"]}
    extents = {CHROM: (int(sim["start"]), int(sim["end"]))}  # type: ignore[call-overload]
    if sim.get("chrx_bp"):
        extents[CHROM_X] = (CHRX_START, CHRX_START + int(sim["chrx_bp"]) - 1)  # type: ignore[call-overload]
    return extents


# ----------------------------------------------------------------------------
# Writing a shard
# ----------------------------------------------------------------------------


def write_shard(
    part_folder: str | PathLike,
    out_folder: str | PathLike,
    chrom: str,
    start: int | None = None,
    end: int | None = None,
    *,
    threads: int = 1,
    memory_mb: int = 1000,
    plink2: str = "plink2",
) -> Path:
    """Write a shard folder (``part.json``, as a store part has) for a chromosome or a region of a store part.

    A whole chromosome links to the part's fileset (relative symbolic links:
    nothing is copied). A region gets its own fileset: the part's variants with POS in
    [start, end] (PAR1/PAR2 of chrX too), written by plink2 (``--extract
    bed1``), dosages, INFO and sex kept. The folder is built beside its final
    name and renamed into place.

    Raises
    ------
    InputError
        The part holds no such chromosome, or no variant in the region.
    """
    from genorisk.store.convert import output_chr_code, run_plink2

    part_folder, out = Path(part_folder), Path(out_folder)
    meta = json.loads((part_folder / "part.json").read_text())
    key = chromosome_key(chrom)
    found = [(c, name) for c, name in meta["chromosomes"].items() if chromosome_key(c) == key]
    if not found:
        raise InputError(part_folder / "part.json", f"the store part holds no chromosome {chrom}", record=chrom)
    store_chrom, name = found[0]
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        prefix = part_folder / name
        if start is None:
            # Relative links to the part's fileset: nothing is copied, and a reader that lists
            # the folder's .pgen files (not only part.json) sees the chromosome.
            for suffix in (".pgen", ".pvar", ".psam"):
                os.symlink(os.path.relpath(f"{prefix}{suffix}", out), tmp / f"{name}{suffix}")
            files = {store_chrom: name}
        else:
            contigs = list(
                dict.fromkeys(
                    pd.read_csv(
                        f"{prefix}.pvar",
                        sep="\t",
                        comment=None,
                        usecols=[0],
                        dtype=str,
                        skiprows=pvar_header_lines(f"{prefix}.pvar"),
                    ).iloc[:, 0]
                )
            )
            bed = tmp / "region.bed"
            bed.write_text("".join(f"{c}\t{start}\t{end}\n" for c in contigs))
            args = [
                "--pfile", str(prefix), "--extract", "bed1", str(bed), "--allow-extra-chr",
                "--output-chr", output_chr_code([c for c in contigs if c not in X_ALIASES] or contigs),
                "--threads", str(threads), "--memory", str(memory_mb), "--make-pgen", "--out", str(tmp / name),
            ]  # fmt: skip
            try:
                run_plink2(plink2, args, f"{prefix}.pgen")
            except InputError as err:
                if "No variants remaining" in err.problem:
                    raise InputError(
                        f"{prefix}.pgen", f"no variant in {chrom}:{start}-{end} (a shard planned empty)"
                    ) from None
                raise
            bed.unlink()
            for suffix in (".log",):
                Path(f"{tmp / name}{suffix}").unlink(missing_ok=True)
            files = {store_chrom: name}
        shard = {
            "chromosomes": files,
            "contig_order": meta.get("contig_order", []),
            "shard": {"part": part_folder.name, "chrom": store_chrom, "start": start, "end": end},
        }
        (tmp / "part.json").write_text(json.dumps(shard, indent=1) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
