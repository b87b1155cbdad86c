"""The cohort's genotypes in every form users have them give the same store, QC, features and model.

The session's small demo (one VCF) is the reference. Its cohort is converted
with plink2 (and split with bcftools) into per-chromosome VCFs, a PLINK 2
fileset, a PLINK 1 fileset and BGEN, and the workflow runs from each form on
a config without the demo's simulation. Every genotype stage reads the store,
so the QC tables, the feature matrix and the trained model must be the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake

pytestmark = pytest.mark.slow

PLINK2 = shutil.which("plink2")
BCFTOOLS = shutil.which("bcftools")

#: The demo's traits (config/demo.yaml): each has its features and model.
TRAITS = ("demo_disease", "demo_interaction")
# Files that must be identical to the one-VCF run's.
SAME_BYTES = [
    *(f"model/{t}/{name}" for t in TRAITS for name in ("model.ubj", "calibrator.json", "cohort_risks.json")),
    "qc/excluded_samples.tsv",
]
SAME_TABLES = [
    *(f"features/{t}/cohort.parquet" for t in TRAITS),
    "qc/variant_qc.parquet",
    "qc/sample_qc.tsv",
    "qc/excluded_variants.tsv",
]
#: Targets: every trait's metrics (training, not the patients).
METRICS = [f"results/model/{t}/metrics.json" for t in TRAITS]


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


@pytest.fixture(scope="module")
def forms(local_demo, tmp_path_factory) -> dict[str, dict]:
    """The demo cohort as every input form: config `cohort:` entries by form."""
    assert PLINK2 and BCFTOOLS, "plink2 and bcftools are needed (envs/apt-runtime.txt)"
    demo = local_demo / "resources/demo"
    out = tmp_path_factory.mktemp("forms")
    vcf = demo / "cohort.vcf.gz"
    phenotypes = pd.read_csv(demo / "phenotypes.tsv", sep="\t", dtype=str)
    sex = out / "sex.tsv"
    sex.write_text(
        "#IID\tSEX\n"
        + "".join(
            f"{s}\t{1 if x == 'male' else 2}\n" for s, x in zip(phenotypes["sample_id"], phenotypes["sex"], strict=True)
        )
    )
    common = ["--threads", "1", "--memory", "1000", "--silent"]
    _run([PLINK2, "--vcf", str(vcf), "--update-sex", str(sex), "--vcf-half-call", "missing",
          "--output-chr", "chrM", "--make-pgen", "--out", str(out / "cohort"), *common])  # fmt: skip
    _run([PLINK2, "--pfile", str(out / "cohort"), "--make-bed", "--out", str(out / "cohort"), *common])
    _run([PLINK2, "--pfile", str(out / "cohort"), "--export", "bgen-1.2", "bits=8", "ref-first",
          "--out", str(out / "cohort"), *common])  # fmt: skip
    split = out / "split"
    split.mkdir()
    contigs = subprocess.run([BCFTOOLS, "index", "-s", str(vcf)], capture_output=True, text=True, check=True)
    for line in contigs.stdout.splitlines():
        chrom = line.split("\t")[0]
        part = split / f"cohort.{chrom}.vcf.gz"
        _run([BCFTOOLS, "view", "--no-version", "-r", chrom, "-Oz", "-o", str(part), str(vcf)])
        _run([BCFTOOLS, "index", "-c", str(part)])
    return {
        "vcfs": {"vcfs": str(split / "cohort.{chrom}.vcf.gz")},
        "pfile": {"pfile": str(out / "cohort")},
        "bfile": {"bfile": str(out / "cohort")},
        "bgen": {"bgen": str(out / "cohort.bgen"), "bgen_sample": str(out / "cohort.sample")},
    }


def _config_without_simulation(local_demo: Path, workdir: Path, genotypes: dict) -> Path:
    """The small demo's config for real data: the simulated files by absolute path, no `simulate:`."""
    cfg = yaml.safe_load((local_demo / "config.yaml").read_text())
    cfg.pop("simulate")
    demo = local_demo / "resources/demo"

    def absolute(path: str) -> str:
        return str(local_demo / path) if not Path(path).is_absolute() else path

    cfg["cohort"] = {
        **{k: absolute(v) for k, v in cfg["cohort"].items() if k in ("phenotypes", "truth")},
        "covariates": cfg["cohort"]["covariates"],
        **genotypes,
    }
    cfg["annotation"]["clinvar"] = absolute(cfg["annotation"]["clinvar"])
    cfg["annotation"]["population_af"]["vcf"] = absolute(cfg["annotation"]["population_af"]["vcf"])
    cfg["ancestry"]["reference_panel"] = absolute(cfg["ancestry"]["reference_panel"])
    cfg["scores"] = [absolute(s) for s in cfg["scores"]]
    sheet = pd.read_csv(local_demo / cfg["patients"]["sheet"], sep="\t", dtype=str)
    sheet["vcf"] = [absolute(v) for v in sheet["vcf"]]
    workdir.mkdir(parents=True, exist_ok=True)
    sheet.to_csv(workdir / "patients.tsv", sep="\t", index=False)
    cfg["patients"]["sheet"] = str(workdir / "patients.tsv")
    assert demo.is_dir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    return workdir


