"""One fast genotype store: the cohort's genotypes as one PLINK 2 fileset per chromosome, read through pgenlib.

:mod:`.inputs` describes and checks the input forms (VCF/BCF, per-chromosome
VCFs or a ``{chrom}`` pattern, PLINK 2, PLINK 1, BGEN); :mod:`.samples`
reconciles sample IDs with the phenotype table; :mod:`.convert` writes the
store with plink2; :mod:`.reader` streams it back as
:class:`~genorisk.genotypes.DosageChunk` s in memory flat in the variant count.
"""

from genorisk.store.convert import convert_to_store, output_chr_code, run_plink2
from genorisk.store.inputs import (
    FORMS,
    BgenHeader,
    GenotypeSource,
    check_distinct_chroms,
    check_same_samples,
    describe_bfile,
    describe_bgen,
    describe_inputs,
    describe_pfile,
    describe_vcf,
    read_bgen_header,
    read_psam,
    read_sample_file,
)
from genorisk.store.manifest import FORMAT_TAG, GenotypeStore, is_store, open_store, write_manifest
from genorisk.store.reader import StoreFileset, iter_store_chunks, read_store_variants, store_samples
from genorisk.store.samples import format_ids, reconcile_samples

__all__ = [
    "FORMAT_TAG",
    "FORMS",
    "GenotypeStore",
    "StoreFileset",
    "BgenHeader",
    "GenotypeSource",
    "check_distinct_chroms",
    "check_same_samples",
    "convert_to_store",
    "describe_bfile",
    "describe_bgen",
    "describe_inputs",
    "describe_pfile",
    "describe_vcf",
    "format_ids",
    "is_store",
    "iter_store_chunks",
    "open_store",
    "output_chr_code",
    "read_bgen_header",
    "read_psam",
    "read_sample_file",
    "read_store_variants",
    "reconcile_samples",
    "run_plink2",
    "store_samples",
    "write_manifest",
]
