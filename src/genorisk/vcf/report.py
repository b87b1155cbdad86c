"""What a validating pass reports: :class:`ValidationReport`, grouped warnings, safe sample names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from genorisk.errors import InputError
from genorisk.vcf.spec import SAFE_NAME_RE


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


class Warnings:
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


def safe_sample_name(name: str) -> str:
    """Return ``name`` if it may be used as a file or folder name, else raise.

    Allowed: 1-128 characters from ``A-Z a-z 0-9 . _ -``, starting with a letter
    or digit (so never ``.``, ``..``, a hidden file or an option-like ``-x``).
    Sample names that VCF allows but paths and HTML do not (spaces, ``/``,
    ``<script>``, non-ASCII such as ``S²``) are refused with
    :class:`~genorisk.errors.InputError` naming the offending character; map such
    samples to safe patient IDs in the sample sheet instead.
    """
    if SAFE_NAME_RE.fullmatch(name):
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
        f"sample name {name!r} {why}: only A-Z a-z 0-9 . _ - are allowed in names used as folder names, "
        "starting with a letter or digit",
        record="sample name",
    )
