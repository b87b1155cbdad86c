# Shared setup: config and sample-sheet validation, patient batches, input
# functions and per-rule resources. Every other rule file uses what is here.
import sys
from pathlib import Path

from genorisk.config import read_patient_sheet, validate_config
from genorisk.errors import ConfigError
from genorisk.simulate import SimulationConfig

WORKFLOW_DIR = Path(workflow.basedir)
SCHEMA = WORKFLOW_DIR / "workflow" / "schemas" / "config.schema.yaml"

try:
    validate_config(config, SCHEMA, source="config")
except ConfigError as err:
    sys.exit(f"genorisk: invalid config: {err}")

OUTDIR = config["outdir"].rstrip("/")
SIM = config.get("simulate")
SIM_DIR = SIM["outdir"].rstrip("/") if SIM else None
COVARIATES = config["cohort"]["covariates"]

# Files the demo simulation writes (they need not exist before the run).
SIM_CONFIG = (
    SimulationConfig.from_dict({k: v for k, v in SIM.items() if k != "outdir"})
    if SIM
    else None
)
SIM_FILES = (
    {
        "cohort_vcf": f"{SIM_DIR}/cohort.vcf.gz",
        "phenotypes": f"{SIM_DIR}/phenotypes.tsv",
        "truth": f"{SIM_DIR}/truth.json",
        "clinvar": f"{SIM_DIR}/clinvar.simulated.vcf.gz",
        "popfreq": f"{SIM_DIR}/popfreq.simulated.vcf.gz",
        "pgs": f"{SIM_DIR}/PGS_SIM_DEMO.txt",
        **(
            {"ancestry_panel": f"{SIM_DIR}/ancestry_panel.vcf.gz"}
            if SIM_CONFIG.ancestry_panel
            else {}
        ),
    }
    if SIM
    else {}
)


try:
    PATIENTS = read_patient_sheet(
        config["patients"]["sheet"], covariates=COVARIATES, produced_under=SIM_DIR
    )
except ConfigError as err:
    sys.exit(f"genorisk: invalid patient sample sheet: {err}")

# Patients the demo simulation writes: its rows are the simulation's params, so
# editing other rows of the sheet does not rerun the simulation.
SIM_PATIENTS = (
    PATIENTS[PATIENTS["vcf"].str.startswith(SIM_DIR + "/")]
    if SIM
    else PATIENTS.iloc[:0]
)

# Patients in sheet order, cut into batches: appending patients touches only
# the last batch, so a rerun scores only the batch that changed.
BATCH_SIZE = config["patients"]["batch_size"]
BATCHES = {
    f"b{i // BATCH_SIZE:05d}": PATIENTS.iloc[i : i + BATCH_SIZE]
    for i in range(0, len(PATIENTS), BATCH_SIZE)
}


wildcard_constraints:
    batch=r"b\d{5}",


def batch_patients(wildcards):
    """The batch's patients as plain records (params: a change reruns that batch)."""
    cols = ["patient_id", "vcf", "sample"] + [
        c for c in ["sex", *COVARIATES] if c in PATIENTS.columns
    ]
    frame = BATCHES[wildcards.batch][list(dict.fromkeys(cols))]
    return frame.to_dict(orient="records")


def batch_vcfs(wildcards):
    return list(BATCHES[wildcards.batch]["vcf"])


ANNOTATION = config["annotation"]
ANNOTATION_CHUNKS = [f"{i:03d}" for i in range(ANNOTATION["n_chunks"])]


def annotation_inputs(wildcards=None):
    """The annotation resources that are configured (each is optional)."""
    files = {}
    for key in ("gene_model", "fasta", "clinvar", "dbsnp"):
        if ANNOTATION.get(key):
            files[key] = ANNOTATION[key]
    if ANNOTATION.get("population_af"):
        files["population_af"] = ANNOTATION["population_af"]["vcf"]
    return files


def resource_vcfs(wildcards=None):
    """The indexed VCF resources and the ancestry panel that are configured, for validate_resources."""
    files = {
        k: v
        for k, v in annotation_inputs().items()
        if k in ("clinvar", "population_af", "dbsnp")
    }
    if config["ancestry"]["reference_panel"]:
        files["ancestry_panel"] = config["ancestry"]["reference_panel"]
    return files


def fasta_input(wildcards=None):
    """The reference FASTA, if configured (left-alignment and consequences)."""
    return {"fasta": ANNOTATION["fasta"]} if ANNOTATION.get("fasta") else {}


def population_af_key():
    return (ANNOTATION.get("population_af") or {}).get("info_key", "AF")


def ancestry_panel():
    """The ancestry reference panel VCF, if configured (list: empty when not)."""
    panel = config["ancestry"]["reference_panel"]
    return [panel] if panel else []


def cohort_truth():
    """The simulation truth file, if the config names one (enables the AUC ceiling)."""
    truth = config["cohort"].get("truth")
    return [truth] if truth else []


# Defaults for each rule, from the benchmarks measured on the demo (results/benchmarks;
# peak RSS x 1.5, wall time x 3, at least 500 MB / 10 min), 2 cores, 2026-11-22.
# Measured max_rss MB / s: simulate 1629/30, validate 38/8, qc 167/25,
# annotate_chunk 180/8, gather 116/1, cohort_features 1090/25, train 1195/137,
# patient_features 290/15, score 842/6, patient_reports 46/1, cohort_report 224/3.
# They grow with cohort size; override them in the config section `resources`.
DEFAULT_RESOURCES = {
    "simulate_demo": {"threads": 2, "mem_mb": 2500, "runtime": 10},
    "validate_cohort": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "normalize_cohort": {"threads": 2, "mem_mb": 500, "runtime": 10},
    "cohort_qc": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "validate_resources": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "annotate_chunk": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "gather_annotation": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "cohort_features": {"threads": 1, "mem_mb": 1750, "runtime": 10},
    "train_model": {"threads": 2, "mem_mb": 2000, "runtime": 10},
    "patient_features": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "score_patients": {"threads": 1, "mem_mb": 1500, "runtime": 10},
    "patient_reports": {"threads": 1, "mem_mb": 500, "runtime": 10},
    "cohort_report": {"threads": 1, "mem_mb": 500, "runtime": 10},
}


def res(rule, key):
    """Resource ``key`` of ``rule``: config ``resources: {rule: {key: ...}}`` wins.

    Memory and run time grow with each retry (``--retries``), so a job killed
    for exceeding them is resubmitted with more.
    """
    value = config["resources"].get(rule, {}).get(key, DEFAULT_RESOURCES[rule][key])
    if key in ("mem_mb", "runtime"):
        return lambda wildcards, attempt: value * attempt
    return value


def all_outputs():
    outs = [
        f"{OUTDIR}/qc/cohort.validation.json",
        f"{OUTDIR}/model/metrics.json",
        f"{OUTDIR}/cohort/cohort_report.html",
    ]
    outs += expand(f"{OUTDIR}/patients/batches/{{batch}}/reports.json", batch=BATCHES)
    return outs
