"""The genome vocabulary: contig names, builds, chromosome classes, regions, opening files.

Every stage names contigs, asks whether a contig is an autosome or where the
chrX pseudo-autosomal regions are, parses ``chr:start-end`` regions and opens
VCF/BCF or text files through this module; no stage keeps a private copy.

Contig names
    :func:`canonical_contig` is the build-independent key used to match the
    same chromosome across files (``chr1`` and ``1``; ``chrM``, ``M``, ``MT``
    and plink's ``26``; plink's ``23``/``24``/``25`` for X/Y/XY).
    :func:`normalize_contig` spells a primary human chromosome in one style
    (``chr1`` or ``1``) for writing, and :class:`ContigMap` maps names onto the
    spelling a reference (FASTA, annotation resource) uses.
Chromosome classes
    :func:`chromosome_class` says ``"autosome"``, ``"X"``, ``"Y"``, ``"XY"``,
    ``"MT"`` or ``"other"`` (the ZW sex chromosomes of birds); the chrX
    pseudo-autosomal regions of each build come from :func:`par_regions`.
Builds
    :func:`contig_lengths` gives GRCh37/GRCh38 lengths (packaged
    ``data/contigs.tsv``), :func:`detect_genome_build` tells the build from
    ``##contig`` lengths, :func:`contig_style` the naming style.
Regions and files
    :func:`parse_region` (htslib's ``CHROM[:START[-END]]``),
    :func:`open_text` (plain, gzip or BGZF text) and :func:`open_vcf` (the one
    cyvcf2 opener).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal, TextIO, cast, overload

from genorisk.errors import InputError

__all__ = [
    "KNOWN_BUILDS",
    "NON_AUTOSOMES",
    "X_CHROMOSOMES",
    "ContigMap",
    "Region",
    "canonical_contig",
    "chromosome_class",
    "contig_length",
    "contig_lengths",
    "contig_sort_key",
    "contig_style",
    "detect_genome_build",
    "expand_chrom_pattern",
    "fasta_contigs",
    "in_par",
    "is_autosome",
    "normalize_build",
    "normalize_contig",
    "open_text",
    "open_vcf",
    "par_regions",
    "parse_region",
    "primary_chromosome",
    "unconventional_chromosome",
]

#: Human genome builds genorisk knows the contig lengths and PARs of.
KNOWN_BUILDS = ("GRCh37", "GRCh38")

_BUILD_ALIASES = {"grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37", "grch38": "GRCh38", "hg38": "GRCh38"}

#: Canonical names (see :func:`canonical_contig`) of the chromosomes that are not
#: autosomes: the human sex chromosomes and PAR code (X, Y, XY), the mitochondrion
#: (MT) and the ZW sex chromosomes of birds (W, Z). W and Z never occur in human
#: data; they are listed so that a hemizygous chromosome is never counted as an
#: autosome in heterozygosity, HWE or ancestry statistics.
NON_AUTOSOMES = frozenset({"X", "Y", "XY", "MT", "W", "Z"})

#: Common spellings of chrX (``X``, ``chrX`` and plink's ``23``/``chr23``), for
#: code that wants a set; :func:`chromosome_class` is the rule and also knows
#: ``chrx`` or ``CHRX``.
X_CHROMOSOMES = frozenset({"X", "chrX", "23", "chr23"})

# chrX pseudo-autosomal regions PAR1, PAR2; 1-based inclusive (GRC / UCSC).
_PAR_REGIONS = {
    "GRCh37": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
    "GRCh38": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
}

# plink numeric chromosome codes and the mitochondrion's spellings.
_SPECIAL = {"X": "X", "23": "X", "Y": "Y", "24": "Y", "XY": "XY", "25": "XY", "M": "MT", "MT": "MT", "26": "MT"}

# A primary human chromosome spelled chrN or N (N = 1-22, X, Y, M, MT).
_PRIMARY_RE = re.compile(r"(?:chr)?([1-9]|1[0-9]|2[0-2]|X|Y|M|MT)")
# A human chromosome spelled some other way (chromosome1, Chr1, chr_1, chr01).
_ODD_CHROMOSOME_RE = re.compile(r"(?:chromosome|chrom|chr)[_ ]?0?(?:[1-9]|1[0-9]|2[0-2]|X|Y|M|MT)", re.I)


# ---------------------------------------------------------------------------
# Contig names
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def canonical_contig(name: str) -> str:
    """The build-independent key of a contig name.

    Parameters
    ----------
    name : str
        A contig name as a file spells it.

    Returns
    -------
    str
        ``name`` without a ``chr`` prefix (any case), with the sex
        chromosomes, their plink codes and the mitochondrion in one spelling:
        ``chr1``/``1`` -> ``1``; ``chrX``/``X``/``23`` -> ``X``; ``chrY``/``24``
        -> ``Y``; ``XY``/``25`` -> ``XY``; ``chrM``/``M``/``MT``/``26`` ->
        ``MT`` (these letters in any case). Other names come back without the
        prefix (``chrUn_GL000195v1`` -> ``Un_GL000195v1``, ``2L`` -> ``2L``).

    Notes
    -----
    Two files name the same chromosome when their canonical names are equal;
    use :class:`ContigMap` to find a reference's own spelling.
    """
    core = name[3:] if name[:3].lower() == "chr" else name
    return _SPECIAL.get(core.upper(), core)


@lru_cache(maxsize=4096)
def chromosome_class(name: str) -> str:
    """Which kind of chromosome a contig is.

    Parameters
    ----------
    name : str
        A contig name in any spelling :func:`canonical_contig` knows.

    Returns
    -------
    str
        ``"X"``, ``"Y"``, ``"XY"`` (plink's PAR code 25) or ``"MT"`` for those
        chromosomes; ``"other"`` for the non-human sex chromosomes W and Z;
        ``"autosome"`` for everything else, unplaced and alternative contigs
        included (they hold diploid sequence, as QC and ancestry treat them).
    """
    key = canonical_contig(name)
    if key in ("X", "Y", "XY", "MT"):
        return key
    return "other" if key in NON_AUTOSOMES else "autosome"


def is_autosome(name: str) -> bool:
    """True unless ``name`` is a sex chromosome, PAR code or the mitochondrion (see :data:`NON_AUTOSOMES`)."""
    return canonical_contig(name) not in NON_AUTOSOMES


_KARYOTYPE = {**{str(i): i for i in range(1, 23)}, "X": 23, "Y": 24, "XY": 25, "MT": 26}


def contig_sort_key(name: str) -> tuple[int, str]:
    """Karyotypic order of a contig in any spelling: 1-22, X, Y, XY, MT, then other contigs by name."""
    key = canonical_contig(name)
    return (_KARYOTYPE.get(key, 100), "" if key in _KARYOTYPE else key)


def expand_chrom_pattern(pattern: str | os.PathLike, chroms: Iterable[str] | None = None) -> dict[str, Path]:
    """The files of a per-chromosome path pattern, chromosome -> path, in karyotypic order.

    Parameters
    ----------
    pattern : str or PathLike
        A path with ``{chrom}`` exactly once, e.g. ``imputed/chr{chrom}.dose.vcf.gz``.
    chroms : iterable of str, optional
        Chromosome names to put in (files a job will write, in the order
        given); by default the files that exist, ``{chrom}`` matching any
        text without ``/``.

    Raises
    ------
    InputError
        ``{chrom}`` missing or repeated, or no file matches.
    """
    text = str(pattern)
    if text.count("{chrom}") != 1:
        raise InputError(text, "a per-chromosome pattern needs {chrom} exactly once")
    if chroms is not None:
        return {c: Path(text.replace("{chrom}", c)) for c in chroms}
    head, tail = text.split("{chrom}")
    matcher = re.compile(re.escape(head) + r"(?P<chrom>[^/]+?)" + re.escape(tail) + "$")
    folder = Path(head).parent if "/" in head else Path(".")
    found: dict[str, Path] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        name = str(path) if "/" in head else path.name
        if m := matcher.match(name):
            found[m.group("chrom")] = Path(name)
    if not found:
        raise InputError(text, "no file matches this {chrom} pattern")
    return {c: found[c] for c in sorted(found, key=contig_sort_key)}


def primary_chromosome(name: str) -> str | None:
    """The chromosome of a primary human contig spelled ``chrN`` or ``N``, else None.

    Returns ``"1"`` .. ``"22"``, ``"X"``, ``"Y"``, ``"M"`` or ``"MT"`` as
    written (without ``chr``); None for other names, including plink codes
    (``23``) and unconventional spellings (``Chr1``).
    """
    m = _PRIMARY_RE.fullmatch(name)
    return None if m is None else m.group(1)


def unconventional_chromosome(name: str) -> bool:
    """True for a human chromosome spelled neither ``chrN`` nor ``N`` (``chromosome1``, ``Chr1``, ``chr_1``)."""
    return bool(_ODD_CHROMOSOME_RE.fullmatch(name)) and primary_chromosome(name) is None


def normalize_contig(name: str, style: str = "chr") -> str:
    """Spell a primary human chromosome in one naming style.

    Parameters
    ----------
    name : str
        A contig name.
    style : {"chr", "plain"}
        ``"chr"`` gives ``chr1``, ``chrX``, ``chrM``; ``"plain"`` gives ``1``,
        ``X``, ``MT``.

    Returns
    -------
    str
        The name in ``style`` for chromosomes 1-22, X, Y and the
        mitochondrion; other names (``GL000207.1``, ``chrUn_KI270302v1``,
        ``2L``, plink's ``23``) unchanged: no reference is spelled with plink
        codes, so they are not rewritten.

    Raises
    ------
    ValueError
        For an unknown ``style``, or a chromosome spelled unconventionally
        (``chromosome1``, ``Chr1``), which no annotation source uses.
    """
    if style not in ("chr", "plain"):
        raise ValueError(f"style must be 'chr' or 'plain', not {style!r}")
    core = primary_chromosome(name)
    if core is None:
        if _ODD_CHROMOSOME_RE.fullmatch(name):
            raise ValueError(f"contig {name!r} is neither chrN nor N")
        return name
    if core in ("M", "MT"):
        return "chrM" if style == "chr" else "MT"
    return f"chr{core}" if style == "chr" else core


def contig_style(names: Iterable[str]) -> str | None:
    """Naming style of the primary human chromosomes among ``names``.

    Returns
    -------
    str or None
        ``"chr"`` (``chrN``), ``"plain"`` (``N``), ``"mixed"`` (both) or None
        when no name is a primary human chromosome.
    """
    styles = set()
    for name in names:
        if primary_chromosome(name) is not None:
            styles.add("chr" if name.startswith("chr") else "plain")
    if not styles:
        return None
    return styles.pop() if len(styles) == 1 else "mixed"


class ContigMap:
    """Map contig names onto the spelling a reference uses (``chr1`` <-> ``1``, ``chrM`` <-> ``MT``).

    Parameters
    ----------
    names : iterable of str
        The reference's contig names (FASTA, gene model, annotation resource).

    Notes
    -----
    ``ContigMap(reference_names)(name)`` returns ``name`` itself when the
    reference has it, else the reference's name with the same
    :func:`canonical_contig`, else None.
    """

    def __init__(self, names: Iterable[str]):
        self.names = set(names)
        self._by_key: dict[str, str] = {}
        for n in sorted(self.names):  # sorted: the same choice whatever the set order
            self._by_key.setdefault(canonical_contig(n), n)

    def __call__(self, contig: str) -> str | None:
        if contig in self.names:
            return contig
        return self._by_key.get(canonical_contig(contig))

    def renaming(self, contigs: Iterable[str]) -> dict[str, str]:
        """``{name: reference spelling}`` for the ``contigs`` spelled differently from the reference."""
        return {c: ref for c in contigs if (ref := self(c)) is not None and ref != c}


def fasta_contigs(fasta: str | os.PathLike) -> list[str]:
    """Sequence names of a FASTA, from its ``.fai`` (written beside it with pysam if missing)."""
    fai = Path(str(fasta) + ".fai")
    if not fai.exists():
        import pysam

        pysam.faidx(str(fasta))
    return [ln.split("\t", 1)[0] for ln in fai.read_text().splitlines() if ln]


# ---------------------------------------------------------------------------
# Builds and PARs
# ---------------------------------------------------------------------------


def normalize_build(build: str | None) -> str | None:
    """``GRCh37``/``GRCh38`` for a build name or alias (``hg19``, ``b37``, ``hg38``; any case), None for None/"".

    Raises
    ------
    ValueError
        For a build genorisk does not know.
    """
    if not build:
        return None
    known = _BUILD_ALIASES.get(str(build).lower())
    if known is None:
        raise ValueError(f"unknown genome build {build!r} (known: {', '.join(KNOWN_BUILDS)})")
    return known


def par_regions(build: str | None) -> tuple[tuple[int, int], ...]:
    """The chrX pseudo-autosomal regions PAR1 and PAR2 of a build.

    Parameters
    ----------
    build : str or None
        ``GRCh37``/``GRCh38`` or an alias (:func:`normalize_build`). None:
        both builds' regions (GRCh37 PAR1, PAR2, then GRCh38 PAR1, PAR2), so a
        position in either build's PARs counts as PAR when the build is
        unknown; this drops less than 1 Mb of non-PAR chrX in either build.

    Returns
    -------
    tuple of (int, int)
        ``(start, end)`` pairs, 1-based inclusive.
    """
    known = normalize_build(build)
    if known is None:
        return _PAR_REGIONS["GRCh37"] + _PAR_REGIONS["GRCh38"]
    return _PAR_REGIONS[known]


def in_par(pos: int, build: str | None = None) -> bool:
    """True if chrX position ``pos`` (1-based) lies in a PAR of ``build`` (see :func:`par_regions`)."""
    return any(lo <= pos <= hi for lo, hi in par_regions(build))


@lru_cache(maxsize=1)
def _contig_table() -> dict[str, dict[str, int]]:
    text = resources.files("genorisk").joinpath("data/contigs.tsv").read_text()
    table: dict[str, dict[str, int]] = {b: {} for b in KNOWN_BUILDS}
    rows = csv.DictReader((ln for ln in io.StringIO(text) if not ln.startswith("#")), delimiter="\t")
    for row in rows:
        for name in [row["name"], *filter(None, row["aliases"].split(","))]:
            table[row["build"]].setdefault(name, int(row["length"]))
    return table


def contig_lengths(build: str) -> Mapping[str, int]:
    """``{name_or_alias: length}`` of a build's contigs (UCSC names, plain names, GenBank, RefSeq).

    Parameters
    ----------
    build : str
        ``GRCh37``/``GRCh38`` or an alias.

    Returns
    -------
    Mapping of str to int
        Read-only; from the packaged ``data/contigs.tsv``. In GRCh37 ``chrM``
        is hg19's Yoruba mitogenome (16571 bp) and ``MT`` the rCRS (16569 bp).
    """
    known = normalize_build(build)
    if known is None:
        raise ValueError("no genome build given")
    return _contig_table()[known]


def contig_length(build: str, name: str) -> int | None:
    """Length of contig ``name`` in ``build``: its own spelling first, then the other spelling; None if unknown."""
    table = contig_lengths(build)
    if name in table:
        return table[name]
    try:
        spelled = normalize_contig(name, "chr")
    except ValueError:
        return None
    return table.get(spelled)


def detect_genome_build(contig_lengths: Mapping[str, int]) -> tuple[str | None, str]:
    """Which human build ``{contig: length}`` (from ``##contig`` lines) belongs to.

    Compares the lengths of chromosomes 1-22, X and Y (either spelling) with
    GRCh37 and GRCh38; the mitogenome is ignored (16569 bp in both).

    Returns
    -------
    build : str or None
        None when no primary chromosome has a length, or the lengths match
        neither or both builds.
    evidence : str
        One contig and its length, for messages (``""`` when there is none).
    """
    table = _contig_table()
    votes: dict[str, list[str]] = {b: [] for b in KNOWN_BUILDS}
    mismatches: list[str] = []
    for name, length in contig_lengths.items():
        core = primary_chromosome(name)
        if core is None or core in ("M", "MT"):
            continue
        key = f"chr{core}"
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


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------

_REGION_RE = re.compile(r"(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]*))?)?")


@dataclass(frozen=True)
class Region:
    """A genomic region, 1-based inclusive; ``end`` None means to the end of the contig.

    ``str(region)`` gives back htslib's ``CHROM``, ``CHROM:START-`` or
    ``CHROM:START-END`` spelling.
    """

    chrom: str
    start: int = 1
    end: int | None = None

    def contains(self, chrom: str, pos: int) -> bool:
        """True if position ``pos`` of contig ``chrom`` (same spelling) lies in the region."""
        return chrom == self.chrom and self.start <= pos and (self.end is None or pos <= self.end)

    def __str__(self) -> str:
        if self.end is None:
            return self.chrom if self.start == 1 else f"{self.chrom}:{self.start}-"
        return f"{self.chrom}:{self.start}-{self.end}"


def parse_region(text: str) -> Region:
    """Parse ``CHROM``, ``CHROM:START[-]`` or ``CHROM:START-END`` (1-based, inclusive; commas allowed).

    As in htslib, ``CHROM:START`` and ``CHROM:START-`` run from START to the end of the contig.

    Raises
    ------
    ValueError
        For text of another form, START < 1 or END < START.
    """
    m = _REGION_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"region {text!r} is not CHROM, CHROM:START or CHROM:START-END")
    start = int(m["start"].replace(",", "")) if m["start"] else 1
    end = int(m["end"].replace(",", "")) if m["end"] else None
    if start < 1 or (end is not None and end < start):
        raise ValueError(f"region {text!r} has start < 1 or end < start")
    return Region(m["chrom"], start, end)


# ---------------------------------------------------------------------------
# Opening files
# ---------------------------------------------------------------------------


class _ProcessStream(io.RawIOBase):
    """The stdout of a decompressing process; closing it checks how the process ended."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path):
        # Started with stdout=PIPE and stderr=PIPE, so both streams exist.
        assert proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        # typeshed types Popen.stdout as IO[bytes]; with the default buffering it is a BufferedReader.
        self._stdout = cast(io.BufferedReader, proc.stdout)
        self._stderr: IO[bytes] = proc.stderr
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._stdout.readinto(buffer)

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self._stdout.close()
        err = self._stderr.read().decode(errors="replace").strip()
        self._stderr.close()
        code = self._proc.wait()
        # -13: SIGPIPE after the reader stopped early; while an exception propagates, it wins.
        if code not in (0, -13) and not sys.exc_info()[0]:
            raise InputError(self._path, f"bgzip -d failed (exit {code}): {err}")


# The binary streams are BufferedIOBase (plain, in-process gzip) or RawIOBase (bgzip's pipe):
# both have read, readinto and line iteration.
BinaryStream = io.BufferedIOBase | io.RawIOBase


@overload
def open_text(path: str | os.PathLike, mode: Literal["rt"] = "rt", *, threads: int = 0) -> TextIO: ...
@overload
def open_text(path: str | os.PathLike, mode: Literal["rb"], *, threads: int = 0) -> BinaryStream: ...
def open_text(path: str | os.PathLike, mode: str = "rt", *, threads: int = 0) -> TextIO | BinaryStream:
    """Open a plain, gzip or BGZF-compressed text file for reading, whatever its name says.

    Parameters
    ----------
    path : str or PathLike
        The file; compression is told from its first bytes.
    mode : {"rt", "rb"}
        ``"rt"``: text lines (UTF-8, undecodable bytes replaced). ``"rb"``:
        the decompressed bytes.
    threads : int
        For ``"rb"`` on a compressed file: decompress with ``bgzip -dc -@threads``
        in a separate process when ``bgzip`` is installed (decompression then
        runs alongside parsing; bgzip also reads plain gzip). 0: in-process.

    Returns
    -------
    file object
        A context manager. With ``threads``, closing it raises
        :class:`~genorisk.errors.InputError` if bgzip failed.
    """
    if mode not in ("rt", "rb"):
        raise ValueError(f"mode must be 'rt' or 'rb', not {mode!r}")
    path = Path(path)
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    if mode == "rt":
        if compressed:
            return gzip.open(path, "rt", encoding="utf-8", errors="replace")
        return open(path, encoding="utf-8", errors="replace")
    if not compressed:
        return open(path, "rb")
    if threads and shutil.which("bgzip"):
        proc = subprocess.Popen(
            ["bgzip", "-dc", f"-@{threads}", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None  # stdout=PIPE
        with contextlib.suppress(OSError):  # a 1 MiB pipe (Linux F_SETPIPE_SZ) means fewer, larger reads
            fcntl.fcntl(proc.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        return _ProcessStream(proc, path)
    return gzip.open(path, "rb")


def open_vcf(
    path: str | os.PathLike,
    samples: Iterable[str] | None = None,
    *,
    subset: bool = True,
    threads: int | None = None,
):
    """Open a VCF/BCF with cyvcf2, refusing what cyvcf2 would read wrongly or only warn about.

    Parameters
    ----------
    path : str or PathLike
        A VCF/BCF, normally one :func:`genorisk.vcf.validate_vcf` accepted.
    samples : iterable of str, optional
        Sample columns wanted, in this order.
    subset : bool
        True: the reader decodes only ``samples`` (cyvcf2 ``set_samples``).
        False: it decodes every column (callers that reorder columns
        themselves); ``samples`` is then only checked.
    threads : int, optional
        htslib decompression threads.

    Returns
    -------
    cyvcf2.VCF
        Opened with ``gts012=True``: ``variant.gt_types`` codes are 0 =
        HOM_REF, 1 = HET, 2 = HOM_ALT, 3 = UNKNOWN (cyvcf2's default puts
        UNKNOWN at 2 and HOM_ALT at 3). ``gt_types`` folds all ALT alleles
        together (``1/2`` is HET); use ``variant.genotype.array()`` for allele
        indexes.

    Raises
    ------
    InputError
        The file is missing, bzip2-compressed (htslib cannot read it: recompress
        with bgzip), unreadable as VCF/BCF, has duplicate sample names in its
        header, or lacks a requested sample.
    ValueError
        ``samples`` names a sample twice.

    Notes
    -----
    htslib 1.16 underneath cannot read VCF 4.4 GT phasing prefixes (``|0/1``);
    such files validate but must be rewritten (``bcftools view -Oz``) first.
    """
    import cyvcf2

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    with open(path, "rb") as fh:
        if fh.read(3) == b"BZh":
            raise InputError(path, "bzip2-compressed VCF cannot be read by htslib: recompress with bgzip")
    try:
        vcf = cyvcf2.VCF(str(path), gts012=True, lazy=True, threads=threads)
    except Exception as exc:  # cyvcf2 raises bare Exception for a bad header
        raise InputError(path, f"cannot read as VCF/BCF ({exc})") from exc
    header = list(vcf.samples)
    problem = None
    if len(set(header)) != len(header):
        dup = sorted(s for s, n in Counter(header).items() if n > 1)
        problem = f"duplicate sample names in header: {', '.join(dup[:5])}"
    elif samples is not None:
        samples = list(samples)
        present = set(header)
        missing = [s for s in samples if s not in present]
        if missing:
            problem = f"{len(missing)} requested sample(s) not in this VCF: {', '.join(map(repr, missing[:5]))}"
        elif len(set(samples)) != len(samples):
            vcf.close()
            raise ValueError("samples contains duplicates")
    if problem:
        vcf.close()
        raise InputError(path, problem, record="#CHROM")
    if samples is not None and subset:
        vcf.set_samples(samples)
    return vcf
