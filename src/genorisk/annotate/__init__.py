"""Variant annotation: gene model classes, bcftools csq consequences, ClinVar,
population allele frequency and dbSNP rsIDs, with scatter/gather over regions.

Every source is optional. The unit of work is one genomic region (a chunk): the
query VCF and each indexed resource are read with region fetches, so memory is
bounded by the chunk, not by the cohort or the resource. A cohort is annotated
by :func:`genorisk.vcf.plan_regions` (balanced regions from the VCF index), one
:func:`annotate_table` + :func:`write_table` + :func:`write_annotated` job per
chunk, then :func:`gather`.

Conventions (apply to every function here):

* One row (and one output record) per ALT allele: multiallelic records are
  split; missing and REF-equal ALTs get no row. Every row has an
  ``allele_class`` (:data:`ALLELE_CLASSES`). Symbolic (``<DEL>``), breakend and
  ``*`` alleles are kept and get the gene-model columns over their span
  (``end`` from INFO/END); allele-matched sources (consequence, ClinVar,
  population AF, dbSNP) annotate sequence alleles only (SNV, MNV, indel),
  which are also the only ones the feature stage turns into dosages.
* Alleles are matched exactly after reducing both sides to their minimal
  representation (shared trailing, then shared leading bases trimmed, keeping one
  base; POS moves with leading trims). Nothing is left-aligned: that needs the
  reference and is the job of ``bcftools norm -f`` upstream.
* Contig names are reconciled between sources (``chr21`` vs ``21``,
  ``chrM`` vs ``MT``) with :class:`genorisk.genome.ContigMap`; the output keeps
  the query VCF's spelling.
* A chunk region ``chr:start-end`` owns the records whose POS lies in
  ``start..end`` (1-based, inclusive), so chunks never share a record even
  when a deletion spans a chunk boundary.

Layout: :mod:`.alleles` (minimal alleles, spans, classes), :mod:`.gene_model`
(GTF/GFF3 and region classes), :mod:`.consequence` (bcftools csq),
:mod:`.resources` (checking resources), :mod:`.lookup` (ClinVar, AF, rsID by
allele), :mod:`.table` (the variant table), :mod:`.annotated_vcf` (the GR_*
sites BCF), :mod:`.gather` (scatter/gather) and :mod:`.bcftools` (running it).
"""

from genorisk.annotate.alleles import (
    ALLELE_CLASSES,
    SEQUENCE_CLASSES,
    affected_span,
    allele_classes,
    minimal_allele,
    variant_spans,
)
from genorisk.annotate.annotated_vcf import INFO_FIELDS, write_annotated
from genorisk.annotate.consequence import CSQ_SEVERITY, consequences_bcftools_csq, most_severe_csq
from genorisk.annotate.gather import gather, plan_chunks
from genorisk.annotate.gene_model import (
    CANONICAL_TAGS,
    REGION_CLASSES,
    SPLICE_BP,
    UPSTREAM_BP,
    GeneModel,
    classify,
    read_gene_model,
)
from genorisk.annotate.resources import FULL_CHECK_MAX_BYTES, validate_resource
from genorisk.annotate.table import (
    TABLE_COLUMNS,
    annotate_table,
    annotation_summary,
    parse_region,
    read_sites,
    read_table,
    write_table,
)

__all__ = [
    "ALLELE_CLASSES",
    "CANONICAL_TAGS",
    "CSQ_SEVERITY",
    "FULL_CHECK_MAX_BYTES",
    "INFO_FIELDS",
    "REGION_CLASSES",
    "SEQUENCE_CLASSES",
    "SPLICE_BP",
    "TABLE_COLUMNS",
    "UPSTREAM_BP",
    "GeneModel",
    "affected_span",
    "allele_classes",
    "annotate_table",
    "annotation_summary",
    "classify",
    "consequences_bcftools_csq",
    "gather",
    "minimal_allele",
    "most_severe_csq",
    "parse_region",
    "plan_chunks",
    "read_gene_model",
    "read_sites",
    "read_table",
    "validate_resource",
    "variant_spans",
    "write_annotated",
    "write_table",
]
