"""QC from a pgen store, shard by shard, equals run_qc on the VCF it was made from."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.qc import QCThresholds, apply_thresholds, run_qc
from genorisk.qc.store import ShardQC, gather_qc, shard_qc

pytestmark = pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")

REPO = Path(__file__).resolve().parents[1]
GENE_MODEL = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"


def to_store(vcf: Path, sex: dict[str, str], out: Path) -> Path:
    """plink2 import as genorisk.store does it (sex at import, half-calls missing, PAR split, biallelic)."""
    sex_file = out.with_suffix(".sex.tsv")
    sex_file.write_text("#IID\tSEX\n" + "".join(f"{s}\t{1 if v == 'male' else 2}\n" for s, v in sex.items()))
    subprocess.run(
        ["plink2", "--vcf", str(vcf), "--update-sex", str(sex_file), "--vcf-half-call", "missing",
         "--split-par", "hg38", "--max-alleles", "2", "--output-chr", "chrM", "--set-all-var-ids", "@:#:$r:$a",
         "--new-id-max-allele-len", "50", "missing", "--threads", "1", "--memory", "1000", "--make-pgen",
         "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def assert_same_qc(want, got) -> None:
    """Exact counts, rates within 1e-12, identical exclusions."""
    for name in ("variants", "samples"):
        a, b = getattr(want, name), getattr(got, name)
        assert list(a.columns) == list(b.columns)
        assert len(a) == len(b)
        for col in a.columns:
            x, y = a[col].to_numpy(), b[col].to_numpy()
            assert a[col].dtype == b[col].dtype, (name, col)
            if x.dtype.kind == "f":
                np.testing.assert_allclose(y, x, rtol=0, atol=1e-12, equal_nan=True, err_msg=f"{name}.{col}")
            else:
                np.testing.assert_array_equal(y, x, err_msg=f"{name}.{col}")
    assert want.cohort == got.cohort
    for a, b in zip(apply_thresholds(want), apply_thresholds(got), strict=True):
        pd.testing.assert_frame_equal(a, b)


def _write_vcf(path: Path, samples: list[str], males: set[str], rng: np.random.Generator) -> None:
    """chr1 SNVs, indels and a multi-base SNV; chrX PAR1 (diploid males) and non-PAR (haploid males)."""
    sites = [("chr1", 1000 + 10 * i, "ACGT"[i % 4], "GTAC"[i % 4]) for i in range(60)]
    sites += [("chr1", 2000, "A", "AT"), ("chr1", 2010, "CTT", "C"), ("chr1", 2020, "ACT", "AGT")]
    sites += [("chrX", 100_000 + 100 * i, "C", "T") for i in range(5)]  # PAR1 of GRCh38
    sites += [("chrX", 5_000_000 + 100 * i, "AGCT"[i % 4], "GATC"[i % 4]) for i in range(70)]
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += ["##contig=<ID=chr1,length=248956422>", "##contig=<ID=chrX,length=156040895>"]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for chrom, pos, ref, alt in sites:
        p = rng.uniform(0.05, 0.6)
        cells = []
        for s in samples:
            haploid = chrom == "chrX" and pos > 3_000_000 and s in males
            if rng.random() < 0.04:
                cells.append("." if haploid else "./.")
            elif haploid:
                cells.append(str(int(rng.random() < p)))
            else:
                cells.append(f"{int(rng.random() < p)}/{int(rng.random() < p)}")
        lines.append("\t".join([chrom, str(pos), ".", ref, alt, ".", "PASS", ".", "GT", *cells]))
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_handmade_cohort_shards_equal_run_qc(tmp_path):
    rng = np.random.default_rng(4)
    samples = [f"S{i:02d}" for i in range(40)]
    males = set(samples[::2])
    sex = {s: "male" if s in males else "female" for s in samples}
    status = {s: int(i % 3 == 0) for i, s in enumerate(samples)}
    vcf = tmp_path / "x.vcf.gz"
    _write_vcf(vcf, samples, males, rng)
    store = to_store(vcf, sex, tmp_path / "store")
    th = QCThresholds(sex_min_variants=10)
    want = run_qc(vcf, recorded_sex=sex, status=status, thresholds=th)
    shards = [
        shard_qc(store, region="chr1:1-1500", status=status, thresholds=th),
        shard_qc(store, region="chr1:1501-", status=status, thresholds=th),
        shard_qc(store, region="PAR1", status=status, thresholds=th),
        shard_qc(store, region="chrX", status=status, thresholds=th),
    ]
    assert all(isinstance(s, ShardQC) for s in shards)
    got = gather_qc(shards, recorded_sex=sex)
    assert_same_qc(want, got)
    assert (got.samples["n_hap_alt"].to_numpy()[::2] > 0).all()  # males are haploid on non-PAR X
    assert set(got.samples["inferred_sex"]) <= {"male", "female", "unknown"}

    # A subset of samples, in another order, without status.
    subset = samples[::-3]
    want = run_qc(vcf, samples=subset, recorded_sex=sex, thresholds=th)
    got = gather_qc([shard_qc(store, samples=subset, thresholds=th)], recorded_sex=sex)
    assert_same_qc(want, got)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from genorisk.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("sim")
    cfg = SimulationConfig(
        seed=7, n_cohort=400, n_reference=50, start=25_000_001, end=26_000_000, demography="constant",
        outlier_population=None, n_causal=20, burden_genes=1, prevalence=0.2, chrx_bp=1_000_000, pgs_gwas_n=0,
    )  # fmt: skip
    patients = pd.DataFrame({"patient_id": ["P1"], "vcf": [str(out / "patients" / "P1.vcf.gz")], "sample": ["S1"]})
    simulate(cfg, patients, out, GENE_MODEL)
    pheno = pd.read_csv(out / "phenotypes.tsv", sep="\t", dtype=str)
    sex = dict(zip(pheno["sample_id"], pheno["sex"], strict=True))
    status = dict(zip(pheno["sample_id"], pheno["status"].astype(int), strict=True))
    return out / "cohort.vcf.gz", to_store(out / "cohort.vcf.gz", sex, out / "store"), sex, status


@pytest.mark.integration
def test_simulated_cohort_three_shards_equal_run_qc(simulated):
    vcf, store, sex, status = simulated
    want = run_qc(vcf, recorded_sex=sex, status=status)
    regions = ["chr21:1-25500000", "chr21:25500001-", "chrX"]
    got = gather_qc([shard_qc(store, region=r, status=status) for r in regions], recorded_sex=sex)
    assert_same_qc(want, got)
    assert (got.samples["sex_check"] == "consistent").mean() > 0.9
