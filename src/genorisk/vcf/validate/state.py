"""The state one validating pass keeps, shared by the header, record and sample-cell checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genorisk.errors import InputError
from genorisk.genome import contig_style
from genorisk.vcf.report import ValidationReport, Warnings


@dataclass
class Definition:
    number: str
    type: str


@dataclass
class Header:
    file_format: str = ""
    info: dict[str, Definition] = field(default_factory=dict)
    format: dict[str, Definition] = field(default_factory=dict)
    filters: set[str] = field(default_factory=lambda: {"PASS"})
    contigs: dict[str, int | None] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    has_format_column: bool = False
    encoding: str = "utf-8"


class ValidationState:
    """What one pass has learnt so far; the checks (mixins) read and update it.

    :class:`~genorisk.vcf.validate.header.HeaderChecks`,
    :class:`~genorisk.vcf.validate.record.RecordChecks` and
    :class:`~genorisk.vcf.validate.samples.SampleCellChecks` each add the
    methods of one kind of check; :class:`~genorisk.vcf.validate.Validator`
    combines them over this one state.
    """

    def __init__(
        self, path: Path, genome_build: str | None, require_samples, require_records: bool, require_sorted: bool = False
    ):
        self.path = path
        self.spath = str(path)
        self.genome_build = genome_build
        self.require_samples = list(require_samples) if require_samples else []
        self.require_records = require_records
        self.header = Header()
        self.warn = Warnings()
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
        self.chrom: str | None = None
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

    def report(self, compression: str) -> ValidationReport:
        """The :class:`ValidationReport` of a finished pass (refuses an empty file with ``require_records``)."""
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
