"""Config, sample-sheet, phenotype-table and truth validation: errors name the key or row, before any job."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genorisk.config import (
    CONFIG_SCHEMA,
    load_schema,
    read_patient_sheet,
    read_phenotypes,
    read_truth,
    validate_config,
    validate_section,
)
from genorisk.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
DEFAULT = yaml.safe_load((REPO / "config/demo.yaml").read_text())
TEMPLATE = yaml.safe_load((REPO / "config/config.yaml").read_text())


def check(cfg):
    return validate_config(copy.deepcopy(cfg), SCHEMA)


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = check(DEFAULT)
    assert cfg["patients"]["batch_size"] == 50
    assert cfg["features"]["chunk_size"] == 20000
    assert cfg["annotation"]["dbsnp"] is None
    assert cfg["model"]["max_depth"] == [2, 6] and cfg["model"]["n_trials"] == 6
    assert cfg["qc"]["sex_min_variants"] == 50 and cfg["simulate"]["rare_maf"] == 0.01


def test_workflow_schema_is_the_package_schema():
    assert SCHEMA.resolve() == CONFIG_SCHEMA.resolve()


def test_template_config_is_valid_and_holds_nothing_of_the_demo():
    cfg = check(TEMPLATE)
    assert "simulate" not in cfg and cfg["cohort"]["truth"] is None
    assert "demo" not in yaml.safe_dump(TEMPLATE) and "simulated" not in yaml.safe_dump(TEMPLATE)
    assert "resources/demo" not in (REPO / "config/patients.tsv").read_text()


def _schema_keys(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}"
        if "properties" in sub:
            yield from _schema_keys(sub, f"{prefix}{name}.")


def test_every_key_has_a_default_or_is_required_and_is_documented():
    schema = load_schema()
    readme = (REPO / "config/README.md").read_text()
    for key in _schema_keys(schema):
        assert f"`{key}`" in readme, f"config/README.md does not describe {key}"
    for section in ("model", "qc", "simulate", "features", "report", "annotation", "ancestry"):
        sub = schema["properties"][section]
        assert sub.get("additionalProperties") is False, section
        for name, prop in sub["properties"].items():
            assert "default" in prop or name in sub.get("required", []), f"{section}.{name} has no default"
            assert prop.get("description"), f"{section}.{name} has no description"


def test_schema_defaults_are_the_dataclass_defaults():
    import dataclasses

    from genorisk.model import ModelConfig
    from genorisk.qc import QCThresholds
    from genorisk.simulate import SimulationConfig

    for section, cls in (("model", ModelConfig), ("qc", QCThresholds), ("simulate", SimulationConfig)):
        filled = validate_section(section, {"outdir": "x"} if section == "simulate" else {})
        for f in dataclasses.fields(cls):
            if f.name == "threads":  # the rule's threads, not a config key
                assert f.name not in filled
                continue
            value = filled[f.name]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert (list(default) if isinstance(default, tuple) else default) == value, (section, f.name)


def test_report_thresholds_default_to_the_schema():
    from genorisk.report import QC_THRESHOLDS

    props = load_schema()["properties"]
    assert {
        "min_call_rate": props["report"]["properties"]["min_call_rate"]["default"],
        "min_model_variant_coverage": props["report"]["properties"]["min_model_variant_coverage"]["default"],
        "min_score_match_rate": props["features"]["properties"]["min_match_rate"]["default"],
    } == QC_THRESHOLDS


@pytest.mark.parametrize(
    "mutate, key, words",
    [
        (lambda c: c.update(colour="blue"), "colour", "unknown key 'colour'"),
        (lambda c: c["cohort"].update(vfc="x.vcf"), "cohort.vfc", "unknown key 'vfc'"),
        (lambda c: c["simulate"].update(n_cohort="many"), "simulate.n_cohort", "not of type 'integer'"),
        (lambda c: c["patients"].update(batch_size=0), "patients.batch_size", "less than the minimum"),
        (lambda c: c.update(genome_build="hg19"), "genome_build", "is not one of"),
        (lambda c: c["features"].update(min_maf=0.7), "features.min_maf", "greater than the maximum"),
        (lambda c: c["cohort"].pop("phenotypes"), "cohort", "'phenotypes' is a required property"),
        (
            lambda c: c["annotation"].update(population_af={"info_key": "AF"}),
            "annotation.population_af",
            "'vcf' is a required",
        ),
        (lambda c: c["model"].update(n_fold=3), "model.n_fold", "unknown key 'n_fold'"),
        (lambda c: c["model"].update(threads=4), "model.threads", "unknown key 'threads'"),
        (lambda c: c["model"].update(max_depth=[6, 2]), "model.max_depth", "low end 6 exceeds high end 2"),
        (lambda c: c["model"].update(learning_rate=[0.1, 2.0]), "model.learning_rate.1", "greater than the maximum"),
        (lambda c: c["model"].update(min_dosage_features=2000), "model.min_dosage_features", "at most max_dosage"),
        (lambda c: c["model"].update(ci_level=1.0), "model.ci_level", "greater than or equal to the maximum"),
        (lambda c: c["model"].update(calibration="beta"), "model.calibration", "is not one of"),
        (lambda c: c["qc"].update(female_max_f=0.9), "qc.female_max_f", "at most male_min_f"),
        (lambda c: c["qc"].update(titv_range=[3.0, 1.0]), "qc.titv_range", "low end 3.0 exceeds"),
        (lambda c: c["simulate"].update(h2=0.9), "simulate.h2", "must be below 0.95"),
        (lambda c: c["simulate"].update(start=40_000_000), "simulate.start", "must be below end"),
        (lambda c: c["simulate"].update(end=50_000_000), "simulate.end", "greater than the maximum"),
        (lambda c: c.update(resources={"train_modle": {"mem_mb": 1}}), "resources", "unknown key 'resources'"),
        (lambda c: c.update(thread=8), "thread", "unknown key 'thread'"),
        (lambda c: c["report"].update(min_call_rate=2), "report.min_call_rate", "greater than the maximum"),
    ],
)
def test_bad_config_names_the_key(mutate, key, words):
    cfg = copy.deepcopy(DEFAULT)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        check(cfg)
    msg = str(err.value)
    assert f"key {key}" in msg and words in msg, msg


def test_validate_section_fills_one_section():
    model = validate_section("model", {"n_trials": 2})
    assert model["n_trials"] == 2 and model["n_folds"] == 5
    with pytest.raises(ConfigError, match="key model.n_fold: unknown key 'n_fold'"):
        validate_section("model", {"n_fold": 2})


def dry_run(configfile, *args):
    """`snakemake -n` from the repository root, as a user runs it."""
    return subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "1", "--configfile", str(configfile), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path):
    """The workflow itself validates: an unknown key stops `snakemake -n` with the key named."""
    for mutate, key in [
        (lambda c: c.update(featurs={}), "featurs"),
        (lambda c: c["model"].update(n_fold=3), "model.n_fold"),
    ]:
        bad = copy.deepcopy(DEFAULT)
        mutate(bad)
        cfg = tmp_path / "bad.yaml"
        cfg.write_text(yaml.safe_dump(bad))
        proc = dry_run(cfg)
        assert proc.returncode != 0
        assert f"key {key}" in proc.stdout + proc.stderr


@pytest.mark.integration
def test_snakemake_wants_either_a_cohort_or_bundles(tmp_path):
    """A run trains from a cohort or scores from bundles: both, neither or a folder that is not a bundle stop it."""
    both = copy.deepcopy(DEFAULT)
    both["bundles"] = [str(tmp_path)]
    neither = copy.deepcopy(DEFAULT)
    del neither["cohort"], neither["simulate"]
    not_a_bundle = copy.deepcopy(neither)
    not_a_bundle["bundles"] = [str(tmp_path)]
    for cfg, words in [
        (both, "give either cohort (train and score) or bundles (score only), not both"),
        (neither, "found neither"),
        (not_a_bundle, "key bundles[0]"),
    ]:
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = dry_run(path)
        assert proc.returncode != 0
        assert words in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert "bundle.json is missing" in proc.stderr


@pytest.fixture(scope="module")
def real_cohort(tmp_path_factory):
    """A tiny non-simulated cohort (bgzipped, indexed VCFs), its phenotypes, a sheet and a config."""
    import numpy as np

    from genorisk.simulate import write_vcf

    root = tmp_path_factory.mktemp("real_cohort")
    pos = np.arange(25_000_001, 25_000_041)
    ref, alt = np.array(["A"] * 40), np.array(["G"] * 40)
    rng = np.random.default_rng(1)
    write_vcf(
        root / "cohort.vcf.gz",
        pos,
        ref,
        alt,
        calls=rng.integers(0, 2, (40, 6, 2)).astype(np.int8),
        samples=[f"C{i}" for i in range(6)],
    )
    for pid in ("P1", "P2", "P3"):
        write_vcf(root / f"{pid}.vcf.gz", pos, ref, alt, calls=np.zeros((40, 1, 2), np.int8), samples=[pid])
    (root / "phenotypes.tsv").write_text(
        "sample_id\tstatus\tage\tsex\n"
        + "".join(f"C{i}\t{i % 2}\t{40 + i}\t{'male' if i % 2 else 'female'}\n" for i in range(6))
    )
    (root / "patients.tsv").write_text(
        "patient_id\tvcf\tsex\tage\n"
        + "".join(f"{pid}\t{root / pid}.vcf.gz\tfemale\t50\n" for pid in ("P1", "P2", "P3"))
    )
    cfg = {
        "outdir": str(root / "results"),
        "cohort": {"vcf": str(root / "cohort.vcf.gz"), "phenotypes": str(root / "phenotypes.tsv")},
        "patients": {"sheet": str(root / "patients.tsv"), "batch_size": 2},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    return root


def test_a_real_cohort_config_inherits_nothing_from_the_demo(real_cohort):
    """--configfile is the whole config: no simulation, no demo resources, every patient file declared."""
    proc = dry_run(real_cohort / "config.yaml")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "simulate_demo" not in text and "resources/demo" not in text
    assert "patient_reports_b00000" in text and "patient_reports_b00001" in text
    for pid in ("P1", "P2", "P3"):
        # Each patient's folder is declared: it gets the reports, or error.json if its VCF is refused.
        assert re.search(rf"results/patients/{pid}\b(?!/)", text), pid
        assert f"results/patients/vcfs/{pid}-" in text, pid  # its VCF is prepared by its own job


def test_a_sheet_without_a_model_covariate_stops_the_run_at_start_up(real_cohort, tmp_path):
    """cohort.covariates are [age, sex]: a sheet without age is refused unless patients.covariate_defaults names it."""
    sheet = tmp_path / "patients.tsv"
    sheet.write_text("".join(f"{pid}\t{real_cohort / pid}.vcf.gz\tfemale\n" for pid in ("P1", "P2")))
    sheet.write_text("patient_id\tvcf\tsex\n" + sheet.read_text())
    cfg = yaml.safe_load((real_cohort / "config.yaml").read_text())
    cfg["patients"]["sheet"] = str(sheet)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = dry_run(tmp_path / "config.yaml")
    assert proc.returncode != 0
    assert "invalid patient sample sheet" in proc.stderr and "covariate 'age'" in proc.stderr, proc.stderr[-2000:]
    cfg["patients"]["covariate_defaults"] = {"age": 60}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert dry_run(tmp_path / "config.yaml").returncode == 0


@pytest.mark.parametrize(
    "table, body, words",
    [
        ("phenotypes.tsv", "sample\tstatus\tage\tsex\nC0\t0\t40\tmale\n", "missing required column 'sample_id'"),
        ("phenotypes.tsv", "sample_id\tstatus\tsex\nC0\t0\tmale\n", "missing covariate column 'age'"),
        (
            "phenotypes.tsv",
            "sample_id\tstatus\tage\tsex\nC0\t0\t40\tmale\nC1\tcase\t41\tmale\n",
            "line 3: status must be 0 (control) or 1 (case)",
        ),
        ("truth.json", '{"h2": 0.4}', "key prevalence: missing key 'prevalence'"),
        ("truth.json", '{"h2": 0.4, "prevalence": 1.5}', "key prevalence: prevalence must be in (0, 1)"),
    ],
)
def test_input_tables_are_checked_before_any_job(real_cohort, tmp_path, table, body, words):
    cfg = yaml.safe_load((real_cohort / "config.yaml").read_text())
    path = tmp_path / table
    path.write_text(body)
    if table == "truth.json":
        cfg["cohort"]["truth"] = str(path)
    else:
        cfg["cohort"]["phenotypes"] = str(path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = dry_run(tmp_path / "config.yaml")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and str(path) in text and words in text, text[-2000:]
    assert "Job stats" not in text


def test_documented_truth_form_is_accepted_at_start_up(real_cohort, tmp_path):
    cfg = yaml.safe_load((real_cohort / "config.yaml").read_text())
    (tmp_path / "truth.json").write_text('{"h2": 0.4, "prevalence": 0.1}')
    cfg["cohort"]["truth"] = str(tmp_path / "truth.json")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = dry_run(tmp_path / "config.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]


def test_read_truth_both_forms(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"h2": 0.4, "prevalence": 0.1}')
    assert read_truth(path) == {"h2": 0.4, "prevalence": 0.1}
    path.write_text('{"h2": 0.3, "h2_total": 0.5, "prevalence": 0.1}')
    assert read_truth(path)["h2_total"] == 0.5
    # The simulation's truth.json: what genotypes plus covariates can capture.
    path.write_text(
        '{"h2": 0.4, "h2_total": 0.45, "prevalence": 0.1, '
        '"variance_components": {"additive": 0.38, "covariates": 0.05}}'
    )
    assert read_truth(path) == pytest.approx({"h2": 0.43, "h2_total": 0.5, "prevalence": 0.1})
    path.write_text('{"h2": 0.4, "prevalence": 0.1, "k": 1}')
    with pytest.raises(ConfigError, match="key k: unknown key 'k'"):
        read_truth(path)
    path.write_text("not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_truth(path)


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
    sheet = read_patient_sheet(
        write_sheet(tmp_path, f"patient_id\tvcf\tage\nP1\t{vcf}\t50\nP2\t{vcf}\t\n"), covariates=["age"]
    )
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
        ("sample_id\tstatus\nA\t2\n", "line 2: status must be 0 (control) or 1 (case), or empty (unknown), not '2'"),
        ("sample_id\tstatus\tage\nA\t0\told\n", "line 2: covariate 'age' is not a number"),
        ("sample\tstatus\nA\t0\n", "missing required column 'sample_id'"),
    ],
)
def test_bad_phenotypes_name_the_row(tmp_path, body, words):
    path = tmp_path / "ph.tsv"
    path.write_text(body)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_phenotypes(path)


@pytest.mark.parametrize(
    "cohort, words",
    [
        ({}, "need exactly one of vcf, vcfs, pfile, bfile, bgen: none is given"),
        ({"vcf": "a.vcf.gz", "pfile": "b"}, "2 are given (vcf, pfile)"),
        ({"pfile": "b", "bgen_sample": "c.sample"}, "bgen_sample is only for a bgen input"),
    ],
)
def test_cohort_genotypes_need_exactly_one_form(cohort, words):
    from genorisk.config import cohort_genotype_form

    with pytest.raises(ConfigError, match=re.escape(words)):
        cohort_genotype_form(cohort, source="config.yaml")


def test_cohort_vcf_parts_of_each_form(tmp_path):
    from genorisk.config import VcfPart, cohort_vcf_parts

    for chrom in ("chr2", "chr10", "chr1", "chrX"):
        (tmp_path / f"imp.{chrom}.dose.vcf.gz").touch()
    pattern = str(tmp_path / "imp.{chrom}.dose.vcf.gz")
    parts = cohort_vcf_parts({"vcfs": pattern})
    assert list(parts) == ["cohort.chr1", "cohort.chr2", "cohort.chr10", "cohort.chrX"]  # karyotypic order
    assert parts["cohort.chr10"] == VcfPart(str(tmp_path / "imp.chr10.dose.vcf.gz"))
    # One VCF without an index (here: not there yet) is one part; an indexed one is split by
    # chromosome (tests/test_shards.py).
    assert cohort_vcf_parts({"vcf": "a.vcf.gz"}) == {"cohort": VcfPart("a.vcf.gz")}
    assert cohort_vcf_parts({"vcfs": ["x.vcf.gz", "y.vcf.gz"]}) == {
        "cohort.part01": VcfPart("x.vcf.gz"),
        "cohort.part02": VcfPart("y.vcf.gz"),
    }
    assert cohort_vcf_parts({"pfile": "p"}) == {}
    assert cohort_vcf_parts({"vcfs": "sim/c.chr{chrom}.vcf.gz"}, simulated_chroms=["1", "2"]) == {
        "cohort.1": VcfPart("sim/c.chr1.vcf.gz"),
        "cohort.2": VcfPart("sim/c.chr2.vcf.gz"),
    }
    with pytest.raises(ConfigError, match="no file matches"):
        cohort_vcf_parts({"vcfs": str(tmp_path / "none.{chrom}.vcf.gz")})
    with pytest.raises(ConfigError, match="listed twice"):
        cohort_vcf_parts({"vcfs": ["x.vcf.gz", "x.vcf.gz"]})


def test_a_missing_covariate_column_is_an_error_unless_the_config_names_a_default(tmp_path, vcf):
    path = write_sheet(tmp_path, f"patient_id\tvcf\tsex\nP1\t{vcf}\tfemale\nP2\t{vcf}\tmale\n")
    with pytest.raises(ConfigError) as err:
        read_patient_sheet(path, covariates=["age", "sex"], covariate_defaults={})
    assert "header" in str(err.value) and "covariate 'age'" in str(err.value)
    assert "patients.covariate_defaults.age" in str(err.value)
    sheet = read_patient_sheet(path, covariates=["age", "sex"], covariate_defaults={"age": 60})
    assert list(sheet["age"]) == ["60", "60"] and list(sheet["sheet_line"]) == [2, 3]
    # A blank cell of a column the sheet has stays missing; the default fills absent columns only.
    path = write_sheet(tmp_path, f"patient_id\tvcf\tage\nP1\t{vcf}\t\n")
    assert list(read_patient_sheet(path, covariates=["age"], covariate_defaults={"age": 60})["age"]) == [""]


def test_simulated_patients_are_named_by_the_simulation_not_guessed_from_the_path(tmp_path):
    user = tmp_path / "demo" / "mine.vcf.gz"  # a user's file inside the simulation's folder
    user.parent.mkdir()
    user.write_bytes(b"")
    body = f"patient_id\tvcf\nP1\t{tmp_path}/demo/P1.vcf.gz\nU1\t{user}\n"
    sheet = read_patient_sheet(write_sheet(tmp_path, body), produced_under=tmp_path / "demo")
    assert list(sheet["simulated"]) == [True, False]  # P1 not written yet: the simulation's; U1 exists
    (tmp_path / "demo" / "P1.vcf.gz").write_bytes(b"")
    named = read_patient_sheet(write_sheet(tmp_path, body), produced_under=tmp_path / "demo", simulated_patients=["P1"])
    assert list(named["simulated"]) == [True, False]
    # The sheet's column, when present, decides.
    body = f"patient_id\tvcf\tsimulated\nP1\t{tmp_path}/demo/P1.vcf.gz\tno\nU1\t{user}\tno\n"
    assert not read_patient_sheet(write_sheet(tmp_path, body), produced_under=tmp_path / "demo")["simulated"].any()


@pytest.mark.parametrize("pid", ["batches", "vcfs"])
def test_patient_ids_the_workflow_uses_as_folders_are_refused(tmp_path, vcf, pid):
    with pytest.raises(ConfigError, match=f"patient_id '{pid}' is reserved"):
        read_patient_sheet(write_sheet(tmp_path, f"patient_id\tvcf\n{pid}\t{vcf}\n"))


def test_phenotypes_with_several_trait_columns(tmp_path):
    path = tmp_path / "ph.tsv"
    path.write_text("sample_id\tstatus\tstatus_b\tage\nA\t0\t1\t50\nB\t1\t\t60\nC\t0\t0\t70\n")
    table = read_phenotypes(path, covariates=["age"], columns=["status", "status_b"])
    assert table["status"].dtype.kind == "i"  # no empty cell: int, as before
    assert table["status_b"].isna().tolist() == [False, True, False]  # empty = unknown for that trait
    assert table["age"].tolist() == [50, 60, 70]
    with pytest.raises(ConfigError, match="header: missing trait column 'status_c'"):
        read_phenotypes(path, columns=["status", "status_c"])
    path.write_text("sample_id\tstatus\tstatus_b\nA\t0\tyes\n")
    with pytest.raises(ConfigError, match="line 2: status_b must be 0 \\(control\\) or 1"):
        read_phenotypes(path, columns=["status", "status_b"])


def test_config_traits_fill_and_refuse():
    from genorisk.config import config_traits

    traits = config_traits(
        [
            {"id": "cad", "name": "CAD", "column": "cad"},
            {"id": "t2d", "name": "T2D", "column": "t2d", "covariates": ["age"]},
        ],
        covariates=["age", "sex"],
    )
    assert [t["covariates"] for t in traits] == [["age", "sex"], ["age"]]
    assert traits[0]["scores"] is None and traits[0]["prevalence"] is None
    assert config_traits(None, covariates=[])[0]["column"] == "status"
    with pytest.raises(ConfigError, match=r"key traits\[1\].id: trait id 'cad' repeats traits\[0\]"):
        config_traits(
            [{"id": "cad", "name": "a", "column": "x"}, {"id": "cad", "name": "b", "column": "y"}], covariates=[]
        )
    with pytest.raises(ConfigError, match=r"key traits\[1\].column: phenotype column 'x'"):
        config_traits([{"id": "a", "name": "a", "column": "x"}, {"id": "b", "name": "b", "column": "x"}], covariates=[])
    with pytest.raises(ConfigError, match=r"covariate 'bmi' is not among cohort.covariates"):
        config_traits([{"id": "a", "name": "a", "covariates": ["bmi"]}], covariates=["age"])
