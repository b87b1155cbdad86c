"""The ``genorisk`` command: subcommands, exit status and messages that name the file, record and problem."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genorisk
from genorisk.cli import main

CORPUS = Path(__file__).parent / "data" / "peer-data" / "files"
GOOD_VCF = CORPUS / "bcftools" / "missing.vcf"  # GRCh37 contig lengths, 5 records, 3 samples
BAD_VCF = CORPUS / "vcf-validator" / "failed_header_000.vcf"  # "#CHROM POSITION ..." header


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "train", "score", "report", "simulate"):
        assert command in out


def test_version_is_the_package_version_and_the_installed_metadata(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"genorisk {genorisk.__version__}"
    # pyproject.toml reads the version from genorisk.__version__: one place.
    assert importlib.metadata.version("genorisk") == genorisk.__version__


def test_python_dash_m_and_the_console_script_run():
    module = subprocess.run([sys.executable, "-m", "genorisk", "--version"], capture_output=True, text=True)
    assert module.returncode == 0 and module.stdout.strip() == f"genorisk {genorisk.__version__}"
    script = Path(sys.executable).with_name("genorisk")
    assert script.exists(), "the genorisk console script is not installed (pip install -e .)"
    proc = subprocess.run(
        [str(script), "validate", "--genome-build", "GRCh37", str(GOOD_VCF)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate"])
    assert exit_info.value.code == 2
    assert "usage: genorisk validate" in capsys.readouterr().err


def test_validate_good_file_prints_a_summary_and_writes_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["validate", "--genome-build", "GRCh37", str(GOOD_VCF), "--json", str(out)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"{GOOD_VCF}: OK: ")
    assert "5 records" in line and "3 samples" in line and "GRCh37" in line
    report = json.loads(out.read_text())
    assert report["n_records"] == 5 and report["genome_build"] == "GRCh37"


def test_validate_bad_file_names_file_line_and_problem(capsys):
    assert main(["validate", "--genome-build", "none", str(GOOD_VCF), str(BAD_VCF)]) == 1
    captured = capsys.readouterr()
    assert f"{GOOD_VCF}: OK" in captured.out  # the good file is still reported
    assert captured.err.startswith(f"genorisk validate: {BAD_VCF}: line 2: ")
    assert "POSITION" in captured.err


def test_validate_wrong_build_and_missing_file_are_input_errors(tmp_path, capsys):
    assert main(["validate", str(GOOD_VCF)]) == 1  # GRCh37 lengths, GRCh38 expected by default
    assert "GRCh37" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "absent.vcf.gz")]) == 1
    assert "absent.vcf.gz: file does not exist" in capsys.readouterr().err


def test_report_patients_and_cohort(tmp_path):
    from genorisk.report import example_cohort, example_result

    (tmp_path / "a.json").write_text(json.dumps(example_result("P0001")))
    (tmp_path / "more.jsonl").write_text(json.dumps(example_result("P0002", seed=1)) + "\n\n")
    inputs = [str(tmp_path / "a.json"), str(tmp_path / "more.jsonl")]
    assert main(["report", "patients", str(tmp_path / "out"), *inputs]) == 0
    for pid in ("P0001", "P0002"):
        assert (tmp_path / "out" / pid / "report.html").stat().st_size > 0
    (tmp_path / "cohort.json").write_text(json.dumps(example_cohort()))
    assert main(["report", "cohort", str(tmp_path / "cohort.json"), str(tmp_path / "cohort.html")]) == 0
    assert "<html" in (tmp_path / "cohort.html").read_text().lower()


def test_report_bad_jsonl_names_the_line(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text("\n{not json\n")
    assert main(["report", "patients", str(tmp_path / "out"), str(tmp_path / "bad.jsonl")]) == 1
    assert f"genorisk report: {tmp_path / 'bad.jsonl'}: line 2: not valid JSON" in capsys.readouterr().err


def test_simulate_main_is_folded_into_the_cli():
    import genorisk.simulate

    assert not hasattr(genorisk.simulate, "main")


def test_train_then_score(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n, m = 400, 12
    dosages = rng.binomial(2, 0.3, size=(n, m)).astype(np.float32)
    liability = dosages[:, :3].sum(axis=1) + rng.normal(size=n)
    labels = (liability > np.quantile(liability, 0.7)).astype(int)
    ids = pd.Index([f"S{i:04d}" for i in range(n)], name="sample_id")
    names = [f"rs{i}" for i in range(m)]
    pd.DataFrame(dosages, index=ids, columns=names).to_parquet(tmp_path / "features.parquet")
    pd.DataFrame({"sample_id": ids, "label": labels}).to_csv(tmp_path / "labels.tsv", sep="\t", index=False)
    schema = {
        "schema_version": 1,
        "features": [
            {
                "name": c,
                "kind": "dosage",
                "label": f"variant chr21:{5000000 + i} A>G",
                "group": f"gene G{i // 4}",
                "definition": {"chrom": "chr21", "pos": 5000000 + i, "ref": "A", "alt": "G"},
            }
            for i, c in enumerate(names)
        ],
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text("model:\n  n_folds: 3\n  n_trials: 1\n  n_bootstrap: 20\n")

    def train(config: str, out: str) -> int:
        files = {
            "--features": "features.parquet",
            "--schema": "schema.json",
            "--labels": "labels.tsv",
            "--config": config,
            "--out": out,
        }
        return main(["train", "--threads", "1", *(a for k, v in files.items() for a in (k, str(tmp_path / v)))])

    assert train("config.yaml", "model") == 0
    assert (tmp_path / "model" / "model_card.json").exists()
    score = ["score", "--model", str(tmp_path / "model"), "--features", str(tmp_path / "features.parquet")]
    assert main([*score, "--top-n", "3", "--out", str(tmp_path / "scores.json")]) == 0
    patients = json.loads((tmp_path / "scores.json").read_text())["patients"]
    assert len(patients) == n and all(0 <= p["risk"] <= 1 and len(p["drivers"]) <= 3 for p in patients)

    # A trait's bundle (model/<trait>/ of a training run) scores the same; a changed bundle is refused.
    from genorisk.model.bundle import write_bundle

    sites = pd.DataFrame({"chrom": "chr21", "pos": 5000000 + np.arange(m), "ref": "A", "alt": "G"})
    reference = {"format_version": 1, "sample_ranges": {"min_call_rate": None, "het_rate": None}, "n_samples": n}
    trait = {"id": "t", "name": "T", "column": "label", "prevalence": None, "covariates": [], "scores": []}
    bundle = tmp_path / "bundle"
    write_bundle(bundle, trait, model_dir=tmp_path / "model", cohort_reference=reference, cohort_sites=sites)
    score[2] = str(bundle)
    assert main([*score, "--top-n", "3", "--out", str(tmp_path / "from_bundle.json")]) == 0
    assert (tmp_path / "from_bundle.json").read_text() == (tmp_path / "scores.json").read_text()
    with (bundle / "cohort_reference.json").open("a") as fh:
        fh.write(" ")
    assert main([*score, "--out", str(tmp_path / "refused.json")]) == 1
    err = capsys.readouterr().err
    assert "cohort_reference.json" in err and "tampered or incomplete bundle" in err
    assert not (tmp_path / "refused.json").exists()

    # A typo in the model section fails before training, naming the key, and writes no model.
    (tmp_path / "typo.yaml").write_text("model:\n  n_fold: 3\n")
    assert train("typo.yaml", "model2") == 1
    assert "n_fold" in capsys.readouterr().err
    assert not (tmp_path / "model2").exists()


@pytest.mark.integration
def test_simulate_writes_the_demo_files_for_the_sheets_simulated_patients(tmp_path):
    gene_model = Path(__file__).resolve().parents[1] / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"
    out = tmp_path / "sim"
    sheet = tmp_path / "patients.tsv"
    sheet.write_text(
        "patient_id\tvcf\tsample\tsex\tage\n"
        f"P1\t{out}/patients/P1.vcf.gz\tS1\tfemale\t50\n"
        f"R1\t{GOOD_VCF}\tA\tmale\t60\n"  # a real patient: not simulated
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "simulate:\n  outdir: ignored\n  n_cohort: 100\n  n_reference: 50\n  start: 25000001\n  end: 25500000\n"
        "  demography: constant\n  outlier_population: null\n  n_causal: 10\n  burden_genes: 1\n"
        "  pgs_gwas_n: 5000\n  pgs_null_variants: 10\n  ancestry_panel: 0\n"
    )
    args = ["simulate", "--config", str(config), "--patients", str(sheet), "--gene-model", str(gene_model)]
    assert main([*args, "--outdir", str(out)]) == 0
    assert (out / "cohort.vcf.gz").exists() and (out / "truth.json").exists()
    assert (out / "patients" / "P1.vcf.gz").exists()
    assert not (out / "patients" / "R1.vcf.gz").exists()
