"""Validate a VCF/BCF in one streaming pass (:func:`validate_vcf`).

The checks are split by what they look at: :mod:`.header` (meta lines, the
#CHROM line, samples, genome build), :mod:`.record` (the fixed columns, order,
duplicates) and :mod:`.samples` (GT and FORMAT values of the sample cells).
:class:`Validator` combines them over one :class:`~.state.ValidationState`.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from pathlib import Path

from genorisk.errors import InputError
from genorisk.vcf.files import check_bgzf_eof, is_bcf_payload, raw_lines, region_raw_lines, sniff_compression
from genorisk.vcf.index import validate_index
from genorisk.vcf.report import ValidationReport
from genorisk.vcf.spec import FILEFORMAT_RE
from genorisk.vcf.validate.header import HeaderChecks, parse_chrom_line, parse_meta_line
from genorisk.vcf.validate.record import RecordChecks
from genorisk.vcf.validate.samples import SampleCellChecks

__all__ = ["Validator", "validate_vcf"]


class Validator(HeaderChecks, RecordChecks, SampleCellChecks):
    """One validating pass: the header, record and sample-cell checks over one state."""


def _byte_order_mark_problem(first_line: bytes) -> str:
    """What to say about a first line that starts with a Unicode byte-order mark."""
    if first_line.startswith(b"\xef\xbb\xbf"):
        return (
            "the file starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF, added by some Windows editors); "
            "VCF must start with ##fileformat and htslib cannot read it: save it as UTF-8 without BOM "
            "(e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"
        )
    return (
        "the file starts with a UTF-16 byte-order mark (BOM): it is UTF-16 text, and VCF must be UTF-8 "
        "(convert it, e.g. iconv -f UTF-16 -t UTF-8)"
    )


def _validate_text(v: Validator, compression: str, region: str | None = None) -> None:
    path, spath, h = v.path, v.spath, v.header
    in_header = True
    lineno = 0
    crlf_seen = False
    encoding = "utf-8"
    # A region's records come through the index: their line numbers in the file are
    # unknown, so they are named by their place in the region (and CHROM:POS).
    lines = raw_lines(path, compression) if region is None else region_raw_lines(path, compression, region)
    n_header = 0
    try:
        for raw in lines:
            lineno += 1
            if in_header:
                n_header = lineno
            where = f"line {lineno}" if region is None or in_header else f"record {lineno - n_header} of {region}"
            if not raw.endswith(b"\n"):
                # Most writers end every line with a newline; its absence on the last
                # line hints at truncation. The line is still checked in full (a cut
                # record fails its column or GT checks), so this is a warning.
                v.warn.add(
                    "nonewline", f"{where}: last line has no newline at the end (truncated file?); read as complete"
                )
                raw += b"\n"
            if raw.endswith(b"\r\n"):
                raw = raw[:-2]
                if not crlf_seen:
                    crlf_seen = True
                    v.warn.add("crlf", f"{where}: Windows (CRLF) line ends")
            else:
                raw = raw[:-1]
            if lineno == 1 and raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
                raise InputError(spath, _byte_order_mark_problem(raw), record=where)
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise InputError(
                    spath,
                    f"byte {err.start + 1} is not valid {encoding} text ({raw[err.start : err.start + 1]!r}); "
                    "VCF must be UTF-8",
                    record=where,
                ) from None
            if in_header:
                if lineno == 1:
                    if not line.startswith("##fileformat="):
                        raise InputError(spath, "not a VCF: the first line must be ##fileformat=VCFv4.x", record=where)
                    value = line[len("##fileformat=") :].rstrip()
                    if not FILEFORMAT_RE.fullmatch(value):
                        raise InputError(
                            spath, f"unsupported ##fileformat {value!r} (expected VCFv4.0 .. VCFv4.5)", record=where
                        )
                    h.file_format = value
                    continue
                if line.startswith("##"):
                    parse_meta_line(line.rstrip(), where, spath, h, v.warn)
                    encoding = h.encoding
                    continue
                if line.startswith("#CHROM"):
                    parse_chrom_line(line.rstrip(" "), where, spath, h)
                    in_header = False
                    v.finish_header(where)
                    continue
                raise InputError(
                    spath,
                    (
                        "header ends without a #CHROM line"
                        if not line.startswith("#")
                        else f"header line must start with ## or be the #CHROM line: {line[:60]!r}"
                    ),
                    record=where,
                )
            if not line or line.startswith("#"):
                raise InputError(
                    spath, "empty line in the body" if not line else "'#' line after the #CHROM line", record=where
                )
            v.record(line, where)
    except (EOFError, zlib.error, OSError) as err:
        raise InputError(
            spath, f"compressed data is truncated or corrupt after line {lineno} ({err})", record=f"line {lineno + 1}"
        ) from None
    if lineno == 0 or (lineno == 1 and not h.file_format):
        raise InputError(spath, "file has no VCF header")
    if in_header:
        raise InputError(spath, "header ends without a #CHROM line", record=f"line {lineno}")


def _validate_bcf(v: Validator, region: str | None = None) -> None:
    import cyvcf2

    spath = v.spath
    try:
        vcf = cyvcf2.VCF(spath, lazy=True)
    except Exception as err:  # cyvcf2 raises OSError, or plain Exception for some headers
        raise InputError(spath, f"cannot open BCF: {err}") from None
    h = v.header
    lines = vcf.raw_header.rstrip("\n").split("\n")
    if not lines or not lines[0].startswith("##fileformat="):
        raise InputError(spath, "BCF header lacks ##fileformat", record="header")
    h.file_format = lines[0][len("##fileformat=") :]
    if not FILEFORMAT_RE.fullmatch(h.file_format):
        raise InputError(spath, f"unsupported ##fileformat {h.file_format!r}", record="header")
    for i, line in enumerate(lines[1:], 2):
        where = f"header line {i}"
        if line.startswith("##"):
            parse_meta_line(line, where, spath, h, v.warn)
        elif line.startswith("#CHROM"):
            parse_chrom_line(line, where, spath, h)
    v.finish_header("header")
    n = 0
    try:
        for rec in vcf(region) if region is not None else vcf:
            n += 1
            text = str(rec).rstrip("\n")
            v.record(text, f"record {n}" if region is None else f"record {n} of {region}")
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            spath, f"BCF is truncated or corrupt after {n} records ({err})", record=f"record {n + 1}"
        ) from None
    finally:
        vcf.close()


def validate_vcf(
    path: str | os.PathLike,
    *,
    genome_build: str | None = "GRCh38",
    require_samples: Iterable[str] | None = None,
    require_records: bool = False,
    require_sorted: bool = False,
    check_index: bool = True,
    region: str | None = None,
) -> ValidationReport:
    """Validate a VCF/BCF file in one streaming pass; return what was found.

    Parameters
    ----------
    path : path to ``.vcf``, ``.vcf.gz``/``.vcf.bgz`` (BGZF or plain gzip),
        ``.vcf.bz2`` or ``.bcf``; the format is detected from the bytes, not the name.
    genome_build : ``"GRCh38"``, ``"GRCh37"`` or None. With a build, ``##contig``
        lengths of chromosomes 1-22, X, Y must be that build's (else InputError
        saying which build the file looks like) and record contigs outside the
        build are warned about. None checks no build (non-human or test data).
    require_samples : sample names that must be in the header (e.g. the patient
        named in the sample sheet); a missing one is an InputError naming both.
    require_records : refuse a header-only file (a cohort must have variants).
        By default a file with zero records is valid (``n_records == 0``).
    require_sorted : refuse records out of order. By default they are accepted
        with a warning, counted in ``counts["unsorted_records"]`` and
        ``report.sorted`` is False (real tools write unsorted files that lose no
        data; indexing and region queries need them sorted first).
    check_index : validate a ``.tbi``/``.csi`` lying beside the file
        (:func:`validate_index`) and record its path in ``report.index``.
    region : ``CHROM`` or ``CHROM:START-END``: validate the header and only
        this region's records, read through the index (a cohort file split
        by chromosome, one job each). The file must be BGZF (or BCF) with an
        index; records are named ``record N of REGION`` and ``CHROM:POS``;
        the index is not re-checked (its other contigs are other jobs').

    Returns
    -------
    ValidationReport

    Raises
    ------
    InputError
        on the first fatal problem; the message names the file, ``line N`` (text)
        or ``record N`` (BCF), ``CHROM:POS`` and the problem. See the module
        docstring for what is fatal and what is a warning.

    Memory is bounded by the longest line; a text VCF is parsed line by line.
    Genotypes are never logged or put in messages beyond the offending GT value.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    if path.is_dir():
        raise InputError(path, "is a directory, not a VCF file")
    compression = sniff_compression(path)
    v = Validator(path, genome_build, require_samples, require_records, require_sorted)
    if compression == "bgzf":
        check_bgzf_eof(path)
    if is_bcf_payload(path, compression):
        if region is not None and not any(Path(f"{path}{ext}").exists() for ext in (".csi", ".tbi")):
            raise InputError(path, f"a region ({region}) is read through the index, and the file has no .csi")
        _validate_bcf(v, region)
        report = v.report("bcf")
    else:
        if compression == "bzip2":
            v.warn.add("bzip2", "file is bzip2-compressed: htslib-based tools cannot read it; recompress with bgzip")
        _validate_text(v, compression, region)
        report = v.report(compression)
    if check_index and region is None:
        for suffix in (".tbi", ".csi"):
            idx = Path(str(path) + suffix)
            if idx.exists():
                probes = [(c, p) for c, ends in v.contig_ends.items() for p in ends]
                report.warnings.extend(
                    validate_index(idx, path, records_per_contig=report.records_per_contig, probes=probes)
                )
                report.index = str(idx)
                break
    return report


# ---------------------------------------------------------------------------
# Index files
# ---------------------------------------------------------------------------
