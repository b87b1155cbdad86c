"""Callable regions of a patient: where a site absent from the VCF is homozygous reference.

A clinic's patient VCF usually lists variant sites only. A model site absent
from it is either homozygous reference (the lab sequenced it and found nothing)
or not sequenced at all; only the lab knows which. Two sources say it:

* a **gVCF**'s reference blocks (GATK ``-ERC GVCF``, DeepVariant, ``bcftools
  call -g``, PharmCAT): records whose only ALT is ``<NON_REF>`` or ``<*>``,
  spanning ``POS..INFO/END``, with the block's genotype quality;
  :func:`gvcf_reference_blocks`;
* a **callable-regions BED** from the sequencing lab (capture targets with
  enough depth, ``mosdepth``/``GATK CallableLoci`` output, ...);
  :func:`read_callable_bed`.

:func:`patient_callable_regions` chooses between them and
:func:`genorisk.features.patient_features` uses the result: a schema allele
absent from the VCF but inside a callable region gets dosage 0, unless a
record of the VCF that is not a homozygous-reference call covers its position
(:func:`non_reference_sites`: another allele, a deletion over it, a no-call).

Everything is held as merged, sorted 0-based half-open intervals per contig,
keyed by :func:`genorisk.genome.canonical_contig` (``chr1`` = ``1``).
"""

from __future__ import annotations

import gzip
import logging
import os
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, contig_length, normalize_build

log = logging.getLogger("genorisk.callable")

__all__ = [
    "REFERENCE_BLOCK_ALTS",
    "CallableRegions",
    "gvcf_reference_blocks",
    "non_reference_sites",
    "non_reference_sites_many",
    "patient_callable_regions",
    "read_callable_bed",
    "samples_callable_regions",
]

#: The ALT alleles of a gVCF reference block (GATK/Picard ``<NON_REF>``; bcftools,
#: DeepVariant and the VCF 4.x specification ``<*>``).
REFERENCE_BLOCK_ALTS = frozenset({"<NON_REF>", "<*>"})

#: Records read between two progress lines of :func:`gvcf_reference_blocks`.
_CHUNK_ROWS = 1_000_000


