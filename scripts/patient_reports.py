"""Adapter: rule patient_reports -> genorisk.report.render_patient_reports."""

from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.report import render_patient_reports
from genorisk.runner import run_step


def main():
    results = read_json(snakemake.input.results)
    # manifest: <outdir>/patients/batches/<batch>/reports.json -> <outdir>/patients
    patients_dir = Path(snakemake.output.manifest).parents[2]
    written = render_patient_reports(results, patients_dir, pdf=snakemake.params.pdf)
    manifest = [
        {"patient_id": r["patient_id"], **{kind: str(path) for kind, path in paths.items()}}
        for r, paths in zip(results, written)
    ]
    # Written last: a batch whose manifest exists is complete.
    write_json(snakemake.output.manifest, manifest, mode=0o600)


run_step(snakemake, main)
