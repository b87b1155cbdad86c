"""Scoring from bundles alone (config ``bundles:``) gives the full run's reports, byte for byte.

The session's small demo run (fixture ``local_demo``) trains every trait and
publishes its bundle under ``results/model/<trait>/``. A fresh folder, as on a
hospital's machine, gets only those bundles, the patients' VCFs and the
annotation resources: no cohort genotypes, phenotypes or QC tables. Its config
names the bundles instead of a cohort. The patients' reports must equal the
full run's; a bundle changed after publishing must stop the run, naming the
file; and the bundles must hold no individual-level data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake

from genorisk.model.bundle import scan_for_individual_data, verify_bundle

pytestmark = pytest.mark.slow

TRAITS = ("demo_disease", "demo_interaction")
PATIENTS = ("P1", "P2", "P3")
#: Config sections a score-only run keeps from the training run's config: the
#: patients, how their VCFs are annotated and reported, and the settings the
#: patient jobs read (features.burden_max_af, ancestry.outlier_rate).
KEPT_SECTIONS = ("outdir", "genome_build", "patients", "annotation", "report", "pgx", "features", "ancestry")


def _copy_file(src_root: Path, dest_root: Path, rel: str) -> None:
    """Copy ``rel`` (and its .tbi/.csi index, if any) from one folder to the same relative path in another."""
    for suffix in ("", ".tbi", ".csi"):
        src = src_root / f"{rel}{suffix}"
        if src.exists():
            (dest_root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest_root / f"{rel}{suffix}")


def score_only_folder(local_demo: Path, dest: Path) -> Path:
    """A folder with the demo's bundles, patient VCFs and annotation resources only, and a ``bundles:`` config."""
    full = yaml.safe_load((local_demo / "config.yaml").read_text())
    cfg = {key: full[key] for key in KEPT_SECTIONS if key in full}
    # The bundles live elsewhere than the training run's results/model/, so a report that
    # depended on where its bundle is would differ.
    cfg["bundles"] = [f"bundles/{trait}" for trait in TRAITS]
    dest.mkdir(parents=True)
    for trait in TRAITS:
        shutil.copytree(local_demo / "results/model" / trait, dest / "bundles" / trait)
    # The same relative paths as in the training run: a report names its patient's VCF.
    shutil.copy2(local_demo / full["patients"]["sheet"], dest / full["patients"]["sheet"])
    sheet = pd.read_csv(dest / full["patients"]["sheet"], sep="\t", dtype=str)
    for vcf in sheet["vcf"]:
        _copy_file(local_demo, dest, vcf)
    annotation = cfg["annotation"]
    for key in ("clinvar", "dbsnp", "fasta"):
        if annotation.get(key) and not Path(annotation[key]).is_absolute():
            _copy_file(local_demo, dest, annotation[key])
    if annotation.get("population_af") and not Path(annotation["population_af"]["vcf"]).is_absolute():
        _copy_file(local_demo, dest, annotation["population_af"]["vcf"])
    if "ancestry" in cfg:
        # The ancestry reference (PCA loadings, the panel's positions) comes from each bundle.
        cfg["ancestry"] = {**cfg["ancestry"], "reference_panel": None}
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert not (dest / "resources/demo/cohort.vcf.gz").exists()
    assert not (dest / "resources/demo/phenotypes.tsv").exists()
    return dest


def test_score_only_run_gives_the_full_runs_reports(local_demo, tmp_path):
    workdir = score_only_folder(local_demo, tmp_path / "hospital")
    proc = run_snakemake(workdir)
    text = proc.stdout + proc.stderr
    # No cohort stage ran: the patients were scored from the bundles alone.
    for rule in ("simulate_demo", "cohort_qc", "cohort_features", "train_model", "publish_model", "cohort_report"):
        assert f"rule {rule}:" not in text and f"rule {rule}\n" not in text, rule
    for pid in PATIENTS:
        for name in ("report.json", "report.html"):
            new = (workdir / "results/patients" / pid / name).read_bytes()
            full = (local_demo / "results/patients" / pid / name).read_bytes()
            assert new == full, f"{pid}/{name} differs from the full run's"
    for trait in TRAITS:  # read, never changed
        verify_bundle(workdir / "bundles" / trait)


def test_a_tampered_bundle_stops_the_score_only_run_naming_the_file(local_demo, tmp_path):
    workdir = score_only_folder(local_demo, tmp_path / "tampered")
    model = workdir / "bundles/demo_interaction/model.ubj"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    proc = run_snakemake(workdir, check=False)
    assert proc.returncode != 0
    logs = "\n".join(p.read_text() for p in (workdir / "results/logs").rglob("*.log"))
    text = proc.stdout + proc.stderr + logs
    assert "bundles/demo_interaction/model.ubj: SHA-256 differs from bundle.json" in text, text[-4000:]
    assert "tampered or incomplete bundle" in text
    for pid in PATIENTS:
        assert not (workdir / "results/patients" / pid / "report.json").exists()


def test_bundles_hold_no_individual_level_data(local_demo):
    phenotypes = pd.read_csv(local_demo / "resources/demo/phenotypes.tsv", sep="\t", dtype=str)
    sample_qc = pd.read_csv(local_demo / "results/qc/sample_qc.tsv", sep="\t", dtype=str)
    ids = set(phenotypes["sample_id"]) | set(sample_qc["sample"])
    for trait in TRAITS:
        bundle = local_demo / "results/model" / trait
        trained_on = json.loads((bundle / "metrics.json").read_text())["data"]["n_samples"]
        # Every per-sample length: all cohort samples, the QC-passed ones, the trait's training rows.
        sizes = {len(phenotypes), len(sample_qc), trained_on}
        assert scan_for_individual_data(bundle, ids, sizes=sizes) == [], trait