class CallableRegions:
    """Merged intervals where an absent site counts as homozygous reference.

    Parameters
    ----------
    intervals : Mapping of str to (starts, ends)
        Per contig (any spelling; keyed by its canonical name), 0-based
        half-open ``[start, end)`` intervals; they may overlap, touch or be
        unsorted: they are merged here.
    source : str
        ``"gvcf"`` or ``"bed"``: where the intervals came from.
    path : str, optional
        The file they were read from (for logs and reports).

    Attributes
    ----------
    source : str
    path : str or None
    n_regions : int
        Intervals after merging.
    n_bp : int
        Base pairs covered.
    """

    def __init__(
        self,
        intervals: Mapping[str, tuple[np.ndarray, np.ndarray]],
        source: str,
        path: str | os.PathLike | None = None,
    ):
        if source not in ("gvcf", "bed"):
            raise ValueError(f"source must be 'gvcf' or 'bed', not {source!r}")
        self.source = source
        self.path = None if path is None else str(path)
        grouped: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for chrom, (starts, ends) in intervals.items():
            key = canonical_contig(chrom)
            s, e = grouped.setdefault(key, ([], []))
            s.append(np.asarray(starts, dtype=np.int64))
            e.append(np.asarray(ends, dtype=np.int64))
        self._starts: dict[str, np.ndarray] = {}
        self._ends: dict[str, np.ndarray] = {}
        for key, (s, e) in grouped.items():
            starts, ends = _merge(np.concatenate(s), np.concatenate(e))
            if len(starts):
                self._starts[key], self._ends[key] = starts, ends
        self.n_regions = int(sum(len(s) for s in self._starts.values()))
        self.n_bp = int(sum(int((self._ends[k] - self._starts[k]).sum()) for k in self._starts))

    def contains(self, chrom: str, pos: np.ndarray) -> np.ndarray:
        """Which 1-based positions of ``chrom`` lie inside a region.

        Parameters
        ----------
        chrom : str
            Contig name in any spelling (``chr1`` and ``1`` agree).
        pos : array_like of int
            1-based positions (VCF ``POS``).

        Returns
        -------
        numpy.ndarray of bool
            Same shape as ``pos``.
        """
        pos0 = np.asarray(pos, dtype=np.int64) - 1
        key = canonical_contig(chrom)
        starts = self._starts.get(key)
        if starts is None:
            return np.zeros(pos0.shape, dtype=bool)
        ends = self._ends[key]
        i = np.searchsorted(starts, pos0, side="right") - 1
        inside = i >= 0
        inside[inside] = pos0[inside] < ends[i[inside]]
        return inside

    def contains_sites(self, chroms: Sequence[str] | np.ndarray, pos: np.ndarray) -> np.ndarray:
        """:meth:`contains` for sites on many contigs (``chroms[i]``, ``pos[i]``)."""
        chroms_arr = np.asarray(chroms, dtype=object)
        pos_arr = np.asarray(pos, dtype=np.int64)
        out = np.zeros(len(pos_arr), dtype=bool)
        for chrom in pd.unique(chroms_arr):
            at = chroms_arr == chrom
            out[at] = self.contains(str(chrom), pos_arr[at])
        return out

    def __repr__(self) -> str:
        return f"CallableRegions(source={self.source!r}, n_regions={self.n_regions}, n_bp={self.n_bp})"


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and merge overlapping or touching half-open intervals."""
    if len(starts) == 0:
        return starts, ends
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    # A new interval begins where the start lies beyond everything before it.
    new = np.empty(len(starts), dtype=bool)
    new[0] = True
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(starts) - 1)
    return starts[first], reach[last]


# ---------------------------------------------------------------------------
# BED
# ---------------------------------------------------------------------------


def _bed_lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        if gz:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
                yield from fh
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                yield from fh
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(path, f"cannot read the BED file: {err}") from None
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_callable_bed(path: str | os.PathLike, *, genome_build: str | None) -> CallableRegions:
    """Read a callable-regions BED file.

    Parameters
    ----------
    path : str or PathLike
        BED, plain or gzip/BGZF-compressed: ``chrom start end [...]``,
        0-based half-open coordinates, tab- or space-separated; columns after
        the third are ignored. Empty lines and lines starting with ``track``,
        ``browser`` or ``#`` are skipped. Intervals may overlap or be unsorted.
    genome_build : str, optional
        ``GRCh37``/``GRCh38`` (or an alias): every contig must be one of that
        build's (any spelling: ``chr1``, ``1``, ``NC_000001.11``) and every end
        within its length. None: contigs and lengths are not checked.

    Returns
    -------
    CallableRegions
        ``source == "bed"``.

    Raises
    ------
    InputError
        naming the file, ``line N`` and the problem: fewer than 3 columns;
        start or end not a non-negative integer; ``end <= start``; a contig
        unknown to ``genome_build``; an end beyond the contig's length; a file
        without any interval.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "callable-regions BED file does not exist")
    build = normalize_build(genome_build) if genome_build else None
    intervals: dict[str, tuple[list[int], list[int]]] = {}
    lengths: dict[str, int | None] = {}
    for lineno, raw in enumerate(_bed_lines(path), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        where = f"line {lineno}"
        fields = line.split()
        if len(fields) < 3:
            raise InputError(path, f"{len(fields)} columns; a BED line needs chrom, start and end", record=where)
        chrom, start_s, end_s = fields[:3]
        if not (start_s.isascii() and start_s.isdigit() and end_s.isascii() and end_s.isdigit()):
            raise InputError(
                path, f"start {start_s[:30]!r} and end {end_s[:30]!r} must be non-negative integers", record=where
            )
        start, end = int(start_s), int(end_s)
        if end <= start:
            raise InputError(
                path, f"end {end} is not after start {start} (BED is 0-based, end exclusive)", record=where
            )
        if build is not None:
            if chrom not in lengths:
                lengths[chrom] = contig_length(build, chrom)
            length = lengths[chrom]
            if length is None:
                raise InputError(path, f"contig {chrom!r} is not a {build} sequence name", record=where)
            if end > length:
                raise InputError(
                    path,
                    f"end {end} is beyond the end of {chrom} in {build} ({length} bp): wrong genome build?",
                    record=where,
                )
        s, e = intervals.setdefault(chrom, ([], []))
        s.append(start)
        e.append(end)
    if not intervals:
        raise InputError(path, "callable-regions BED file has no intervals")
    regions = CallableRegions(
        {c: (np.array(s, dtype=np.int64), np.array(e, dtype=np.int64)) for c, (s, e) in intervals.items()},
        "bed",
        path,
    )
    log.info("%s: %d callable regions, %d bp", path, regions.n_regions, regions.n_bp)
    return regions


# ---------------------------------------------------------------------------
# gVCF
# ---------------------------------------------------------------------------


def _header_ids(vcf: Path) -> dict[str, set[str]]:
    """INFO and FORMAT keys the header declares."""
    proc = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True)
    if proc.returncode != 0:
        raise InputError(vcf, "bcftools cannot read the header: " + proc.stderr.decode(errors="replace").strip()[-300:])
    ids: dict[str, set[str]] = {"INFO": set(), "FORMAT": set()}
    for line in proc.stdout.decode(errors="replace").splitlines():
        for kind in ids:
            if line.startswith(f"##{kind}=<ID="):
                ids[kind].add(line[len(kind) + 7 :].split(",", 1)[0].rstrip(">"))
    return ids


