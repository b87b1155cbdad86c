"""Adapter: rule score_patients -> genorisk.model.score_patients + genorisk.results."""

from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.model import load_model, read_feature_matrix, score_patients
from genorisk.results import patient_result
from genorisk.runner import run_step


def main():
    model_dir = Path(snakemake.input.model).parent
    # results: <outdir>/patients/batches/<batch>/results.json -> <outdir>/patients
    patients_dir = Path(snakemake.output.results).parents[2]
    model = load_model(model_dir)
    card = read_json(model_dir / "model_card.json")
    cohort_risks = read_json(model_dir / "cohort_risks.json")
    features = read_feature_matrix(snakemake.input.features)
    qc = read_json(snakemake.input.qc)
    scored = {s["sample_id"]: s for s in score_patients(model, features, path=snakemake.input.features)}
    results = []
    for patient in snakemake.params.patients:
        pid = patient["patient_id"]
        result = patient_result(
            patient, scored[pid], qc[pid], card, cohort_risks,
            notable_variants=qc[pid].get("notable_variants"),
        )
        # Patient folders are owner-only: they hold one person's health data.
        folder = patients_dir / pid
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_json(folder / "result.json", result, mode=0o600)
        results.append(result)
    write_json(snakemake.output.results, results, mode=0o600)


run_step(snakemake, main)
