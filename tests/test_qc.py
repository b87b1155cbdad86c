"""Cohort and sample QC (genorisk.qc) against bcftools stats and plink2 --hardy.

The synthetic cohort is written as VCF text in tmp_path (numpy genotypes,
seeded): autosomal SNVs in HWE, chrX with haploid male calls and diploid
female calls, PAR calls, missing and half-missing calls, a multiallelic site,
an indel, a multi-base SNV, an ALT "." site, a variant far out of HWE, a
low-call-rate variant, a low-call-rate sample, a heterozygosity outlier and a
sample whose recorded sex contradicts its chrX.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.errors import ConfigError, InputError
from genorisk.genotypes import iter_dosage_chunks
from genorisk.qc import QCThresholds, apply_thresholds, htslib_variant_type, hwe_exact_p, run_qc, write_qc

DATA = Path(__file__).resolve().parent / "data" / "peer-data" / "files"
BASES = np.array(list("ACGT"))
N_MALE, N_FEMALE = 40, 40
MALES = [f"m{i}" for i in range(N_MALE)]
FEMALES = [f"f{i}" for i in range(N_FEMALE)]
SAMPLES = MALES + FEMALES
LOW_CALL = "f38"  # 40% of calls missing
HET_OUTLIER = "m38"  # heterozygous at every autosomal SNV
SEX_SWAP = "f39"  # recorded as male, chrX says female
RECORDED_SEX = {s: "male" for s in MALES} | {s: "female" for s in FEMALES} | {SEX_SWAP: "male"}
STATUS = {s: i % 2 for i, s in enumerate(SAMPLES)}  # alternate case / control
HWE_POS, LOWCALL_VAR_POS, MIXED_PLOIDY_POS = 50_000, 60_000, 70_600
N_X_NONPAR = 600  # enough for female F within +/- 0.2 of 0

needs_bcftools = pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed")
needs_plink2 = pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")


def _gt(a, b=None) -> str:
    return str(a) if b is None else f"{a}/{b}"


def _diploid_row(rng, p, n, missing_rate=0.01):
    a = (rng.random((n, 2)) < p).astype(int)
    calls = [f"{x}/{y}" for x, y in a]
    for j in np.flatnonzero(rng.random(n) < missing_rate):
        calls[j] = "./." if rng.random() < 0.7 else "./1"
    return calls


def make_cohort_vcf(path: Path, seed: int = 7) -> Path:
    """Write the synthetic cohort VCF described in the module docstring."""
    rng = np.random.default_rng(seed)
    n = len(SAMPLES)
    i_low, i_het = SAMPLES.index(LOW_CALL), SAMPLES.index(HET_OUTLIER)
    lines = []

    def add(chrom, pos, ref, alt, calls, vid=None):
        lines.append("\t".join([chrom, str(pos), vid or f"{chrom}_{pos}", ref, alt, ".", "PASS", ".", "GT", *calls]))

    for k in range(300):  # autosomal biallelic SNVs
        pos = 1000 + 100 * k
        ref, alt = rng.choice(BASES, 2, replace=False)
        calls = _diploid_row(rng, rng.uniform(0.05, 0.5), n)
        calls[i_het] = "0/1"
        if rng.random() < 0.4:
            calls[i_low] = "./."
        add("1", pos, ref, alt, calls)
    add("1", HWE_POS, "C", "T", ["0/1"] * (n - 4) + ["0/0", "1/1", "0/0", "./."])  # far out of HWE
    calls = _diploid_row(rng, 0.3, n)
    calls = [c if j % 5 == 0 else "./." for j, c in enumerate(calls)]  # 20% called
    add("1", LOWCALL_VAR_POS, "G", "A", calls)
    multi = rng.choice(
        ["0/0", "0/1", "0/2", "1/2", "2/2", "1/1", "./.", "./1", "1|2"],
        size=n,
        p=[0.3, 0.2, 0.15, 0.1, 0.05, 0.1, 0.04, 0.03, 0.03],
    )
    add("1", 70_000, "A", "G,T", list(multi))
    add("1", 70_100, "AT", "A", _diploid_row(rng, 0.2, n))  # deletion
    add("1", 70_200, "ACT", "AGT", _diploid_row(rng, 0.2, n))  # multi-base SNV
    add("1", 70_300, "AC", "GT", _diploid_row(rng, 0.2, n))  # MNP
    add("1", 70_400, "A", "G,AT", list(rng.choice(["0/0", "0/1", "0/2", "1/2", "2/2"], size=n)))  # SNV + indel
    add("1", 70_500, "C", ".", ["0/0"] * (n - 2) + ["./.", "0/0"])  # no ALT
    mixed = _diploid_row(rng, 0.3, n)
    mixed[:6] = ["0/1/1", "0/0/0", "1/1/1", "1", "0", "./."]  # mixed ploidy
    add("1", MIXED_PLOIDY_POS, "T", "C", mixed)

    for k in range(2):  # PAR1 (both builds): males diploid
        add("X", 100_000 + 1000 * k, "A", "G", _diploid_row(rng, 0.3, n))
    for k in range(N_X_NONPAR):  # non-PAR chrX: males haploid
        pos = 3_000_000 + 1000 * k
        ref, alt = rng.choice(BASES, 2, replace=False)
        p = rng.uniform(0.1, 0.5)
        calls = _diploid_row(rng, p, n)
        for j in range(N_MALE):
            calls[j] = "." if rng.random() < 0.01 else str(int(rng.random() < p))
        if rng.random() < 0.4:
            calls[i_low] = "./."
        add("X", pos, ref, alt, calls)

    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=249250621>",
        "##contig=<ID=X,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *SAMPLES]),
    ]
    path.write_text("\n".join(header + lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    path = make_cohort_vcf(tmp_path_factory.mktemp("qc") / "cohort.vcf")
    th = QCThresholds(sex_min_variants=50, sex_check="exclude")
    return path, run_qc(path, recorded_sex=RECORDED_SEX, thresholds=th, chunk_size=64)


def bcftools_psc(path: Path) -> tuple[pd.DataFrame, tuple[int, int]]:
    out = subprocess.run(["bcftools", "stats", "-s", "-", str(path)], check=True, capture_output=True, text=True).stdout
    psc = [line.split("\t") for line in out.splitlines() if line.startswith("PSC\t")]
    cols = [
        "PSC",
        "id",
        "sample",
        "nRefHom",
        "nNonRefHom",
        "nHets",
        "nTransitions",
        "nTransversions",
        "nIndels",
        "depth",
        "nSingletons",
        "nHapRef",
        "nHapAlt",
        "nMissing",
    ]
    table = pd.DataFrame(psc, columns=cols).set_index("sample")
    tstv = next(line.split("\t") for line in out.splitlines() if line.startswith("TSTV\t"))
    return table, (int(tstv[2]), int(tstv[3]))


def assert_matches_bcftools(path: Path, result) -> None:
    psc, (ts, tv) = bcftools_psc(path)
    ours = result.samples.set_index("sample")
    assert list(ours.index) == list(psc.index)
    pairs = {
        "n_hom_ref": "nRefHom",
        "n_hom_alt": "nNonRefHom",
        "n_het": "nHets",
        "n_snv_ts": "nTransitions",
        "n_snv_tv": "nTransversions",
        "n_hap_ref": "nHapRef",
        "n_hap_alt": "nHapAlt",
        "n_missing": "nMissing",
    }
    for col, theirs in pairs.items():
        np.testing.assert_array_equal(ours[col].to_numpy(), psc[theirs].astype(int).to_numpy(), err_msg=col)
    assert (result.cohort["ts"], result.cohort["tv"]) == (ts, tv)


# ------------------------------------------------------------------ oracles


@needs_bcftools
def test_sample_counts_and_titv_match_bcftools_stats(cohort):
    path, result = cohort
    assert_matches_bcftools(path, result)
    # the file exercises every class the comparison is about
    s = result.samples
    assert (s["n_hap_alt"] > 0).all() or (s["n_hap_alt"][:N_MALE] > 0).all()
    assert s["n_het"].sum() > 0 and s["n_snv_tv"].sum() > 0 and s["n_missing"].sum() > 0


@needs_bcftools
def test_chunking_does_not_change_results(cohort):
    path, small_chunks = cohort
    one_chunk = run_qc(path, recorded_sex=RECORDED_SEX, thresholds=small_chunks.thresholds, chunk_size=100_000)
    pd.testing.assert_frame_equal(one_chunk.variants, small_chunks.variants)
    pd.testing.assert_frame_equal(one_chunk.samples, small_chunks.samples)


@needs_plink2
@pytest.mark.parametrize("controls_only", [False, True])
def test_hwe_p_matches_plink2_hardy(cohort, tmp_path, controls_only):
    path, result = cohort
    argv = [
        "plink2",
        "--vcf",
        str(path),
        "--chr",
        "1",
        "--max-alleles",
        "2",
        "--vcf-half-call",
        "missing",
        "--hardy",
        "--memory",
        "640",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "h"),
    ]
    if controls_only:
        keep = tmp_path / "controls.txt"
        keep.write_text("".join(f"{s}\n" for s, st in STATUS.items() if st == 0))
        argv += ["--keep", str(keep)]
        result = run_qc(path, status=STATUS, recorded_sex=RECORDED_SEX)
        assert result.cohort["hwe_on"] == "controls"
    subprocess.run(argv, check=True, capture_output=True)
    hardy = pd.read_csv(tmp_path / "h.hardy", sep="\t")
    hardy = hardy[hardy["AX"] != "."]  # the ALT "." site has no ALT row here
    v = result.variants
    ours = v[(v["chrom"] == "1") & (v["n_alt"] == 1)].copy()
    ours["ID"] = "1_" + ours["pos"].astype(str)
    merged = ours.merge(hardy, on="ID")
    assert len(merged) == len(hardy) >= 300
    # plink2 imports haploid calls as homozygous diploid and so tests them; genorisk
    # leaves haploid and triploid calls out of HWE (documented), so that site differs.
    mixed = merged["pos"] == MIXED_PLOIDY_POS
    assert (
        merged.loc[mixed, "hwe_n"].iloc[0]
        < merged.loc[mixed, ["HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT"]].sum(axis=1).iloc[0]
    )
    merged = merged[~mixed]
    # plink2's A1 is REF here: HOM_A1 = hom ref, TWO_AX = hom alt
    np.testing.assert_array_equal(merged["hwe_n"], merged[["HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT"]].sum(axis=1))
    # plink2 prints 6 significant digits
    np.testing.assert_allclose(merged["hwe_p"], merged["P"], rtol=1e-5, atol=0)
    assert merged.loc[merged["pos"] == HWE_POS, "hwe_p"].iloc[0] < 1e-6


def test_per_alt_frequencies_agree_with_dosage_reader(cohort):
    path, result = cohort
    frames, mats = [], []
    for chunk in iter_dosage_chunks(path, chunk_size=97):
        frames.append(chunk.variants)
        mats.append(chunk.dosages.copy())
    dos = np.concatenate(mats)
    keys = pd.concat(frames, ignore_index=True)[["chrom", "pos", "alt"]]
    v = result.variants
    pd.testing.assert_frame_equal(keys, v[["chrom", "pos", "alt"]], check_dtype=False)
    called = ~np.isnan(dos)
    np.testing.assert_allclose(v["call_rate"], called.mean(axis=1))
    # all-diploid autosomal rows: AF = mean dosage / 2 (a haploid call counts one allele here)
    autosomal = ((v["chrom"] == "1") & (v["pos"] != MIXED_PLOIDY_POS)).to_numpy()
    np.testing.assert_allclose(v["alt_af"][autosomal], np.nanmean(dos[autosomal], axis=1) / 2, rtol=1e-6)


def test_hwe_exact_p_against_enumeration():
    def brute(het, h1, h2):
        n, rare = het + h1 + h2, het + 2 * min(h1, h2)
        from math import exp, lgamma, log

        probs = {}
        for h in range(rare % 2, rare + 1, 2):
            r = (rare - h) // 2
            probs[h] = exp(h * log(2) - lgamma(n - h - r + 1) - lgamma(h + 1) - lgamma(r + 1))
        tot = sum(probs.values())
        return sum(p for p in probs.values() if p <= probs[het] * (1 + 1e-9)) / tot

    rng = np.random.default_rng(3)
    cases = rng.integers(0, 40, size=(60, 3))
    got = hwe_exact_p(cases[:, 0], cases[:, 1], cases[:, 2])
    want = [brute(*c) if c.sum() else np.nan for c in cases]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert np.isnan(hwe_exact_p([0], [0], [0])[0])
    assert hwe_exact_p([0], [100], [0])[0] == 1.0
    # extreme departure stays finite instead of underflowing
    assert 0 < hwe_exact_p([1000], [0], [0])[0] < 1e-250


def test_variant_classes_follow_htslib():
    assert htslib_variant_type("A", "G") == 1
    assert htslib_variant_type("ACT", "AGT") == 1  # SNV after trimming
    assert htslib_variant_type("AT", "A") == 4
    assert htslib_variant_type("AC", "GT") == 2
    assert htslib_variant_type("A", "<*>") == 0
    assert htslib_variant_type("A", "*") == 32


# ------------------------------------------------------------- sex, QC flags


def test_sex_inferred_from_chrx(cohort):
    _, result = cohort
    s = result.samples.set_index("sample")
    assert (s.loc[MALES, "inferred_sex"] == "male").all()
    assert (s.loc[MALES, "x_f"] == 1.0).all()  # haploid calls are homozygous
    females = [f for f in FEMALES if f != LOW_CALL]
    assert (s.loc[females, "inferred_sex"] == "female").all()
    assert s.loc[females, "x_f"].abs().max() < 0.2
    assert s.loc[SEX_SWAP, "sex_check"] == "mismatch"
    assert (s.drop(index=[SEX_SWAP, LOW_CALL])["sex_check"] == "consistent").all()
    # PAR variants (males diploid there) are not used for F
    assert (s["n_x_variants"] <= N_X_NONPAR).all()


def test_chrx_hwe_leaves_recorded_males_out(cohort):
    _, result = cohort
    v = result.variants
    x = v[(v["chrom"] == "X") & (v["pos"] > 3_000_000)]
    # males are haploid, so only females have diploid calls; a recorded male (the swap) is left out
    assert (x["hwe_n"] <= N_FEMALE - 1).all()
    assert (x["n_het"] + x["n_hom_ref"] + x["n_hom_alt"] <= N_FEMALE).all()


def test_exclusions_and_reasons(cohort):
    _, result = cohort
    ex_v, ex_s = apply_thresholds(result)
    reasons = dict(zip(ex_s["sample"], ex_s["reason"], strict=False))
    assert "low_call_rate" in reasons[LOW_CALL].split("; ")
    assert "het_outlier" in reasons[HET_OUTLIER].split("; ")
    assert reasons[SEX_SWAP] == "sex_mismatch"
    assert set(reasons) <= {LOW_CALL, HET_OUTLIER, SEX_SWAP}
    by_pos = dict(zip(ex_v["pos"], ex_v["reason"], strict=False))
    assert by_pos[HWE_POS] == "hwe"
    assert "low_call_rate" in by_pos[LOWCALL_VAR_POS].split("; ")
    assert not ex_v["reason"].str.contains("low_maf").any()  # min_maf 0 keeps rare variants

    warn = QCThresholds(sex_check="warn", min_maf=0.2, hwe_p_min=None, heterozygosity_sd=None, titv_range=(10.0, 20.0))
    ex_v2, ex_s2 = apply_thresholds(result, warn)
    assert (
        SEX_SWAP not in set(ex_s2["sample"]) or "sex_mismatch" not in ex_s2.set_index("sample").loc[SEX_SWAP, "reason"]
    )
    assert "titv_out_of_range" in ex_s2.set_index("sample").loc["m0", "reason"]
    assert not ex_v2["reason"].str.contains("hwe").any()
    low_maf = result.variants["maf"] < 0.2
    assert ex_v2["reason"].str.contains("low_maf").sum() == int(low_maf.sum())


def test_write_qc_outputs(cohort, tmp_path):
    _, result = cohort
    summary = write_qc(result, tmp_path / "qc")
    out = tmp_path / "qc"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["variant_qc.parquet", "sample_qc.tsv", "excluded_variants.tsv", "excluded_samples.tsv", "qc_summary.json"]
    )
    variants = pd.read_parquet(out / "variant_qc.parquet")
    assert len(variants) == len(result.variants)
    samples = pd.read_csv(out / "sample_qc.tsv", sep="\t")
    assert list(samples["sample"]) == SAMPLES
    ex_s = pd.read_csv(out / "excluded_samples.tsv", sep="\t")
    assert set(ex_s["sample"]) == {LOW_CALL, HET_OUTLIER, SEX_SWAP}
    on_disk = json.loads((out / "qc_summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["samples_excluded_by_reason"]["sex_mismatch"] == 1
    assert on_disk["variants_excluded_by_reason"]["hwe"] >= 1
    assert on_disk["thresholds"]["sex_check"] == "exclude"
    assert on_disk["cohort_titv"] == pytest.approx(result.cohort["ts"] / result.cohort["tv"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_samples_subset_and_order(cohort):
    path, full = cohort
    subset = ["f3", "m1", "f0"]
    sub = run_qc(path, samples=subset, thresholds=full.thresholds)
    assert list(sub.samples["sample"]) == subset
    cols = ["n_called", "n_missing", "n_hom_ref", "n_het", "n_hom_alt", "n_hap_alt", "n_snv_ts", "n_snv_tv"]
    want = full.samples.set_index("sample").loc[subset, cols].to_numpy()
    np.testing.assert_array_equal(sub.samples[cols].to_numpy(), want)


# ----------------------------------------------------------------- bad input


def test_thresholds_from_dict_rejects_unknown_and_bad_values():
    assert QCThresholds.from_dict({"hwe_p_min": 1e-8}).hwe_p_min == 1e-8
    with pytest.raises(ConfigError, match="hwe_pmin"):
        QCThresholds.from_dict({"hwe_pmin": 1e-8})
    with pytest.raises(ConfigError, match="sex_check"):
        QCThresholds.from_dict({"sex_check": "maybe"})
    with pytest.raises(ConfigError, match="titv_range"):
        QCThresholds.from_dict({"titv_range": [3.0, 1.0]})
    assert QCThresholds.from_dict({"titv_range": [1.5, 3]}).titv_range == (1.5, 3.0)


def test_allele_index_beyond_alt_count_names_record(tmp_path):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\n"
        "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\n"
        "1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/2\t0/0\n"
    )
    with pytest.raises(InputError, match=r"bad\.vcf: 1:20: GT allele index 2 > 1 ALT"):
        run_qc(vcf)
    with pytest.raises(InputError, match="not in this VCF"):
        run_qc(vcf, samples=["a", "zz"])
    # a real file htslib reads silently: triploid 0/1/2 with one ALT
    with pytest.raises(InputError, match=r"test63\.vcf: 19:112: GT allele index 2 > 1 ALT"):
        run_qc(DATA / "scikit-allel" / "test63.vcf")


# ---------------------------------------------------------------- real files


@needs_bcftools
@pytest.mark.parametrize(
    "relpath",
    [
        "cyvcf2/test-haploidX.vcf",  # male chrX haploid calls
        "vcfpy/freebayes.vcf",  # real caller output, multiallelic, indels
        "PharmCAT/raw.bcf",  # BCF, <*> ALT
        "htslib/vcf_file.vcf",  # ~300 ALT alleles, haploid calls
        "bcftools/convert.23andme.vcf",  # ALT ".", haploid Y calls
        "cyvcf2/no-seq-names.vcf",  # half-missing calls 0/. ./1
        "hail/small-ds.vcf",  # 100 samples, GT with DS
        "vcflib/1kg-phaseIII-v5a.20130502.genotypes.chr22-16-16.5mb.vcf.gz",  # 2504 samples, multiallelic
    ],
)
def test_real_files_match_bcftools(relpath):
    path = DATA / relpath
    result = run_qc(path)
    assert_matches_bcftools(path, result)
    assert result.cohort["n_records"] > 0
