"""Indexes of VCF/BCF files: checking that an index belongs to its file, reading its record
counts, and planning region queries and region chunks from it (never parsing TBI/CSI by hand)."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig

log = logging.getLogger("genorisk.vcf.index")

__all__ = ["has_index", "index_record_counts", "indexed_contigs", "index_regions", "plan_regions", "validate_index"]


def index_record_counts(data_path: Path, index_path: Path) -> dict[str, int] | None:
    """Records per contig as the index itself records them (``bcftools index
    --stats`` reads the index only), or None when bcftools or the statistics
    are not available."""
    if shutil.which("bcftools") is None:
        return None
    proc = subprocess.run(
        ["bcftools", "index", "--stats", f"{data_path}##idx##{index_path}"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None
    counts = {}
    for line in proc.stdout.splitlines():
        name, _length, n = line.split("\t")
        counts[name] = int(n)
    return counts


def indexed_contigs(path: str | os.PathLike) -> list[str]:
    """The contigs that hold records, in the order of the file's index (the index alone is read).

    Raises
    ------
    InputError
        The file has no ``.tbi``/``.csi`` index, or bcftools cannot read it.
    """
    path = Path(path)
    index = _index_path(path)
    if index is None:
        raise InputError(path, "no .tbi or .csi index beside the file (index it: bcftools index)")
    counts = index_record_counts(path, index)
    if counts is None:
        raise InputError(index, "bcftools index --stats cannot read the index (is it this file's?)")
    return [contig for contig, n in counts.items() if n > 0]


def validate_index(
    index_path: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
    *,
    records_per_contig: dict[str, int] | None = None,
    probes: list[tuple[str, int]] | None = None,
) -> list[str]:
    """Check that a ``.tbi``/``.csi`` index belongs to its data file.

    ``data_path`` defaults to ``index_path`` without its suffix. The index must be
    a BGZF-compressed TBI or CSI; the data file must be BGZF (or BCF); the index
    must name exactly the contigs that have records, return for each as many
    records as the data file holds (``records_per_contig``, from
    :func:`validate_vcf`, or counted here), and find the first and last record
    of each contig by a region query (``probes``: ``(CHROM, POS)`` pairs, from
    :func:`validate_vcf`, or taken here); an index of another file with the
    same contigs fails the region queries. Returns warnings (an index older
    than its data file is a warning: htslib also only warns, and the record
    counts above catch a changed file); raises InputError when the index does
    not belong to the file.
    """
    import pysam

    index_path = Path(index_path)
    if data_path is None:
        if index_path.suffix not in (".tbi", ".csi"):
            raise InputError(index_path, "index file name must end in .tbi or .csi")
        data_path = index_path.with_suffix("")
    data_path = Path(data_path)
    if not data_path.exists():
        raise InputError(index_path, f"index without its data file {data_path.name}")
    try:
        with gzip.open(index_path, "rb") as fh:
            magic = fh.read(4)
    except (OSError, EOFError) as err:
        raise InputError(index_path, f"not a BGZF-compressed index ({err})") from None
    if magic not in (b"TBI\x01", b"CSI\x01"):
        raise InputError(index_path, f"not a tabix or CSI index (magic {magic!r})")
    if magic == b"TBI\x01" and index_path.suffix != ".tbi" or magic == b"CSI\x01" and index_path.suffix != ".csi":
        raise InputError(index_path, f"file content is {magic[:3].decode()} but the name ends in {index_path.suffix}")
    warnings = []
    if index_path.stat().st_mtime + 1 < data_path.stat().st_mtime:
        warnings.append(f"{index_path}: index is older than {data_path.name}; checked it against the data anyway")
    try:
        with pysam.VariantFile(str(data_path), index_filename=str(index_path)) as vf:
            if records_per_contig is None or probes is None:
                records_per_contig = {}
                ends: dict[str, list[int]] = {}
                for rec in vf.fetch():
                    records_per_contig[rec.chrom] = records_per_contig.get(rec.chrom, 0) + 1
                    ends.setdefault(rec.chrom, [rec.pos, rec.pos])[1] = rec.pos
                probes = [(c, p) for c, e in ends.items() for p in e]
            # pysam's stubs type index keys as int | str (lookups accept a number); the keys are names.
            index_names = cast(set[str], set(vf.index.keys())) if vf.index is not None else set()
            index_counts = index_record_counts(data_path, index_path) or {}
            for chrom, expected in records_per_contig.items():
                if chrom not in index_names:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it has no entry for contig {chrom!r} "
                        f"({expected} records)",
                    )
                got = index_counts.get(chrom)
                if got is None:  # no statistics in the index: count with a region query
                    got = sum(1 for _ in vf.fetch(chrom))
                if got != expected:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it finds {got} records on {chrom}, the "
                        f"file has {expected}",
                    )
            for chrom, pos in probes:
                if not any(rec.pos == pos for rec in vf.fetch(chrom, pos - 1, pos)):
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: a region query for {chrom}:{pos} misses "
                        "the record there",
                    )
            extra = [c for c in index_names if records_per_contig.get(c, 0) == 0]
            for chrom in extra:
                if next(iter(vf.fetch(chrom)), None) is not None:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it finds records on {chrom!r}, which the "
                        "file does not have",
                    )
    except InputError:
        raise
    except (OSError, ValueError) as err:
        raise InputError(index_path, f"index does not belong to {data_path.name} or is corrupt ({err})") from None
    return warnings


def has_index(path: str | os.PathLike) -> bool:
    """True if a ``.tbi`` or ``.csi`` index lies beside ``path``."""
    return any(Path(str(path) + ext).exists() for ext in (".tbi", ".csi"))


def _index_path(path: Path) -> Path | None:
    for ext in (".tbi", ".csi"):
        idx = Path(str(path) + ext)
        if idx.exists():
            return idx
    return None


def index_regions(
    path: str | os.PathLike, variants: pd.DataFrame, *, max_gap: int = 1000, max_fraction: float | None = None
) -> list[str] | None:
    """Regions for reading just ``variants`` from an indexed VCF/BCF, or None when a full pass is better.

    Parameters
    ----------
    path : str or PathLike
        The VCF/BCF to read (its ``.tbi`` or ``.csi`` index is used).
    variants : pandas.DataFrame
        Columns ``chrom`` and ``pos`` (1-based). Chromosome names are matched
        to the file's contigs by :func:`genorisk.genome.canonical_contig`
        (``chr1`` = ``1``, ``chrM`` = ``MT``); variants on contigs the file
        does not name are left out (they cannot be found).
    max_gap : int
        Positions at most this many bp apart share one region: one index
        query then serves several nearby variants.
    max_fraction : float, optional
        Return None (read the whole file) when the distinct positions exceed
        this fraction of the file's records (the index's record count). An
        index query costs about 0.3 ms (a BGZF block inflated per region);
        a full pass costs about 2 us per GT-only record (text engine) and
        45 us per record with more FORMAT fields (AD:DP:GQ:PL), so the index
        wins below roughly 1% (GT-only) to 15% (clinical FORMAT). None:
        always use the index when there is one.

    Returns
    -------
    list of str or None
        ``CHROM:START-END`` (1-based, inclusive, the file's contig names),
        non-overlapping, in the file's contig order then position, for
        :func:`genorisk.genotypes.iter_dosage_chunks` ``regions``. A region
        query returns every record overlapping it, so a record whose POS is a
        wanted position is always among them. None when the file has no index
        (a filtered pass would read the whole file anyway, and the unfiltered
        text engine is faster) or past ``max_fraction``.
    """
    from cyvcf2 import VCF

    path = Path(path)
    if not has_index(path):
        return None
    vcf = VCF(str(path), lazy=True)
    try:
        seqnames = list(vcf.seqnames)
        n_records = None
        if max_fraction is not None:
            try:
                n_records = int(vcf.num_records)  # from the index's per-contig counts
            except Exception:  # an index without counts: assume the index pays
                n_records = None
    finally:
        vcf.close()
    n_positions = len(variants[["chrom", "pos"]].drop_duplicates())
    if n_records is not None and max_fraction is not None and n_positions > max_fraction * n_records:
        log.info(
            "%s: %d wanted positions of %d records; one full pass instead of the index",
            path.name,
            n_positions,
            n_records,
        )
        return None
    contig_of: dict[str, str] = {}
    for name in seqnames:
        contig_of.setdefault(canonical_contig(name), name)
    regions: list[str] = []
    table = pd.DataFrame(
        {
            "chrom": variants["chrom"].astype(str).map(canonical_contig).map(contig_of),
            "pos": variants["pos"].astype("int64"),
        }
    ).dropna()
    rank = {name: i for i, name in enumerate(seqnames)}
    for contig in sorted(table["chrom"].unique(), key=rank.__getitem__):
        pos = np.unique(table.loc[table["chrom"] == contig, "pos"].to_numpy())
        breaks = np.flatnonzero(np.diff(pos) > max_gap)
        starts = pos[np.r_[0, breaks + 1]]
        ends = pos[np.r_[breaks, len(pos) - 1]]
        regions += [f"{contig}:{a}-{b}" for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    return regions


#: Width of the index's finest windows (TBI linear index; CSI leaf bins at min_shift 14).
WINDOW_BP = 1 << 14


def _record_positions(path: Path, contig: str) -> np.ndarray:
    """POS of every record on ``contig`` (``bcftools query -r``, index-driven), in file order."""
    proc = subprocess.run(
        ["bcftools", "query", "-r", contig, "-f", "%POS\\n", str(path)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise InputError(path, f"bcftools query -r {contig} failed: {proc.stderr.decode(errors='replace').strip()}")
    return np.array(proc.stdout.split(), dtype=np.int64)


def plan_regions(vcf_path: str | os.PathLike, n_chunks: int) -> list[str]:
    """Region chunks that partition an indexed VCF/BCF's records, about equal in record count.

    Parameters
    ----------
    vcf_path : str or PathLike
        A BGZF VCF or BCF with a ``.tbi``/``.csi`` index.
    n_chunks : int
        About how many chunks to make (at least 1).

    Returns
    -------
    list of str
        Regions in the file's contig order: a contig's name alone when it
        gets one chunk, else ``CHROM:START-END`` pieces that tile it from 1 to
        its length (or past its last record). A chunk owns the records whose
        POS lies in its region, so no record is in two chunks.

    Notes
    -----
    Records per contig come from the index (``bcftools index --stats``; one
    ``bcftools query`` pass for an old index without statistics); a
    contig gets ``max(1, round(n_chunks * records / total))`` chunks, so the
    result may hold a few more or fewer than ``n_chunks`` regions (a small
    contig still gets its own). Within a contig the cuts fall on the
    index's 16 kb windows: POS values are read once with
    ``bcftools query -r CONTIG -f '%POS'`` and a cut goes to the first window
    that starts at or after every ``j / k``-th record of the contig (counted
    from the contig's first window to its last), the rule the earlier
    byte-offset planner followed for records of near-constant size.
    """
    import pysam

    path = Path(vcf_path)
    if n_chunks < 1:
        raise ValueError("n_chunks must be at least 1")
    index = _index_path(path)
    if index is None:
        raise InputError(path, "no .tbi or .csi index next to the VCF/BCF (run `bcftools index`)")
    counts = index_record_counts(path, index)
    if counts is None:  # an index without statistics (old tabix): count the records in one pass
        proc = subprocess.run(["bcftools", "query", "-f", "%CHROM\\n", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise InputError(path, f"cannot count records with bcftools query: {proc.stderr.strip()}")
        names, n = np.unique(np.array(proc.stdout.split(), dtype=object), return_counts=True)
        counts = dict(zip(names.tolist(), n.tolist(), strict=True))
    with pysam.VariantFile(str(path)) as vf:
        lengths = {c: vf.header.contigs[c].length for c in vf.header.contigs}
        order = cast(list[str], list(vf.header.contigs))  # names; pysam's stubs say int | str
    contigs = [c for c in order if counts.get(c, 0) > 0] + [c for c in counts if c not in order and counts[c] > 0]
    total = sum(counts[c] for c in contigs)
    regions: list[str] = []
    for c in contigs:
        k = max(1, round(n_chunks * counts[c] / total))
        if k == 1:
            regions.append(c)
            continue
        windows, first = np.unique((_record_positions(path, c) - 1) // WINDOW_BP, return_index=True)
        if len(windows) < 2:
            regions.append(c)
            continue
        targets = first[-1] * np.arange(1, k) / k  # records before each window, from the first to the last
        cut = np.unique(np.searchsorted(first, targets, side="left"))
        cut = cut[(cut > 0) & (cut < len(windows))]
        starts = [1] + [int(windows[w]) * WINDOW_BP + 1 for w in cut]
        last_end = max(lengths.get(c) or 0, int(windows[-1]) * WINDOW_BP + 1 + WINDOW_BP)
        ends = [s - 1 for s in starts[1:]] + [last_end]
        regions += [f"{c}:{s}-{e}" for s, e in zip(starts, ends, strict=True)]
    return regions
