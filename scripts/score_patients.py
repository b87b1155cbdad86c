"""Adapter: rule score_patients -> genorisk.model.score_patients + genorisk.results (one batch)."""

from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.model import load_model, read_feature_matrix, score_patients, trait_settings
from genorisk.results import patient_result
from genorisk.runner import run_step


def main():
    inputs, params = snakemake.input, snakemake.params
    # load_model reads (and checks the SHA-256 of) every declared model file in this folder.
    model = load_model(Path(inputs.model).parent)
    card = read_json(inputs.card)
    cohort_risks = read_json(inputs.cohort_risks)
    features = read_feature_matrix(inputs.features)
    qc = read_json(inputs.qc)
    # Refused patients (patients/batches/<batch>/refused.json) have no features and no result.
    scored = {s["sample_id"]: s for s in score_patients(model, features, path=inputs.features)} if len(features) else {}
    # Today one trait per run (issue #13 item 1 makes this a loop over traits).
    trait = trait_settings(params.traits)[0]
    pc_columns = [f["name"] for f in model.schema["features"] if f["kind"] == "pc"]
    results = []
    for patient in params.patients:
        pid = patient["patient_id"]
        if pid not in qc:
            continue
        results.append(
            patient_result(
                patient,
                scored[pid],
                qc[pid],
                card,
                cohort_risks,
                notable_variants=qc[pid].get("notable_variants"),
                trait=trait,
                outlier_policy=params.outlier_policy,
                outlier_rate=params.outlier_rate,
                min_coverage=params.min_coverage,
                ancestry_pcs=features.loc[pid, pc_columns].astype(float).tolist() if pc_columns else None,
            )
        )
    # Per-patient result.json files are written with the reports (rule patient_reports_<batch>).
    write_json(snakemake.output.results, results, mode=0o600)


run_step(snakemake, main)
