"""Streaming per-ALT genotype dosages from VCF/BCF, in bounded-memory chunks.

The reader turns each VCF record into one row per ALT allele: a multiallelic
record ``A -> G,T`` gives a row for G (dosage = copies of allele 1) and a row
for T (copies of allele 2). cyvcf2's ``gt_types`` folds all ALTs together, so
dosages are computed here from the allele-index array of
``variant.genotype.array()`` (the fast path; reference.md section 3).

Dosage conventions (the same in every path):

* Diploid call: number of copies of the ALT allele, 0, 1 or 2.
* Haploid call (``0``, ``1``): 0 or 1 - except for samples flagged in ``male``
  on chrX (``X``, ``chrX``, ``23``), where a haploid call counts 0 or 2. That
  is plink2's default (``--xchr-model 2``: males coded 0..2 on chrX; plink2
  also imports any haploid VCF call as homozygous), so scores computed from
  these dosages agree with ``plink2 --score``. Diploid calls of males on chrX
  (PAR regions, or het calls) are counted like any diploid call, as plink2 does.
* Missing call (``./.``, ``.``) and partially missing call (``./1``): NaN.
  (plink2 refuses half-calls unless told; ``--vcf-half-call missing`` is this
  convention.)
* Other ploidies (e.g. triploid ``0/1/1``) count copies, 0..ploidy.
* ``DS`` (Number=A) is used instead of GT when the record has it and
  ``use_ds`` is true: one DS value per ALT, missing DS -> NaN. On male chrX a
  DS value is doubled where the sample's GT is haploid (when GT is present).

GT allele indexes beyond the record's ALT count are refused with
:class:`~genorisk.errors.InputError` (htslib accepts them silently).
"""

from __future__ import annotations

import fcntl
import gzip
import logging
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import compress
from os import PathLike
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from cyvcf2 import VCF

from genorisk.errors import InputError

log = logging.getLogger("genorisk.genotypes")

#: Chromosome names treated as chrX for the male haploid convention.
X_CHROMOSOMES = frozenset({"X", "chrX", "23", "chr23"})

#: Columns of :attr:`DosageChunk.variants`.
VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "id", "allele_index", "n_alt")

# cyvcf2 genotype.array() codes: -1 = missing allele, -2 = vector end (padding
# of a haploid call in a diploid record).
_MISSING = -1
_VECTOR_END = -2

_LOG_EVERY_S = 10.0


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


def normalize_chrom(chrom: str) -> str:
    """Chromosome name without a ``chr`` prefix, ``M`` as ``MT`` (``chr1`` -> ``1``).

    Used to match variants across files that differ only in naming style.
    """
    c = chrom[3:] if chrom[:3].lower() == "chr" else chrom
    return "MT" if c == "M" else c


_REGION_RE = re.compile(r"^(?P<chrom>[^:]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")


def _parse_region(region: str) -> tuple[str, int, float]:
    """``chr:start-end`` (1-based, inclusive) -> (chrom, start, end)."""
    m = _REGION_RE.match(region.strip())
    if not m:
        raise ValueError(f"region {region!r} is not CHROM, CHROM:START or CHROM:START-END")
    start = int(m["start"].replace(",", "")) if m["start"] else 1
    end = int(m["end"].replace(",", "")) if m["end"] else (start if m["start"] else np.inf)
    return m["chrom"], start, end


def _has_index(path: Path) -> bool:
    return any(Path(str(path) + ext).exists() for ext in (".tbi", ".csi"))


def open_vcf_checked(path: Path, samples: Sequence[str] | None) -> tuple[VCF, list[str], list[str]]:
    """Open ``path``; return the reader, all sample names and the names to output.

    Refuses a missing or unreadable file, duplicate header sample names and
    requested samples the file lacks (InputError naming the file).
    """
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        vcf = VCF(str(path), lazy=True, threads=1)
    except Exception as exc:  # cyvcf2 raises bare Exception for a bad header
        raise InputError(path, f"cannot read as VCF/BCF ({exc})") from exc
    all_samples = list(vcf.samples)
    samples = None if samples is None else list(samples)
    problem = None
    if len(set(all_samples)) != len(all_samples):
        dup = sorted({s for s in all_samples if all_samples.count(s) > 1})
        problem = f"duplicate sample names in header: {', '.join(dup[:5])}"
    elif samples is not None:
        missing = [s for s in samples if s not in set(all_samples)]
        if missing:
            problem = f"{len(missing)} requested samples not in file, e.g. {missing[:3]}"
        elif len(set(samples)) != len(samples):
            vcf.close()
            raise ValueError("samples contains duplicates")
    if problem:
        vcf.close()
        raise InputError(path, problem, record="#CHROM")
    if samples is None:
        return vcf, all_samples, all_samples
    return vcf, all_samples, samples


