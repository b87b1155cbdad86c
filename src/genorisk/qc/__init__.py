"""Cohort and sample QC in one streaming pass over a VCF/BCF.

:func:`run_qc` reads the genotype allele indexes (cyvcf2
``variant.genotype.array()``) in chunks of records and computes, with numpy
over whole chunks:

* per variant, one row per ALT allele (as :mod:`genorisk.genotypes` gives
  them): call rate, ALT allele frequency, MAF, diploid genotype counts,
  Hardy-Weinberg exact p (Wigginton et al. 2005), SNV and transition flags;
* per sample: call rate, genotype counts, Ti/Tv, autosomal heterozygosity and
  the chrX inbreeding coefficient F, from which sex is inferred as
  ``plink --check-sex`` does, compared with the recorded sex;
* the cohort Ti/Tv.

Why allele indexes and not :func:`genorisk.genotypes.iter_dosage_chunks`:
per-ALT dosages lose the ploidy of a call (haploid ``1`` and diploid ``0/1``
both give 1) and the pairing of alleles at multiallelic sites (``1/2`` is one
heterozygous genotype, not two), and both matter for per-sample counts. The
allele-level conventions are those of the dosage reader (missing or partially
missing call -> missing; GT allele index beyond the ALT count -> InputError).

Counting conventions (chosen to agree with ``bcftools stats -s -``, PSC and
TSTV lines, bcftools 1.16, which the tests check):

* A call is *missing* when any of its alleles is ``.`` (``./.``, ``./1``,
  ``.``). ``call_rate`` = called / (called + missing) over records that have
  GT, including records with ALT ``.``.
* Haploid calls (``0``, ``1``: males on chrX/Y, MT) are counted as
  ``n_hap_ref`` / ``n_hap_alt``, never as homozygous.
* ``n_hom_ref``, ``n_het``, ``n_hom_alt`` are bcftools's nRefHom, nHets,
  nNonRefHom: calls of ploidy >= 2 whose ALT alleles are SNVs (htslib's
  variant type), plus homozygous-REF calls at any record. ``1/2`` is one
  heterozygous call.
* ``n_snv_ts`` / ``n_snv_tv`` (nTransitions / nTransversions): non-REF
  diploid calls, classified by the smallest ALT allele index in the call and
  the first base of REF and of that ALT (transition: A<->G, C<->T).
* Cohort Ti/Tv (the TSTV line): one count per SNV ALT allele, whatever the
  genotypes.

Per-variant rows describe ALT allele *k* against all other alleles, as after
``bcftools norm -m-`` (a ``1/2`` call is a het of ALT 1 and a het of ALT 2):
``n_hom_ref`` / ``n_het`` / ``n_hom_alt`` count diploid calls with 0 / 1 / 2
copies of allele *k*. ``alt_af`` is allele count / called alleles, so a
haploid male chrX call counts one allele. ``hwe_p`` is the exact test on those
diploid counts, on controls only when a case/control status is given (case
enrichment of risk alleles is itself a departure from HWE, so GWAS QC tests
controls), and on chrX without samples recorded as male.

Sex inference follows ``plink --check-sex``: over chrX non-PAR biallelic SNVs
with MAF >= ``sex_min_maf``, F = (O - E) / (N - E), where O is the number of
homozygous calls (haploid calls count as homozygous, as plink imports them),
N the number of called variants and E = sum(1 - 2pq) with p from the cohort's
called alleles. PAR1/PAR2 of both GRCh37 and GRCh38 are excluded, so no build
needs to be known (this drops < 1 Mb of non-PAR chrX in either build).

Layout: :mod:`.run` (the streaming pass, :func:`run_qc`), :mod:`.blocks` (the
arithmetic over one block of records), :mod:`.samples` (the per-sample table
and sex call), :mod:`.variant_types` (htslib variant types, Ti/Tv codes),
:mod:`.hwe` (the exact test), :mod:`.thresholds`, :mod:`.exclusions`,
:mod:`.write` (the output files), :mod:`.sex` (one person's sex, for
patient intake), and for a PLINK 2 store :mod:`.store` (:func:`shard_qc`, one
genome shard) and :mod:`.gather` (:func:`write_gathered_qc`, the shards into
the output files, memory flat in the number of variants). The workflow's shard
job is plink2 alone (``scripts/cohort_qc_shard.sh``): :mod:`.plink_counts`
(:func:`fileset_qc`) turns its counts into the same shard summaries and
:func:`write_store_qc` gathers them.
"""

from genorisk.qc.exclusions import apply_thresholds, sample_exclusions, variant_exclusions
from genorisk.qc.gather import ShardQC, gather_qc, load_shard, save_shard, write_gathered_qc, write_store_qc
from genorisk.qc.hwe import hwe_exact_p
from genorisk.qc.plink_counts import fileset_qc
from genorisk.qc.run import QCResult, run_qc
from genorisk.qc.sex import PAR_REGIONS_X, infer_sex_single, sex_from_het_counts
from genorisk.qc.store import shard_qc
from genorisk.qc.thresholds import QCThresholds
from genorisk.qc.variant_types import (
    VT_BND,
    VT_INDEL,
    VT_MNP,
    VT_OTHER,
    VT_OVERLAP,
    VT_REF,
    VT_SNP,
    htslib_variant_type,
)
from genorisk.qc.write import write_qc

__all__ = [
    "PAR_REGIONS_X",
    "QCResult",
    "QCThresholds",
    "ShardQC",
    "VT_BND",
    "VT_INDEL",
    "VT_MNP",
    "VT_OTHER",
    "VT_OVERLAP",
    "VT_REF",
    "VT_SNP",
    "apply_thresholds",
    "fileset_qc",
    "gather_qc",
    "load_shard",
    "htslib_variant_type",
    "hwe_exact_p",
    "infer_sex_single",
    "sex_from_het_counts",
    "run_qc",
    "sample_exclusions",
    "save_shard",
    "shard_qc",
    "variant_exclusions",
    "write_gathered_qc",
    "write_store_qc",
    "write_qc",
]