def _query(
    vcf: Path, sample: str | Sequence[str], fmt: str, workdir: Path, extra: Sequence[str] = ()
) -> subprocess.Popen:
    """Start ``bcftools query`` for one sample or several (named in a file: names may hold commas)."""
    samples_file = workdir / "sample.txt"
    samples_file.write_text("".join(s + "\n" for s in ([sample] if isinstance(sample, str) else sample)))
    # stderr goes to a file: a pipe nobody reads could fill and stall bcftools.
    with open(workdir / "query.err", "wb") as err:
        return subprocess.Popen(
            ["bcftools", "query", "-u", "-S", str(samples_file), *extra, "-f", fmt, str(vcf)],
            stdout=subprocess.PIPE,
            stderr=err,
        )


def _finish(proc: subprocess.Popen, vcf: Path, workdir: Path, *, failed: bool) -> None:
    """Wait for a query; stop it when its reader failed, else raise if it failed."""
    assert proc.stdout is not None
    if failed:
        proc.kill()
    proc.stdout.close()
    code = proc.wait()
    if not failed and code != 0:
        err = (workdir / "query.err").read_text(errors="replace").strip()
        raise InputError(vcf, "bcftools query failed: " + err[-300:])


def _read_table(proc: subprocess.Popen, names: list[str]) -> Iterator[pd.DataFrame]:
    assert proc.stdout is not None
    try:
        yield from pd.read_csv(
            proc.stdout,
            sep="\t",
            header=None,
            names=names,
            dtype=str,
            na_filter=False,
            quoting=3,  # csv.QUOTE_NONE: VCF has no quoting
            chunksize=_CHUNK_ROWS,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return


_HOM_REF_RE = r"0(?:[/|]0)*"


def gvcf_reference_blocks(
    vcf: str | os.PathLike,
    sample: str,
    *,
    min_gq: int = 20,
    min_dp: int = 0,
    genome_build: str | None = None,
) -> CallableRegions | None:
    """The homozygous-reference blocks of one sample of a gVCF.

    A reference block is a record whose only ALT is ``<NON_REF>`` or ``<*>``
    (:data:`REFERENCE_BLOCK_ALTS`) and whose genotype for ``sample`` is
    homozygous reference (``0``, ``0/0``, ``0|0``, any ploidy). It spans
    ``POS..INFO/END`` (1-based, inclusive), or ``POS`` alone without
    ``INFO/END``. It counts only if its FORMAT ``GQ`` is at least ``min_gq``
    (a missing GQ fails any positive minimum) and its depth, ``MIN_DP`` (the
    block's minimum, GATK) or else ``DP``, at least ``min_dp``; a threshold of
    0 is not checked.

    Read from the normalised file (:func:`genorisk.vcf.normalize_vcf` keeps
    every block record as it is and declares an undeclared ``INFO/END``) or
    from the validated original: both give the same blocks. (Splitting turns
    a variant site ``A G,<NON_REF>`` into ``A G`` plus a one-position
    ``A <NON_REF>`` record with the remaining genotype, ``0/0`` for a ``0/1``
    call; a block record without END at the position of a record with a real
    ALT is such a remnant and is not counted.)

    Parameters
    ----------
    vcf : str or PathLike
        A validated VCF/BCF (any compression bcftools reads).
    sample : str
        Sample name in the file.
    min_gq : int
        Smallest block GQ that counts (default 20, GATK's and DeepVariant's
        usual reference-confidence cut-off).
    min_dp : int
        Smallest block depth that counts; 0 (default): not checked.
    genome_build : str, optional
        With a build, a block reaching beyond its contig's length is an error
        (wrong build).

    Returns
    -------
    CallableRegions or None
        ``source == "gvcf"`` (possibly with no regions when no block passes
        the thresholds); None when the file has no reference-block record (not
        a gVCF).

    Raises
    ------
    InputError
        naming the file and ``CHROM:POS``: a block whose END is before its POS
        or not an integer; a block beyond its contig in ``genome_build``;
        ``sample`` not in the file or bcftools failing.
    """
    vcf = Path(vcf)
    build = normalize_build(genome_build) if genome_build else None
    ids = _header_ids(vcf)
    # Tags the header does not declare are printed "." (-u); an undeclared END
    # (htslib would read it as a String) is taken from the INFO column.
    end_field = "%INFO/END" if "END" in ids["INFO"] else "%INFO"
    fmt = "%CHROM\t%POS\t%ALT\t" + end_field + "[\t%GT\t%GQ\t%MIN_DP\t%DP]\n"
    names = ["chrom", "pos", "alt", "end", "gt", "gq", "min_dp", "dp"]
    starts: dict[str, list[np.ndarray]] = {}
    ends: dict[str, list[np.ndarray]] = {}
    one_base: dict[str, list[np.ndarray]] = {}  # blocks without END
    site_pos: dict[str, list[np.ndarray]] = {}  # positions of records with a real ALT
    n_records = n_blocks = n_passing = 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="genorisk-gvcf-") as td:
        proc = _query(vcf, sample, fmt, Path(td))
        failed = True
        try:
            for table in _read_table(proc, names):
                n_records += len(table)
                is_block = table["alt"].isin(REFERENCE_BLOCK_ALTS).to_numpy()
                for chrom, group in table.loc[~is_block, ["chrom", "pos"]].groupby("chrom", sort=False):
                    site_pos.setdefault(str(chrom), []).append(group["pos"].astype(np.int64).to_numpy())
                table = table[is_block]
                n_blocks += len(table)
                if table.empty:
                    continue
                pos = table["pos"].astype(np.int64).to_numpy()
                end_text = table["end"]
                if end_field == "%INFO":
                    end_text = end_text.str.extract(r"(?:^|;)END=([^;]*)", expand=False).fillna(".")
                has_end = (end_text != ".").to_numpy()
                end_num = pd.to_numeric(end_text.where(has_end, None), errors="coerce").to_numpy(dtype=float)
                bad = has_end & (np.isnan(end_num) | (np.nan_to_num(end_num, nan=0) < pos))
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    chrom, p, e = table["chrom"].iloc[i], int(pos[i]), end_text.iloc[i]
                    problem = (
                        f"gVCF reference block END {e} is before its POS {p}"
                        if not np.isnan(end_num[i])
                        else f"gVCF reference block END {e[:30]!r} is not an integer"
                    )
                    raise InputError(vcf, problem, record=f"{chrom}:{p}")
                end = np.where(has_end, np.nan_to_num(end_num, nan=0).astype(np.int64), pos)
                keep = table["gt"].str.fullmatch(_HOM_REF_RE).to_numpy(dtype=bool, copy=True)
                if min_gq > 0:
                    gq = pd.to_numeric(table["gq"], errors="coerce").to_numpy(dtype=float)
                    keep &= gq >= min_gq  # NaN (missing GQ) fails
                if min_dp > 0:
                    depth = table["min_dp"].where(table["min_dp"] != ".", table["dp"])
                    keep &= pd.to_numeric(depth, errors="coerce").to_numpy(dtype=float) >= min_dp
                n_passing += int(keep.sum())
                chroms = table["chrom"].to_numpy(dtype=object)[keep]
                pos, end = pos[keep], end[keep]
                for chrom in pd.unique(chroms):
                    at = chroms == chrom
                    if build is not None:
                        length = contig_length(build, str(chrom))
                        if length is not None and end[at].max() > length:
                            i = int(np.flatnonzero(at & (end > length))[0])
                            raise InputError(
                                vcf,
                                f"gVCF reference block END {end[i]} is beyond the end of {chrom} in {build} "
                                f"({length} bp): wrong genome build?",
                                record=f"{chrom}:{pos[i]}",
                            )
                    starts.setdefault(str(chrom), []).append(pos[at] - 1)
                    ends.setdefault(str(chrom), []).append(end[at])
                    one_base.setdefault(str(chrom), []).append(~has_end[keep][at])
                if n_records >= _CHUNK_ROWS:
                    rate = n_records / max(time.monotonic() - t0, 1e-9)
                    log.info("%s: %d records read for reference blocks (%.0f records/s)", vcf, n_records, rate)
            failed = False
        finally:
            _finish(proc, vcf, Path(td), failed=failed)
    if n_blocks == 0:
        log.info("%s: no gVCF reference blocks (%d records): a variants-only VCF", vcf, n_records)
        return None
    intervals = {}
    for c in starts:
        s, e = np.concatenate(starts[c]), np.concatenate(ends[c])
        # Splitting a variant site "A G,<NON_REF>" leaves an END-less "A <NON_REF>" record at the
        # variant's position: not a block of the caller's, so the original and the normalised
        # file give the same regions.
        split_off = np.concatenate(one_base[c]) & np.isin(s + 1, np.concatenate(site_pos.get(c, [np.zeros(0, int)])))
        intervals[c] = (s[~split_off], e[~split_off])
    regions = CallableRegions(intervals, "gvcf", vcf)
    log.info(
        "%s: %d of %d reference blocks pass GQ >= %d and depth >= %d: %d regions, %d bp callable",
        vcf,
        n_passing,
        n_blocks,
        min_gq,
        min_dp,
        regions.n_regions,
        regions.n_bp,
    )
    return regions