def column_order(decoded: list[str], names: list[str]) -> np.ndarray | None:
    """Indexes into the decoded columns giving ``names`` (None when identical)."""
    if decoded == names:
        return None
    pos = {s: i for i, s in enumerate(decoded)}
    return np.array([pos[s] for s in names], dtype=np.intp)


def _records(vcf: VCF, path: Path, regions: Iterable[str] | None):
    """Records of ``vcf``, restricted to ``regions`` (via the index when present).

    htslib parse failures (cyvcf2 raises a bare ``Exception``) become
    :class:`InputError` naming the last record read successfully.
    """
    last = ["start of file"]
    try:
        for rec in _records_raw(vcf, path, regions):
            last[0] = f"{rec.CHROM}:{rec.POS}"
            yield rec
    except InputError:
        raise
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise InputError(path, f"htslib cannot parse the record after {last[0]} ({exc})") from exc


def _records_raw(vcf: VCF, path: Path, regions: Iterable[str] | None):
    if regions is None:
        yield from vcf
        return
    regions = list(regions)
    if _has_index(path):
        for region in regions:
            _parse_region(region)  # same syntax check as the unindexed path
            yield from vcf(region)
        return
    # No index: one sequential pass, keeping records that overlap any region.
    parsed = [_parse_region(r) for r in regions]
    log.info("%s has no .tbi/.csi index; scanning the whole file for %d regions", path, len(parsed))
    for rec in vcf:
        chrom, pos = rec.CHROM, rec.POS
        if any(chrom == c and s <= pos <= e for c, s, e in parsed):
            yield rec


def _x_male_mask(chrom: str, male: np.ndarray | None) -> np.ndarray | None:
    if male is None or chrom not in X_CHROMOSOMES:
        return None
    return male


class _Block:
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


def _empty_cols() -> dict[str, list]:
    return {c: [] for c in VARIANT_COLUMNS}


def _add_record_cols(cols: dict[str, list], chrom: str, pos: int, vid, ref: str, alts: list[str]) -> None:
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


def _rechunk(blocks: Iterator[_Block], chunk_size: int, order: np.ndarray | None, samples: list[str]) -> Iterator[DosageChunk]:
    """Cut a stream of blocks into chunks of exactly ``chunk_size`` rows (the last may be shorter).

    The ALT rows of one multiallelic record may fall in two consecutive chunks.
    """
    n = len(samples)
    buf = np.empty((chunk_size, n), dtype=np.float32)
    ac = np.empty(chunk_size, dtype=np.float64)
    an = np.empty(chunk_size, dtype=np.int64)
    cols = _empty_cols()
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
                cols = _empty_cols()
                filled = 0
    if filled:
        yield DosageChunk(_variants_frame(cols), buf[:filled], samples, ac[:filled], an[:filled])


def gt_allele_dosages(alleles: np.ndarray, n_alt: int, *, male_x: np.ndarray | None = None) -> np.ndarray:
    """Per-ALT dosages from an allele-index array.

    Parameters
    ----------
    alleles : numpy.ndarray, int, shape (n_samples, ploidy)
        Allele indexes as in cyvcf2's ``variant.genotype.array()[:, :-1]``:
        0 = REF, k = k-th ALT, -1 = missing allele, -2 = vector end (padding
        of a haploid call in a diploid record).
    n_alt : int
        Number of ALT alleles of the record.
    male_x : numpy.ndarray of bool, shape (n_samples,), optional
        Samples whose haploid calls count 0/2 (males on chrX).

    Returns
    -------
    numpy.ndarray, float32, shape (n_alt, n_samples)
        Copies of each ALT allele per sample; NaN where any allele of the call
        is missing (``./.``, ``.``, ``./1``).
    """
    return _gt_rows(alleles, n_alt, male_x=male_x)[0]


