"""Read and validate VCF / BCF input: accept every valid file, refuse every broken one.

htslib (under pysam and cyvcf2) reads many invalid files silently (``POS .``,
``REF C,A``, GT allele indices beyond the ALT count, whitespace in ALT, ...),
so genorisk validates with a pass of its own before any stage reads genotypes:

* :func:`validate_vcf` streams a ``.vcf``, ``.vcf.gz`` (BGZF or plain gzip),
  ``.vcf.bz2`` or ``.bcf`` once, memory bounded, and returns a
  :class:`ValidationReport` or raises :class:`~genorisk.errors.InputError` on the
  first fatal problem, naming the file, ``line N`` and ``CHROM:POS`` (BCF:
  ``record N (CHROM:POS)``) and the problem.
* :func:`validate_index` checks that a ``.tbi`` / ``.csi`` index belongs to its
  data file.
* :func:`normalize_contig` converts ``chr1`` <-> ``1`` (``chrM`` <-> ``MT``).
* :func:`safe_sample_name` says which sample names may become folder names.
* :func:`open_vcf` opens a validated file with cyvcf2 for the later stages.

What is fatal and what is a warning follows the VCF 4.x specification, softened
where widely used tools write something slightly off that loses no data (each
such case is a warning in the report). The peer-data corpus
(``tests/data/peer-data``) pins every rule to real files. In short:

Fatal (InputError)
    File: empty or headerless; raw zlib or unknown bytes; BGZF without its
    end-of-file block or with a block cut short; compressed data that ends early;
    bytes that are not UTF-8 (unless ``##fileEncoding`` names another encoding).
    Header: ``##fileformat`` other than ``VCFv4.0`` .. ``VCFv4.5``; meta lines
    that are not ``##key=value``; ``##contig`` without ID or with an invalid name
    or length; INFO/FORMAT lines without ID, Number or Type, or with an unknown
    Type; a ``#CHROM`` line that is not tab-separated or names its fields
    wrongly; a FORMAT column without samples; empty or duplicated sample names,
    or names with control characters; with ``genome_build``, ``##contig``
    lengths of another build; ``require_samples`` names missing from the header.
    Records: fewer than 8 columns or a sample-column count unlike the header's;
    CHROM with characters a contig name may not have, spelled like
    ``chromosome1``, or missing from the ``##contig`` lines when the header
    declares any; POS not a positive integer (0 only for breakends); whitespace
    in ID; REF not A/C/G/T/N; ALT with an empty or whitespace-containing allele,
    a malformed ``<ID>`` or breakend; QUAL not a number; an empty FORMAT key;
    more sample sub-fields than FORMAT keys; a GT that is not ``[|/]a([|/]a)*``
    (``a`` a number or ``.``; VCF 4.4 phasing prefixes allowed) or that names an
    allele beyond the ALT count; FORMAT Number=G values whose count does not fit
    the alleles and the GT ploidy; INFO Number=1 values with commas (for numbers
    and keys the specification defines); INFO Integers outside int32 or in the
    BCF-reserved range (INFO/END may be 64-bit); INFO Floats that are not
    numbers; a record identical to a neighbour at the same position; with
    ``genome_build``, POS beyond that build's length of a known contig ("wrong
    genome build?", also when the header gives no lengths).

Warnings (listed once per kind, with the first line and how many more)
    bzip2 (htslib cannot read it); CRLF line ends; a last line without newline
    (the line is still checked in full, so a record cut mid-genotype fails);
    ``##fileEncoding`` other than UTF-8; INFO/FORMAT Number values the
    specification does not define; INFO Number=G; invalid key names
    (``1000G_AF_ALL``); INFO/FORMAT keys used but neither declared nor reserved
    by the specification; undeclared FILTER values; an empty INFO column; a
    non-Flag INFO key without value or with an empty value; INFO String Number=1
    values with commas (GATK's ``AS_RAW_*``); INFO Number=A/R and FORMAT
    Number=A/R/n values of the wrong count; REF ``*``; ALT bases other than
    A/C/G/T/N; GT naming an ALT allele when ALT is ``.``; GT not the first
    FORMAT key; repeated FORMAT keys; rows without sample columns in a file with
    samples; empty sample columns before VCFv4.5; POS beyond the ``##contig``
    length; unsorted records (fatal with ``require_sorted``); contigs outside
    the configured build; mixed ``chr1``/``1`` naming; an index older than its
    data file; with ``genome_build``, a header without lengths of chromosomes
    1-22, X, Y (build not checkable from it); records with the same CHROM, POS,
    REF and ALT as a neighbour but other INFO or genotypes (counted in
    ``same_key_duplicates``; :func:`normalize_vcf` keeps the first). Plain gzip
    instead of BGZF is reported in ``compression`` only.

Sample names: any name VCF allows is accepted except control characters (real
files carry spaces, ``/`` and non-ASCII); names unusable as folder names are
counted in ``counts["path_unsafe_sample_names"]`` and refused by
:func:`safe_sample_name`, which every stage that builds a path from a sample
name must use.

Not checked (documented limits): FORMAT value types other than GT (counts are
checked, types are not); duplicates that are not neighbours (unsorted files);
REF against a reference FASTA; BCF beyond what the text htslib formats from each
record shows (BCF records are re-checked as that text).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import math
import os
import re
import shutil
import subprocess
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from genorisk.errors import InputError
from genorisk.io import atomic_output

__all__ = [
    "ValidationReport",
    "validate_vcf",
    "validate_index",
    "normalize_contig",
    "contig_style",
    "detect_genome_build",
    "safe_sample_name",
    "open_vcf",
    "normalize_vcf",
    "ContigMap",
    "contig_key",
    "fasta_contigs",
    "KNOWN_BUILDS",
]

KNOWN_BUILDS = ("GRCh37", "GRCh38")

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """What a validating pass learnt about one VCF/BCF file.

    ``counts`` keys (all integers, zero when absent): ``multiallelic_records``
    (more than one ALT), ``symbolic_alleles`` (``<DEL>``, ``<*>``, ...),
    ``breakend_alleles``, ``star_alleles`` (``*``, spanning deletion),
    ``reference_blocks`` (gVCF ``<*>``/``<NON_REF>`` records), ``sites_only_records``,
    ``missing_gt_alleles`` (``.`` alleles in GT), ``haploid_calls`` (GT cells with
    one allele), ``polyploid_calls`` (more than two), ``same_position_records``
    (records sharing CHROM:POS with the previous one, e.g. split multiallelics),
    ``unsorted_records`` (POS lower than the previous record's, or a contig that
    came back after another), ``path_unsafe_sample_names`` (names that
    :func:`safe_sample_name` refuses), ``repeated_format_keys`` (distinct FORMAT
    strings that repeat a key), ``same_key_duplicates`` (records with the same
    CHROM, POS, REF and ALT as an earlier neighbour but other INFO or genotypes;
    :func:`normalize_vcf` keeps the first).
    """

    path: str
    file_format: str
    compression: str  # "none" | "bgzf" | "gzip" | "bzip2" | "bcf"
    n_records: int
    samples: list[str]
    contigs: list[str]  # contigs of records, in first-seen order
    records_per_contig: dict[str, int]
    header_contigs: int  # number of ##contig lines
    genome_build: str | None  # build the ##contig lengths match, if any
    contig_style: str | None  # "chr", "plain", "mixed" or None (no human names)
    sorted: bool
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    index: str | None = None  # path of a validated .tbi/.csi beside the file

    def to_dict(self) -> dict:
        """JSON-ready dict (plain lists, dicts, str and int)."""
        return asdict(self)


# ---------------------------------------------------------------------------
# Specification tables
# ---------------------------------------------------------------------------

_FILEFORMAT_RE = re.compile(r"VCFv4\.[0-5]")
_META_KEY_RE = re.compile(r"##([^=\s]+)=(.*)")
# VCF 4.3 section 1.4.2: INFO/FORMAT IDs; "1000G" is the one reserved exception.
_TAG_NAME_RE = re.compile(r"(?:[A-Za-z_][0-9A-Za-z_.]*|1000G)")
# VCF 4.3 section 1.4.7: contig names.
_CONTIG_NAME_RE = re.compile(r"[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*")
_NUMBER_RE = re.compile(r"(?:\d+|[ARG.]|L[ARG]|[PM])")  # L*, P, M: VCF 4.4/4.5
_TYPES = {"Integer", "Float", "Flag", "Character", "String"}
_BASES_RE = re.compile(r"[ACGTNacgtn]+")
_SIMPLE_ALTS_RE = re.compile(r"[ACGTNacgtn]+(?:,[ACGTNacgtn]+)*")
_LETTERS_RE = re.compile(r"[A-Za-z]+")
_SYMBOLIC_RE = re.compile(r"<[^<>\s,]+>")
_BREAKEND_RE = re.compile(r"(?:[A-Za-z]*[\[\]][^\[\]\s]+:\d+[\[\]]|[\[\]][^\[\]\s]+:\d+[\[\]][A-Za-z]*)")
_SINGLE_BND_RE = re.compile(r"\.([A-Za-z]+)|([A-Za-z]+)\.")
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(?:inity)?)")
_INT_RE = re.compile(r"[-+]?\d+")
_GT_FIRST_RE = re.compile(r"(?:^|\t)([^:\t]*)")
_BAD_SAMPLE_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# A chromosome spelled in a way no annotation source or region syntax uses.
# Only human chromosome numbers count, so chr23 of another species passes.
_ODD_CHROMOSOME_RE = re.compile(r"(?:chromosome|chrom|chr)[_ ]?0?(?:[1-9]|1[0-9]|2[0-2]|X|Y|M|MT)", re.I)
_PRIMARY_RE = re.compile(r"(?:chr)?([1-9]|1[0-9]|2[0-2]|X|Y|M|MT)")

_INT32_MIN_VALID = -(2**31) + 8  # -2^31 .. -2^31+7 are reserved by BCF
_INT32_MAX = 2**31 - 1

# Keys the specification reserves (VCF 4.4 sections 1.6.1, 1.6.2, 5): a file may
# use them without a header line, so using one undeclared is not worth a warning.
_RESERVED_INFO = set(
    "AA AC AD ADF ADR AF AN BQ CIGAR DB DP END H2 H3 MQ MQ0 NS SB SOMATIC VALIDATED 1000G "
    "IMPRECISE NOVEL SVTYPE SVLEN CIPOS CIEND HOMLEN HOMSEQ BKPTID MEINFO METRANS DGVID "
    "DBVARID DBRIPID MATEID PARID EVENT EVENTTYPE CILEN CN CICN CNADJ CICNADJ DPADJ SVCLAIM RN RUS RUL RUC RB CIRB RUB".split()
)
_RESERVED_FORMAT = set(
    "AD ADF ADR DP EC FT GL GP GQ GT HQ MQ PL PP PQ PS PSL PSO PSQ CN CICN CNQ CNL CNP NQ HAP AHAP "
    "LA LAA LAD LADF LADR LEC LGL LGP LPL LPP".split()
)

# Number and Type the specification gives reserved keys; used when a file uses
# one without declaring it (so an undeclared PL is still counted).
_RESERVED_INFO_DEFS = {
    "AA": ("1", "String"),
    "AC": ("A", "Integer"),
    "AD": ("R", "Integer"),
    "AF": ("A", "Float"),
    "AN": ("1", "Integer"),
    "DP": ("1", "Integer"),
    "END": ("1", "Integer"),
    "NS": ("1", "Integer"),
    "SVTYPE": ("1", "String"),
    "DB": ("0", "Flag"),
    "H2": ("0", "Flag"),
    "H3": ("0", "Flag"),
    "SOMATIC": ("0", "Flag"),
    "VALIDATED": ("0", "Flag"),
    "1000G": ("0", "Flag"),
    "IMPRECISE": ("0", "Flag"),
}
_RESERVED_FORMAT_DEFS = {
    "AD": ("R", "Integer"),
    "DP": ("1", "Integer"),
    "GL": ("G", "Float"),
    "GP": ("G", "Float"),
    "GQ": ("1", "Integer"),
    "PL": ("G", "Integer"),
    "PP": ("G", "Integer"),
    "HQ": ("2", "Integer"),
    "PS": ("1", "Integer"),
}
_INT64_MAX = 2**63 - 1  # INFO/END is a position, and positions may exceed 2^31 (htslib longrefs)

_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


# ---------------------------------------------------------------------------
# Contigs and genome builds
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _contig_table() -> dict[str, dict[str, int]]:
    """``{build: {name_or_alias: length}}`` from the packaged ``data/contigs.tsv``."""
    text = resources.files("genorisk").joinpath("data/contigs.tsv").read_text()
    table: dict[str, dict[str, int]] = {b: {} for b in KNOWN_BUILDS}
    rows = csv.DictReader((ln for ln in io.StringIO(text) if not ln.startswith("#")), delimiter="\t")
    for row in rows:
        names = [row["name"], *filter(None, row["aliases"].split(","))]
        for name in names:
            table[row["build"]].setdefault(name, int(row["length"]))
    return table


def normalize_contig(name: str, style: str = "chr") -> str:
    """Spell a human chromosome name in ``style`` ``"chr"`` (``chr1``, ``chrX``,
    ``chrM``) or ``"plain"`` (``1``, ``X``, ``MT``).

    Only the primary chromosomes 1-22, X, Y and the mitochondrion are converted;
    other names (``GL000207.1``, ``chrUn_KI270302v1``, ``2L``) come back unchanged.
    Raises ``ValueError`` for a chromosome spelled unconventionally
    (``chromosome1``, ``Chr1``), which no annotation source uses.
    """
    if style not in ("chr", "plain"):
        raise ValueError(f"style must be 'chr' or 'plain', not {style!r}")
    m = _PRIMARY_RE.fullmatch(name)
    if m is None:
        if _ODD_CHROMOSOME_RE.fullmatch(name):
            raise ValueError(f"contig {name!r} is neither chrN nor N")
        return name
    core = m.group(1)
    if core in ("M", "MT"):
        return "chrM" if style == "chr" else "MT"
    return f"chr{core}" if style == "chr" else core


def contig_style(names: Iterable[str]) -> str | None:
    """``"chr"`` if the primary human chromosomes among ``names`` are spelled
    ``chrN``, ``"plain"`` if ``N``, ``"mixed"`` if both, None if there are none."""
    styles = set()
    for name in names:
        if _PRIMARY_RE.fullmatch(name):
            styles.add("chr" if name.startswith("chr") else "plain")
    if not styles:
        return None
    return styles.pop() if len(styles) == 1 else "mixed"


def detect_genome_build(contig_lengths: dict[str, int]) -> tuple[str | None, str]:
    """Which human build ``{contig: length}`` (from ``##contig`` lines) belongs to.

    Compares the lengths of chromosomes 1-22, X and Y (either spelling) with
    GRCh37 and GRCh38. Returns ``(build, evidence)``: ``build`` is None when no
    primary chromosome has a length or the lengths match neither or both builds;
    ``evidence`` names one contig and its length (for messages).
    """
    table = _contig_table()
    votes: dict[str, list[str]] = {b: [] for b in KNOWN_BUILDS}
    mismatches: list[str] = []
    for name, length in contig_lengths.items():
        m = _PRIMARY_RE.fullmatch(name)
        if m is None or m.group(1) in ("M", "MT"):
            continue  # the mitogenome is 16569 bp in both builds
        key = f"chr{m.group(1)}"
        matched = [b for b in KNOWN_BUILDS if table[b].get(key) == length]
        for b in matched:
            votes[b].append(f"{name} length {length}")
        if not matched:
            mismatches.append(f"{name} length {length}")
    hits = [b for b in KNOWN_BUILDS if votes[b]]
    if len(hits) == 1 and not any(votes[b] for b in KNOWN_BUILDS if b != hits[0]):
        return hits[0], votes[hits[0]][0]
    if mismatches and not hits:
        return None, mismatches[0]
    return None, ""


def safe_sample_name(name: str) -> str:
    """Return ``name`` if it may be used as a file or folder name, else raise.

    Allowed: 1-128 characters from ``A-Z a-z 0-9 . _ -``, starting with a letter
    or digit (so never ``.``, ``..``, a hidden file or an option-like ``-x``).
    Sample names that VCF allows but paths and HTML do not (spaces, ``/``,
    ``<script>``, non-ASCII such as ``S²``) are refused with
    :class:`~genorisk.errors.InputError` naming the offending character; map such
    samples to safe patient IDs in the sample sheet instead.
    """
    if _SAFE_NAME_RE.fullmatch(name):
        return name
    bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))), None)
    if not name:
        why = "is empty"
    elif len(name) > 128:
        why = f"is {len(name)} characters long (at most 128)"
    elif bad is not None:
        why = f"contains {bad!r}"
    else:
        why = f"starts with {name[0]!r}"
    raise InputError(
        None,
        f"sample name {name!r} {why}: only A-Z a-z 0-9 . _ - are allowed in names used as folder names, starting with a letter or digit",
        record="sample name",
    )


# ---------------------------------------------------------------------------
# Header parsing
# ---------------------------------------------------------------------------

_STRUCT_ITEM_RE = re.compile(r'\s*([^=,\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*(?:,|$)')


def _parse_structured(inner: str) -> dict[str, str] | None:
    """Parse ``ID=x,Number=1,Description="a, b"`` (the part inside ``<...>``)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        m = _STRUCT_ITEM_RE.match(inner, pos)
        if m is None or m.end() == pos:
            return None
        value = m.group(2)
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out.setdefault(m.group(1), value)
        pos = m.end()
    return out


@dataclass
class _Definition:
    number: str
    type: str


@dataclass
class _Header:
    file_format: str = ""
    info: dict[str, _Definition] = field(default_factory=dict)
    format: dict[str, _Definition] = field(default_factory=dict)
    filters: set[str] = field(default_factory=lambda: {"PASS"})
    contigs: dict[str, int | None] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    has_format_column: bool = False
    encoding: str = "utf-8"


class _Warnings:
    """Warnings grouped by kind: the first occurrence's text and a count."""

    MAX_KINDS = 200

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        if kind in self._count:
            self._count[kind] += 1
        elif len(self._first) < self.MAX_KINDS:
            self._first[kind] = message
            self._count[kind] = 1

    def as_list(self) -> list[str]:
        out = []
        for kind, message in self._first.items():
            n = self._count[kind]
            out.append(message if n == 1 else f"{message} (and {n - 1} more like it)")
        return out


_SIMPLE_CONTIG_RE = re.compile(
    r"##contig=<ID=([0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*),length=(\d+)>"
)


def _parse_meta_line(text: str, where: str, path: str, header: _Header, warn: _Warnings) -> None:
    if text.startswith("##contig=<ID="):
        m = _SIMPLE_CONTIG_RE.fullmatch(text)
        if m is not None:  # fast path: files with 100,000 contig lines exist
            header.contigs[m.group(1)] = int(m.group(2))
            return
    m = _META_KEY_RE.fullmatch(text)
    if m is None:
        raise InputError(path, f"meta-information line is not ##key=value: {text[:80]!r}", record=where)
    key, value = m.group(1), m.group(2)
    if key == "fileformat":
        raise InputError(path, "##fileformat appears twice", record=where)
    if key == "fileEncoding":
        enc = value.strip().lower().replace("_", "-")
        if enc not in ("utf-8", "utf8"):
            try:
                "".encode(enc)
            except LookupError:
                raise InputError(path, f"unknown ##fileEncoding {value!r}", record=where) from None
            header.encoding = enc
            warn.add("encoding", f"{where}: ##fileEncoding={value} (VCF text must be UTF-8); read as {enc}")
        return
    if key not in ("INFO", "FORMAT", "FILTER", "contig", "ALT"):
        return  # other lines (##source, ##reference, ##pedigreeDB=<url>, ...) are free text
    if not (value.startswith("<") and value.endswith(">")):
        raise InputError(path, f"##{key} line must be ##{key}=<ID=...>", record=where)
    attrs = _parse_structured(value[1:-1])
    if attrs is None:
        raise InputError(path, f"cannot parse ##{key} attributes: {value[:80]!r}", record=where)
    ident = attrs.get("ID")
    if not ident:
        raise InputError(path, f"##{key} line has no ID", record=where)
    if key == "contig":
        if not _CONTIG_NAME_RE.fullmatch(ident):
            raise InputError(path, f"invalid contig name {ident!r} in ##contig", record=where)
        length = attrs.get("length")
        if length is not None and not (length.isdigit() and length.isascii()):
            raise InputError(path, f"##contig {ident} length {length!r} is not a positive integer", record=where)
        header.contigs[ident] = int(length) if length else None
    elif key == "FILTER":
        header.filters.add(ident)
    elif key in ("INFO", "FORMAT"):
        number, typ = attrs.get("Number"), attrs.get("Type")
        if number is None or typ is None:
            raise InputError(path, f"##{key} {ident} lacks Number or Type", record=where)
        if typ not in _TYPES or (key == "FORMAT" and typ == "Flag"):
            raise InputError(path, f"##{key} {ident} has invalid Type={typ}", record=where)
        if not _NUMBER_RE.fullmatch(number):
            warn.add(
                f"number:{key}:{ident}",
                f"{where}: ##{key} {ident} has invalid Number={number}; its values are not counted",
            )
            number = "."
        if key == "INFO" and number == "G":
            warn.add(
                f"infoG:{ident}",
                f"{where}: ##INFO {ident} has Number=G, which the specification allows only for FORMAT; its values are not counted",
            )
            number = "."
        if not _TAG_NAME_RE.fullmatch(ident):
            warn.add(
                f"tagname:{key}:{ident}",
                f"{where}: ##{key} ID {ident!r} is not a valid key name (letters, digits, _ and . not starting with a digit)",
            )
        table = header.info if key == "INFO" else header.format
        table[ident] = _Definition(number, typ)


_FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


def _parse_chrom_line(text: str, where: str, path: str, header: _Header) -> None:
    cols = text.split("\t")
    if cols[:8] != _FIXED_COLUMNS:
        if len(cols) < 8 and " " in text:
            raise InputError(path, "the #CHROM line must be tab-separated (found spaces)", record=where)
        raise InputError(
            path,
            f"the #CHROM line must start with {' '.join(_FIXED_COLUMNS)} separated by tabs; found {' | '.join(cols[:8])}",
            record=where,
        )
    if len(cols) == 8:
        return
    if cols[8] != "FORMAT":
        raise InputError(path, f"the 9th column of the #CHROM line must be FORMAT, not {cols[8]!r}", record=where)
    header.has_format_column = True
    samples = cols[9:]
    if not samples:
        raise InputError(path, "the #CHROM line has a FORMAT column but no sample columns", record=where)
    seen: set[str] = set()
    for i, name in enumerate(samples, 1):
        if name == "" or name.strip() == "":
            raise InputError(
                path, f"sample column {i} has an empty name (trailing tab or space in the #CHROM line?)", record=where
            )
        if name in seen:
            raise InputError(path, f"sample name {name!r} appears twice in the #CHROM line", record=where)
        if _BAD_SAMPLE_CHARS_RE.search(name):
            raise InputError(path, f"sample name {name!r} contains a control character", record=where)
        seen.add(name)
    header.samples = samples


# ---------------------------------------------------------------------------
# Opening: compression detection and line streams
# ---------------------------------------------------------------------------


def _sniff(path: Path) -> str:
    """Return 'bgzf', 'gzip', 'bzip2', 'bcf' (uncompressed BCF) or 'none'."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if not head:
        raise InputError(path, "file is empty (0 bytes)")
    if head[:2] == b"\x1f\x8b":
        # BGZF: gzip with FEXTRA holding the 'BC' subfield (SAM spec section 4.1).
        if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC":
            return "bgzf"
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:3] == b"BCF":
        return "bcf"
    if head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        raise InputError(path, "file is a raw zlib stream, not gzip/BGZF: recompress with bgzip")
    return "none"


def _check_bgzf_eof(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 28))
        tail = fh.read(28)
    if tail != _BGZF_EOF:
        raise InputError(path, "BGZF end-of-file block missing: the file is truncated (or its writer did not finish)")


def _is_bcf_payload(path: Path, compression: str) -> bool:
    if compression == "bcf":
        return True
    if compression in ("bgzf", "gzip"):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(3) == b"BCF"
        except (OSError, EOFError, zlib.error):
            return False
    return False


def _raw_lines(path: Path, compression: str) -> Iterator[bytes]:
    if compression in ("bgzf", "gzip"):
        fh = gzip.open(path, "rb")
    elif compression == "bzip2":
        fh = bz2.open(path, "rb")
    else:
        fh = open(path, "rb", buffering=1 << 20)
    with fh:
        yield from fh


# ---------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _gt_pattern(n_alleles: int, with_other_fields: bool) -> re.Pattern:
    """Regex for a whole tab-joined sample string whose GT alleles are < n_alleles.

    Used only for n_alleles <= 10 (one-digit allele indices); a failed match sends
    the record to the exact per-sample check, which finds and names the problem
    (or accepts rarities such as the allele ``01``).
    """
    allele = f"[0-{n_alleles - 1}.]"
    gt = rf"[|/]?{allele}(?:[|/]{allele})*"
    cell = rf"(?:{gt}(?::[^\t]*)?)?" if with_other_fields else rf"(?:{gt})?"
    return re.compile(rf"{cell}(?:\t{cell})*")


def _allele_lut(n_alleles: int) -> np.ndarray:
    """Byte lookup table: True for '.' and the digits 0 .. n_alleles-1 (n_alleles <= 10)."""
    lut = np.zeros(256, dtype=bool)
    lut[ord(".")] = True
    lut[ord("0") : ord("0") + min(n_alleles, 10)] = True
    return lut


_ALLELE_LUTS = [_allele_lut(n) for n in range(11)]
_SEP_LUT = np.zeros(256, dtype=bool)
_SEP_LUT[[ord("/"), ord("|")]] = True
_END_LUT = np.zeros(256, dtype=bool)
_END_LUT[[ord(":"), ord("\t")]] = True


def _pair_lut(n_alleles: int, second: bytes) -> np.ndarray:
    """65536-entry table over little-endian byte pairs (allele, x), x in ``second``."""
    lut = np.zeros(65536, dtype=bool)
    for a in [ord(".")] + list(range(ord("0"), ord("0") + min(n_alleles, 10))):
        for x in second:
            lut[a | (x << 8)] = True
    return lut


@lru_cache(maxsize=16)
def _gt_only_luts(n_alleles: int) -> tuple[np.ndarray, np.ndarray]:
    return _pair_lut(n_alleles, b"/|"), _pair_lut(n_alleles, b"\t")


def _diploid_gt_fast(samples: str, n_samples: int, n_alleles: int) -> int | None:
    """Vectorised check of the common case: every cell starts with a diploid GT
    of one-digit alleles (``0|1``, ``./.``) followed by ``:`` or the cell end,
    all alleles < ``n_alleles``. Returns the number of ``.`` alleles, or None
    when any cell is not of that shape (the caller then checks cell by cell).
    """
    if n_alleles > 10:
        return None
    if len(samples) == 4 * n_samples - 1:
        # FORMAT GT with every cell "a/b": fixed 4-byte cells, read as byte pairs.
        try:
            pairs = np.frombuffer((samples + "\t").encode("ascii"), dtype="<u2")
        except UnicodeEncodeError:
            return None
        first, second = _gt_only_luts(n_alleles)
        if first[pairs[0::2]].all() and second[pairs[1::2]].all():
            return samples.count(".")
    try:
        b = np.frombuffer((samples + "\t").encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    tabs = np.flatnonzero(b == 9)
    if len(tabs) != n_samples:
        return None
    starts = np.empty(n_samples, dtype=np.intp)
    starts[0] = 0
    starts[1:] = tabs[:-1] + 1
    if ((tabs - starts) < 3).any():
        return None
    a0, sep, a1, end = b[starts], b[starts + 1], b[starts + 2], b[starts + 3]
    lut = _ALLELE_LUTS[n_alleles]
    if not (lut[a0].all() and lut[a1].all() and _SEP_LUT[sep].all() and _END_LUT[end].all()):
        return None
    return int((a0 == 46).sum() + (a1 == 46).sum())


_GT_SYNTAX_RE = re.compile(r"[|/]?(\d+|\.)((?:[|/](?:\d+|\.))*)")
_GT_ALLELES_RE = re.compile(r"\d+|\.")


def _expected_count(number: str, n_alleles: int, ploidy: int | None) -> int | None:
    if number == "A":
        return n_alleles - 1
    if number == "R":
        return n_alleles
    if number == "G":
        if ploidy is None:
            return None
        return math.comb(n_alleles + ploidy - 1, ploidy)
    if number.isdigit():
        return int(number)
    return None


class _Validator:
    def __init__(
        self, path: Path, genome_build: str | None, require_samples, require_records: bool, require_sorted: bool = False
    ):
        self.path = path
        self.spath = str(path)
        self.genome_build = genome_build
        self.require_samples = list(require_samples) if require_samples else []
        self.require_records = require_records
        self.header = _Header()
        self.warn = _Warnings()
        self.counts: dict[str, int] = dict.fromkeys(
            [
                "multiallelic_records",
                "symbolic_alleles",
                "breakend_alleles",
                "star_alleles",
                "reference_blocks",
                "sites_only_records",
                "missing_gt_alleles",
                "haploid_calls",
                "polyploid_calls",
                "same_position_records",
                "unsorted_records",
                "path_unsafe_sample_names",
                "repeated_format_keys",
                "same_key_duplicates",
            ],
            0,
        )
        self.n_records = 0
        self.records_per_contig: dict[str, int] = {}
        self.chrom = None
        self.last_pos = -1
        self.same_pos_lines: dict[str, str] = {}
        self.same_pos_keys: dict[tuple, str] | None = None  # (REF, ALT) -> where, at the current position
        self.contig_ends: dict[str, list[int]] = {}  # first and last POS per contig (index probes)
        self.require_sorted = require_sorted
        self.ok_chroms: set[str] = set()
        self.format_cache: dict[str, tuple] = {}
        self.version_minor = 0
        self.detected_build: str | None = None
        self.build_lengths: dict[str, int] = {}  # CHROM -> length in the configured build (known contigs)

    # -- header ----------------------------------------------------------
    def finish_header(self, where: str) -> None:
        h = self.header
        self.version_minor = int(h.file_format[-1])
        for name in self.require_samples:
            if name not in h.samples:
                shown = ", ".join(h.samples[:10]) + (" ..." if len(h.samples) > 10 else "")
                raise InputError(
                    self.spath,
                    f"sample {name!r} named in the sample sheet is not in this VCF (samples: {shown or 'none'})",
                    record=where,
                )
        for name in h.samples:
            if not _SAFE_NAME_RE.fullmatch(name):
                self.counts["path_unsafe_sample_names"] += 1
        lengths = {k: v for k, v in h.contigs.items() if v is not None}
        build, evidence = detect_genome_build(lengths)
        self.detected_build = build
        if self.genome_build is not None:
            if self.genome_build not in KNOWN_BUILDS:
                raise InputError(
                    None,
                    f"unknown genome build {self.genome_build!r} (known: {', '.join(KNOWN_BUILDS)})",
                    record="genome_build",
                )
            if build is not None and build != self.genome_build:
                raise InputError(
                    self.spath,
                    f"the ##contig lengths are those of {build} ({evidence}), but the pipeline is configured for {self.genome_build}: lift the file over or configure genome_build: {build}",
                    record="header",
                )
            if build is None and not evidence:
                self.warn.add(
                    "buildunchecked",
                    f"the header gives no ##contig lengths of chromosomes 1-22, X, Y: the genome build could not be "
                    f"checked from it; record positions are checked against {self.genome_build} lengths only",
                )
            if build is None and evidence:
                raise InputError(
                    self.spath,
                    f"the ##contig lengths match neither GRCh37 nor GRCh38 ({evidence}); configured build is {self.genome_build}",
                    record="header",
                )

    # -- records ---------------------------------------------------------
    def check_chrom(self, chrom: str, where: str) -> None:
        if not _CONTIG_NAME_RE.fullmatch(chrom) and not _SYMBOLIC_RE.fullmatch(
            chrom
        ):  # "<ctg1>": VCF 4.1 assembly contig
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} contains characters a contig name may not have (whitespace, comma, quotes, brackets) or is empty",
                record=where,
            )
        if _ODD_CHROMOSOME_RE.fullmatch(chrom) and not _PRIMARY_RE.fullmatch(chrom):
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} is neither chrN nor N: rename contigs (e.g. bcftools annotate --rename-chrs) to the {self.genome_build or 'reference'} naming",
                record=where,
            )
        if self.header.contigs and chrom not in self.header.contigs and not chrom.startswith("<"):
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} is not among the {len(self.header.contigs)} ##contig lines of the header",
                record=where,
            )
        if self.genome_build is not None:
            table = _contig_table()[self.genome_build]
            if chrom in table:
                self.build_lengths[chrom] = table[chrom]
            if chrom not in table and not (_PRIMARY_RE.fullmatch(chrom)):
                self.warn.add(
                    f"notinbuild:{chrom}", f"{where}: contig {chrom!r} is not a {self.genome_build} sequence name"
                )
        self.ok_chroms.add(chrom)

    def record(self, line: str, where_line: str) -> None:
        """Check one data line. ``where_line`` is ``line N`` or ``record N``."""
        spath = self.spath
        h = self.header
        fields = line.split("\t", 9)
        n = len(fields)
        if n < 8:
            hint = " (spaces instead of tabs?)" if " " in line else ""
            raise InputError(spath, f"{n} tab-separated columns, a record needs at least 8{hint}", record=where_line)
        chrom, pos_s, ident, ref, alt, qual, filt, info = fields[:8]
        where = f"{where_line} ({chrom}:{pos_s})"
        if chrom not in self.ok_chroms:
            self.check_chrom(chrom, where)
        if not (pos_s.isdigit() and pos_s.isascii()):
            raise InputError(spath, f"POS {pos_s!r} is not a positive integer", record=where)
        pos = int(pos_s)
        if " " in ident or ident == "":
            raise InputError(spath, f"ID {ident!r} is empty or contains whitespace", record=where)
        # REF
        if not _BASES_RE.fullmatch(ref):
            if ref == "*":
                self.warn.add(
                    "refstar", f"{where}: REF is '*', which the specification does not allow (only A, C, G, T, N)"
                )
            else:
                raise InputError(spath, f"REF {ref[:40]!r} is not made of A, C, G, T, N", record=where)
        # ALT
        if alt == ".":
            n_alleles = 1
            has_bnd = False
        elif _SIMPLE_ALTS_RE.fullmatch(alt):
            n_alleles = alt.count(",") + 2
            has_bnd = False
        else:
            n_alleles, has_bnd = self.check_alt(alt, ref, where)
        if n_alleles > 2:
            self.counts["multiallelic_records"] += 1
        if pos == 0 and not has_bnd:
            raise InputError(spath, "POS 0 is allowed only for telomeric breakends", record=where)
        build_length = self.build_lengths.get(chrom)
        if build_length is not None and pos > build_length + 1:
            raise InputError(
                spath,
                f"POS {pos} is beyond the end of {chrom} in {self.genome_build} ({build_length} bp): wrong genome build?",
                record=where,
            )
        length = h.contigs.get(chrom)
        if length is not None and pos > length + 1:
            self.warn.add(f"beyond:{chrom}", f"{where}: POS {pos} is beyond the ##contig length {length} of {chrom}")
        if qual != "." and not _FLOAT_RE.fullmatch(qual):
            raise InputError(spath, f"QUAL {qual[:40]!r} is not a number or '.'", record=where)
        if filt not in ("PASS", "."):
            self.check_filter(filt, where)
        if info != ".":
            self.check_info(info, n_alleles, where)
        # order, duplicates
        self.track_order(chrom, pos, line, where)
        # samples
        ns = len(h.samples)
        if ns == 0:
            if n > 8 and not (n == 9 and not h.has_format_column and fields[8] == ""):
                raise InputError(spath, f"{n} columns but the #CHROM line declares 8 (no samples)", record=where)
            return
        if n == 8:
            self.counts["sites_only_records"] += 1
            self.warn.add(
                "sitesonly",
                f"{where}: record has no FORMAT and sample columns although the file has {ns} samples; read as missing genotypes",
            )
            return
        if n == 9:
            raise InputError(
                spath, f"FORMAT column without sample columns; the header declares {ns} samples", record=where
            )
        samples = fields[9]
        n_cells = samples.count("\t") + 1
        if n_cells != ns:
            raise InputError(spath, f"{n_cells} sample columns, the header declares {ns}", record=where)
        self.check_samples(fields[8], samples, n_alleles, alt, where)

    def check_alt(self, alt: str, ref: str, where: str) -> tuple[int, bool]:
        has_bnd = False
        alleles = alt.split(",")
        for a in alleles:
            if _BASES_RE.fullmatch(a):
                continue
            if a == "*":
                self.counts["star_alleles"] += 1
            elif a.startswith("<"):
                if not _SYMBOLIC_RE.fullmatch(a):
                    raise InputError(
                        self.spath, f"ALT allele {a[:60]!r} is not a valid symbolic allele <ID>", record=where
                    )
                self.counts["symbolic_alleles"] += 1
                if a in ("<*>", "<NON_REF>"):
                    self.counts["reference_blocks"] += 1
            elif "[" in a or "]" in a:
                if not _BREAKEND_RE.fullmatch(a):
                    raise InputError(self.spath, f"ALT allele {a[:60]!r} is not a valid breakend", record=where)
                self.counts["breakend_alleles"] += 1
                has_bnd = True
            elif _SINGLE_BND_RE.fullmatch(a) is not None:  # ".S" / "S." (VCF 4.4 5.4.9)
                self.counts["breakend_alleles"] += 1
                has_bnd = True
            elif a == "" or any(c.isspace() for c in a) or a == ".":
                raise InputError(
                    self.spath, f"ALT {alt[:60]!r} has an empty or whitespace-containing allele", record=where
                )
            elif _LETTERS_RE.fullmatch(a):
                self.warn.add("altbase", f"{where}: ALT allele {a[:40]!r} has bases other than A, C, G, T, N")
            else:
                raise InputError(
                    self.spath, f"ALT allele {a[:60]!r} is not bases, '*', <ID> or a breakend", record=where
                )
        return len(alleles) + 1, has_bnd

    def check_filter(self, filt: str, where: str) -> None:
        for f in filt.split(";"):
            if not f or " " in f:
                raise InputError(
                    self.spath, f"FILTER {filt!r} has an empty or whitespace-containing value", record=where
                )
            if f not in self.header.filters:
                self.warn.add(f"filter:{f}", f"{where}: FILTER {f!r} is not declared in the header")

    def check_info(self, info: str, n_alleles: int, where: str) -> None:
        if info == "":
            self.warn.add("emptyinfo", f"{where}: INFO column is empty (should be '.')")
            return
        if " " in info:
            raise InputError(self.spath, "INFO contains a space", record=where)
        defs = self.header.info
        for item in info.split(";"):
            if not item:
                continue  # "A=1;" (trailing ';'), written by SnpEff and others; harmless
            key, eq, value = item.partition("=")
            d = defs.get(key)
            reserved = False
            if d is None:
                if key not in _RESERVED_INFO:
                    self.warn.add(f"info:{key}", f"{where}: INFO key {key!r} is not declared in the header")
                    continue
                if key not in _RESERVED_INFO_DEFS:
                    continue
                d = _Definition(*_RESERVED_INFO_DEFS[key])
                reserved = True
            if d.type == "Flag":
                if eq:
                    self.warn.add(f"flagvalue:{key}", f"{where}: INFO flag {key} has a value")
                continue
            if not eq:
                self.warn.add(f"novalue:{key}", f"{where}: INFO {key} (Type={d.type}) has no value")
                continue
            if value == "":
                self.warn.add(f"emptyvalue:{key}", f"{where}: INFO {key} has an empty value")
                continue
            parts = value.split(",")
            num = d.number
            if num == "1" and len(parts) > 1:
                # Numbers and the keys the specification defines cannot hold a list;
                # free-text String keys (GATK's AS_RAW_*) pack lists into one value.
                if d.type != "String" or reserved or key in _RESERVED_INFO:
                    raise InputError(
                        self.spath, f"INFO {key} is Number=1 but has {len(parts)} comma-separated values", record=where
                    )
                self.warn.add(f"info1:{key}", f"{where}: INFO {key} is declared Number=1 but its value has commas")
            if num in ("A", "R") and n_alleles > 1:
                expected = n_alleles - 1 if num == "A" else n_alleles
                if len(parts) != expected:
                    self.warn.add(
                        f"infocount:{key}",
                        f"{where}: INFO {key} (Number={num}) has {len(parts)} values for {n_alleles - 1} ALT alleles",
                    )
            if d.type == "Integer":
                for p in parts:
                    if p == ".":
                        continue
                    if not _INT_RE.fullmatch(p):
                        raise InputError(self.spath, f"INFO {key} value {p[:30]!r} is not an Integer", record=where)
                    v = int(p)
                    if (v > _INT32_MAX and not (key == "END" and v <= _INT64_MAX)) or v < _INT32_MIN_VALID:
                        raise InputError(
                            self.spath,
                            f"INFO {key} value {p} is outside the 32-bit range VCF/BCF allow ({_INT32_MIN_VALID}..{_INT32_MAX})",
                            record=where,
                        )
            elif d.type == "Float":
                for p in parts:
                    if p != "." and not _FLOAT_RE.fullmatch(p):
                        raise InputError(self.spath, f"INFO {key} value {p[:30]!r} is not a Float", record=where)

    def track_order(self, chrom: str, pos: int, line: str, where: str) -> None:
        self.n_records += 1
        counts = self.records_per_contig
        if chrom != self.chrom:
            if chrom in counts:
                self.counts["unsorted_records"] += 1
                self.unsorted(f"contig {chrom} appears again after {self.chrom}", where)
            self.chrom = chrom
            self.last_pos = -1
            counts.setdefault(chrom, 0)
        counts[chrom] += 1
        ends = self.contig_ends.get(chrom)
        if ends is None:
            self.contig_ends[chrom] = [pos, pos]
        else:
            ends[1] = pos
        if pos != self.last_pos:
            if pos < self.last_pos:
                self.counts["unsorted_records"] += 1
                self.unsorted(f"POS {pos} after POS {self.last_pos}", where)
            self.last_pos = pos
            self.same_pos_lines = {line: where}
            self.same_pos_keys = None
            return
        self.counts["same_position_records"] += 1
        first = self.same_pos_lines.get(line)
        if first is not None:
            raise InputError(self.spath, f"duplicate record: identical to {first}", record=where)
        if self.same_pos_keys is None:  # built lazily: most positions hold one record
            self.same_pos_keys = {}
            for text, at in self.same_pos_lines.items():
                self.same_pos_keys.setdefault(tuple(text.split("\t", 5)[3:5]), at)
        key = tuple(line.split("\t", 5)[3:5])
        first = self.same_pos_keys.get(key)
        if first is not None:
            self.counts["same_key_duplicates"] += 1
            self.warn.add(
                "samekey",
                f"{where}: same CHROM, POS, REF and ALT as {first} but other INFO or genotypes; normalisation keeps the first",
            )
        else:
            self.same_pos_keys[key] = where
        self.same_pos_lines[line] = where

    def unsorted(self, what: str, where: str) -> None:
        if self.require_sorted:
            raise InputError(self.spath, f"records are not sorted: {what} (sort with bcftools sort)", record=where)
        self.warn.add(
            "unsorted",
            f"{where}: records are not sorted ({what}); indexing and region queries need bcftools sort, and duplicates are detected only between neighbours",
        )

    def format_plan(self, fmt: str, where: str) -> tuple:
        """Parse a FORMAT string once: (has_gt, n_keys, [(index, key, number)])."""
        plan = self.format_cache.get(fmt)
        if plan is not None:
            return plan
        if fmt == ".":
            plan = (False, 0, [])
        else:
            keys = fmt.split(":")
            if any(k == "" for k in keys):
                raise InputError(self.spath, f"FORMAT {fmt!r} has an empty key", record=where)
            if len(set(keys)) != len(keys):
                self.counts["repeated_format_keys"] += 1
                self.warn.add(f"dupformat:{fmt}", f"{where}: FORMAT {fmt!r} repeats a key; the first one is used")
            if "GT" in keys and keys[0] != "GT":
                self.warn.add(
                    "gtnotfirst",
                    f"{where}: GT is not the first FORMAT key ({fmt}); the specification requires it first",
                )
            counted = []
            seen = set()
            for i, k in enumerate(keys):
                if k in seen:
                    continue
                seen.add(k)
                d = self.header.format.get(k)
                if d is None:
                    if k not in _RESERVED_FORMAT:
                        self.warn.add(f"format:{k}", f"{where}: FORMAT key {k!r} is not declared in the header")
                    if k not in _RESERVED_FORMAT_DEFS:
                        continue
                    d = _Definition(*_RESERVED_FORMAT_DEFS[k])
                if k != "GT" and (d.number in ("A", "R", "G") or d.number.isdigit()) and d.type != "Flag":
                    counted.append((i, k, d.number))
            plan = (keys[0] == "GT", len(keys), counted)
        if len(self.format_cache) > 1000:
            self.format_cache.clear()  # keep memory bounded on files with ever-changing FORMATs
        self.format_cache[fmt] = plan
        return plan

    def check_samples(self, fmt: str, samples: str, n_alleles: int, alt: str, where: str) -> None:
        """Check the sample columns: vectorised for the common shapes, cell by
        cell (exact messages, warnings) only when something is unusual."""
        has_gt, n_keys, counted = self.format_plan(fmt, where)
        if n_keys == 0:  # FORMAT "."
            if samples.strip(".\t"):
                raise InputError(self.spath, "FORMAT is '.' but sample columns hold values", record=where)
            return
        ns = len(self.header.samples)
        gt_ok = False
        if has_gt:
            n_missing = _diploid_gt_fast(samples, ns, n_alleles)
            if n_missing is not None:
                self.counts["missing_gt_alleles"] += n_missing
                gt_ok = True
            elif n_alleles <= 10 and _gt_pattern(n_alleles, n_keys > 1).fullmatch(samples) is not None:
                gts = samples if n_keys == 1 else "\t".join(_GT_FIRST_RE.findall(samples))
                self.counts["missing_gt_alleles"] += gts.count(".")
                self.count_ploidy(gts)
                gt_ok = True
        if has_gt and not gt_ok:
            self.check_cells(samples, n_keys, counted, n_alleles, alt, where, gt_index=0)
            return
        if (
            n_keys == 1
            and ":" not in samples
            and "\t\t" not in samples
            and not samples.endswith("\t")
            and not samples.startswith("\t")
        ):
            return  # GT only, no empty cells: nothing more to check
        if not self._cells_ok(samples, ns, n_keys, counted, n_alleles, alt, has_gt):
            self.check_cells(
                samples, n_keys, counted, n_alleles, alt, where, gt_index=0 if has_gt else None, count_gt=False
            )

    def _cells_ok(self, samples: str, ns: int, n_keys: int, counted, n_alleles: int, alt: str, has_gt: bool) -> bool:
        """Vectorised sub-field check of a whole record's sample columns.

        True when every cell has at most ``n_keys`` sub-fields, no cell is empty
        (before VCFv4.5) and every counted FORMAT field (Number=A/R/G/n) has the
        right number of comma-separated values (G from each cell's GT ploidy).
        False sends the record to :meth:`check_cells`, which raises or warns
        with the sample's name.
        """
        b = np.frombuffer((samples + "\t").encode("utf-8"), dtype=np.uint8)
        is_tab = b == 9
        ends = np.flatnonzero(is_tab | (b == 58))  # end of each sub-field
        n_sub = len(ends)
        starts = np.empty(n_sub, dtype=np.intp)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        tab_end = is_tab[ends]
        if n_sub == ns * n_keys and tab_end[n_keys - 1 :: n_keys].all() and tab_end.sum() == ns:
            # every cell has all n_keys sub-fields: a regular (ns, n_keys) layout
            first = np.arange(0, n_sub, n_keys)
            cell_of = None
        else:
            new_cell = np.empty(n_sub, dtype=bool)
            new_cell[0] = True
            new_cell[1:] = tab_end[:-1]
            first = np.flatnonzero(new_cell)  # index of each cell's first sub-field
            if len(first) != ns:
                return False
            per_cell = np.diff(np.append(first, n_sub))
            if per_cell.max() > n_keys:
                return False
            if self.version_minor < 5 and ((per_cell == 1) & (ends[first] == starts[first])).any():
                return False  # empty cell: check_cells warns
            cell_of = np.cumsum(new_cell) - 1
        if not counted:
            return True
        lengths = ends - starts
        missing = (lengths == 0) | ((lengths == 1) & (b[starts] == 46))
        comma_cum = np.cumsum(b == 44, dtype=np.int32)
        commas = comma_cum[ends] - comma_cum[starts] + (b[starts] == 44)
        ploidy = None
        for i, _key, number in counted:
            if cell_of is None:
                subs = slice(i, None, n_keys)
                cells = slice(None)
            else:
                subs = np.flatnonzero((np.arange(n_sub) - first[cell_of]) == i)
                cells = cell_of[subs]
            present = ~missing[subs]
            got = commas[subs] + 1
            if number == "G":
                if alt == "." or not has_gt:
                    continue
                if ploidy is None:
                    sep_cum = np.cumsum(_SEP_LUT[b], dtype=np.int32)
                    gt_start, gt_end = starts[first], ends[first]
                    # sep_cum[end] - sep_cum[start] counts separators after the first
                    # character, so a VCF 4.4 phasing prefix ("/0|1") is not counted
                    ploidy = sep_cum[gt_end] - sep_cum[gt_start] + 1
                p = ploidy[cells]
                expected = np.array([math.comb(n_alleles + k - 1, k) for k in range(int(p.max()) + 1)])[p]
            else:
                expected = _expected_count(number, n_alleles, None)
                if expected is None:
                    continue
            if (present & (got != expected)).any():
                return False
        return True

    def count_ploidy(self, gts: str) -> None:
        """Count haploid and polyploid calls in tab-joined GT strings whose
        syntax is already checked: alleles = separators + 1, less a VCF 4.4
        leading phasing prefix; empty and ``.`` cells are not counted.
        Whole-array numpy: male chrX lines are all mixed ploidy."""
        b = np.frombuffer(gts.encode("utf-8"), dtype=np.uint8)
        if not len(b):
            return
        tab_at = np.flatnonzero(b == 9)
        starts = np.concatenate([[0], tab_at + 1])
        ends = np.concatenate([tab_at, [len(b)]])
        is_sep = (b == 47) | (b == 124)
        seps_before = np.concatenate([[0], np.cumsum(is_sep)])
        width = ends - starts
        first = b[np.minimum(starts, len(b) - 1)]
        prefix = (width > 0) & ((first == 47) | (first == 124))
        n_alleles = seps_before[ends] - seps_before[starts] - prefix + 1
        counted = (width > 1) | ((width == 1) & (first != 46))
        self.counts["haploid_calls"] += int(((n_alleles == 1) & counted).sum())
        self.counts["polyploid_calls"] += int(((n_alleles > 2) & counted).sum())

    def check_cells(
        self,
        samples: str,
        n_keys: int,
        counted,
        n_alleles: int,
        alt: str,
        where: str,
        *,
        gt_index: int | None,
        count_gt: bool = True,
    ) -> None:
        """Exact per-sample check (the slow path): names the sample and the value."""
        names = self.header.samples
        empty_ok = self.version_minor >= 5
        for name, cell in zip(names, samples.split("\t")):
            if cell == "":
                if not empty_ok:
                    self.warn.add(
                        "emptycell", f"{where}: sample {name!r} has an empty column (should be '.'); read as missing"
                    )
                continue
            sub = cell.split(":")
            if len(sub) > n_keys:
                raise InputError(
                    self.spath, f"sample {name!r} has {len(sub)} values for {n_keys} FORMAT keys", record=where
                )
            ploidy = None
            if gt_index is not None:
                gt = sub[0]
                m = _GT_SYNTAX_RE.fullmatch(gt)
                if m is None:
                    raise InputError(
                        self.spath,
                        f"sample {name!r}: GT {gt[:30]!r} is not alleles (numbers or '.') separated by / or |",
                        record=where,
                    )
                alleles = _GT_ALLELES_RE.findall(gt)
                ploidy = len(alleles)
                for a in alleles:
                    if a == ".":
                        if count_gt:
                            self.counts["missing_gt_alleles"] += 1
                    elif int(a) >= n_alleles:
                        if alt == ".":
                            self.warn.add(
                                "altdotgt", f"{where}: sample {name!r}: GT {gt} names an ALT allele but ALT is '.'"
                            )
                            continue
                        raise InputError(
                            self.spath,
                            f"sample {name!r}: GT {gt} uses allele {int(a)} but the record has {n_alleles - 1} ALT allele(s)",
                            record=where,
                        )
                if count_gt:
                    if ploidy == 1 and gt != ".":
                        self.counts["haploid_calls"] += 1
                    elif ploidy > 2:
                        self.counts["polyploid_calls"] += 1
            for i, key, number in counted:
                if i >= len(sub):
                    continue  # trailing fields may be dropped
                value = sub[i]
                if value in (".", ""):
                    continue
                if number == "G" and (alt == "." or ploidy is None):
                    continue  # monomorphic sites and GT-less cells: ploidy unknown
                expected = _expected_count(number, n_alleles, ploidy)
                if expected is None:
                    continue
                got = value.count(",") + 1
                if got != expected and number != "G":
                    self.warn.add(
                        f"fmtcount:{key}",
                        f"{where}: sample {name!r}: FORMAT {key} (Number={number}) has {got} values, expected {expected}",
                    )
                elif got != expected:
                    raise InputError(
                        self.spath,
                        f"sample {name!r}: FORMAT {key} (Number={number}) has {got} values, expected {expected} for {n_alleles} alleles"
                        + (f" and ploidy {ploidy}" if number == "G" else ""),
                        record=where,
                    )

    def report(self, compression: str) -> ValidationReport:
        if self.require_records and self.n_records == 0:
            raise InputError(self.spath, "the file has a header but no records")
        contigs = list(self.records_per_contig)
        style = contig_style(contigs)
        if style == "mixed":
            self.warn.add("mixedstyle", "contig names mix the chrN and N spellings")
        return ValidationReport(
            path=self.spath,
            file_format=self.header.file_format,
            compression=compression,
            n_records=self.n_records,
            samples=list(self.header.samples),
            contigs=contigs,
            records_per_contig=dict(self.records_per_contig),
            header_contigs=len(self.header.contigs),
            genome_build=self.detected_build,
            contig_style=style,
            sorted=self.counts["unsorted_records"] == 0,
            warnings=self.warn.as_list(),
            counts=dict(self.counts),
        )


def _validate_text(v: _Validator, compression: str) -> None:
    path, spath, h = v.path, v.spath, v.header
    in_header = True
    lineno = 0
    crlf_seen = False
    encoding = "utf-8"
    try:
        for raw in _raw_lines(path, compression):
            lineno += 1
            where = f"line {lineno}"
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
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise InputError(
                    spath,
                    f"byte {err.start + 1} is not valid {encoding} text ({raw[err.start:err.start + 1]!r}); VCF must be UTF-8",
                    record=where,
                ) from None
            if in_header:
                if lineno == 1:
                    if not line.startswith("##fileformat="):
                        raise InputError(spath, "not a VCF: the first line must be ##fileformat=VCFv4.x", record=where)
                    value = line[len("##fileformat=") :].rstrip()
                    if not _FILEFORMAT_RE.fullmatch(value):
                        raise InputError(
                            spath, f"unsupported ##fileformat {value!r} (expected VCFv4.0 .. VCFv4.5)", record=where
                        )
                    h.file_format = value
                    continue
                if line.startswith("##"):
                    _parse_meta_line(line.rstrip(), where, spath, h, v.warn)
                    encoding = h.encoding
                    continue
                if line.startswith("#CHROM"):
                    _parse_chrom_line(line.rstrip(" "), where, spath, h)
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


def _validate_bcf(v: _Validator) -> None:
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
    if not _FILEFORMAT_RE.fullmatch(h.file_format):
        raise InputError(spath, f"unsupported ##fileformat {h.file_format!r}", record="header")
    for i, line in enumerate(lines[1:], 2):
        where = f"header line {i}"
        if line.startswith("##"):
            _parse_meta_line(line, where, spath, h, v.warn)
        elif line.startswith("#CHROM"):
            _parse_chrom_line(line, where, spath, h)
    v.finish_header("header")
    n = 0
    try:
        for rec in vcf:
            n += 1
            text = str(rec).rstrip("\n")
            v.record(text, f"record {n}")
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
    compression = _sniff(path)
    v = _Validator(path, genome_build, require_samples, require_records, require_sorted)
    if compression == "bgzf":
        _check_bgzf_eof(path)
    if _is_bcf_payload(path, compression):
        _validate_bcf(v)
        report = v.report("bcf")
    else:
        if compression == "bzip2":
            v.warn.add("bzip2", "file is bzip2-compressed: htslib-based tools cannot read it; recompress with bgzip")
        _validate_text(v, compression)
        report = v.report(compression)
    if check_index:
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


def _index_record_counts(data_path: Path, index_path: Path) -> dict[str, int] | None:
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
                records_per_contig, ends = {}, {}
                for rec in vf.fetch():
                    records_per_contig[rec.chrom] = records_per_contig.get(rec.chrom, 0) + 1
                    ends.setdefault(rec.chrom, [rec.pos, rec.pos])[1] = rec.pos
                probes = [(c, p) for c, e in ends.items() for p in e]
            index_names = set(vf.index.keys()) if vf.index is not None else set()
            index_counts = _index_record_counts(data_path, index_path) or {}
            for chrom, expected in records_per_contig.items():
                if chrom not in index_names:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it has no entry for contig {chrom!r} ({expected} records)",
                    )
                got = index_counts.get(chrom)
                if got is None:  # no statistics in the index: count with a region query
                    got = sum(1 for _ in vf.fetch(chrom))
                if got != expected:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it finds {got} records on {chrom}, the file has {expected}",
                    )
            for chrom, pos in probes:
                if not any(rec.pos == pos for rec in vf.fetch(chrom, pos - 1, pos)):
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: a region query for {chrom}:{pos} misses the record there",
                    )
            extra = [c for c in index_names if records_per_contig.get(c, 0) == 0]
            for chrom in extra:
                if next(iter(vf.fetch(chrom)), None) is not None:
                    raise InputError(
                        index_path,
                        f"index does not belong to {data_path.name}: it finds records on {chrom!r}, which the file does not have",
                    )
    except InputError:
        raise
    except (OSError, ValueError) as err:
        raise InputError(index_path, f"index does not belong to {data_path.name} or is corrupt ({err})") from None
    return warnings


# ---------------------------------------------------------------------------
# Reader for the later stages
# ---------------------------------------------------------------------------


def open_vcf(path: str | os.PathLike, samples: Iterable[str] | None = None):
    """Open a file that :func:`validate_vcf` accepted, as a ``cyvcf2.VCF``.

    The reader is opened with ``gts012=True``: ``variant.gt_types`` codes are
    0 = HOM_REF, 1 = HET, 2 = HOM_ALT, 3 = UNKNOWN (cyvcf2's default puts
    UNKNOWN at 2 and HOM_ALT at 3). cyvcf2 folds all ALT alleles together in
    ``gt_types`` (``1/2`` is HET); use ``variant.genotype.array()`` (the fast
    path) for allele indices. ``samples`` restricts and orders the sample columns;
    a name not in the file is an InputError (cyvcf2 would only warn).

    Limits of htslib 1.16 underneath: VCF 4.4 GT phasing prefixes (``|0/1``)
    and bzip2 files cannot be read; such files validate but must be rewritten
    (``bcftools view -Oz``) by the caller before reading genotypes.
    """
    import cyvcf2

    path = Path(path)
    if _sniff(path) == "bzip2":
        raise InputError(path, "bzip2-compressed VCF cannot be read by htslib: recompress with bgzip")
    vcf = cyvcf2.VCF(str(path), gts012=True, lazy=True)
    if samples is not None:
        samples = list(samples)
        missing = [s for s in samples if s not in set(vcf.samples)]
        if missing:
            vcf.close()
            raise InputError(path, f"sample(s) {', '.join(map(repr, missing))} not in this VCF", record="header")
        vcf.set_samples(samples)
    return vcf


# ---------------------------------------------------------------------------
# Contig names shared with a reference (FASTA, annotation resources)
# ---------------------------------------------------------------------------


class ContigMap:
    """Map contig names onto the spelling a reference uses (``chr1`` <-> ``1``, ``chrM`` <-> ``MT``).

    ``ContigMap(reference_names)(name)`` returns ``name`` itself when the
    reference has it, else the reference's spelling of the same human
    chromosome, else None. Non-human or unplaced names map only to themselves.
    """

    def __init__(self, names: Iterable[str]):
        self.names = set(names)
        self._by_key: dict[str, str] = {}
        for n in self.names:
            self._by_key.setdefault(contig_key(n), n)

    def __call__(self, contig: str) -> str | None:
        if contig in self.names:
            return contig
        return self._by_key.get(contig_key(contig))

    def renaming(self, contigs: Iterable[str]) -> dict[str, str]:
        """``{name: reference spelling}`` for the ``contigs`` spelled differently from the reference."""
        return {c: self(c) for c in contigs if self(c) not in (None, c)}


def contig_key(name: str) -> str:
    """The ``chrN`` spelling of a human chromosome name, other names unchanged (never raises)."""
    try:
        return normalize_contig(name, "chr")
    except ValueError:
        return name


def fasta_contigs(fasta: str | os.PathLike) -> list[str]:
    """Sequence names of a FASTA, from its ``.fai`` (written beside it with pysam if missing)."""
    fai = Path(str(fasta) + ".fai")
    if not fai.exists():
        import pysam

        pysam.faidx(str(fasta))
    return [ln.split("\t", 1)[0] for ln in fai.read_text().splitlines() if ln]


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

# FORMAT keys norm must know per allele when a file leaves them undeclared.
_NORM_FORMAT_DEFS = {**_RESERVED_FORMAT_DEFS, "GT": ("1", "String"), "FT": ("1", "String"), "DS": ("A", "Float")}
# htslib refuses contig names in angle brackets (VCF 4.1 assembly references):
# they are written as assembly_ID in the normalised file.
_ASSEMBLY_PREFIX = b"assembly_"
_NORM_COUNTS = re.compile(rb"Lines\s+total/split/realigned/skipped:\s+(\d+)/(\d+)/(\d+)/(\d+)")
_DECLARED_RE = re.compile(rb"##(INFO|FORMAT|FILTER|contig)=<(?:[^>]*?[<,])?\s*ID=([^,>]+)")
_NUMBER_DECL_RE = re.compile(rb"[<,]\s*Number=([^,>]+)")
# What bcftools norm (htslib 1.16) says on stderr when the fast path cannot be
# trusted: keys it adds to its header on the fly (the header of its BCF output
# is already written, so the next reader drops those records), tags of the
# wrong length when splitting, and rows without sample columns.
_RETRY_MESSAGES = (b"is not defined in the header", b"wrong number of fields", b"Broken VCF record",
                   b"Couldn't read GT data", b"does not match the number of samples")
_PHASING_PREFIX_RE = re.compile(rb"(^|\t)[/|]")


class _BcfRecordCounter:
    """Count records in a BCF byte stream fed in pieces.

    ``bcftools ... -Ou`` writes raw (not BGZF-wrapped) BCF; a stream starting
    with the gzip magic is inflated block by block. Each BCF record starts with
    ``l_shared`` and ``l_indiv`` (uint32), so counting needs no parsing of the
    record itself. This counts what the splitting ``bcftools norm`` emitted,
    independently of the reader downstream, which may drop records it cannot
    decode (htslib only warns).
    """

    def __init__(self) -> None:
        self.records = 0
        self._bgzf: bool | None = None
        self._raw = bytearray()  # BGZF bytes not yet inflated
        self._head = b""  # partial magic+l_text or l_shared+l_indiv
        self._skip = 0  # bytes of the header text or of the current record still to pass over
        self._in_records = False

    def feed(self, chunk: bytes) -> None:
        if self._bgzf is None:
            self._bgzf = chunk[:2] == b"\x1f\x8b"
        if not self._bgzf:
            self._consume(chunk)
            return
        raw = self._raw
        raw += chunk
        start = 0
        while len(raw) - start >= 18:
            size = int.from_bytes(raw[start + 16 : start + 18], "little") + 1
            if len(raw) - start < size:
                break
            self._consume(zlib.decompress(bytes(raw[start + 18 : start + size - 8]), -15))
            start += size
        del raw[:start]

    def _consume(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                take = min(self._skip, n - pos)
                pos += take
                self._skip -= take
                continue
            need = 8 if self._in_records else 9  # "BCF\2\2" + uint32 l_text
            take = min(need - len(self._head), n - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) < need:
                return
            if self._in_records:
                self._skip = int.from_bytes(self._head[:4], "little") + int.from_bytes(self._head[4:], "little")
                self.records += 1
            else:
                if self._head[:3] != b"BCF":
                    raise ValueError("not a BCF stream")
                self._skip = int.from_bytes(self._head[5:9], "little")
                self._in_records = True
            self._head = b""

    def complete(self) -> bool:
        """True when the stream ended on a record boundary."""
        return not self._raw and not self._head and not self._skip


@dataclass
class _NormPrescan:
    """What the careful normalisation path learns from one text pass over the input."""

    header: list[bytes]  # meta lines (no line ends), without the #CHROM line
    chrom_line: bytes
    n_samples: int
    undeclared: dict[str, dict[str, None]]  # kind -> keys in first-seen order
    info_without_value: set[str]
    record_contigs: dict[str, None]
    sites_only_rows: int = 0
    repeated_format_keys: int = 0  # records whose FORMAT repeats a key (the first is kept)
    assembly_contigs: dict[bytes, None] = field(default_factory=dict)  # CHROM "<ID>" (VCF 4.1 assembly)
    malformed_split_records: int = 0  # multiallelic records with a Number=A/R/G tag of the wrong length
    phasing_prefix_records: int = 0  # VCF 4.4 GT with a leading phasing mark ("|0/1"), which htslib 1.16 refuses
    empty_sample_records: int = 0  # records with an empty sample column (read as missing; htslib 1.16 miscounts)
    # Undeclared reserved keys whose values are not the spec's numbers: declared as strings.
    non_numeric: set[str] = field(default_factory=set)


def _numbers_ok(value: bytes) -> bool:
    """Comma-separated numbers or ``.``, as htslib parses a numeric field."""
    for item in value.split(b","):
        if item != b".":
            try:
                float(item)
            except ValueError:
                return False
    return True


def _value_count(value: bytes) -> int:
    return 0 if value in (b"", b".") else value.count(b",") + 1


def _norm_prescan(lines: Iterable[bytes]) -> _NormPrescan:
    """One pass over VCF text lines: undeclared keys, sites-only rows, malformed per-allele tags."""
    header: list[bytes] = []
    declared: dict[bytes, set[bytes]] = {b"INFO": set(), b"FORMAT": set(), b"FILTER": {b"PASS"}, b"contig": set()}
    numbers: dict[tuple[bytes, bytes], bytes] = {}
    chrom_line = b""
    scan = None
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if scan is None:
            if line.startswith(b"#CHROM"):
                chrom_line = line
                scan = _NormPrescan(header, chrom_line, max(0, line.count(b"\t") - 8),
                                    {"INFO": {}, "FORMAT": {}, "FILTER": {}, "contig": {}}, set(), {})
                for kind, defs in ((b"INFO", _RESERVED_INFO_DEFS), (b"FORMAT", _NORM_FORMAT_DEFS)):
                    for key, (num, _type) in defs.items():
                        numbers.setdefault((kind, key.encode()), num.encode())
                per_allele = {k: n for k, n in numbers.items() if n in (b"A", b"R", b"G")}
                continue
            if line.startswith(b"##"):
                header.append(line)
                m = _DECLARED_RE.match(line)
                if m:
                    declared[m.group(1)].add(m.group(2).strip())
                    num = _NUMBER_DECL_RE.search(line)
                    if num:
                        numbers[(m.group(1), m.group(2).strip())] = num.group(1).strip()
            continue
        if not line:
            continue
        f = line.split(b"\t", 9)
        chrom = f[0]
        if chrom.startswith(b"<"):
            scan.assembly_contigs.setdefault(chrom, None)
            chrom = _ASSEMBLY_PREFIX + chrom[1:-1]
        scan.record_contigs.setdefault(chrom.decode(errors="surrogateescape"), None)
        if chrom not in declared[b"contig"]:
            scan.undeclared["contig"].setdefault(chrom.decode(errors="surrogateescape"), None)
        if f[6] not in (b".", b"PASS"):
            for flt in f[6].split(b";"):
                if flt not in declared[b"FILTER"]:
                    scan.undeclared["FILTER"].setdefault(flt.decode(errors="surrogateescape"), None)
        n_alt = f[4].count(b",") + 1
        malformed = False
        if f[7] != b".":
            for item in f[7].split(b";"):
                key, eq, value = item.partition(b"=")
                if not key:
                    continue
                if key not in declared[b"INFO"]:
                    name = key.decode(errors="surrogateescape")
                    scan.undeclared["INFO"].setdefault(name, None)
                    if not eq:
                        scan.info_without_value.add(name)
                elif n_alt > 1 and not malformed:
                    num = per_allele.get((b"INFO", key))
                    if num is not None and eq:  # a lone "." is one value too: bcftools refuses it
                        k = value.count(b",") + 1
                        malformed = k != {b"A": n_alt, b"R": n_alt + 1}.get(num, k)
        if len(f) == 8:
            if scan.n_samples:
                scan.sites_only_rows += 1
        elif len(f) > 8:
            keys = f[8].split(b":")
            if len(f) == 10 and (f[9][:1] == b"\t" or f[9].endswith(b"\t") or b"\t\t" in f[9]
                                 or (scan.n_samples and not f[9])):
                scan.empty_sample_records += 1
            if len(f) == 10 and keys[0] == b"GT" and (f[9][:1] in (b"/", b"|") or b"\t/" in f[9] or b"\t|" in f[9]):
                scan.phasing_prefix_records += 1
            if len(set(keys)) != len(keys):
                scan.repeated_format_keys += 1
                keys = list(dict.fromkeys(keys))
            numeric_undeclared = []
            for i, key in enumerate(keys):
                if key not in declared[b"FORMAT"]:
                    name = key.decode(errors="surrogateescape")
                    scan.undeclared["FORMAT"].setdefault(name, None)
                    if _NORM_FORMAT_DEFS.get(name, (".", "String"))[1] in ("Integer", "Float"):
                        numeric_undeclared.append((i, name))
            if numeric_undeclared and len(f) == 10:
                for cell in f[9].split(b"\t"):
                    sub = cell.split(b":")
                    for i, name in numeric_undeclared:
                        if i < len(sub) and not _numbers_ok(sub[i]):
                            scan.non_numeric.add(name)
            checks = [(i, per_allele.get((b"FORMAT", k))) for i, k in enumerate(keys)]
            checks = [(i, num) for i, num in checks if num is not None]
            if n_alt > 1 and checks and not malformed and len(f) == 10:
                n_all = n_alt + 1
                for i, num in checks:
                    longest = max((_value_count(c[i]) for c in (cell.split(b":") for cell in f[9].split(b"\t"))
                                   if len(c) > i), default=0)
                    if longest == 0:
                        continue
                    ok = {b"A": (n_alt,), b"R": (n_all,), b"G": (n_all, n_all * (n_all + 1) // 2)}[num]
                    if longest not in ok:
                        malformed = True
                        break
        scan.malformed_split_records += malformed
    if scan is None:
        raise ValueError("no #CHROM line")
    if scan.sites_only_rows and b"GT" not in declared[b"FORMAT"]:
        scan.undeclared["FORMAT"].setdefault("GT", None)
    return scan


def _declaration_lines(scan: _NormPrescan) -> list[bytes]:
    """Header lines declaring the keys the input uses without declaring them.

    INFO keys become ``Number=.`` (``Flag`` when never given a value) so that
    splitting leaves them alone: their per-allele meaning is unknown.
    """
    out = []
    for name in scan.undeclared["contig"]:
        out.append(f"##contig=<ID={name}>")
    for name in scan.undeclared["FILTER"]:
        out.append(f'##FILTER=<ID={name},Description="Not declared in the input header (added by genorisk)">')
    for name in scan.undeclared["INFO"]:
        if name in _RESERVED_INFO_DEFS:
            kind = "Number={},Type={}".format(*_RESERVED_INFO_DEFS[name])
        else:
            kind = "Number=0,Type=Flag" if name in scan.info_without_value else "Number=.,Type=String"
        out.append(f'##INFO=<ID={name},{kind},Description="Not declared in the input header (added by genorisk)">')
    for name in scan.undeclared["FORMAT"]:
        spec = (".", "String") if name in scan.non_numeric else _NORM_FORMAT_DEFS.get(name, (".", "String"))
        kind = "Number={},Type={}".format(*spec)
        out.append(f'##FORMAT=<ID={name},{kind},Description="Not declared in the input header (added by genorisk)">')
    return [ln.encode(errors="surrogateescape") for ln in out]


def _text_for_norm(lines: Iterable[bytes], scan: _NormPrescan) -> Iterator[bytes]:
    """The input as VCF text with the missing declarations added, sites-only rows
    given missing genotypes (``GT`` ``.`` per sample, as :func:`validate_vcf`
    reads them), repeated FORMAT keys dropped after their first occurrence (as
    :func:`validate_vcf` reads them), ``<ID>`` contigs spelled ``assembly_ID``
    empty sample columns written ``.`` (missing, as :func:`validate_vcf` reads
    them) and VCF 4.4 leading phasing marks dropped from GT (``|0/1`` -> ``0/1``:
    htslib 1.16 cannot read them, and no genorisk stage uses phase)."""
    yield b"\n".join([*scan.header, *_declaration_lines(scan), scan.chrom_line]) + b"\n"
    pad = b"\tGT" + b"\t." * scan.n_samples
    keep_cache: dict[bytes, list[int] | None] = {}
    in_header = True
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if in_header:
            in_header = not line.startswith(b"#CHROM")
            continue
        if not line:
            continue
        if scan.sites_only_rows and line.count(b"\t") == 7:
            line += pad
        if scan.empty_sample_records:
            f = line.split(b"\t", 9)
            if len(f) == 10:
                cells = f[9].split(b"\t")
                if b"" in cells:
                    line = b"\t".join(f[:9] + [c or b"." for c in cells])
        if scan.phasing_prefix_records:
            f = line.split(b"\t", 9)
            if len(f) == 10 and f[8].startswith(b"GT"):
                line = b"\t".join(f[:9]) + b"\t" + _PHASING_PREFIX_RE.sub(rb"\1", f[9])
        if scan.assembly_contigs and line.startswith(b"<"):
            chrom, rest = line.split(b"\t", 1)
            line = _ASSEMBLY_PREFIX + chrom[1:-1] + b"\t" + rest
        if scan.repeated_format_keys:
            f = line.split(b"\t")
            if len(f) > 9:
                if f[8] not in keep_cache:
                    keys = f[8].split(b":")
                    first = {k: i for i, k in reversed(list(enumerate(keys)))}
                    keep_cache[f[8]] = sorted(first.values()) if len(first) != len(keys) else None
                keep = keep_cache[f[8]]
                if keep is not None:
                    f[8] = b":".join(f[8].split(b":")[i] for i in keep)
                    for j in range(9, len(f)):
                        cell = f[j].split(b":")
                        f[j] = b":".join(cell[i] for i in keep if i < len(cell)) or b"."
                    line = b"\t".join(f)
        yield line + b"\n"


def _run_norm_pipeline(
    source: Path | None, feed: Iterable[bytes] | None, out: Path, *, fasta, rename: dict[str, str],
    force: bool, threads: int, workdir: Path, sort: bool = False,
) -> dict:
    """Run [rename] | norm -m -any | (count) | norm -d exact | [rename back] > out.

    ``source`` is read by the first stage, or ``feed`` (VCF text chunks) is
    written to its stdin. Returns the stderr of every stage, whether all
    exited 0, the split and dedup counts and the records the split emitted.
    """
    import threading

    def stage(argv, stdin, stdout):
        err = open(workdir / f"stage{len(procs)}.err", "w+b")
        errs.append(err)
        p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err)
        procs.append(p)
        return p

    procs: list[subprocess.Popen] = []
    errs: list = []
    first_input = "-" if source is None else str(source)
    pre = []
    if rename:
        (workdir / "to_ref.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in rename.items()))
        pre = [["bcftools", "annotate", "--no-version", "--rename-chrs", str(workdir / "to_ref.tsv"), "-Ou",
                first_input]]
    split = ["bcftools", "norm", "--no-version", "-m", "-any", "-Ou"]
    if force:
        split.append("--force")
    if fasta:
        split += ["-f", str(fasta), "-c", "e"]
    split.append("-" if pre else first_input)
    dedup = ["bcftools", "norm", "--no-version", "-d", "exact", "-Ou", "-"]
    post = ["bcftools", "view", "--no-version", "-Oz", "--threads", str(threads), "-o", str(out), "-"]
    if rename:
        (workdir / "from_ref.tsv").write_text("".join(f"{b}\t{a}\n" for a, b in rename.items()))
        post = ["bcftools", "annotate", "--no-version", "--rename-chrs", str(workdir / "from_ref.tsv"),
                "-Oz", "--threads", str(threads), "-o", str(out), "-"]

    head_stdin = subprocess.PIPE if source is None else subprocess.DEVNULL
    prev = None
    for argv in pre:
        prev = stage(argv, head_stdin, subprocess.PIPE)
    p_split = stage(split, prev.stdout if prev else head_stdin, subprocess.PIPE)
    if prev:
        prev.stdout.close()
    p_dedup = stage(dedup, subprocess.PIPE, subprocess.PIPE)
    if sort:  # unsorted input: the output must be sorted to be indexed
        post[post.index("-Oz"):post.index("-")] = ["-Ou"]
        p_post = stage(post, p_dedup.stdout, subprocess.PIPE)
        p_dedup.stdout.close()
        p_sort = stage(["bcftools", "sort", "-T", str(workdir / "sort"), "-Oz", "-o", str(out), "-"], p_post.stdout,
                       subprocess.DEVNULL)
        p_post.stdout.close()
        del p_sort
    else:
        p_post = stage(post, p_dedup.stdout, subprocess.DEVNULL)
        p_dedup.stdout.close()

    counter = _BcfRecordCounter()
    problems: list[str] = []

    def tee() -> None:  # split -> dedup, counting the records the split emitted
        try:
            while chunk := p_split.stdout.read(1 << 20):
                p_dedup.stdin.write(chunk)
                counter.feed(chunk)
        except (BrokenPipeError, ValueError, zlib.error) as err:
            problems.append(f"stream between the two bcftools norm passes broke ({err})")
            p_split.stdout.read()  # let the split pass finish; its exit status and stderr tell the rest
        finally:
            p_split.stdout.close()
            try:
                p_dedup.stdin.close()
            except BrokenPipeError:
                pass

    def feeder() -> None:
        head = procs[0]
        try:
            for chunk in feed:
                head.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the stage failed; its stderr says why
        finally:
            try:
                head.stdin.close()
            except BrokenPipeError:
                pass

    threads_ = [threading.Thread(target=tee, daemon=True)]
    if source is None:
        threads_.append(threading.Thread(target=feeder, daemon=True))
    for t in threads_:
        t.start()
    for t in threads_:
        t.join()
    ok = all(p.wait() == 0 for p in procs) and not problems and counter.complete()
    stderr = []
    for err in errs:
        err.seek(0)
        stderr.append(err.read())
        err.close()
    return {"ok": ok, "stderr": stderr, "split": _NORM_COUNTS.search(stderr[len(pre)]),
            "dedup": _NORM_COUNTS.search(stderr[len(pre) + 1]), "emitted": counter.records, "problems": problems}


def normalize_vcf(
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fasta: str | os.PathLike | None = None,
    threads: int = 1,
    validation: ValidationReport | dict | None = None,
) -> dict[str, int]:
    """Normalise a validated VCF/BCF with ``bcftools norm``; write bgzipped VCF + ``.csi`` atomically.

    Multiallelic records are split into one record per ALT (``-m -any``;
    a ``1/2`` call becomes ``1/0`` and ``0/1``), indels are left-aligned and
    trimmed when ``fasta`` is given (a REF that disagrees with the FASTA is an
    error: wrong reference or build), and duplicate records (same CHROM, POS,
    REF and ALT after splitting, ``-d exact``) are removed, **the first record
    kept** whatever its INFO or genotypes (a second pass: bcftools 1.16 cannot
    split and deduplicate at once). Symbolic alleles (``<DEL>``) and ``*`` are
    kept; the feature stages leave them out of SNV/indel features.

    Contigs are renamed to the FASTA's spelling (``chr1`` <-> ``1``) for
    ``bcftools norm`` and back afterwards: the output keeps the input's names.
    The index is CSI (``.csi``), which also holds positions beyond 2^29 that
    a ``.tbi`` cannot.

    Files that every reader accepts but a plain ``bcftools norm`` pipe mishandles
    go through a careful path (one extra text pass, logged): bzip2 input; INFO,
    FORMAT, FILTER keys or contigs used without a header declaration (declared
    before splitting: without that, htslib drops those records between the two
    passes and exits 0); rows without sample columns in a file with samples
    (given missing genotypes); and multiallelic records whose Number=A/R/G tags
    have the wrong number of values (``--force``: the tag is removed from the
    split records, the rest of the record is kept); FORMAT columns that repeat
    a key (the first kept, as :func:`validate_vcf` reads them; detected only
    from ``validation``: htslib garbles them silently); CHROM ``<ID>`` (VCF 4.1
    assembly references, which htslib cannot name), written ``assembly_ID``.

    ``validation`` is the :func:`validate_vcf` report of ``vcf`` (or its
    ``to_dict()``); with it the careful path is chosen up front, without it
    only when htslib's warnings or a lost record show the need.

    Unsorted input (``validation["sorted"]`` False, or an index that cannot be
    built) is sorted (``bcftools sort``) so that the output can be indexed.

    Records are conserved or the call fails: every record the splitting pass
    emits is counted on the stream, and it must equal what the deduplicating
    pass read; ``records_out + duplicates_removed == records_after_split``
    always holds on return. With ``validation``, the records bcftools read must
    also equal the validator's ``n_records`` (htslib drops records it cannot
    parse, e.g. VCF 4.4 phasing prefixes, with only a warning).

    Returns
    -------
    dict
        ``records_in`` (records read), ``multiallelic_split`` (records split),
        ``records_after_split``, ``realigned``, ``skipped``, ``records_out``,
        ``duplicates_removed``, ``malformed_tag_records`` (multiallelic records
        whose per-allele tags were dropped when split), ``undeclared_keys``
        (declarations added), ``sites_only_rows`` (rows given missing GT),
        ``repeated_format_keys`` (records whose repeated FORMAT keys were
        dropped), ``assembly_contigs_renamed``.

    Raises
    ------
    InputError
        when bcftools fails (e.g. REF not matching the FASTA, a contig the FASTA
        lacks) or a record would be lost; the message names the file and quotes
        bcftools.
    """
    import logging
    import tempfile

    log = logging.getLogger("genorisk.normalize")
    vcf, out = Path(vcf), Path(out)
    if not vcf.exists():
        raise InputError(vcf, "file does not exist")
    compression = _sniff(vcf)
    is_bcf = _is_bcf_payload(vcf, compression)
    ref_map = ContigMap(fasta_contigs(fasta)) if fasta else None
    extra = dict.fromkeys(["malformed_tag_records", "undeclared_keys", "sites_only_rows", "repeated_format_keys",
                           "assembly_contigs_renamed", "phasing_prefix_records", "empty_sample_records"], 0)
    if isinstance(validation, ValidationReport):
        validation = validation.to_dict()

    def header_contigs() -> list[str]:
        proc = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True)
        return [m.group(2).decode(errors="surrogateescape") for m in map(_DECLARED_RE.match, proc.stdout.splitlines())
                if m and m.group(1) == b"contig"]

    def text_lines() -> Iterator[bytes]:
        if not is_bcf:
            yield from _raw_lines(vcf, compression)
            return
        with subprocess.Popen(["bcftools", "view", "--no-version", str(vcf)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as proc:
            yield from proc.stdout

    def fail(run: dict, what: str) -> InputError:
        lines = [ln for err in run["stderr"] for ln in err.decode(errors="replace").splitlines()
                 if ln.strip() and not ln.startswith(("[W::", "Lines ")) and "printed only once" not in ln]
        detail = "; ".join((lines or [ln for err in run["stderr"] for ln in err.decode(errors="replace")
                                      .splitlines() if ln.startswith("[W::")])[-3:])
        return InputError(vcf, f"{what}: {detail}" if detail else what)

    with tempfile.TemporaryDirectory(prefix="genorisk-norm-", dir=out.parent if out.parent.exists() else None) as td, \
            atomic_output(out) as tmp, atomic_output(out.with_name(out.name + ".csi")) as tmp_csi:
        workdir = Path(td)
        careful = compression == "bzip2"
        if validation:
            vc = validation.get("counts", {})
            careful = careful or bool(
                vc.get("sites_only_records") or vc.get("repeated_format_keys")
                or any(c.startswith("<") for c in validation.get("contigs", []))
                or any("not declared in the header" in w for w in validation.get("warnings", [])))
        unsorted = bool(validation) and not validation.get("sorted", True)
        run = None
        if not careful:
            rename = ref_map.renaming(header_contigs()) if ref_map else {}
            run = _run_norm_pipeline(vcf, None, tmp, fasta=fasta, rename=rename, force=False, threads=threads,
                                     workdir=workdir, sort=unsorted)
            lost = run["split"] and run["dedup"] and run["emitted"] != int(run["dedup"].group(1))
            careful = lost or any(msg in err for err in run["stderr"] for msg in _RETRY_MESSAGES)
            if not run["ok"] and not careful:
                raise fail(run, "bcftools norm failed")
            if careful:
                log.info("%s: htslib warned about the input (see below); normalising through the careful path", vcf)
        if careful:
            scan = _norm_prescan(text_lines())
            extra = {"malformed_tag_records": scan.malformed_split_records,
                     "undeclared_keys": sum(map(len, scan.undeclared.values())),
                     "sites_only_rows": scan.sites_only_rows, "repeated_format_keys": scan.repeated_format_keys,
                     "assembly_contigs_renamed": len(scan.assembly_contigs),
                     "phasing_prefix_records": scan.phasing_prefix_records,
                     "empty_sample_records": scan.empty_sample_records}
            feed = None
            if not is_bcf:
                feed = _text_for_norm(_raw_lines(vcf, compression), scan)
            contigs = list(dict.fromkeys([*(m.group(2).decode(errors="surrogateescape")
                                            for m in map(_DECLARED_RE.match, scan.header)
                                            if m and m.group(1) == b"contig"), *scan.record_contigs]))
            rename = ref_map.renaming(contigs) if ref_map else {}
            run = _run_norm_pipeline(None if feed is not None else vcf, feed, tmp, fasta=fasta, rename=rename,
                                     force=scan.malformed_split_records > 0, threads=threads, workdir=workdir,
                                     sort=unsorted)
            if not run["ok"]:
                raise fail(run, "bcftools norm failed")
        if not run["split"] or not run["dedup"]:
            raise fail(run, "bcftools norm did not report its counts")
        dedup_read = int(run["dedup"].group(1))
        if run["emitted"] != dedup_read:
            raise fail(run, f"bcftools norm lost {run['emitted'] - dedup_read} of {run['emitted']} records "
                            "between splitting and deduplication (records htslib could not decode)")
        read = int(run["split"].group(1))
        if validation and read != validation.get("n_records", read):
            raise fail(run, f"htslib read {read} of the {validation['n_records']} records the validator counted "
                            "(records it cannot parse are dropped with a warning)")
        indexed = subprocess.run(["bcftools", "index", "-c", "-f", str(tmp)], capture_output=True)
        if indexed.returncode != 0 and not unsorted:  # unsorted input that no validation report announced
            unsorted = True
            log.info("%s: records are not sorted; sorting the normalised output", vcf)
            sorted_tmp = workdir / "sorted.vcf.gz"
            subprocess.run(["bcftools", "sort", "-T", str(workdir / "sort"), "-Oz", "-o", str(sorted_tmp), str(tmp)],
                           capture_output=True)
            if not sorted_tmp.exists():
                raise InputError(vcf, "the normalised output is unsorted and bcftools sort failed")
            sorted_tmp.replace(tmp)
            indexed = subprocess.run(["bcftools", "index", "-c", "-f", str(tmp)], capture_output=True)
        if indexed.returncode != 0:
            raise InputError(vcf, "the normalised output cannot be indexed: "
                             + indexed.stderr.decode(errors="replace").strip()[-300:])
        n_out = int(subprocess.run(["bcftools", "index", "-n", str(tmp)], capture_output=True, text=True,
                                   check=True).stdout.strip() or 0)
        Path(str(tmp) + ".csi").replace(tmp_csi)
    total, n_split, realigned, skipped = (int(x) for x in run["split"].groups())
    counts = {"records_in": total, "multiallelic_split": n_split, "records_after_split": run["emitted"],
              "realigned": realigned, "skipped": skipped, "records_out": n_out,
              "duplicates_removed": dedup_read - n_out, **extra}
    if extra["undeclared_keys"]:
        what = "; ".join(f"{kind} {', '.join(list(keys)[:10])}" for kind, keys in scan.undeclared.items() if keys)
        log.warning("%s: %d keys used without a header declaration were declared before splitting (%s)",
                    vcf, extra["undeclared_keys"], what)
    if extra["malformed_tag_records"]:
        log.warning("%s: %d multiallelic records have Number=A/R/G tags of the wrong length; those tags were "
                    "removed from their split records (bcftools norm --force)", vcf, extra["malformed_tag_records"])
    if extra["sites_only_rows"]:
        log.warning("%s: %d rows without sample columns were given missing genotypes", vcf, extra["sites_only_rows"])
    if extra["repeated_format_keys"]:
        log.warning("%s: %d records repeat a FORMAT key; the first of each was kept", vcf,
                    extra["repeated_format_keys"])
    if extra["assembly_contigs_renamed"]:
        log.warning("%s: %d contigs named <ID> are written assembly_ID (htslib cannot name them)", vcf,
                    extra["assembly_contigs_renamed"])
    if extra["phasing_prefix_records"]:
        log.warning("%s: %d records have VCF 4.4 leading GT phasing marks (|0/1); they were dropped (0/1) for "
                    "htslib 1.16, and no stage uses phase", vcf, extra["phasing_prefix_records"])
    if extra["empty_sample_records"]:
        log.warning("%s: %d records have empty sample columns; written '.' (missing)", vcf,
                    extra["empty_sample_records"])
    if counts["duplicates_removed"]:
        log.warning("%s: %d duplicate records (same CHROM, POS, REF, ALT after splitting) removed, the first of each "
                    "kept", vcf, counts["duplicates_removed"])
    return counts