@pytest.mark.parametrize("form", ["vcfs", "pfile", "bfile", "bgen"])
def test_every_input_form_gives_the_same_features_and_model(local_demo, forms, form, tmp_path):
    workdir = _config_without_simulation(local_demo, tmp_path / form, forms[form])
    run_snakemake(workdir, *METRICS)
    new, ref = workdir / "results", local_demo / "results"
    store = json.loads((new / "store/store.json").read_text())
    assert [c["chrom"] for c in store["chromosomes"]] == ["chr21", "chrX"], store["chromosomes"]
    for rel in SAME_TABLES:
        read = pd.read_parquet if rel.endswith(".parquet") else (lambda p: pd.read_csv(p, sep="\t"))
        pd.testing.assert_frame_equal(read(new / rel), read(ref / rel), obj=f"{form}: {rel}")
    for rel in SAME_BYTES:
        assert (new / rel).read_bytes() == (ref / rel).read_bytes(), f"{form}: {rel} differs from the one-VCF run"
    for trait in TRAITS:
        metrics = [json.loads((d / f"model/{trait}/metrics.json").read_text()) for d in (new, ref)]
        assert metrics[0] == metrics[1], f"{form}: {trait} metrics differ"


def test_a_phenotyped_person_missing_from_the_genotypes_is_named(local_demo, forms, tmp_path):
    workdir = _config_without_simulation(local_demo, tmp_path / "missing", forms["pfile"])
    phenotypes = pd.read_csv(local_demo / "resources/demo/phenotypes.tsv", sep="\t", dtype=str)
    extra = phenotypes.iloc[:1].assign(sample_id="NOT_GENOTYPED")
    pd.concat([phenotypes, extra]).to_csv(workdir / "phenotypes.tsv", sep="\t", index=False)
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    cfg["cohort"]["phenotypes"] = str(workdir / "phenotypes.tsv")
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(workdir, "results/store/store.json", check=False)
    assert proc.returncode != 0
    log = (workdir / "results/logs/store_part/cohort.log").read_text()
    assert "NOT_GENOTYPED" in log, log[-2000:]
    assert not (workdir / "results/store/parts/cohort").exists()
    assert not (workdir / "results/store/store.json").exists()


@pytest.mark.parametrize(
    "form, shard_mb",
    [("vcf", None), ("vcf", 0.5), ("pfile", 0.5)],
    ids=["one-vcf-per-chromosome", "one-vcf-chunks", "pfile-chunks"],
)
def test_genome_shards_give_the_same_features_and_model(local_demo, forms, form, shard_mb, tmp_path):
    """One indexed VCF is split by chromosome through its index, and cohort.shard_mb cuts each
    chromosome into region chunks (one job each); the gathers give the one-part run's results."""
    genotypes = {"vcf": str(local_demo / "resources/demo/cohort.vcf.gz")} if form == "vcf" else forms[form]
    workdir = _config_without_simulation(local_demo, tmp_path / "shards", {**genotypes, "shard_mb": shard_mb})
    run_snakemake(workdir, *METRICS)
    new, ref = workdir / "results", local_demo / "results"
    shards = sorted(p.name for p in (new / "qc/shards").iterdir())
    if form == "vcf":
        assert (new / "qc/cohort.chr21.validation.json").exists() and (new / "qc/cohort.chrX.validation.json").exists()
    if shard_mb:
        assert any(name.startswith("cohort.chr21_c") for name in shards), shards
        assert len([n for n in shards if n.startswith("cohort.chr21_c")]) > 1, shards
    else:
        assert shards == ["cohort.chr21", "cohort.chrX"], shards
    for rel in SAME_TABLES:
        read = pd.read_parquet if rel.endswith(".parquet") else (lambda p: pd.read_csv(p, sep="\t"))
        pd.testing.assert_frame_equal(read(new / rel), read(ref / rel), obj=f"{form} {shard_mb}: {rel}")
    for rel in SAME_BYTES:
        assert (new / rel).read_bytes() == (ref / rel).read_bytes(), f"{form} {shard_mb}: {rel} differs"