def _gt_rows(
    alleles: np.ndarray, n_alt: int, *, male_x: np.ndarray | None = None, counted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gt_allele_dosages` plus per-ALT allele count and allele number.

    AC and AN are summed over the called samples selected by ``counted``
    (bool, per sample; None = all), each call counting its ploidy (the
    number of alleles present), before the male chrX dosage scaling.
    """
    present = alleles != _VECTOR_END
    ploidy = present.sum(axis=1)
    missing = ((alleles == _MISSING) & present).any(axis=1) | (ploidy == 0)
    out = np.empty((n_alt, alleles.shape[0]), dtype=np.float32)
    if n_alt == 1:
        out[0] = (alleles == 1).sum(axis=1)
    else:
        ks = np.arange(1, n_alt + 1, dtype=alleles.dtype)
        out[:] = (alleles[None, :, :] == ks[:, None, None]).sum(axis=2)
    use = ~missing if counted is None else ~missing & counted
    ac = out[:, use].sum(axis=1, dtype=np.float64)
    an = np.full(n_alt, int(ploidy[use].sum()), dtype=np.int64)
    if male_x is not None:
        out[:, (ploidy == 1) & male_x] *= 2
    out[:, missing] = np.nan
    return out, ac, an


# ---------------------------------------------------------------- cyvcf2 engine

def _cyvcf2_blocks(
    vcf: VCF, path: Path, regions, male: np.ndarray | None, use_ds: bool, n_samples: int, progress
) -> Iterator[_Block]:
    """One block per record, decoded by htslib through cyvcf2."""
    has_ds = use_ds and _header_has_format(vcf, "DS")
    for rec in _records(vcf, path, regions):
        progress(1)
        alts = rec.ALT
        n_alt = len(alts)
        if n_alt == 0:
            continue  # ALT "." (monomorphic reference site): no ALT to count
        rows, ac, an = _record_dosages(rec, n_alt, path, has_ds, _x_male_mask(rec.CHROM, male), n_samples)
        cols = _empty_cols()
        _add_record_cols(cols, rec.CHROM, rec.POS, rec.ID, rec.REF, alts)
        yield _Block(cols, rows, ac, an)


def _header_has_format(vcf: VCF, key: str) -> bool:
    return any(h.type == "FORMAT" and h.info().get("ID") == key for h in vcf.header_iter())


def _record_dosages(rec, n_alt: int, path: Path, has_ds: bool, male_x, n_samples: int):
    """(rows, ac, an) of one record; every decoded sample is an output sample."""
    try:
        gt = rec.genotype
    except Exception:  # cyvcf2: "couldn't get genotypes for variant" (no GT)
        gt = None
    alleles = None if gt is None else gt.array()[:, :-1]
    if alleles is not None:
        top = alleles.max(initial=-1)
        if top > n_alt:
            raise InputError(path, f"GT allele index {top} > {n_alt} ALT", record=f"{rec.CHROM}:{rec.POS}")
    if has_ds:
        ds = rec.format("DS")
        if ds is not None and ds.shape[1] == n_alt:
            rows = np.ascontiguousarray(ds.T, dtype=np.float32)
            # A DS value counts the alleles of its GT call (2 without GT).
            ploidy = np.full(n_samples, 2, dtype=np.int64)
            if alleles is not None:
                present = (alleles != _VECTOR_END).sum(axis=1)
                ploidy[present > 0] = present[present > 0]
            use = ~np.isnan(rows)
            ac = np.where(use, rows, 0).sum(axis=1, dtype=np.float64)
            an = (use * ploidy).sum(axis=1).astype(np.int64)
            if male_x is not None and alleles is not None:
                rows[:, (ploidy == 1) & male_x] *= 2
            return rows, ac, an
    if alleles is None:
        return np.full((n_alt, n_samples), np.nan, dtype=np.float32), np.zeros(n_alt), np.zeros(n_alt, dtype=np.int64)
    return _gt_rows(alleles, n_alt, male_x=male_x)


# ------------------------------------------------------------------ text engine
#
# Measured on 2,000 samples x 87k SNPs (GT only, 26 MB bgzipped, 700 MB text):
# cyvcf2 genotype.array() over all records ~11 s, this engine ~2 s of CPU
# (bgzip -d runs beside it in its own process). Most records of a GT-only VCF
# are fixed width: every sample is exactly "a/b" or "a|b" with one-digit
# alleles, so the sample columns of a line are 4*n bytes; a block of such
# lines is one (lines x n) matrix of 32-bit words, checked and counted with
# whole-array integer operations (lookup tables where a call is missing).
# Lines that do not fit that layout (haploid calls, other FORMAT keys,
# multiallelic records, VCF 4.4 phasing prefixes) go through a general line
# parser, one line at a time (slow: ~45 us per line).

_TAB, _NL, _HASH = 9, 10, 35
# Codes summed over the two alleles: 0/1 copies, 8 = missing '.', 64 = not
# this layout (the line goes to the general parser).
_CODE_MISSING = 8
_CODE_OTHER = 64


def _build_luts() -> tuple[np.ndarray, np.ndarray]:
    first = np.full(1 << 16, _CODE_OTHER, dtype=np.uint8)  # allele + separator
    second = np.full(1 << 16, _CODE_OTHER, dtype=np.uint8)  # allele + tab/newline
    for char, code in ((ord("0"), 0), (ord("1"), 1), (ord("."), _CODE_MISSING)):
        for sep in b"/|":
            first[char | sep << 8] = code
        for sep in (_TAB, _NL):
            second[char | sep << 8] = code
    return first, second


_LUT_FIRST, _LUT_SECOND = _build_luts()
# Summed code -> dosage: 0, 1, 2 copies; any missing allele -> NaN.
_DOSAGE_OF_CODE = np.full(256, np.nan, dtype=np.float32)
_DOSAGE_OF_CODE[:3] = (0, 1, 2)
# A called sample "a/b\t" or "a|b\t" (a, b in 0/1) as a little-endian 32-bit
# word with bit 0 of both alleles cleared; the last sample ends in "\n".
_CALLED_MASK = 0xFFFEFFFE


def _called_word(sep: str, end: int) -> int:
    return ord("0") | ord(sep) << 8 | ord("0") << 16 | end << 24


_CALLED = (_called_word("/", _TAB), _called_word("|", _TAB))
_CALLED_LAST = (_called_word("/", _NL), _called_word("|", _NL))


def _open_text(path: Path):
    """A binary stream of the decompressed VCF text (bgzip -d on 2 threads when available)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        return open(path, "rb"), None
    if shutil.which("bgzip"):
        # Decompression runs in parallel with parsing; bgzip also reads plain gzip.
        proc = subprocess.Popen(["bgzip", "-dc", "-@2", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:  # a 1 MiB pipe (Linux F_SETPIPE_SZ) means fewer, larger reads
            fcntl.fcntl(proc.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        return proc.stdout, proc
    return gzip.open(path, "rb"), None


def _text_blocks(
    path: Path, n_samples: int, male: np.ndarray | None, progress, block_bytes: int | None = None,
    counted: np.ndarray | None = None,
) -> Iterator[_Block]:
    """Blocks of a VCF text file; ``counted`` (bool per column, None = all) selects the
    samples whose alleles the blocks' AC/AN count (the output samples)."""
    stream, proc = _open_text(path)
    width = 4 * n_samples  # "a|b\t" per sample, the last ending in "\n"
    line_no = 0  # lines before the current block
    in_header = True
    # Blocks are read into one reused buffer (readinto), which halves the time
    # spent taking 700 MB out of bgzip's pipe compared with read() + joins.
    block = bytearray(block_bytes or _BLOCK_BYTES)
    view = memoryview(block)
    filled = 0
    eof = False
    try:
        while True:
            while filled < len(block) and not eof:
                got = stream.readinto(view[filled:])
                eof = not got
                filled += got or 0
            if not filled:
                break
            cut = block.rfind(b"\n", 0, filled) + 1
            if eof and cut < filled:
                cut = filled  # last line without newline
            if cut == 0:  # one line longer than the buffer: grow it and read on
                view.release()
                block.extend(bytes(len(block)))
                view = memoryview(block)
                continue
            data = bytes(view[:cut])
            if not data.endswith(b"\n"):
                data += b"\n"
            view[: filled - cut] = view[cut:filled]
            filled -= cut
            buf = np.frombuffer(data, dtype=np.uint8)
            ends = _line_ends(data, buf, width)
            starts = np.empty_like(ends)
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
            first_body = 0
            if in_header:
                hdr = buf[starts] == _HASH
                first_body = int(np.argmin(hdr)) if not hdr.all() else len(starts)
                in_header = first_body == len(starts)
            if first_body < len(starts):
                yield from _decode_text_lines(
                    path, data, buf, starts[first_body:], ends[first_body:], line_no + first_body + 1,
                    width, n_samples, male, counted,
                )
                progress(len(starts) - first_body)
            line_no += len(starts)
    finally:
        view.release()
        stream.close()
        if proc is not None:
            err = proc.stderr.read().decode(errors="replace").strip()
            code = proc.wait()
            if code not in (0, -13) and not sys.exc_info()[0]:  # -13: SIGPIPE after an early stop
                raise InputError(path, f"bgzip -d failed (exit {code}): {err}")


_FIND_LOOP_WIDTH = 1024  # sample-column bytes from which _line_ends uses bytes.find
_BLOCK_BYTES = 1 << 24  # text read per block


def _line_ends(data: bytes, buf: np.ndarray, width: int) -> np.ndarray:
    """Offsets of every newline in ``data``.

    Long lines (many samples): one ``bytes.find`` (memchr) per line reads the
    buffer once, 3x faster than comparing every byte in numpy; short lines:
    numpy, which has no per-line Python cost.
    """
    if width < _FIND_LOOP_WIDTH:
        return np.flatnonzero(buf == _NL)
    ends = []
    find = data.find
    at = find(b"\n")
    while at >= 0:
        ends.append(at)
        at = find(b"\n", at + 1)
    return np.array(ends, dtype=np.intp)


def _decode_text_lines(path, data, buf, starts, ends, first_line_no, width, n_samples, male, counted=None) -> Iterator[_Block]:
    """Decode body lines ``data[starts[i]:ends[i]]`` (``ends`` at the newline).

    Fixed-width, GT-only, biallelic lines (the bulk of a GT-only VCF) are
    decoded together, without a Python step per sample or per field: their
    prefix columns by one ``split`` of the joined prefixes, their sample
    columns by :func:`_fixed_width_dosages` over a (lines x samples) matrix.
    Other lines go one by one through :func:`_parse_line_general`. Rows stay
    in file order.
    """
    n_lines = len(starts)
    sample_start = ends + 1 - width
    ok = sample_start - 1 > starts
    ok[ok] &= buf[sample_start[ok] - 1] == _TAB
    cand = np.flatnonzero(ok)
    fast = np.zeros(n_lines, dtype=bool)
    fields: list[list[str]] = [[] for _ in range(5)]
    dosage = None
    if len(cand):
        pre = [data[a:b] for a, b in zip(starts[cand].tolist(), (sample_start[cand] - 1).tolist())]
        try:
            flat = b"\t".join(pre).decode()
        except UnicodeDecodeError:
            pre, flat, cand = [], "", cand[:0]  # all to the general parser, which names the line
        flat = flat.split("\t")
        if len(flat) != 9 * len(cand):
            # Some prefix has other than 9 columns: those lines go to the general parser.
            keep = np.array([p.count(b"\t") == 8 for p in pre], dtype=bool)
            cand = cand[keep]
            flat = b"\t".join([p for p, k in zip(pre, keep.tolist()) if k]).decode().split("\t")
        # Biallelic (one ALT, not ".") with FORMAT exactly GT.
        sel = np.array([f == "GT" and "," not in a and a != "." for f, a in zip(flat[8::9], flat[4::9])], dtype=bool)
        if sel.any():
            if not sel.all():
                cand = cand[sel]
                flat = list(compress(flat, np.repeat(sel, 9).tolist()))
            # Overlapping rows of the buffer, one starting at each byte: a
            # fancy index picks every line's sample block in one copy.
            rows_view = np.lib.stride_tricks.as_strided(buf, shape=(len(buf) - width + 1, width), strides=(1, 1))
            dosage, good = _fixed_width_dosages(rows_view[sample_start[cand]])
            if not good.all():
                cand, dosage = cand[good], dosage[good]
                flat = list(compress(flat, np.repeat(good, 9).tolist()))
            fast[cand] = True
            fields = [flat[k::9] for k in range(5)]
    positions = _parse_positions(path, fields[1], cand, first_line_no) if dosage is not None else []

    cols = _empty_cols()
    out: list[np.ndarray] = []
    acs: list[np.ndarray] = []  # per-row ALT allele count and allele number (see DosageChunk)
    ans: list[np.ndarray] = []
    n_fast_before = np.cumsum(fast) - fast  # fast lines before each line
    done = 0  # fast rows emitted so far

    def emit_fast(upto: int) -> None:
        nonlocal done
        if upto > done:
            cols["chrom"] += fields[0][done:upto]
            cols["pos"] += positions[done:upto]
            cols["id"] += [None if v == "." else v for v in fields[2][done:upto]]
            cols["ref"] += fields[3][done:upto]
            cols["alt"] += fields[4][done:upto]
            cols["allele_index"] += [1] * (upto - done)
            cols["n_alt"] += [1] * (upto - done)
            part = dosage[done:upto]
            out.append(part)
            # Fast lines are diploid: AN = 2 per called sample.
            part = part if counted is None else part[:, counted]
            acs.append(np.nansum(part, axis=1, dtype=np.float64))
            ans.append(2 * (~np.isnan(part)).sum(axis=1))
            done = upto

    for i in np.flatnonzero(~fast).tolist():
        emit_fast(int(n_fast_before[i]))
        parsed = _parse_line_general(path, data[starts[i] : ends[i]], first_line_no + i, n_samples, male, counted)
        if parsed is None:
            continue
        chrom, pos, vid, ref, alts, rows = parsed
        _add_record_cols(cols, chrom, pos, vid, ref, alts)
        out.append(rows[0])
        acs.append(rows[1])
        ans.append(rows[2])
    emit_fast(len(cand) if dosage is not None else 0)
    if out:
        yield _Block(cols, out[0] if len(out) == 1 else np.concatenate(out),
                     np.concatenate(acs).astype(np.float64), np.concatenate(ans).astype(np.int64))


def _fixed_width_dosages(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ALT dosages of fixed-width sample blocks of biallelic GT-only lines.

    Parameters
    ----------
    block : numpy.ndarray, uint8, shape (lines, 4 * n_samples)
        The sample columns of each line, ``a|b\\t`` or ``a/b\\t`` per sample,
        the last sample ending in a newline.

    Returns
    -------
    dosage : numpy.ndarray, float32, shape (lines, n_samples)
        0, 1, 2 copies of allele 1; NaN where an allele is missing (``.``).
    good : numpy.ndarray of bool, shape (lines,)
        False for lines not in that layout (another allele, separator or
        width); their dosage rows are meaningless and the line must be parsed
        otherwise.
    """
    x = block.view("<u4")  # one sample per 32-bit word: allele, separator, allele, tab
    # Lines whose calls are all 0/1 (the usual case) are checked and counted
    # with a few whole-array integer operations: '0' and '1' differ only in bit 0.
    m = x & np.uint32(_CALLED_MASK)
    inner, last = m[:, :-1], m[:, -1]
    good = ((inner == _CALLED[0]) | (inner == _CALLED[1])).all(axis=1)
    good &= (last == _CALLED_LAST[0]) | (last == _CALLED_LAST[1])
    # Bits 0 and 16 summed in bits 16-17 by one multiply: (b0 + b16 * 2^16) * (2^16 + 1) mod 2^32.
    dosage = (((x & np.uint32(0x10001)) * np.uint32(0x10001)) >> np.uint32(16)).astype(np.float32)
    rest = np.flatnonzero(~good)
    if len(rest):
        # Missing alleles or another layout: lookup tables over (allele, separator)
        # and (allele, tab) byte pairs.
        pairs = block[rest].view("<u2")
        codes = _LUT_FIRST[pairs[:, 0::2]]
        codes += _LUT_SECOND[pairs[:, 1::2]]
        good[rest] = codes.max(axis=1) < _CODE_OTHER
        dosage[rest] = _DOSAGE_OF_CODE[codes]
    return dosage, good


def _parse_positions(path: Path, pos_text: list[str], lines: np.ndarray, first_line_no: int) -> list[int]:
    """POS strings -> ints >= 1; the first bad one raises an InputError naming its line."""
    if not pos_text:
        return []
    try:
        pos = np.array(pos_text, dtype=np.int64)
        if pos.min() >= 1:
            return pos.tolist()
    except (ValueError, OverflowError):
        pass
    for text, i in zip(pos_text, lines.tolist()):
        _prefix_values(path, [b"", text.encode(), b".", b""], first_line_no + i)  # raises for the bad one
    raise AssertionError("unreachable: a bad POS was not found")


def _prefix_values(path: Path, fields: list[bytes], line_no: int) -> tuple[str, int, str | None, str]:
    chrom = fields[0].decode()
    try:
        pos = int(fields[1])
    except ValueError:
        raise InputError(path, f"POS {fields[1].decode(errors='replace')!r} is not an integer", record=f"line {line_no}") from None
    if pos < 1:
        raise InputError(path, f"POS {pos} is not >= 1", record=f"line {line_no}")
    vid = fields[2].decode()
    return chrom, pos, (None if vid == "." else vid), fields[3].decode()


# One-character allele -> index: '0', '1', '.' (missing); anything else: not this layout.
_ALLELE_OF_BYTE = np.full(256, 9, dtype=np.int32)
_ALLELE_OF_BYTE[ord("0")], _ALLELE_OF_BYTE[ord("1")], _ALLELE_OF_BYTE[ord(".")] = 0, 1, _MISSING


def _biallelic_gt_alleles(line: bytes, n_samples: int) -> np.ndarray | None:
    """Allele indexes (n_samples, 2) of a GT-only biallelic line whose calls are
    haploid (``1``, ``.``) or diploid (``0/1``, ``1|1``, ``./.``), mixed freely
    (male chrX, chrY, MT); :data:`_VECTOR_END` marks the missing second allele
    of a haploid call. None when a call has another form (the general parser
    then reads the line and names any error). Whole-array numpy, no Python
    step per sample: ~50x the per-sample loop on a 3,000-sample line.
    """
    parts = line.rstrip(b"\r").split(b"\t", 9)
    if len(parts) != 10:
        return None
    b = np.frombuffer(parts[9], dtype=np.uint8)
    tabs = np.flatnonzero(b == _TAB)
    if len(tabs) != n_samples - 1:
        return None
    starts = np.empty(n_samples, dtype=np.int64)
    starts[0] = 0
    starts[1:] = tabs + 1
    ends = np.empty(n_samples, dtype=np.int64)
    ends[:-1] = tabs
    ends[-1] = len(b)
    width = ends - starts
    haploid = width == 1
    if not (haploid | (width == 3)).all():
        return None
    first = _ALLELE_OF_BYTE[b[starts]]
    dip = np.flatnonzero(~haploid)
    sep = b[starts[dip] + 1]
    if not ((sep == ord("/")) | (sep == ord("|"))).all():
        return None
    second = np.full(n_samples, _VECTOR_END, dtype=np.int32)
    second[dip] = _ALLELE_OF_BYTE[b[starts[dip] + 2]]
    if (first == 9).any() or (second == 9).any():
        return None
    return np.column_stack([first, second])


def _parse_line_general(path: Path, line: bytes, line_no: int, n_samples: int, male: np.ndarray | None,
                        counted: np.ndarray | None = None):
    """Any VCF body line -> (chrom, pos, id, ref, alts, (rows, ac, an)) or None for ALT '.'."""
    try:
        text = line.decode().rstrip("\r")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})", record=f"line {line_no}") from None
    fields = text.split("\t")
    where = f"line {line_no}"
    if len(fields) == 8 and n_samples:
        # A sites-only line inside a genotyped file (1000 Genomes pilot style):
        # htslib reads it with every call missing, and so do we.
        fields.append("")
        fields += ["."] * n_samples
    if len(fields) != 9 + n_samples and not (n_samples == 0 and len(fields) == 8):
        raise InputError(path, f"{len(fields)} columns, expected {9 + n_samples} (9 + {n_samples} samples)", record=where)
    chrom, pos, vid, ref = _prefix_values(path, [f.encode() for f in fields[:4]], line_no)
    where = f"line {line_no} ({chrom}:{pos})"
    alts = [] if fields[4] == "." else fields[4].split(",")
    if not alts:
        return None
    n_alt = len(alts)
    keys = fields[8].split(":") if len(fields) > 8 else []
    if "GT" not in keys:
        return chrom, pos, vid, ref, alts, (np.full((n_alt, n_samples), np.nan, dtype=np.float32),
                                            np.zeros(n_alt), np.zeros(n_alt, dtype=np.int64))
    male_x = male if (male is not None and chrom in X_CHROMOSOMES) else None
    if keys == ["GT"] and n_alt == 1:
        alleles = _biallelic_gt_alleles(line, n_samples)
        if alleles is not None:
            return chrom, pos, vid, ref, alts, _gt_rows(alleles, n_alt, male_x=male_x, counted=counted)
    gi = keys.index("GT")
    alleles_per_sample: list[list[int]] = []
    ploidy = 1
    for s in fields[9:]:
        sub = s.split(":")
        gt = sub[gi] if gi < len(sub) else "."
        if gt[:1] in ("/", "|"):  # VCF 4.4 explicit phasing prefix
            gt = gt[1:]
        calls = []
        for a in re.split(r"[/|]", gt):
            if a == ".":
                calls.append(_MISSING)
                continue
            if not a.isdigit():
                raise InputError(path, f"GT {gt!r} has a non-numeric allele {a!r}", record=where)
            k = int(a)
            if k > n_alt:
                raise InputError(path, f"GT allele index {k} > {n_alt} ALT", record=where)
            calls.append(k)
        ploidy = max(ploidy, len(calls))
        alleles_per_sample.append(calls)
    alleles = np.full((n_samples, ploidy), _VECTOR_END, dtype=np.int32)
    for j, calls in enumerate(alleles_per_sample):
        alleles[j, : len(calls)] = calls
    return chrom, pos, vid, ref, alts, _gt_rows(alleles, n_alt, male_x=male_x, counted=counted)


# ------------------------------------------------------------------ public API

def iter_dosage_chunks(
    path: str | PathLike,
    *,
    samples: Sequence[str] | None = None,
    regions: Iterable[str] | None = None,
    chunk_size: int = 20000,
    male: np.ndarray | Sequence[bool] | None = None,
    use_ds: bool = True,
    engine: str = "auto",
) -> Iterator[DosageChunk]:
    """Stream per-ALT dosages of a VCF/BCF in chunks of ``chunk_size`` rows.

    Parameters
    ----------
    path : str or PathLike
        VCF (plain, bgzipped or gzipped) or BCF.
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
        ``regions`` and DS. ``auto`` picks ``text`` when it can.

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
    path = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if engine not in ("auto", "text", "cyvcf2"):
        raise ValueError(f"engine must be 'auto', 'text' or 'cyvcf2', got {engine!r}")
    vcf, all_samples, names = open_vcf_checked(path, samples)
    male_arr = None
    if male is not None:
        male_arr = np.asarray(male, dtype=bool)
        if male_arr.shape != (len(names),):
            raise ValueError(f"male has shape {male_arr.shape}, expected ({len(names)},) aligned with samples")

    is_bcf = _is_bcf(path)
    if engine == "auto":
        text_ok = not is_bcf and regions is None and not (use_ds and _header_has_format(vcf, "DS"))
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
            blocks = _text_blocks(path, len(decoded), male_arr, progress, counted=counted)
        else:
            blocks = _cyvcf2_blocks(vcf, path, regions, male_arr, use_ds, len(decoded), progress)
        for chunk in _rechunk(blocks, chunk_size, order, names):
            n_rows += len(chunk.variants)
            yield chunk
    finally:
        vcf.close()
    dt = time.perf_counter() - t0
    log.info(
        "%s: done (%s engine), %d records, %d ALT rows, %d samples in %.1f s (%.0f records/s)",
        path.name, engine, counter["n"], n_rows, len(names), dt, counter["n"] / dt if dt > 0 else 0.0,
    )


def _is_bcf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            return gz.read(3) == b"BCF"
    return head[:3] == b"BCF"




def index_regions(
    path: str | PathLike, variants: pd.DataFrame, *, max_gap: int = 1000, max_fraction: float | None = None
) -> list[str] | None:
    """Regions for reading just ``variants`` from an indexed VCF/BCF, or None when a full pass is better.

    Parameters
    ----------
    path : str or PathLike
        The VCF/BCF to read (its ``.tbi`` or ``.csi`` index is used).
    variants : pandas.DataFrame
        Columns ``chrom`` and ``pos`` (1-based). Chromosome names are matched
        to the file's contigs with or without ``chr`` (``M`` as ``MT``);
        variants on contigs the file does not name are left out (they cannot
        be found).
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
        :func:`iter_dosage_chunks` / :func:`read_dosages` ``regions``. A
        region query returns every record overlapping it, so a record whose
        POS is a wanted position is always among them. None when the file has
        no index (a filtered pass would read the whole file anyway, and the
        unfiltered text engine is faster) or past ``max_fraction``.
    """
    path = Path(path)
    if not _has_index(path):
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
    if n_records is not None and n_positions > max_fraction * n_records:
        log.info("%s: %d wanted positions of %d records; one full pass instead of the index",
                 path.name, n_positions, n_records)
        return None
    contig_of = {}
    for name in seqnames:
        contig_of.setdefault(normalize_chrom(name), name)
    regions: list[str] = []
    table = pd.DataFrame({"chrom": variants["chrom"].astype(str).map(normalize_chrom).map(contig_of),
                          "pos": variants["pos"].astype("int64")}).dropna()
    rank = {name: i for i, name in enumerate(seqnames)}
    for contig in sorted(table["chrom"].unique(), key=rank.__getitem__):
        pos = np.unique(table.loc[table["chrom"] == contig, "pos"].to_numpy())
        breaks = np.flatnonzero(np.diff(pos) > max_gap)
        starts = pos[np.r_[0, breaks + 1]]
        ends = pos[np.r_[breaks, len(pos) - 1]]
        regions += [f"{contig}:{a}-{b}" for a, b in zip(starts.tolist(), ends.tolist())]
    return regions


def variant_keys(variants: pd.DataFrame) -> pd.Series:
    """``chrom:pos:ref:alt`` keys with the chromosome normalised (``chr1`` -> ``1``)."""
    chrom = variants["chrom"].astype(str).map(normalize_chrom)
    return chrom + ":" + variants["pos"].astype("int64").astype(str) + ":" + variants["ref"].astype(str) + ":" + variants["alt"].astype(str)


def read_dosages(
    path: str | PathLike, variants: pd.DataFrame | None = None, **kw
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a whole dosage matrix, or the rows for given variants.

    Parameters
    ----------
    path : str or PathLike
        VCF/BCF, as for :func:`iter_dosage_chunks`.
    variants : pandas.DataFrame, optional
        Columns ``chrom``, ``pos``, ``ref``, ``alt``: the rows wanted, in this
        order. Chromosome names match with or without ``chr``. When a key
        occurs more than once in the file, the first occurrence is used.
    **kw
        Passed to :func:`iter_dosage_chunks` (``samples``, ``regions``,
        ``chunk_size``, ``male``, ``use_ds``).

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
    wanted = variants.reset_index(drop=True).copy()
    # (chrom without "chr", pos, ref, alt) -> requested rows; popped at its first record.
    norm: dict[str, str] = {}

    def norm_chrom(values) -> list[str]:
        for c in set(values):
            if c not in norm:
                norm[c] = normalize_chrom(c)
        return [norm[c] for c in values]

    row_of: dict[tuple, list[int]] = {}
    want_keys = zip(norm_chrom(wanted["chrom"].astype(str).tolist()), wanted["pos"].astype("int64").tolist(),
                    wanted["ref"].astype(str).tolist(), wanted["alt"].astype(str).tolist())
    for i, key in enumerate(want_keys):
        row_of.setdefault(key, []).append(i)
    out = None
    found = np.zeros(len(wanted), dtype=bool)
    for chunk in iter_dosage_chunks(path, **kw):
        if out is None:
            out = np.full((len(wanted), len(chunk.samples)), np.nan, dtype=np.float32)
        v = chunk.variants
        keys = zip(norm_chrom(v["chrom"].tolist()), v["pos"].tolist(), v["ref"].tolist(), v["alt"].tolist())
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
    if samples is not None:
        return list(samples)
    vcf = VCF(str(path), lazy=True)
    try:
        return list(vcf.samples)
    finally:
        vcf.close()
