"""Haploid calls (male chrX, chrY, MT): patient zygosity and cohort allele frequencies.

Also: symbolic and ``*`` alleles kept out of dosage features and counted, and
sample names that ``bcftools view -s`` would misread.
"""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.features import cohort_features, select_dosage_variants
from genorisk.intake import call_zygosity, notable_variants
from genorisk.qc import run_qc

CONTIGS = (
    "##contig=<ID=chr1,length=248956422>\n##contig=<ID=chrX,length=156040895>\n"
    "##contig=<ID=chrY,length=57227415>\n##contig=<ID=chrM,length=16569>\n"
)
GT_HEADER = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'


def write_vcf(path, samples: list[str], rows: list[str], info_header: str = "", index: bool = True):
    """A bgzipped (and tabix-indexed) VCF from body rows; returns the .vcf.gz path."""
    plain = path.with_suffix("")
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\t" + "\t".join(samples) if samples else "")
    plain.write_text(
        "##fileformat=VCFv4.2\n"
        + CONTIGS
        + info_header
        + (GT_HEADER if samples else "")
        + cols
        + "\n"
        + "\n".join(rows)
        + "\n"
    )
    pysam.tabix_compress(str(plain), str(path), force=True)
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def clinvar_for(path, sites: list[tuple[str, int, str, str]]):
    """A ClinVar-style VCF calling every given allele Pathogenic (so each carried one is notable)."""
    info = (
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="significance">\n'
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="review status">\n'
    )
    rows = [
        f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=reviewed_by_expert_panel"
        for i, (c, p, r, a) in enumerate(sorted(set(sites), key=lambda s: (s[0], s[1], s[3])), 1)
    ]
    return write_vcf(path, [], rows, info_header=info)


# ------------------------------------------------------------------ zygosity

# (chrom, pos, ref, alt, GT) -> expected zygosity of a male / female / sex-unknown patient, GRCh38.
ZYGOSITY_CASES = [
    ("chr1", 1000, "A", "G", "0/1", "heterozygous", "heterozygous", "heterozygous"),
    ("chr1", 2000, "C", "T", "1/1", "homozygous", "homozygous", "homozygous"),
    ("chr1", 2500, "C", "T", "1|0", "heterozygous", "heterozygous", "heterozygous"),
    # PAR1 (GRCh38 chrX:10,001-2,781,479) behaves as an autosome, also in males.
    ("chrX", 1_000_000, "A", "G", "0/1", "heterozygous", "heterozygous", "heterozygous"),
    ("chrX", 1_500_000, "A", "G", "1/1", "homozygous", "homozygous", "homozygous"),
    # Outside the PARs: a haploid call is hemizygous whatever the recorded sex.
    ("chrX", 5_000_000, "A", "G", "1", "hemizygous", "hemizygous", "hemizygous"),
    # A diploid caller's 1/1 outside the PARs: one copy in a male.
    ("chrX", 6_000_000, "T", "C", "1/1", "hemizygous", "homozygous", "homozygous"),
    ("chrX", 7_000_000, "T", "C", "0/1", "heterozygous", "heterozygous", "heterozygous"),
    # PAR2 (GRCh38 chrX:155,701,383-156,030,895).
    ("chrX", 155_800_000, "G", "A", "1/1", "homozygous", "homozygous", "homozygous"),
    ("chrY", 3_000_000, "C", "T", "1", "hemizygous", "hemizygous", "hemizygous"),
    ("chrY", 4_000_000, "C", "T", "1/1", "hemizygous", "homozygous", "homozygous"),
    # Mitochondrion: homoplasmic calls are reported "hemizygous", heteroplasmic ones "heterozygous".
    ("chrM", 3243, "A", "G", "1", "hemizygous", "hemizygous", "hemizygous"),
    ("chrM", 8344, "A", "G", "1/1", "hemizygous", "hemizygous", "hemizygous"),
    ("chrM", 8993, "T", "G", "0/1", "heterozygous", "heterozygous", "heterozygous"),
]