def patient_callable_regions(
    vcf: str | os.PathLike,
    sample: str,
    *,
    bed: str | os.PathLike | None = None,
    min_gq: int = 20,
    min_dp: int = 0,
    genome_build: str | None = None,
) -> CallableRegions | None:
    """Where a patient's absent sites are homozygous reference: the gVCF's blocks, else the BED, else None.

    When the VCF is a gVCF (it has reference blocks), its blocks are used and
    a ``bed`` given as well is ignored, with a log line saying so: the gVCF
    states position by position where the caller was confident of a
    reference call, and a union with the BED would call homozygous reference
    where the gVCF itself says the evidence is weak (a low-GQ block, a
    no-call) or absent.

    Parameters
    ----------
    vcf : str or PathLike
        The patient's validated (or normalised) VCF/BCF.
    sample : str
        The patient's sample name in it.
    bed : str or PathLike, optional
        Callable-regions BED (see :func:`read_callable_bed`) for a
        variants-only VCF.
    min_gq, min_dp : int
        gVCF block thresholds (see :func:`gvcf_reference_blocks`).
    genome_build : str, optional
        Build the coordinates must fit.

    Returns
    -------
    CallableRegions or None
        None: neither a gVCF nor a BED; absent sites stay missing.
    """
    blocks = gvcf_reference_blocks(vcf, sample, min_gq=min_gq, min_dp=min_dp, genome_build=genome_build)
    if blocks is not None:
        if bed is not None:
            log.info("%s is a gVCF: its reference blocks are used and the callable BED %s is ignored", vcf, bed)
        return blocks
    if bed is not None:
        return read_callable_bed(bed, genome_build=genome_build)
    return None


