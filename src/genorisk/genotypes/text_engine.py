"""The text engine: VCF text decoded with numpy, whole blocks of fixed-width GT lines at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import compress
from pathlib import Path

import numpy as np

from genorisk.errors import InputError
from genorisk.genome import chromosome_class, open_text
from genorisk.genotypes.chunks import Block, add_record_cols, empty_cols
from genorisk.genotypes.dosage import MISSING, VECTOR_END, gt_rows

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


def text_blocks(
    path: Path,
    n_samples: int,
    male: np.ndarray | None,
    progress,
    block_bytes: int | None = None,
    counted: np.ndarray | None = None,
) -> Iterator[Block]:
    """Blocks of a VCF text file; ``counted`` (bool per column, None = all) selects the
    samples whose alleles the blocks' AC/AN count (the output samples)."""
    stream = open_text(path, "rb", threads=2)  # bgzip -d runs alongside the parsing
    width = 4 * n_samples  # "a|b\t" per sample, the last ending in "\n"
    line_no = 0  # lines before the current block
    in_header = True
    # Blocks are read into one reused buffer (readinto), which halves the time
    # spent taking 700 MB out of bgzip's pipe compared with read() + joins.
    block = bytearray(block_bytes or BLOCK_BYTES)
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
                    path,
                    data,
                    buf,
                    starts[first_body:],
                    ends[first_body:],
                    line_no + first_body + 1,
                    width,
                    n_samples,
                    male,
                    counted,
                )
                progress(len(starts) - first_body)
            line_no += len(starts)
    finally:
        view.release()
        stream.close()  # raises InputError if bgzip failed (unless an error is already on its way)


FIND_LOOP_WIDTH = 1024  # sample-column bytes from which _line_ends uses bytes.find
BLOCK_BYTES = 1 << 24  # text read per block


def _line_ends(data: bytes, buf: np.ndarray, width: int) -> np.ndarray:
    """Offsets of every newline in ``data``.

    Long lines (many samples): one ``bytes.find`` (memchr) per line reads the
    buffer once, 3x faster than comparing every byte in numpy; short lines:
    numpy, which has no per-line Python cost.
    """
    if width < FIND_LOOP_WIDTH:
        return np.flatnonzero(buf == _NL)
    ends = []
    find = data.find
    at = find(b"\n")
    while at >= 0:
        ends.append(at)
        at = find(b"\n", at + 1)
    return np.array(ends, dtype=np.intp)


def _decode_text_lines(
    path, data, buf, starts, ends, first_line_no, width, n_samples, male, counted=None
) -> Iterator[Block]:
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
    dosage: np.ndarray | None = None
    if len(cand):
        pre = [data[a:b] for a, b in zip(starts[cand].tolist(), (sample_start[cand] - 1).tolist(), strict=False)]
        try:
            joined = b"\t".join(pre).decode()
        except UnicodeDecodeError:
            pre, joined, cand = [], "", cand[:0]  # all to the general parser, which names the line
        flat = joined.split("\t")
        if len(flat) != 9 * len(cand):
            # Some prefix has other than 9 columns: those lines go to the general parser.
            keep = np.array([p.count(b"\t") == 8 for p in pre], dtype=bool)
            cand = cand[keep]
            flat = b"\t".join([p for p, k in zip(pre, keep.tolist(), strict=False) if k]).decode().split("\t")
        # Biallelic (one ALT, not ".") with FORMAT exactly GT.
        sel = np.array(
            [f == "GT" and "," not in a and a != "." for f, a in zip(flat[8::9], flat[4::9], strict=False)], dtype=bool
        )
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

    cols = empty_cols()
    out: list[np.ndarray] = []
    acs: list[np.ndarray] = []  # per-row ALT allele count and allele number (see DosageChunk)
    ans: list[np.ndarray] = []
    n_fast_before = np.cumsum(fast) - fast  # fast lines before each line
    done = 0  # fast rows emitted so far

    def emit_fast(upto: int) -> None:
        nonlocal done
        if upto > done:
            assert dosage is not None  # fast lines exist only once their dosages are decoded
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
            acs.append(np.asarray(np.nansum(part, axis=1, dtype=np.float64)))  # an array with axis=1
            ans.append(2 * (~np.isnan(part)).sum(axis=1))
            done = upto

    for i in np.flatnonzero(~fast).tolist():
        emit_fast(int(n_fast_before[i]))
        parsed = _parse_line_general(path, data[starts[i] : ends[i]], first_line_no + i, n_samples, male, counted)
        if parsed is None:
            continue
        chrom, pos, vid, ref, alts, rows = parsed
        add_record_cols(cols, chrom, pos, vid, ref, alts)
        out.append(rows[0])
        acs.append(rows[1])
        ans.append(rows[2])
    emit_fast(len(cand) if dosage is not None else 0)
    if out:
        yield Block(
            cols,
            out[0] if len(out) == 1 else np.concatenate(out),
            np.concatenate(acs).astype(np.float64),
            np.concatenate(ans).astype(np.int64),
        )


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
    for text, i in zip(pos_text, lines.tolist(), strict=False):
        _prefix_values(path, [b"", text.encode(), b".", b""], first_line_no + i)  # raises for the bad one
    raise AssertionError("unreachable: a bad POS was not found")


