"""Shared fixtures (a small demo config, one local run of the workflow on it) and the test tiers.

Tiers (markers registered in pyproject.toml; the Makefile runs them):

* unit - everything not marked below; ``make test-unit``, under 60 s on 2 cores;
* ``integration`` - tests over about a second each: simulations, model training,
  external oracles (bcftools, plink2, snakemake). Listed in :data:`INTEGRATION`
  below, from measured durations (``pytest --durations``), or marked in the file;
* ``slow`` (the workflow end to end), ``slurm``, ``browser`` - marked in their files.

``make test`` and ``make test-all`` run every tier.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# The README's entry point; the catalog layout's workflow/Snakefile when the root one is gone.
SNAKEFILE = REPO / "Snakefile" if (REPO / "Snakefile").exists() else REPO / "workflow" / "Snakefile"
# The demo's config: its own file once the default config holds nothing demo-specific.
DEMO_CONFIG = (
    REPO / "config" / "demo.yaml" if (REPO / "config" / "demo.yaml").exists() else REPO / "config" / "config.yaml"
)

#: The integration tier, by test file: test functions, or fixtures (every test using one is
#: integration), measured at over ~1 s each on 2 cores (``pytest --durations``); None: the
#: whole file. New expensive tests can be marked ``@pytest.mark.integration`` in place instead.
INTEGRATION: dict[str, set[str] | None] = {
    "test_ancestry.py": None,  # every test uses the simulated multi-population panel (6 s)
    "test_normalize.py": {"test_every_accepted_corpus_file_normalises_and_loads"},
    "test_model.py": {
        "additive_model",  # a trained model: 2-3 s
        "test_no_leakage_on_noise_phenotype",
        "test_nonadditive_architecture_beats_linear_baseline",
        "test_platt_calibration_runs",
    },
    "test_config.py": {"real_cohort", "test_snakemake_refuses_a_bad_config_before_any_job"},  # run snakemake
    "test_qc.py": {"test_real_files_match_bcftools", "test_hwe_p_matches_plink2_hardy"},
    "test_report.py": {"test_pdf_is_written_with_the_html", "test_pdf_fetches_nothing"},  # WeasyPrint
    "test_annotate.py": {"test_scatter_gather_equals_single_chunk"},
    "test_patient_qc.py": {"test_patient_features_read_only_schema_positions_through_the_index"},
    "test_bundle.py": {"model_dir"},  # a trained model: 2 s
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = INTEGRATION.get(item.path.name, set())
        if names is None or names & {getattr(item, "originalname", item.name), *getattr(item, "fixturenames", ())}:
            item.add_marker(pytest.mark.integration)


def small_config() -> dict:
    """The demo config, shrunk to run in about a minute (600 people, 2 Mb, tiny search)."""
    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    cfg["simulate"].update(
        n_cohort=600,
        n_reference=100,
        start=25_000_001,
        end=27_000_000,
        demography="constant",
        outlier_population=None,
        prevalence=0.2,
        n_causal=40,
        burden_genes=1,
        pgs_gwas_n=50_000,
        pgs_null_variants=50,
    )
    cfg["annotation"]["gene_model"] = str(REPO / cfg["annotation"]["gene_model"])
    cfg["patients"].update(sheet="patients.tsv", batch_size=2)
    cfg["model"] = {"n_folds": 3, "n_trials": 1, "n_bootstrap": 20}
    return cfg


def write_sheet(workdir: Path, ids: list[str]) -> None:
    rows = ["patient_id\tvcf\tsample\tsex\tage"]
    rows += [
        f"{p}\tresources/demo/patients/{p}.vcf.gz\tS_{p}\t{'male' if i % 2 else 'female'}\t{50 + i}"
        for i, p in enumerate(ids)
    ]
    (workdir / "patients.tsv").write_text("\n".join(rows) + "\n")


def prepare_workdir(workdir: Path, ids=("P1", "P2", "P3")) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(small_config()))
    write_sheet(workdir, list(ids))
    return workdir


def run_snakemake(
    workdir: Path, *args: str, configfile: str = "config.yaml", check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(SNAKEFILE),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / configfile),
            "--cores",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
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


def simulate_small_cohort(out: Path) -> Path:
    """A small simulated cohort (400 people, 1 Mb of chr21, constant size, seed 11) in ``out``; its VCF."""
    import pandas as pd

    from genorisk.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(
        seed=11, n_cohort=400, n_reference=50, start=25_000_001, end=26_000_000, demography="constant",
        outlier_population=None, n_causal=20, burden_genes=1, prevalence=0.3, pgs_gwas_n=0,
    )  # fmt: skip
    patients = pd.DataFrame({"patient_id": ["P1"], "vcf": [str(out / "patients" / "P1.vcf.gz")], "sample": ["S1"]})
    simulate(cfg, patients, out, REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz")
    return out / "cohort.vcf.gz"
