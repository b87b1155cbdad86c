"""Scoring from bundles alone (config ``bundles:``) gives the full run's reports, byte for byte.

The module's small demo run (fixture ``trained``: the session demo's config
with every setting a bundle carries set off its default) trains every trait
and publishes its bundle under ``results/model/<trait>/``. A fresh folder, as
on a hospital's machine, gets only those bundles, the patients' VCFs and the
annotation resources: no cohort genotypes, phenotypes or QC tables. Its config
names the bundles instead of a cohort, and repeats none of those settings. The
patients' reports must equal the full run's; a bundle changed after publishing
must stop the run, naming the file; a config value other than the bundles'
must stop it at start-up; and the bundles must hold no individual-level data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import prepare_workdir, run_snakemake

from genorisk.model.bundle import scan_for_individual_data, verify_bundle

pytestmark = pytest.mark.slow

TRAITS = ("demo_disease", "demo_interaction")
PATIENTS = ("P1", "P2", "P3")
#: Config sections a score-only run keeps from the training run's config: the
#: patients, how their VCFs are annotated and reported. Not features or ancestry:
#: the settings of theirs the patient jobs read come from the bundles.
KEPT_SECTIONS = ("outdir", "genome_build", "patients", "annotation", "report", "pgx")
#: The training run's settings a bundle carries (genorisk.model.bundle.RUN_SETTINGS),
#: none at its default (0.01, 0.75, 0.005), so a score-only run that fell back to
#: the defaults would report differently.
TRAINED_WITH = {"burden_max_af": 0.05, "min_match_rate": 0.7, "outlier_rate": 0.02}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The small demo trained with non-default features.burden_max_af, min_match_rate and ancestry.outlier_rate."""
    workdir = prepare_workdir(tmp_path_factory.mktemp("trained_off_default"))
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    cfg["features"].update(burden_max_af=TRAINED_WITH["burden_max_af"], min_match_rate=TRAINED_WITH["min_match_rate"])
    cfg["ancestry"]["outlier_rate"] = TRAINED_WITH["outlier_rate"]
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake(workdir)
    return workdir


def _copy_file(src_root: Path, dest_root: Path, rel: str) -> None:
    """Copy ``rel`` (and its .tbi/.csi index, if any) from one folder to the same relative path in another."""
    for suffix in ("", ".tbi", ".csi"):
        src = src_root / f"{rel}{suffix}"
        if src.exists():
            (dest_root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest_root / f"{rel}{suffix}")


def score_only_folder(trained: Path, dest: Path) -> Path:
    """A folder with the demo's bundles, patient VCFs and annotation resources only, and a ``bundles:`` config."""
    full = yaml.safe_load((trained / "config.yaml").read_text())
    cfg = {key: full[key] for key in KEPT_SECTIONS if key in full}
    # The bundles live elsewhere than the training run's results/model/, so a report that
    # depended on where its bundle is would differ.
    cfg["bundles"] = [f"bundles/{trait}" for trait in TRAITS]
    dest.mkdir(parents=True)
    for trait in TRAITS:
        shutil.copytree(trained / "results/model" / trait, dest / "bundles" / trait)
    # The same relative paths as in the training run: a report names its patient's VCF.
    shutil.copy2(trained / full["patients"]["sheet"], dest / full["patients"]["sheet"])
    sheet = pd.read_csv(dest / full["patients"]["sheet"], sep="\t", dtype=str)
    for vcf in sheet["vcf"]:
        _copy_file(trained, dest, vcf)
    annotation = cfg["annotation"]
    for key in ("clinvar", "dbsnp", "fasta"):
        if annotation.get(key) and not Path(annotation[key]).is_absolute():
            _copy_file(trained, dest, annotation[key])
    if annotation.get("population_af") and not Path(annotation["population_af"]["vcf"]).is_absolute():
        _copy_file(trained, dest, annotation["population_af"]["vcf"])
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert not (dest / "resources/demo/cohort.vcf.gz").exists()
    assert not (dest / "resources/demo/phenotypes.tsv").exists()
    return dest


def test_score_only_run_gives_the_full_runs_reports(trained, tmp_path):
    workdir = score_only_folder(trained, tmp_path / "hospital")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    assert "features" not in config and "ancestry" not in config
    for trait in TRAITS:
        settings = verify_bundle(workdir / "bundles" / trait)["settings"]
        assert settings["features.burden_max_af"] == TRAINED_WITH["burden_max_af"]
        assert settings["features.min_match_rate"] == TRAINED_WITH["min_match_rate"]
        assert settings["ancestry.outlier_rate"] == TRAINED_WITH["outlier_rate"]
    proc = run_snakemake(workdir)
    text = proc.stdout + proc.stderr
    # No cohort stage ran: the patients were scored from the bundles alone.
    for rule in ("simulate_demo", "cohort_qc", "cohort_features", "train_model", "publish_model", "cohort_report"):
        assert f"rule {rule}:" not in text and f"rule {rule}\n" not in text, rule
    for pid in PATIENTS:
        for name in ("report.json", "report.html"):
            new = (workdir / "results/patients" / pid / name).read_bytes()
            full = (trained / "results/patients" / pid / name).read_bytes()
            assert new == full, f"{pid}/{name} differs from the full run's"
        # The training run's match-rate threshold, not the default 75 %, reached the report.
        html = (workdir / "results/patients" / pid / "report.html").read_text()
        assert "at least 70% of its variants" in html and "at least 75%" not in html
    # Some notable variant is "rare" only by the training run's 5 % (the default is 1 %): the
    # score-only run used the bundles' threshold, not the default.
    notable = [
        v
        for pid in PATIENTS
        for v in json.loads((workdir / "results/patients" / pid / "report.json").read_text())["notable_variants"]
    ]
    assert any(0.01 <= (v["population_af"] or 0) < TRAINED_WITH["burden_max_af"] for v in notable), notable
    for trait in TRAITS:  # read, never changed
        verify_bundle(workdir / "bundles" / trait)


def test_a_tampered_bundle_stops_the_score_only_run_naming_the_file(trained, tmp_path):
    workdir = score_only_folder(trained, tmp_path / "tampered")
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


def test_bundles_hold_no_individual_level_data(trained):
    phenotypes = pd.read_csv(trained / "resources/demo/phenotypes.tsv", sep="\t", dtype=str)
    sample_qc = pd.read_csv(trained / "results/qc/sample_qc.tsv", sep="\t", dtype=str)
    ids = set(phenotypes["sample_id"]) | set(sample_qc["sample"])
    for trait in TRAITS:
        bundle = trained / "results/model" / trait
        trained_on = json.loads((bundle / "metrics.json").read_text())["data"]["n_samples"]
        # Every per-sample length: all cohort samples, the QC-passed ones, the trait's training rows.
        sizes = {len(phenotypes), len(sample_qc), trained_on}
        assert scan_for_individual_data(bundle, ids, sizes=sizes) == [], trait


def test_a_config_value_other_than_the_bundles_stops_the_run_at_start_up(trained, tmp_path):
    workdir = score_only_folder(trained, tmp_path / "conflict")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["features"] = {"burden_max_af": 0.01}  # the default, not the training run's 0.05
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(workdir, "--dry-run", check=False)
    assert proc.returncode != 0
    assert (
        "key features.burden_max_af: features.burden_max_af is 0.01 but the bundles were trained with 0.05 "
        "(bundles/demo_disease, bundles/demo_interaction): leave features.burden_max_af out" in proc.stderr
    ), proc.stderr[-3000:]
    assert not (workdir / "results").exists()
