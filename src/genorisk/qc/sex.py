"""Sex of one person from chrX non-PAR calls, without a cohort (the cohort's F-based call is in :mod:`.samples`)."""

from __future__ import annotations

from os import PathLike
from typing import Any

from cyvcf2 import VCF

from genorisk.genome import in_par, par_regions

#: chrX PARs of both builds (GRCh37 PAR1, PAR2, GRCh38 PAR1, PAR2): the sex check does not know
#: the build. Kept for results.py; genorisk.genome.par_regions is the source.
PAR_REGIONS_X = par_regions(None)


def infer_sex_single(
    vcf: str | PathLike,
    sample: str,
    *,
    min_sites: int = 50,
    male_max_het: float = 0.02,
    female_min_het: float = 0.10,
) -> dict[str, Any]:
    """Infer one person's sex from chrX non-PAR genotypes, without a cohort.

    A single patient file has no allele frequencies to compute plink's F, so
    this uses the share of heterozygous calls among the person's non-reference
    chrX non-PAR SNV calls (haploid calls count as hemizygous, not het): males
    have almost none, females many (like peddy's het ratio). Below
    ``min_sites`` non-reference chrX calls the answer is "unknown".

    Returns
    -------
    dict
        ``inferred_sex`` ("male"/"female"/"unknown"), ``n_sites`` (non-ref
        chrX non-PAR SNV calls used), ``het_fraction`` (None if no sites).
    """
    vcf_reader = VCF(str(vcf), samples=[sample], lazy=True)
    try:
        contigs = [c for c in vcf_reader.seqnames if c in ("X", "chrX", "23")]
        n_het = n_nonref = 0
        for contig in contigs:
            try:
                records = vcf_reader(contig)
            except Exception:  # no index: stream the whole file instead
                records = (r for r in vcf_reader if contig == r.CHROM)
            for rec in records:
                if in_par(rec.POS) or not rec.is_snp:
                    continue
                gt = rec.genotype.array()[0]
                alleles = [a for a in gt[:-1] if a >= 0]
                if not alleles or max(alleles) == 0:
                    continue
                n_nonref += 1
                if len(alleles) >= 2 and len(set(alleles)) > 1:
                    n_het += 1
    finally:
        vcf_reader.close()
    return sex_from_het_counts(
        n_het, n_nonref, min_sites=min_sites, male_max_het=male_max_het, female_min_het=female_min_het
    )


def sex_from_het_counts(
    n_het: int, n_nonref: int, *, min_sites: int = 50, male_max_het: float = 0.02, female_min_het: float = 0.10
) -> dict[str, Any]:
    """The sex call of :func:`infer_sex_single` from a person's chrX non-PAR counts.

    Parameters
    ----------
    n_het : int
        Heterozygous calls among ``n_nonref``.
    n_nonref : int
        Non-reference chrX non-PAR SNV calls.
    min_sites, male_max_het, female_min_het
        As in :func:`infer_sex_single`.

    Returns
    -------
    dict
        ``inferred_sex``, ``n_sites`` (= ``n_nonref``) and ``het_fraction`` (None without sites).
    """
    n_het, n_nonref = int(n_het), int(n_nonref)
    het_fraction = n_het / n_nonref if n_nonref else None
    if het_fraction is None or n_nonref < min_sites:  # None: no sites at all (min_sites=0 used to crash here)
        sex = "unknown"
    elif het_fraction <= male_max_het:
        sex = "male"
    elif het_fraction >= female_min_het:
        sex = "female"
    else:
        sex = "unknown"
    return {"inferred_sex": sex, "n_sites": n_nonref, "het_fraction": het_fraction}
