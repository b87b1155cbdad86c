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
* :func:`normalize_vcf` splits, left-aligns and deduplicates with ``bcftools norm``.
* :func:`safe_sample_name` says which sample names may become folder names.
* :func:`plan_regions` plans region chunks from the index; :func:`index_regions`
  plans region queries for given variants.
* :func:`open_vcf` (from :mod:`genorisk.genome`) opens a validated file with
  cyvcf2 for the later stages; contig naming lives in :mod:`genorisk.genome`.

Layout: :mod:`.validate` (``header``, ``record`` and ``samples`` checks over one
``state``), :mod:`.normalize` (with :mod:`.prescan`, the careful path's text
pass), :mod:`.index`, :mod:`.files` (compression sniffing), :mod:`.spec`
(specification tables), :mod:`.report`.

What is fatal and what is a warning follows the VCF 4.x specification, softened
where widely used tools write something slightly off that loses no data (each
such case is a warning in the report). The peer-data corpus
(``tests/data/peer-data``) pins every rule to real files. In short:

Fatal (InputError)
    File: empty or headerless; a Unicode byte-order mark (UTF-8 or UTF-16;
    htslib reads neither, and the message names it); raw zlib or unknown bytes; BGZF without its
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
    numbers; a gVCF reference block (ALT ``<NON_REF>`` or ``<*>`` alone) whose
    INFO/END is before its POS; a record identical to a neighbour at the same position; with
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

from genorisk.genome import (
    KNOWN_BUILDS,
    ContigMap,
    contig_style,
    detect_genome_build,
    fasta_contigs,
    normalize_contig,
    open_vcf,
)
from genorisk.vcf.index import has_index, index_regions, indexed_contigs, plan_regions, validate_index
from genorisk.vcf.normalize import normalize_vcf
from genorisk.vcf.report import ValidationReport, safe_sample_name
from genorisk.vcf.validate import validate_vcf

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
    "fasta_contigs",
    "KNOWN_BUILDS",
    "has_index",
    "index_regions",
    "indexed_contigs",
    "plan_regions",
]
