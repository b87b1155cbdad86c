"""Config, sample-sheet and phenotype-table validation: errors name the key or row."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genorisk.config import read_patient_sheet, read_phenotypes, validate_config
from genorisk.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


def check(cfg):
    return validate_config(copy.deepcopy(cfg), SCHEMA)


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = check(DEFAULT)
    assert cfg["patients"]["batch_size"] == 50
    assert cfg["features"]["chunk_size"] == 20000
    assert cfg["annotation"]["dbsnp"] is None


@pytest.mark.parametrize(
    "mutate, key, words",
    [
        (lambda c: c.update(colour="blue"), "colour", "unknown key 'colour'"),
        (lambda c: c["cohort"].update(vfc="x.vcf"), "cohort.vfc", "unknown key 'vfc'"),
        (lambda c: c["simulate"].update(n_cohort="many"), "simulate.n_cohort", "not of type 'integer'"),
        (lambda c: c["patients"].update(batch_size=0), "patients.batch_size", "less than the minimum"),
        (lambda c: c.update(genome_build="hg19"), "genome_build", "is not one of"),
        (lambda c: c["features"].update(min_maf=0.7), "features.min_maf", "greater than the maximum"),
        (lambda c: c["cohort"].pop("vcf"), "cohort", "'vcf' is a required property"),
        (lambda c: c["annotation"].update(population_af={"info_key": "AF"}), "annotation.population_af", "'vcf' is a required"),
    ],
)
def test_bad_config_names_the_key(mutate, key, words):
    cfg = copy.deepcopy(DEFAULT)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        check(cfg)
    msg = str(err.value)
    assert f"key {key}" in msg and words in msg, msg


def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path):
    """The workflow itself validates: an unknown key stops `snakemake -n` with the key named."""
    bad = copy.deepcopy(DEFAULT)
    bad["model"] = {}
    bad["featurs"] = {}
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1", "--configfile", str(cfg)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "featurs" in proc.stdout + proc.stderr


def write_sheet(tmp_path, text):
    path = tmp_path / "patients.tsv"
    path.write_text(text)
    return path


@pytest.fixture
def vcf(tmp_path):
    path = tmp_path / "a.vcf.gz"
    path.write_bytes(b"")
    return path


def test_sheet_ok_and_sample_defaults_to_patient_id(tmp_path, vcf):
    sheet = read_patient_sheet(write_sheet(tmp_path, f"patient_id\tvcf\tage\nP1\t{vcf}\t50\nP2\t{vcf}\t\n"), covariates=["age"])
    assert list(sheet["sample"]) == ["P1", "P2"]


@pytest.mark.parametrize(
    "body, words",
    [
        ("patient_id\tvcf\nP1\t{vcf}\nP1\t{vcf}\n", "line 3: duplicate patient_id 'P1' (first on line 2)"),
        ("patient_id\tvcf\nP1\t/no/such.vcf.gz\n", "line 2: patient 'P1': VCF /no/such.vcf.gz does not exist"),
        ("patient_id\tvcf\n../etc\t{vcf}\n", "line 2: patient_id '../etc' is not allowed"),
        ("patient_id\tvcf\n<script>\t{vcf}\n", "patient_id '<script>' is not allowed"),
        ("patient_id\tvcfs\nP1\t{vcf}\n", "missing required column 'vcf'"),
        ("patient_id\tvcf\tcolour\nP1\t{vcf}\tred\n", "unknown column(s) 'colour'"),
        ("patient_id\tvcf\tsex\nP1\t{vcf}\tM\n", "sex must be 'male', 'female' or empty"),
        ("patient_id\tvcf\tage\nP1\t{vcf}\tfifty\n", "covariate 'age' is not a number"),
        ("patient_id\tvcf\n", "no patients listed"),
    ],
)
def test_bad_sheet_names_the_row(tmp_path, vcf, body, words):
    path = write_sheet(tmp_path, body.format(vcf=vcf))
    with pytest.raises(ConfigError) as err:
        read_patient_sheet(path, covariates=["age"])
    assert words in str(err.value)
    assert str(path) in str(err.value)


def test_produced_vcfs_need_not_exist(tmp_path):
    path = write_sheet(tmp_path, "patient_id\tvcf\nP1\tdemo/P1.vcf.gz\nP2\tother/P2.vcf.gz\n")
    with pytest.raises(ConfigError, match="line 3: patient 'P2': VCF other/P2.vcf.gz does not exist"):
        read_patient_sheet(path, produced_under="demo")
    path = write_sheet(tmp_path, "patient_id\tvcf\nP1\tdemo/P1.vcf.gz\n")
    assert len(read_patient_sheet(path, produced_under="demo")) == 1


@pytest.mark.parametrize(
    "body, words",
    [
        ("sample_id\tstatus\nA\t0\nA\t1\n", "line 3: duplicate sample_id 'A'"),
        ("sample_id\tstatus\nA\t2\n", "line 2: status must be 0 (control) or 1 (case), not '2'"),
        ("sample_id\tstatus\tage\nA\t0\told\n", "line 2: covariate 'age' is not a number"),
        ("sample\tstatus\nA\t0\n", "missing required column 'sample_id'"),
    ],
)
def test_bad_phenotypes_name_the_row(tmp_path, body, words):
    path = tmp_path / "ph.tsv"
    path.write_text(body)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_phenotypes(path)