def samples_callable_regions(
    vcf: str | os.PathLike,
    samples: Sequence[str],
    beds: Sequence[str | os.PathLike | None],
    *,
    reference_blocks: int | None = None,
    min_gq: int = 20,
    min_dp: int = 0,
    genome_build: str | None = None,
) -> list[CallableRegions | None]:
    """:func:`patient_callable_regions` for several samples of one VCF, each BED read once.

    Parameters
    ----------
    vcf : str or PathLike
        The validated (or normalised) VCF/BCF holding ``samples``.
    samples : sequence of str
        Sample names (repeats allowed: one result per entry).
    beds : sequence of path or None
        Each sample's callable-regions BED (None: none), aligned with ``samples``.
    reference_blocks : int, optional
        The file's ``reference_blocks`` count from its validation report
        (:class:`genorisk.vcf.ValidationReport`). 0: the file has no
        ``<NON_REF>``/``<*>`` record, so it is not a gVCF and is not read
        here at all (a shared 1,000-sample variants-only VCF costs no pass).
        None: unknown, the file is looked at per sample.
    min_gq, min_dp, genome_build
        As for :func:`patient_callable_regions`.

    Returns
    -------
    list of CallableRegions or None
        Aligned with ``samples``; patients sharing a BED share one object.
    """
    by_bed: dict[str, CallableRegions] = {}

    def bed_regions(bed: str | os.PathLike) -> CallableRegions:
        key = os.path.normpath(str(bed))
        if key not in by_bed:
            by_bed[key] = read_callable_bed(bed, genome_build=genome_build)
        return by_bed[key]

    out: list[CallableRegions | None] = []
    blocks_of: dict[str, CallableRegions | None] = {}
    for sample, bed in zip(samples, beds, strict=True):
        if reference_blocks != 0:  # possibly a gVCF: its blocks win over a BED (see patient_callable_regions)
            if sample not in blocks_of:
                blocks_of[sample] = gvcf_reference_blocks(
                    vcf, sample, min_gq=min_gq, min_dp=min_dp, genome_build=genome_build
                )
            if blocks_of[sample] is not None:
                if bed is not None:
                    log.info("%s is a gVCF: its reference blocks are used and the callable BED %s is ignored", vcf, bed)
                out.append(blocks_of[sample])
                continue
        out.append(None if bed is None else bed_regions(bed))
    return out


