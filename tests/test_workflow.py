"""End to end: the Snakemake workflow on a small simulated config, and its reruns."""

from __future__ import annotations

import json
import re
import stat
import subprocess

import pytest
import yaml
from conftest import SNAKEFILE, SNAKEMAKE, run_snakemake

from genorisk.model.bundle import verify_bundle

pytestmark = pytest.mark.slow

#: The demo's traits, config order (config/demo.yaml): an additive one with a
#: published score, and an epistatic, gene x age one without.
TRAITS = ("demo_disease", "demo_interaction")


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from Snakemake's dry-run 'Job stats' table, per-batch rules (``<rule>_b00001``) summed by rule."""
    text = proc.stdout + proc.stderr
    table = text.split("Job stats:")[-1] if "Job stats:" in text else ""
    jobs: dict[str, int] = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M):
        if m.group(1) != "total":
            # per-batch rules fold into their rule; the root Snakefile's target `default` is `all`
            rule = re.sub(r"_b\d{5}$", "", m.group(1))
            rule = "all" if rule == "default" else rule
            jobs[rule] = jobs.get(rule, 0) + int(m.group(2))
    return jobs


@pytest.fixture
def demo_run(local_demo):
    """The session's local run; the rerun tests only dry-run and restore what they change."""
    return local_demo


def test_demo_runs_end_to_end(demo_run):
    out = demo_run / "results"
    assert (out / "qc/cohort.chr21.validation.json").stat().st_size > 0  # the one VCF is validated per contig
    for trait in TRAITS:
        for f in [
            f"features/{trait}/cohort.parquet",
            f"features/{trait}/features.schema.json",
            f"model/{trait}/model.ubj",
            f"model/{trait}/metrics.json",
            f"model/{trait}/model_card.json",
            f"model/{trait}/calibrator.json",
            f"model/{trait}/bundle.json",
        ]:
            assert (out / f).stat().st_size > 0, f
        # Each trait's bundle is whole (every file's hash) and names its trait.
        assert verify_bundle(out / "model" / trait)["trait"]["id"] == trait
        metrics = json.loads((out / f"model/{trait}/metrics.json").read_text())
        assert 0.5 < metrics["model"]["roc_auc"]["estimate"] <= 1.0
        # Model stored as XGBoost UBJSON, not pickle.
        assert (out / f"model/{trait}/model.ubj").read_bytes()[:1] == b"{"
    assert not list(out.rglob("*.tmp*")), "temporary files left behind"
    metrics = json.loads((out / "model/demo_disease/metrics.json").read_text())
    assert metrics["truth"]["auc_ceiling"] > metrics["model"]["roc_auc"]["estimate"] - 0.05
    # A trait's schema holds its own scores only: the second trait has none.
    kinds = {
        trait: {f["kind"] for f in json.loads((out / f"features/{trait}/features.schema.json").read_text())["features"]}
        for trait in TRAITS
    }
    assert {"dosage", "pgs", "covariate"} <= kinds["demo_disease"]
    assert {"dosage", "covariate"} <= kinds["demo_interaction"] and "pgs" not in kinds["demo_interaction"]


def test_each_patient_gets_a_result(demo_run):
    out = demo_run / "results/patients"
    batches = sorted(p.name for p in (out / "batches").iterdir())
    assert batches == ["b00000", "b00001"]  # batch_size 2, 3 patients
    for pid in ["P1", "P2", "P3"]:
        folder = out / pid
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        result = json.loads((folder / "result.json").read_text())
        assert stat.S_IMODE((folder / "result.json").stat().st_mode) == 0o600
        assert result["patient_id"] == pid and result["sample"] == f"S_{pid}"
        # One result per trait, config order (report.json schema 4).
        assert [t["trait"]["id"] for t in result["traits"]] == list(TRAITS)
        for trait in result["traits"]:
            risk = trait["risk"]
            assert risk["status"] == "shown", (pid, trait["trait"]["id"], risk)
            assert 0.0 < risk["probability"] < 1.0
            assert risk["interval"][0] <= risk["probability"] <= risk["interval"][1]
            assert 0.0 <= risk["percentile"] <= 100.0
            assert trait["drivers"] and all(d["direction"] in ("raises risk", "lowers risk") for d in trait["drivers"])
            assert trait["coverage"]["model_variant_coverage"] > 0.95
        assert result["traits"][0]["polygenic_scores"][0]["id"] == "PGS_SIM_DEMO"
        # Only this patient's identity is in its file.
        text = (folder / "result.json").read_text()
        assert all(other not in text for other in {"S_P1", "S_P2", "S_P3"} - {f"S_{pid}"})


