"""QC from a pgen store, shard by shard, equals run_qc on the VCF it was made from."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.errors import InputError
from genorisk.qc import (
    QCThresholds,
    ShardQC,
    apply_thresholds,
    gather_qc,
    load_shard,
    run_qc,
    save_shard,
    shard_qc,
    write_gathered_qc,
    write_qc,
    write_store_qc,
)
from genorisk.qc.gather import ROW_GROUP_ROWS

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


def _write_vcf(
    path: Path, samples: list[str], males: set[str], rng: np.random.Generator, multi_base_snv: bool = True
) -> None:
    """chr1 SNVs, indels and a multi-base SNV; chrX PAR1 (diploid males) and non-PAR (haploid males)."""
    sites = [("chr1", 1000 + 10 * i, "ACGT"[i % 4], "GTAC"[i % 4]) for i in range(60)]
    sites += [("chr1", 2000, "A", "AT"), ("chr1", 2010, "CTT", "C")]
    sites += [("chr1", 2020, "ACT", "AGT")] if multi_base_snv else []
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


OUTPUTS = ("variant_qc.parquet", "sample_qc.tsv", "excluded_variants.tsv", "excluded_samples.tsv", "qc_summary.json")


def test_streamed_gather_writes_the_files_of_write_qc(tmp_path):
    """Shards decide their variants, the gather streams them: the same bytes as write_qc(run_qc(vcf))."""
    rng = np.random.default_rng(5)
    samples = [f"S{i:02d}" for i in range(40)]
    males = set(samples[::2])
    sex = {s: "male" if s in males else "female" for s in samples}
    status = {s: int(i % 3 == 0) for i, s in enumerate(samples)}
    vcf = tmp_path / "x.vcf.gz"
    _write_vcf(vcf, samples, males, rng)
    store = to_store(vcf, sex, tmp_path / "store")
    th = QCThresholds(
        sex_min_variants=10, min_variant_call_rate=0.97, min_maf=0.2, hwe_p_min=0.05, heterozygosity_sd=1.0
    )
    write_qc(run_qc(vcf, recorded_sex=sex, status=status, thresholds=th), tmp_path / "want")
    regions = ["chr1:1-1500", "chr1:1501-", "PAR1", "chrX"]
    folders = [
        save_shard(shard_qc(store, region=r, status=status, thresholds=th), tmp_path / "shards" / f"{i:03d}")
        for i, r in enumerate(regions)
    ]
    summary = write_gathered_qc(folders, tmp_path / "got", recorded_sex=sex, thresholds=th)
    for name in OUTPUTS:
        assert (tmp_path / "got" / name).read_bytes() == (tmp_path / "want" / name).read_bytes(), name
    assert summary["n_variants_excluded"] > 0 and summary["n_samples_excluded"] > 0
    assert set(summary["variants_excluded_by_reason"]) == {"low_call_rate", "low_maf", "hwe"}
    # A saved shard reads back as it was.
    again = load_shard(folders[1])
    pd.testing.assert_frame_equal(again.excluded_variants, apply_thresholds(gather_qc([again]), th)[0])

    # The shards judged their variants with their thresholds: the gather refuses others, and old shard folders.
    with pytest.raises(InputError, match="other thresholds"):
        write_gathered_qc(folders, tmp_path / "other", thresholds=QCThresholds())
    meta = json.loads((folders[0] / "shard.json").read_text())
    (folders[0] / "shard.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "format"}))
    with pytest.raises(InputError, match="rerun cohort_qc_shard"):
        write_gathered_qc(folders, tmp_path / "old")
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").glob("*.tsv"))


def _store_part(store: Path, part: Path) -> Path:
    """The store's chromosomes as a store part folder: one fileset each, part.json (as genorisk.store lays it)."""
    part.mkdir(parents=True)
    for name, select in (("chr1", ["--chr", "chr1"]), ("chrX", ["--not-chr", "chr1"])):
        subprocess.run(
            ["plink2", "--pfile", str(store), *select, "--output-chr", "chrM", "--make-pgen", "--threads", "1",
             "--memory", "1000", "--out", str(part / name)],
            check=True, capture_output=True,
        )  # fmt: skip
    (part / "part.json").write_text(json.dumps({"chromosomes": {"chr1": "chr1", "chrX": "chrX"}}))
    return part


