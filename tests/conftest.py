"""Shared fixtures: a small demo config and one local run of the workflow on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def small_config() -> dict:
    """The demo config, shrunk to run in about a minute (600 people, 2 Mb, tiny search)."""
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["simulate"].update(
        n_cohort=600, n_reference=100, start=25_000_001, end=27_000_000,
        demography="constant", outlier_population=None, prevalence=0.2, n_causal=40,
        burden_genes=1, pgs_gwas_n=50_000, pgs_null_variants=50,
    )
    cfg["annotation"]["gene_model"] = str(REPO / cfg["annotation"]["gene_model"])
    cfg["patients"].update(sheet="patients.tsv", batch_size=2)
    cfg["model"] = {"n_folds": 3, "n_trials": 1, "n_bootstrap": 20}
    return cfg


def write_sheet(workdir: Path, ids: list[str]) -> None:
    rows = ["patient_id\tvcf\tsample\tsex\tage"]
    rows += [f"{p}\tresources/demo/patients/{p}.vcf.gz\tS_{p}\t{'male' if i % 2 else 'female'}\t{50 + i}"
             for i, p in enumerate(ids)]
    (workdir / "patients.tsv").write_text("\n".join(rows) + "\n")


def prepare_workdir(workdir: Path, ids=("P1", "P2", "P3")) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(small_config()))
    write_sheet(workdir, list(ids))
    return workdir


def run_snakemake(workdir: Path, *args: str, configfile: str = "config.yaml", check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / configfile), "--cores", "2", *args],
        capture_output=True, text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def local_demo(tmp_path_factory) -> Path:
    """The small demo, run once locally for the whole session (read-only for tests)."""
    workdir = prepare_workdir(tmp_path_factory.mktemp("local_demo"))
    run_snakemake(workdir)
    return workdir
