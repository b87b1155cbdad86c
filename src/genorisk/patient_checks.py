"""A patient's genotype QC against the ranges that excluded cohort samples.

The cohort's QC (:mod:`genorisk.qc`) excludes samples whose call rate is
below ``qc.min_sample_call_rate`` or whose autosomal heterozygosity rate lies
beyond mean +/- ``qc.heterozygosity_sd`` SD of the cohort's. A patient is
scored by a model trained on the samples that passed, so the same two checks
are applied to each patient, over the cohort's autosomal SNV sites:
:func:`cohort_sample_ranges` reads the ranges from the cohort QC outputs,
:func:`patient_genotype_rates` measures the patients of one VCF in one pass,
:func:`check_against_cohort` compares. :func:`infer_sex_many` is the sex check of
:func:`genorisk.qc.infer_sex_single` for all the samples of one file in one pass.

The rates are measured over the cohort's sites only, as the cohort's were: a
whole-genome patient VCF's other sites (mostly rarer variants) would give a
heterozygosity rate on another scale. A variants-only VCF lists too few of
those sites for the rates to mean anything (its absent sites are missing,
not homozygous reference); it is "not checked", with the reason.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cyvcf2 import VCF

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, chromosome_class, in_par
from genorisk.qc import sex_from_het_counts

#: Below this fraction of the cohort's sites present in a patient VCF the
#: rates are not compared (a variants-only VCF lists its non-reference sites only).
MIN_SITES_PRESENT = 0.5


def cohort_sample_ranges(qc_summary: Mapping[str, Any], sample_qc: pd.DataFrame) -> dict[str, Any]:
    """The call-rate minimum and heterozygosity range that excluded cohort samples.

    Parameters
    ----------
    qc_summary : mapping
        The cohort's ``qc/qc_summary.json`` (``thresholds``, ``samples_excluded_by_reason``).
    sample_qc : DataFrame
        The cohort's ``qc/sample_qc.tsv`` (column ``het_rate``).

    Returns
    -------
    dict
        ``min_call_rate`` (float or None), ``het_rate`` ([low, high], or None
        when the check is off or fewer than 3 samples had a rate, as in
        :func:`genorisk.qc.apply_thresholds`), ``heterozygosity_sd`` and
        ``n_excluded`` (cohort samples excluded for either reason).
    """
    th = qc_summary.get("thresholds", {})
    k = th.get("heterozygosity_sd")
    het_range = None
    if k is not None and "het_rate" in sample_qc:
        het = sample_qc["het_rate"].to_numpy(dtype=float)
        finite = het[np.isfinite(het)]
        if len(finite) >= 3:
            mean, sd = finite.mean(), finite.std(ddof=1)
            het_range = [float(mean - k * sd), float(mean + k * sd)]
    by_reason = qc_summary.get("samples_excluded_by_reason", {})
    return {
        "min_call_rate": th.get("min_sample_call_rate"),
        "het_rate": het_range,
        "heterozygosity_sd": k,
        "n_excluded": int(by_reason.get("low_call_rate", 0)) + int(by_reason.get("het_outlier", 0)),
    }


def patient_genotype_rates(
    vcf: str | Path, samples: Sequence[str], sites: pd.DataFrame, *, workdir: Path
) -> dict[str, dict[str, Any]]:
    """Call rate and heterozygosity rate of ``samples`` over the cohort's autosomal SNV sites, in one pass.

    One ``bcftools stats -s`` over ``vcf`` restricted to the positions of
    ``sites`` that are autosomal SNVs (the sites behind the cohort's
    ``het_rate``), all samples at once: C speed whatever the number of
    samples.

    Parameters
    ----------
    vcf : path
        A normalised VCF holding ``samples``.
    samples : sequence of str
        Sample names in ``vcf``.
    sites : DataFrame
        ``chrom``, ``pos``, ``ref``, ``alt``: the cohort's variant sites
        (``qc/variant_qc.parquet``).
    workdir : Path
        Scratch folder (the targets and sample files).

    Returns
    -------
    dict
        Per sample: ``fraction_sites_present`` (of those sites, with a
        record in the file for the sample, called or not), ``call_rate``
        (called among present; None if none present) and ``het_rate``
        (heterozygous among called; None if none called).
    """
    header = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, text=True, check=True).stdout
    spelled = {canonical_contig(c): c for c in re.findall(r"^##contig=<ID=([^,>]+)", header, flags=re.M)}
    snv = (sites["ref"].str.len() == 1) & (sites["alt"].str.len() == 1)
    chrom = sites["chrom"].astype(str)
    canonical = {c: canonical_contig(c) for c in chrom.unique()}  # per contig, not per site
    autosome = chrom.map({c: chromosome_class(c) == "autosome" for c in canonical})
    positions = sites.loc[snv & autosome, ["chrom", "pos"]].drop_duplicates()
    targets = workdir / "cohort_sites.tsv"
    names = workdir / "rate_samples.txt"
    in_file = positions["chrom"].astype(str).map({c: spelled.get(k) for c, k in canonical.items()})
    lines = (
        in_file[in_file.notna()] + "\t" + positions["pos"][in_file.notna()].astype("int64").astype(str) + "\n"
    ).tolist()
    targets.write_text("".join(lines))
    names.write_text("".join(s + "\n" for s in samples))
    proc = subprocess.run(
        ["bcftools", "stats", "-S", str(names), "-T", str(targets), str(vcf)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise InputError(vcf, f"could not count genotypes: {proc.stderr.strip()}")
    columns: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("# PSC\t"):
            columns = [re.sub(r"^\[\d+\]", "", c) for c in line[2:].split("\t")]
        elif line.startswith("PSC\t") and columns:
            row = dict(zip(columns, line.split("\t"), strict=False))
            counts[row["sample"]] = {k: int(float(row[k])) for k in ("nRefHom", "nNonRefHom", "nHets", "nMissing")}
    n_sites = len(positions)
    out = {}
    for sample in samples:
        c = counts.get(sample, {"nRefHom": 0, "nNonRefHom": 0, "nHets": 0, "nMissing": 0})
        called = c["nRefHom"] + c["nNonRefHom"] + c["nHets"]
        present = called + c["nMissing"]
        out[sample] = {
            "fraction_sites_present": present / n_sites if n_sites else 0.0,
            "call_rate": called / present if present else None,
            "het_rate": c["nHets"] / called if called else None,
        }
    return out


def check_against_cohort(rates: Mapping[str, Any], ranges: Mapping[str, Any]) -> dict[str, Any]:
    """Compare one patient's rates with the cohort's exclusion ranges.

    Parameters
    ----------
    rates : mapping
        One sample's entry of :func:`patient_genotype_rates`.
    ranges : mapping
        :func:`cohort_sample_ranges`.

    Returns
    -------
    dict
        ``checked`` (bool), ``reason`` (why not checked, else None),
        ``call_rate``, ``het_rate``, ``min_call_rate``, ``het_range`` and
        ``flags``: sentences for each rate outside the cohort's range (empty
        when inside).
    """
    out: dict[str, Any] = {
        "checked": False,
        "reason": None,
        "call_rate": rates.get("call_rate"),
        "het_rate": rates.get("het_rate"),
        "min_call_rate": ranges.get("min_call_rate"),
        "het_range": ranges.get("het_rate"),
        "flags": [],
    }
    present = rates.get("fraction_sites_present", 0.0)
    if present < MIN_SITES_PRESENT:
        out["reason"] = (
            f"this VCF lists only {present:.0%} of the cohort's variant sites (a variants-only file lists "
            "its non-reference sites only), so its call and heterozygosity rates cannot be compared with the cohort's"
        )
        return out
    out["checked"] = True
    n_excluded = ranges.get("n_excluded", 0)
    cr, lo_cr = rates.get("call_rate"), ranges.get("min_call_rate")
    if cr is not None and lo_cr is not None and cr < lo_cr:
        out["flags"].append(
            f"Genotype call rate over the cohort's autosomal SNV sites is {cr:.1%}, below the {lo_cr:.0%} that "
            f"excluded cohort samples from training ({n_excluded} cohort samples were excluded by these checks)."
        )
    het, het_range = rates.get("het_rate"), ranges.get("het_rate")
    if het is not None and het_range is not None and not het_range[0] <= het <= het_range[1]:
        out["flags"].append(
            f"Heterozygosity rate {het:.4f} lies outside the cohort's range [{het_range[0]:.4f}, "
            f"{het_range[1]:.4f}] (mean +/- {ranges.get('heterozygosity_sd'):g} SD) that excluded cohort "
            "samples from training: possible sample contamination, a genotyping problem, or ancestry or "
            "relatedness unlike the cohort's."
        )
    return out


def infer_sex_many(
    vcf: str | Path,
    samples: Sequence[str],
    *,
    min_sites: int = 50,
    male_max_het: float = 0.02,
    female_min_het: float = 0.10,
) -> dict[str, dict[str, Any]]:
    """:func:`genorisk.qc.infer_sex_single` for several samples of one VCF, in one pass over chrX.

    The same rule, record by record, for every sample at once: among a
    sample's non-reference chrX non-PAR SNV calls (any called allele not
    REF; missing alleles dropped), the share that are heterozygous (two or
    more called alleles, not all the same). Below ``min_sites`` such calls
    the answer is "unknown"; at most ``male_max_het`` male, at least
    ``female_min_het`` female, between them "unknown".

    Parameters
    ----------
    vcf : path
        A VCF/BCF holding ``samples`` (its chrX is read through the index
        when there is one, else by one pass).
    samples : sequence of str
        Sample names in the file (repeats allowed).
    min_sites, male_max_het, female_min_het
        As for :func:`genorisk.qc.infer_sex_single`.

    Returns
    -------
    dict
        Per sample name, ``inferred_sex``, ``n_sites`` and ``het_fraction``
        (None if no sites), exactly as :func:`genorisk.qc.infer_sex_single` gives.
    """
    names = list(dict.fromkeys(samples))
    reader = VCF(str(vcf), samples=names, lazy=True)
    try:
        column = {s: j for j, s in enumerate(reader.samples)}  # htslib keeps the file's order
        n_het = np.zeros(len(reader.samples), dtype=np.int64)
        n_nonref = np.zeros(len(reader.samples), dtype=np.int64)
        for contig in [c for c in reader.seqnames if c in ("X", "chrX", "23")]:
            try:
                records = reader(contig)
            except Exception:  # no index: stream the whole file instead
                records = (r for r in reader if contig == r.CHROM)
            # The calls of the records that count, grouped by their width (ploidy) and counted in blocks.
            calls: dict[int, list[np.ndarray]] = {}
            for rec in records:
                if in_par(rec.POS) or not rec.is_snp:
                    continue
                alleles = rec.genotype.array()[:, :-1]
                block = calls.setdefault(alleles.shape[1], [])
                block.append(alleles)
                if len(block) >= _SEX_BLOCK_RECORDS:
                    _count_chrx_calls(block, n_nonref, n_het)
                    block.clear()
            for block in calls.values():
                if block:
                    _count_chrx_calls(block, n_nonref, n_het)
    finally:
        reader.close()
    out = {}
    for sample in names:
        j = column[sample]
        out[sample] = sex_from_het_counts(
            n_het[j], n_nonref[j], min_sites=min_sites, male_max_het=male_max_het, female_min_het=female_min_het
        )
    return out


#: chrX records whose calls :func:`infer_sex_many` counts at once.
_SEX_BLOCK_RECORDS = 10_000


def _count_chrx_calls(block: list[np.ndarray], n_nonref: np.ndarray, n_het: np.ndarray) -> None:
    """Add the non-reference and heterozygous calls of ``block`` (records of one ploidy width) per sample."""
    a = np.stack(block)  # (records, samples, ploidy); -1 missing, -2 vector end
    called = a >= 0
    highest = np.where(called, a, -1).max(axis=2)
    lowest = np.where(called, a, np.iinfo(a.dtype).max).min(axis=2)
    nonref = highest > 0
    n_nonref += nonref.sum(axis=0)
    n_het += (nonref & (called.sum(axis=2) >= 2) & (lowest != highest)).sum(axis=0)