def _prefix_values(path: Path, fields: list[bytes], line_no: int) -> tuple[str, int, str | None, str]:
    chrom = fields[0].decode()
    try:
        pos = int(fields[1])
    except ValueError:
        raise InputError(
            path, f"POS {fields[1].decode(errors='replace')!r} is not an integer", record=f"line {line_no}"
        ) from None
    if pos < 1:
        raise InputError(path, f"POS {pos} is not >= 1", record=f"line {line_no}")
    vid = fields[2].decode()
    return chrom, pos, (None if vid == "." else vid), fields[3].decode()


# One-character allele -> index: '0', '1', '.' (missing); anything else: not this layout.
_ALLELE_OF_BYTE = np.full(256, 9, dtype=np.int32)
_ALLELE_OF_BYTE[ord("0")], _ALLELE_OF_BYTE[ord("1")], _ALLELE_OF_BYTE[ord(".")] = 0, 1, MISSING


def _biallelic_gt_alleles(line: bytes, n_samples: int) -> np.ndarray | None:
    """Allele indexes (n_samples, 2) of a GT-only biallelic line whose calls are
    haploid (``1``, ``.``) or diploid (``0/1``, ``1|1``, ``./.``), mixed freely
    (male chrX, chrY, MT); :data:`VECTOR_END` marks the missing second allele
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
    second = np.full(n_samples, VECTOR_END, dtype=np.int32)
    second[dip] = _ALLELE_OF_BYTE[b[starts[dip] + 2]]
    if (first == 9).any() or (second == 9).any():
        return None
    return np.column_stack([first, second])


def _parse_line_general(
    path: Path, line: bytes, line_no: int, n_samples: int, male: np.ndarray | None, counted: np.ndarray | None = None
):
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
        raise InputError(
            path, f"{len(fields)} columns, expected {9 + n_samples} (9 + {n_samples} samples)", record=where
        )
    chrom, pos, vid, ref = _prefix_values(path, [f.encode() for f in fields[:4]], line_no)
    where = f"line {line_no} ({chrom}:{pos})"
    alts = [] if fields[4] == "." else fields[4].split(",")
    if not alts:
        return None
    n_alt = len(alts)
    keys = fields[8].split(":") if len(fields) > 8 else []
    if "GT" not in keys:
        return (
            chrom,
            pos,
            vid,
            ref,
            alts,
            (np.full((n_alt, n_samples), np.nan, dtype=np.float32), np.zeros(n_alt), np.zeros(n_alt, dtype=np.int64)),
        )
    male_x = male if (male is not None and chromosome_class(chrom) == "X") else None
    if keys == ["GT"] and n_alt == 1:
        alleles = _biallelic_gt_alleles(line, n_samples)
        if alleles is not None:
            return chrom, pos, vid, ref, alts, gt_rows(alleles, n_alt, male_x=male_x, counted=counted)
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
                calls.append(MISSING)
                continue
            if not a.isdigit():
                raise InputError(path, f"GT {gt!r} has a non-numeric allele {a!r}", record=where)
            k = int(a)
            if k > n_alt:
                raise InputError(path, f"GT allele index {k} > {n_alt} ALT", record=where)
            calls.append(k)
        ploidy = max(ploidy, len(calls))
        alleles_per_sample.append(calls)
    alleles = np.full((n_samples, ploidy), VECTOR_END, dtype=np.int32)
    for j, calls in enumerate(alleles_per_sample):
        alleles[j, : len(calls)] = calls
    return chrom, pos, vid, ref, alts, gt_rows(alleles, n_alt, male_x=male_x, counted=counted)