@pytest.fixture(scope="module")
def zygosity_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zygosity")
    rows = [f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\tGT\t{gt}" for c, p, r, a, gt, *_ in ZYGOSITY_CASES]
    # A multiallelic record: the 1/2 call is heterozygous for each ALT.
    rows.insert(3, "chr1\t3000\t.\tA\tC,T\t.\t.\t.\tGT\t1/2")
    # Not carried (-c1 drops it) and a missing call: never listed.
    rows.insert(4, "chr1\t4000\t.\tG\tA\t.\t.\t.\tGT\t0/0")
    rows.insert(5, "chr1\t5000\t.\tG\tA\t.\t.\t.\tGT\t./.")
    patient = write_vcf(tmp / "patient.vcf.gz", ["P"], rows)
    sites = [(c, p, r, a) for c, p, r, a, *_ in ZYGOSITY_CASES]
    sites += [("chr1", 3000, "A", "C"), ("chr1", 3000, "A", "T"), ("chr1", 4000, "G", "A"), ("chr1", 5000, "G", "A")]
    return patient, clinvar_for(tmp / "clinvar.vcf.gz", sites)


@pytest.mark.parametrize("male,column", [(True, 5), (False, 6), (None, 7)])
def test_notable_variant_zygosity_comes_from_the_call(zygosity_files, male, column):
    patient, clinvar = zygosity_files
    found = notable_variants(patient, "P", male=male, genome_build="GRCh38", clinvar=clinvar)
    got = {(v["chrom"], v["pos"], v["alt"]): v["zygosity"] for v in found}
    expected = {(case[0], case[1], case[3]): case[column] for case in ZYGOSITY_CASES}
    expected[("chr1", 3000, "C")] = expected[("chr1", 3000, "T")] = "heterozygous"
    assert got == expected


def test_par_boundaries_follow_the_genome_build():
    # chrX:2,700,000 is PAR1 in GRCh38 (ends 2,781,479) but not in GRCh37 (ends 2,699,520).
    assert call_zygosity("chrX", 2_700_000, [1, 1], 1, male=True, genome_build="GRCh38") == "homozygous"
    assert call_zygosity("X", 2_700_000, [1, 1], 1, male=True, genome_build="GRCh37") == "hemizygous"
    assert call_zygosity("X", 60_001, [1, 1], 1, male=True, genome_build="GRCh37") == "homozygous"
    assert call_zygosity("X", 60_000, [1, 1], 1, male=True, genome_build="GRCh37") == "hemizygous"
    assert call_zygosity("chrX", 2_781_479, [1, 1], 1, male=True, genome_build="GRCh38") == "homozygous"
    assert call_zygosity("chrX", 2_781_480, [1, 1], 1, male=True, genome_build="GRCh38") == "hemizygous"
    # Vector-end padding (-2) of a haploid call in a diploid record; missing alleles: no call.
    assert call_zygosity("MT", 100, [1, -2], 1) == "hemizygous"
    assert call_zygosity("chr1", 100, [-1, 1], 1) is None
    assert call_zygosity("chr1", 100, [0, 2], 1) is None


def test_sample_name_with_comma_is_selected_exactly(tmp_path):
    # With `bcftools view -s "A,B"` the name would be split into samples A and B.
    rows = [
        "chr1\t1000\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\t0/0",
        "chr1\t2000\t.\tC\tT\t.\t.\t.\tGT\t0/0\t1/1\t0/0\t0/1",
        "chr1\t3000\t.\tG\tA\t.\t.\t.\tGT\t0/0\t0/0\t0/1\t0/0",
    ]
    patient = write_vcf(tmp_path / "p.vcf.gz", ["A,B", "A", "B", "^A"], rows)
    clinvar = clinvar_for(
        tmp_path / "clinvar.vcf.gz", [("chr1", 1000, "A", "G"), ("chr1", 2000, "C", "T"), ("chr1", 3000, "G", "A")]
    )

    def carried(sample):
        return [(v["pos"], v["zygosity"]) for v in notable_variants(patient, sample, clinvar=clinvar)]

    assert carried("A,B") == [(1000, "heterozygous")]
    assert carried("A") == [(2000, "homozygous")]
    assert carried("B") == [(3000, "heterozygous")]
    assert carried("^A") == [(2000, "heterozygous")]  # -s "^A" would mean "all but A"


# ------------------------------------------------------- cohort allele frequencies

# Samples M1 M2 (male), F1 F2 (female). Males are haploid on chrX outside the
# PARs and on chrY, diploid in PAR1; females have no chrY call; MT is haploid.
COHORT_SAMPLES = ["M1", "M2", "F1", "F2"]
COHORT_MALE = np.array([True, True, False, False])
COHORT_ROWS = [
    "chr1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t./.",
    "chr1\t200\t.\tA\tG,T\t.\t.\t.\tGT\t1/2\t0/2\t2/2\t0/1",
    "chr1\t300\t.\tC\tT\t.\t.\t.\tGT\t0|1\t0|0\t1|1\t0/1",
    "chrX\t1000000\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t0/1",  # PAR1: males diploid
    "chrX\t5000000\t.\tA\tG\t.\t.\t.\tGT\t1\t0\t0/1\t1/1",  # non-PAR
    "chrX\t5001000\t.\tT\tC\t.\t.\t.\tGT\t1\t.\t1/1\t0/0",
    "chrY\t3000000\t.\tC\tT\t.\t.\t.\tGT\t1\t0\t.\t.",
    "chrY\t3001000\t.\tG\tA\t.\t.\t.\tGT\t1\t1\t.\t.",
    "chrM\t100\t.\tA\tG\t.\t.\t.\tGT\t1\t1\t1\t1",
    "chrM\t200\t.\tA\tG\t.\t.\t.\tGT\t1\t1\t0\t0",
    "chrM\t300\t.\tC\tT\t.\t.\t.\tGT\t1\t0\t0\t.",
]
# AC / AN by hand, per ALT row in file order.
COHORT_AF = [3 / 6, 2 / 8, 4 / 8, 4 / 8, 4 / 8, 4 / 6, 3 / 5, 1 / 2, 2 / 2, 4 / 4, 2 / 4, 1 / 3]


@pytest.fixture(scope="module")
def haploid_cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("haploid_cohort")
    gz = write_vcf(tmp / "cohort.vcf.gz", COHORT_SAMPLES, COHORT_ROWS)
    bcf = tmp / "cohort.bcf"
    subprocess.run(["bcftools", "view", "-Ob", "-o", str(bcf), str(gz)], check=True)
    return gz, bcf


@pytest.mark.parametrize("fmt", ["vcf.gz", "bcf"])  # text engine, cyvcf2 engine
def test_feature_allele_frequency_equals_qc_for_every_ploidy(haploid_cohort, fmt):
    path = haploid_cohort[0] if fmt == "vcf.gz" else haploid_cohort[1]
    variants, dos, freqs, _ = select_dosage_variants(
        path, COHORT_SAMPLES, min_maf=0.0, min_call_rate=0.0, male=COHORT_MALE
    )
    qc = run_qc(path).variants
    np.testing.assert_allclose(freqs["af"].to_numpy(), COHORT_AF)
    np.testing.assert_allclose(freqs["af"].to_numpy(), qc["alt_af"].to_numpy())
    assert (freqs[["pos", "alt"]].to_numpy() == qc[["pos", "alt"]].to_numpy()).all()
    # The dosages themselves keep plink2's scale: male chrX haploid 0/2, chrY and MT 0/1.
    x = variants.index[(variants["chrom"] == "chrX") & (variants["pos"] == 5_000_000)][0]
    np.testing.assert_array_equal(dos[:, x], [2, 0, 1, 2])
    y = variants.index[(variants["chrom"] == "chrY") & (variants["pos"] == 3_000_000)][0]
    np.testing.assert_array_equal(dos[:, y], [1, 0, np.nan, np.nan])
    assert variants.loc[y, "cohort_af"] == pytest.approx(0.5)


@pytest.mark.parametrize("fmt", ["vcf.gz", "bcf"])
def test_allele_frequency_counts_only_the_requested_samples(haploid_cohort, fmt):
    path = haploid_cohort[0] if fmt == "vcf.gz" else haploid_cohort[1]
    subset = ["F2", "M1"]
    _, _, freqs, _ = select_dosage_variants(path, subset, min_maf=0.0, min_call_rate=0.0, male=np.array([False, True]))
    qc = run_qc(path, samples=subset).variants
    np.testing.assert_allclose(freqs["af"].to_numpy(), np.nan_to_num(qc["alt_af"].to_numpy(), nan=0.0))


def test_maf_filter_uses_allele_counts(haploid_cohort):
    # chrY:3001000 (both males '1') and chrM:100 are monomorphic ALT; chrM:200 has AF 0.5
    # (a mean-dosage / 2 frequency said 0.25 and would drop it at min_maf 0.3).
    variants, *_ = select_dosage_variants(
        haploid_cohort[0], COHORT_SAMPLES, min_maf=0.3, min_call_rate=0.0, male=COHORT_MALE
    )
    kept = set(zip(variants["chrom"], variants["pos"], strict=False))
    assert ("chrM", 200) in kept and ("chrY", 3_000_000) in kept
    assert ("chrM", 100) not in kept and ("chrY", 3_001_000) not in kept


# ------------------------------------------------- symbolic and '*' alleles

SYMBOLIC_ROWS = [
    "chr1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t0/1",
    "chr1\t200\t.\tA\t<DEL>\t.\t.\tSVTYPE=DEL;END=900\tGT\t0/1\t0/1\t0/0\t1/1",
    "chr1\t300\t.\tC\tT,*\t.\t.\t.\tGT\t0/1\t1/2\t0/2\t2/2",
    "chr1\t400\t.\tG\t<INS>\t.\t.\tSVTYPE=INS\tGT\t0/1\t0/0\t0/1\t0/0",
    "chr1\t500\t.\tG\tG]chr1:800]\t.\t.\tSVTYPE=BND\tGT\t0/1\t0/1\t0/0\t0/0",
    "chr1\t600\t.\tT\tA\t.\t.\t.\tGT\t0/1\t0/0\t1/1\t0/0",
    "chr1\t700\t.\tA\t*\t.\t.\t.\tGT\t0/1\t0/0\t0/0\t1/1",
]


def test_symbolic_and_star_alleles_are_counted_not_features(tmp_path, caplog):
    info = (
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="type">\n'
        '##INFO=<ID=END,Number=1,Type=Integer,Description="end">\n'
        '##ALT=<ID=DEL,Description="Deletion">\n##ALT=<ID=INS,Description="Insertion">\n'
    )
    vcf = write_vcf(tmp_path / "sv.vcf.gz", COHORT_SAMPLES, SYMBOLIC_ROWS, info_header=info)
    phenotypes = pd.DataFrame(
        {"sex": ["male", "male", "female", "female"], "age": [40.0, 50, 60, 70]},
        index=pd.Index(COHORT_SAMPLES, name="sample_id"),
    )
    with caplog.at_level(logging.INFO, logger="genorisk.features"):
        features, schema = cohort_features(
            vcf, phenotypes, min_maf=0.01, min_call_rate=0.5, covariates=["age"], n_components=0
        )
    dosage = [f["definition"] for f in schema["features"] if f["kind"] == "dosage"]
    assert [(d["pos"], d["alt"]) for d in dosage] == [(100, "G"), (300, "T"), (600, "A")]
    counts = schema["dosage_selection"]
    assert counts["alt_alleles"] == 8
    assert (counts["symbolic"], counts["spanning_deletion"], counts["other_non_acgtn"]) == (3, 2, 0)
    assert counts["kept"] == 3
    assert "3 symbolic, 2 '*'" in caplog.text
    assert list(features.columns) == [f["name"] for f in schema["features"]]