#: Region queries cost about 1.4 ms each and a streaming pass about 1 µs a record (bcftools 1.16,
#: measured on the demo's patient gVCF): the index pays when sites are under 1/2000 of the records.
_RECORDS_PER_REGION_QUERY = 2000


def _index_is_worth_it(vcf: Path, n_sites: int) -> bool:
    """True when region queries through the index beat one streaming pass over ``vcf``."""
    from genorisk.vcf.index import has_index, index_record_counts

    if not has_index(vcf):
        return False
    index = next(Path(str(vcf) + ext) for ext in (".csi", ".tbi") if Path(str(vcf) + ext).exists())
    counts = index_record_counts(vcf, index)
    return counts is not None and n_sites * _RECORDS_PER_REGION_QUERY < sum(counts.values())


def non_reference_sites(
    vcf: str | os.PathLike, sample: str, chroms: Sequence[str] | np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """Which sites a record of the VCF covers with anything but a homozygous-reference call.

    A site ``(chroms[i], pos[i])`` is covered by a record when it lies within
    ``POS..END`` (the REF span, or ``INFO/END``). Records that say "reference
    here" do not count: those whose ALTs are all ``<NON_REF>``, ``<*>`` or
    ``.`` with a homozygous-reference genotype for ``sample``. Everything else
    does: another allele at the position, a deletion over it, a no-call
    (``./.``) or a low-quality block with a missing genotype. Such a site is
    not filled in as homozygous reference: what the VCF says there stands.

    Parameters
    ----------
    vcf : str or PathLike
        The patient's VCF/BCF. The sites are read by region queries through
        its ``.tbi``/``.csi`` index when they are few for its size (under one
        per 2,000 records), else in one streaming pass.
    sample : str
        Sample name in the file.
    chroms : sequence of str
        Site contigs, any spelling (matched to the file's through
        :func:`genorisk.genome.canonical_contig`).
    pos : array_like of int
        1-based site positions.

    Returns
    -------
    numpy.ndarray of bool
        One per site.
    """
    return non_reference_sites_many(vcf, [sample], chroms, pos)[:, 0]


def non_reference_sites_many(
    vcf: str | os.PathLike, samples: Sequence[str], chroms: Sequence[str] | np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """:func:`non_reference_sites` for several samples of one VCF, in one query.

    Parameters
    ----------
    vcf : str or PathLike
        A VCF/BCF holding ``samples``.
    samples : sequence of str
        Distinct sample names in the file.
    chroms, pos
        The sites, as for :func:`non_reference_sites`.

    Returns
    -------
    numpy.ndarray of bool, shape (n_sites, n_samples)
        Column j: :func:`non_reference_sites` of ``samples[j]`` (a record
        is returned for every sample; whether it counts depends on that
        sample's genotype).
    """
    vcf = Path(vcf)
    samples = list(samples)
    pos = np.asarray(pos, dtype=np.int64)
    out = np.zeros((len(pos), len(samples)), dtype=bool)
    if len(pos) == 0 or not samples:
        return out
    header = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, text=True, errors="replace")
    spelled = {
        canonical_contig(line[13:].split(",", 1)[0].rstrip(">")): line[13:].split(",", 1)[0].rstrip(">")
        for line in header.stdout.splitlines()
        if line.startswith("##contig=<ID=")
    }
    sites = pd.DataFrame({"chrom": [canonical_contig(str(c)) for c in chroms], "pos": pos})
    sites["file_chrom"] = sites["chrom"].map(spelled)
    wanted = sites.dropna(subset=["file_chrom"]).drop_duplicates(["file_chrom", "pos"])
    if wanted.empty:
        return out
    wanted = wanted.sort_values(["file_chrom", "pos"])
    gt_names = [f"gt{j}" for j in range(len(samples))]
    with tempfile.TemporaryDirectory(prefix="genorisk-sites-") as td:
        regions_file = Path(td) / "sites.tsv"
        wanted[["file_chrom", "pos", "pos"]].to_csv(regions_file, sep="\t", header=False, index=False)
        by_index = _index_is_worth_it(vcf, len(wanted))
        if by_index:
            extra = ["-R", str(regions_file), "--regions-overlap", "1"]
        else:
            extra = ["-T", str(regions_file), "--targets-overlap", "1"]
        log.debug("%s: %d sites read %s", vcf, len(wanted), "by region queries" if by_index else "in one pass")
        proc = _query(vcf, samples, "%CHROM\t%POS\t%END\t%ALT[\t%GT]\n", Path(td), extra)
        spans: list[pd.DataFrame] = []
        failed = True
        try:
            for table in _read_table(proc, ["chrom", "pos", "end", "alt", *gt_names]):
                alts = table["alt"].str.split(",")
                reference_only = alts.map(lambda a: all(x in REFERENCE_BLOCK_ALTS or x == "." for x in a))
                covers = np.column_stack(
                    [~(reference_only & table[g].str.fullmatch(_HOM_REF_RE)).to_numpy(dtype=bool) for g in gt_names]
                )
                part = table[["chrom", "pos", "end"]].copy()
                keep = covers.any(axis=1)
                spans.append(pd.concat([part[keep].reset_index(drop=True), pd.DataFrame(covers[keep])], axis=1))
            failed = False
        finally:
            _finish(proc, vcf, Path(td), failed=failed)
    span = pd.concat(spans, ignore_index=True) if spans else pd.DataFrame()
    if span.empty:
        return out
    span["chrom"] = [canonical_contig(c) for c in span["chrom"]]
    for chrom, group in span.groupby("chrom", sort=False):
        at = (sites["chrom"] == chrom).to_numpy()
        for j in range(len(samples)):
            mine = group[group[j].to_numpy(dtype=bool)]
            if mine.empty:
                continue
            starts = mine["pos"].astype(np.int64).to_numpy() - 1
            ends = np.maximum(mine["end"].astype(np.int64).to_numpy(), starts + 1)
            covered = CallableRegions({str(chrom): (starts, ends)}, "bed")
            out[at, j] = covered.contains(str(chrom), pos[at])
    return out