@pytest.mark.parametrize("multi_base_snv", [False, True])
def test_plink2_shard_job_and_store_gather_equal_run_qc(tmp_path, multi_base_snv):
    """The workflow's QC: scripts/cohort_qc_shard.sh (plink2 only) per part, write_store_qc; run_qc's decisions.

    chr1 holds SNVs and indels (the het rate's SNV-only plink2 run) and, in one case, a multi-base SNV
    (that fileset is then counted by shard_qc); chrX always goes to shard_qc. Everything equals
    write_qc(run_qc(vcf)) byte for byte except hwe_p, which is plink2's (6 significant digits).
    """
    rng = np.random.default_rng(8)
    samples = [f"S{i:02d}" for i in range(40)]
    males = set(samples[::2])
    sex = {s: "male" if s in males else "female" for s in samples}
    status = {s: int(i % 3 == 0) for i, s in enumerate(samples)}
    vcf = tmp_path / "x.vcf.gz"
    _write_vcf(vcf, samples, males, rng, multi_base_snv=multi_base_snv)
    store = to_store(vcf, sex, tmp_path / "store")
    part = _store_part(store, tmp_path / "parts" / "cohort")
    analysed = samples[::-1][:-2]  # another order, and two genotyped people without a phenotype
    phenotypes = tmp_path / "phenotypes.tsv"
    phenotypes.write_text("sample_id\tstatus\tsex\n" + "".join(f"{s}\t{status[s]}\t{sex[s]}\n" for s in analysed))
    shard = tmp_path / "qc" / "shards" / "cohort"
    subprocess.run(
        ["bash", str(REPO / "scripts/cohort_qc_shard.sh"), str(part), str(phenotypes), str(shard)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (shard / "chr1.snps.scount").exists()  # chr1 has indels
    th = QCThresholds(sex_min_variants=10, min_variant_call_rate=0.92, hwe_p_min=0.3, heterozygosity_sd=1.0)
    summary = write_store_qc(
        [part], [shard], tmp_path / "got", samples=analysed, status=status, recorded_sex=sex, thresholds=th
    )
    write_qc(run_qc(vcf, samples=analysed, recorded_sex=sex, status=status, thresholds=th), tmp_path / "want")
    for name in OUTPUTS[1:]:
        assert (tmp_path / "got" / name).read_bytes() == (tmp_path / "want" / name).read_bytes(), name
    got = pd.read_parquet(tmp_path / "got" / "variant_qc.parquet")
    want = pd.read_parquet(tmp_path / "want" / "variant_qc.parquet")
    np.testing.assert_allclose(got.pop("hwe_p"), want.pop("hwe_p"), rtol=5e-6)
    pd.testing.assert_frame_equal(got, want)
    assert set(summary["variants_excluded_by_reason"]) == {"low_call_rate", "hwe"}


def test_plink2_p_close_to_the_threshold_is_recomputed_exactly():
    from genorisk.qc import hwe_exact_p
    from genorisk.qc.plink_counts import _decided_p

    counts = np.array([[400, 200, 20], [30, 10, 5], [0, 0, 0]])  # hom_ref, het, hom_alt
    exact = hwe_exact_p(counts[:, 1], counts[:, 0], counts[:, 2])
    printed = np.array([f"{p:.6g}" for p in exact[:2]] + ["nan"], dtype=float)
    th = QCThresholds(hwe_p_min=float(printed[0]))  # the first row's printed p is the threshold itself
    p = _decided_p(printed, counts, th)
    assert p[0] == exact[0] and p[1] == printed[1] and np.isnan(p[2])


@pytest.mark.integration
def test_streamed_gather_of_more_rows_than_a_row_group(tmp_path):
    """Past one row group the Parquet file is written in blocks; its rows are those of the in-memory gather."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(6)
    samples = [f"S{i}" for i in range(6)]
    n = ROW_GROUP_ROWS + 3000
    bases = np.array(list("ACGT"))
    ref = rng.integers(0, 4, n)
    alt = (ref + rng.integers(1, 4, n)) % 4
    gt = np.array(["0/0", "0/1", "1/1", "./."])[rng.choice(4, size=(n, len(samples)), p=[0.5, 0.3, 0.15, 0.05])]
    head = "##fileformat=VCFv4.2\n" + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    head += "##contig=<ID=chr1,length=248956422>\n"
    head += "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]) + "\n"
    rows = (
        f"chr1\t{100 + 10 * i}\t.\t{bases[ref[i]]}\t{bases[alt[i]]}\t.\tPASS\t.\tGT\t" + "\t".join(gt[i]) + "\n"
        for i in range(n)
    )
    vcf = tmp_path / "big.vcf.gz"
    with gzip.open(vcf, "wt", compresslevel=1) as fh:
        fh.write(head + "".join(rows))
    store = to_store(vcf, {s: "female" for s in samples}, tmp_path / "store")
    middle = 100 + 10 * (n // 2)
    folders = [
        save_shard(shard_qc(store, region=r), tmp_path / "shards" / str(i))
        for i, r in enumerate([f"chr1:1-{middle}", f"chr1:{middle + 1}-"])
    ]
    write_gathered_qc(folders, tmp_path / "got")
    written = pq.ParquetFile(tmp_path / "got" / "variant_qc.parquet")
    assert [written.metadata.row_group(i).num_rows for i in range(written.num_row_groups)] == [ROW_GROUP_ROWS, 3000]
    want = gather_qc([load_shard(f) for f in folders]).variants
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "got" / "variant_qc.parquet"), want)


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