def test_logs_and_benchmarks_are_written(demo_run):
    out = demo_run / "results"
    for trait in TRAITS:
        log = (out / f"logs/cohort_features/{trait}.log").read_text()
        assert "records/s" in log or "ALT alleles scanned" in log
        assert (out / f"benchmarks/train_model/{trait}.tsv").exists()
        assert (out / f"logs/publish_model/{trait}.log").exists()
    for line in (out / "logs/patient_features/b00000.log").read_text().splitlines():
        assert not re.search(r"\b[01][|/][01]\b", line), "a log line carries genotypes"


def test_rerun_with_nothing_changed_does_nothing(demo_run):
    proc = run_snakemake(demo_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]


def test_model_change_reruns_training_and_scoring_only(demo_run):
    cfg = yaml.safe_load((demo_run / "config.yaml").read_text())
    cfg["model"]["n_trials"] = 2
    (demo_run / "config_model.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [
            SNAKEMAKE,
            "-n",
            "--snakefile",
            str(SNAKEFILE),
            "--directory",
            str(demo_run),
            "--configfile",
            str(demo_run / "config_model.yaml"),
            "--cores",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    jobs = planned_jobs(proc)
    # Training, calibration and evaluation run per trait, as their own jobs.
    assert jobs.get("train_model") == len(TRAITS) and jobs.get("publish_model") == len(TRAITS), jobs
    # Patient features read the traits' bundles (schema, cohort reference), which publishing rewrites.
    assert jobs.get("patient_features") == 2 and jobs.get("score_patients") == 2, jobs
    assert jobs.get("patient_reports") == 2 and jobs.get("cohort_report") == 1, jobs
    for untouched in [
        "simulate_demo",
        "validate_cohort",
        "validate_resources",
        "cohort_qc",
        "plan_annotation_chunks",
        "annotate_chunk",
        "gather_annotation",
        "cohort_variant_stats",
        "match_score",
        "cohort_features",
        "prepare_patient_vcf",
    ]:
        assert untouched not in jobs, jobs


def test_imputation_filter_change_reruns_feature_selection_onward_only(demo_run):
    cfg = yaml.safe_load((demo_run / "config.yaml").read_text())
    cfg["features"]["min_info"] = 0.3
    (demo_run / "config_info.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(run_snakemake(demo_run, "-n", configfile="config_info.yaml"))
    assert jobs.get("cohort_features") == len(TRAITS) and jobs.get("train_model") == len(TRAITS), jobs
    # Feature selection reruns per trait and store shard (the demo's contigs: chr21, chrX), QC and the store do not.
    shards = [p for p in (demo_run / "results/features/demo_disease/variant_stats").iterdir() if p.is_dir()]
    assert len(shards) == 2 and jobs.get("cohort_variant_stats") == len(TRAITS) * len(shards), jobs
    for untouched in [
        "simulate_demo",
        "validate_cohort",
        "normalize_cohort",
        "store_part",
        "make_store",
        "cohort_qc_shard",
        "cohort_qc",
        "prepare_patient_vcf",
    ]:
        assert untouched not in jobs, jobs


def test_annotation_change_reruns_annotation_and_everything_after(demo_run):
    cfg = yaml.safe_load((demo_run / "config.yaml").read_text())
    cfg["annotation"]["population_af"]["info_key"] = "AC"
    (demo_run / "config_annot.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(run_snakemake(demo_run, "-n", configfile="config_annot.yaml"))
    for rule in [
        "annotate_chunk",
        "gather_annotation",
        "cohort_features",
        "train_model",
        "patient_features",
        "score_patients",
        "patient_reports",
        "cohort_report",
    ]:
        assert rule in jobs, (rule, jobs)
    for untouched in ["simulate_demo", "validate_cohort", "validate_resources", "cohort_qc", "plan_annotation_chunks"]:
        assert untouched not in jobs, jobs


def test_adding_a_patient_runs_only_its_batch(demo_run):
    """A patient VCF from outside the demo simulation, as with real data."""
    import shutil

    extra = demo_run / "extra"
    extra.mkdir(exist_ok=True)
    for suffix in ("", ".tbi"):
        shutil.copy(demo_run / f"resources/demo/patients/P1.vcf.gz{suffix}", extra / f"P4.vcf.gz{suffix}")
    sheet = demo_run / "patients.tsv"
    original = sheet.read_text()
    sheet.write_text(original + "P4\textra/P4.vcf.gz\tS_P1\tfemale\t61\n")
    try:
        jobs = planned_jobs(run_snakemake(demo_run, "-n"))
        # P4 joins batch b00001 (batch_size 2): only its VCF is prepared, only that
        # batch is scored and reported, and the cohort summary (patients' coverage)
        # and the intake check are refreshed.
        assert jobs == {
            "prepare_patient_vcf": 1,
            "check_patient_intake": 1,
            "call_pharmacogenes": 1,
            "patient_features": 1,
            "score_patients": 1,
            "patient_reports": 1,
            "cohort_report": 1,
            "all": 1,
        }, jobs
    finally:
        sheet.write_text(original)


def test_cohort_report_and_snakemake_report(demo_run, tmp_path):
    html = (demo_run / "results/cohort/cohort_report.html").read_text()
    assert "ROC" in html and "<script" not in html
    summary = json.loads((demo_run / "results/cohort/cohort_summary.json").read_text())
    assert [t["trait"]["id"] for t in summary["traits"]] == list(TRAITS)
    for section in summary["traits"]:
        roc = section["performance"]["roc"]
        assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0
        assert section["feature_importance"][0]["importance"] > 0
    # Aggregates only: no cohort sample ID appears in the cohort summary.
    assert "COH0" not in json.dumps(summary)
    out = tmp_path / "report.html"
    run_snakemake(demo_run, "--report", str(out))
    text = out.read_text(errors="replace")
    assert out.stat().st_size > 10_000 and "cohort_report.html" in text


def test_every_planned_region_is_annotated_once(demo_run):
    regions = json.loads((demo_run / "results/annotation/chunks.json").read_text())
    chunks = sorted(p.name for p in (demo_run / "results/annotation/chunks").glob("*.parquet"))
    assert chunks == [f"{i:03d}.parquet" for i in range(len(regions))], (regions, chunks)


def test_a_failed_training_leaves_the_model_in_use(demo_run, tmp_path):
    """Training into a staging folder: the failure removes only the staged files, never the trait's bundle."""
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(demo_run, workdir, symlinks=True)  # copy2 keeps the times Snakemake compares
    bundle = workdir / "results/model/demo_disease"
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    # Training input that cannot be read: train_model reruns (its input is newer) and fails.
    (workdir / "results/features/demo_disease/cohort.parquet").write_bytes(b"not a parquet file")
    proc = run_snakemake(workdir, "--until", "publish_model", check=False)
    assert proc.returncode != 0
    assert "Error in rule train_model" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert not (workdir / "results/training/demo_disease/model/model.ubj").exists()
    after = {p.name: p.read_bytes() for p in bundle.iterdir()}
    assert after == before
    verify_bundle(bundle)


def _hostile_copy(src, dest, sample):
    """``src`` with its sample renamed ``sample`` and one GT naming an ALT allele the record lacks; its line."""
    import gzip

    with gzip.open(src, "rt") as f:
        lines = f.read().splitlines(keepends=True)
    n_header = sum(line.startswith("#") for line in lines)
    fields = lines[n_header + 5].rstrip("\n").split("\t")
    fields[9] = "0/7" + fields[9][3:]
    lines[n_header + 5] = "\t".join(fields) + "\n"
    lines[n_header - 1] = "\t".join(lines[n_header - 1].rstrip("\n").split("\t")[:9] + [sample]) + "\n"
    plain = dest.with_suffix("")
    plain.write_text("".join(lines))
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    return n_header + 6


def test_refused_patients_never_block_the_others(demo_run, tmp_path):
    """One hostile VCF and one sample missing from a shared VCF: the others get reports, the two get error.json."""
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(demo_run, workdir, symlinks=True)  # copy2 keeps the times Snakemake compares
    extra = workdir / "intake"
    extra.mkdir()
    bad_line = _hostile_copy(workdir / "resources/demo/patients/P1.vcf.gz", extra / "P4.vcf.gz", "S_P4")
    # A batch VCF of two patients (P2's and P3's samples), named by two new rows.
    subprocess.run(
        ["bcftools", "merge", "-Oz", "-o", str(extra / "batch.vcf.gz")]
        + [str(workdir / f"resources/demo/patients/{p}.vcf.gz") for p in ("P2", "P3")],
        check=True,
    )
    sheet = workdir / "patients.tsv"
    sheet.write_text(
        sheet.read_text()
        + "P4\tintake/P4.vcf.gz\tS_P4\tfemale\t61\n"  # line 5: hostile
        + "P5\tresources/demo/patients/P1.vcf.gz\tS_nobody\tmale\t62\n"  # line 6: sample not in P1's file
        + "P6\tintake/batch.vcf.gz\tS_P2\tmale\t63\n"
        + "P7\tintake/batch.vcf.gz\tS_P3\tfemale\t64\n"
    )
    jobs = planned_jobs(run_snakemake(workdir, "-n"))
    # One job per distinct VCF: P4's, P1's (a new row names it) and the shared batch VCF once.
    assert jobs.get("prepare_patient_vcf") == 3, jobs
    for untouched in ["simulate_demo", "cohort_qc", "cohort_features", "train_model"]:
        assert untouched not in jobs, jobs

    proc = run_snakemake(workdir, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    log = (workdir / "results/logs/check_patient_intake.log").read_text()
    assert "2 patient(s) refused" in log and "P4 (sample sheet line 5)" in log and "P5 (sample sheet line 6)" in log
    out = workdir / "results/patients"
    for pid in ("P1", "P2", "P3", "P6", "P7"):
        assert (out / pid / "report.html").stat().st_size > 0, pid
        assert not (out / pid / "error.json").exists()
    errors = {pid: json.loads((out / pid / "error.json").read_text()) for pid in ("P4", "P5")}
    assert errors["P4"]["sheet_line"] == 5 and errors["P4"]["file"] == "intake/P4.vcf.gz"
    assert errors["P4"]["record"].startswith(f"line {bad_line}") and "allele" in errors["P4"]["problem"], errors
    assert errors["P5"]["sheet_line"] == 6 and errors["P5"]["record"] == "header (#CHROM line)"
    assert "'S_nobody'" in errors["P5"]["problem"]
    for pid in ("P4", "P5"):
        assert sorted(p.name for p in (out / pid).iterdir() if not p.name.startswith(".")) == ["error.json"]
    summary = json.loads((workdir / "results/cohort/cohort_summary.json").read_text())
    assert [e["patient_id"] for e in summary["patients"]["refused"]] == ["P4", "P5"]
    assert "P4" in (workdir / "results/cohort/cohort_report.html").read_text()
    # Exit status 0 with on_error: continue; only the check reruns.
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    cfg["patients"]["on_error"] = "continue"
    (workdir / "config_continue.yaml").write_text(yaml.safe_dump(cfg))
    assert planned_jobs(run_snakemake(workdir, "-n", configfile="config_continue.yaml")) == {
        "check_patient_intake": 1,
        "all": 1,
    }
    run_snakemake(workdir, configfile="config_continue.yaml")
    assert "Nothing to be done" in run_snakemake(workdir, "-n", configfile="config_continue.yaml").stdout
    # The file fixed: P4 is scored, its error.json gone; only its file and batch rerun.
    shutil.copy(workdir / "resources/demo/patients/P1.vcf.gz", extra / "P4.vcf.gz")
    subprocess.run(
        ["bcftools", "reheader", "-s", "/dev/stdin", "-o", str(extra / "P4.fixed.vcf.gz"), str(extra / "P4.vcf.gz")],
        input="S_P4\n",
        text=True,
        check=True,
    )
    (extra / "P4.fixed.vcf.gz").replace(extra / "P4.vcf.gz")
    jobs = planned_jobs(run_snakemake(workdir, "-n", configfile="config_continue.yaml"))
    assert jobs.get("prepare_patient_vcf") == 1 and jobs.get("patient_features") == 1, jobs
    run_snakemake(workdir, configfile="config_continue.yaml")
    assert (out / "P4/report.html").exists() and not (out / "P4/error.json").exists()
    assert json.loads((out / "P4/result.json").read_text())["sample"] == "S_P4"
