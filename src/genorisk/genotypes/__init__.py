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

Layout: :mod:`.reader` (the public readers), :mod:`.chunks` (:class:`DosageChunk`
and re-chunking), :mod:`.dosage` (allele indexes -> dosages), and the two
engines, :mod:`.text_engine` (numpy over VCF text) and :mod:`.cyvcf2_engine`
(htslib: BCF, regions, DS, INFO filter).

Every reader also takes a genotype store (:mod:`genorisk.store`: a
``store.json`` manifest of per-chromosome PLINK 2 filesets, or an opened
``GenotypeStore``) in place of the VCF, and gives the same chunks and
matrices from it.
"""

from genorisk.genome import X_CHROMOSOMES, canonical_contig
from genorisk.genotypes.chunks import VARIANT_COLUMNS, DosageChunk
from genorisk.genotypes.dosage import gt_allele_dosages
from genorisk.genotypes.reader import (
    column_order,
    is_store_source,
    iter_dosage_chunks,
    open_vcf_checked,
    read_dosages,
    source_samples,
    variant_keys,
)
from genorisk.vcf.index import index_regions

# Kept importable from here: scores.py uses them (canonical_contig was normalize_chrom).
normalize_chrom = canonical_contig
__all__ = [
    "X_CHROMOSOMES",
    "DosageChunk",
    "VARIANT_COLUMNS",
    "column_order",
    "gt_allele_dosages",
    "index_regions",
    "is_store_source",
    "iter_dosage_chunks",
    "normalize_chrom",
    "open_vcf_checked",
    "read_dosages",
    "source_samples",
    "variant_keys",
]
