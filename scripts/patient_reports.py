"""Adapter: rule patient_reports_<batch> -> each patient's result.json + genorisk.report.render_patient_reports."""

import os
from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.report import ReportRenderer, render_patient_reports
from genorisk.runner import run_step


def main():
    results = read_json(snakemake.input.results)
    # The declared outputs name each patient's folder, <patients>/<patient_id>/report.json.
    folders = {Path(p).parent for p in snakemake.output.json}
    patients_dir = Path(snakemake.output.json[0]).parent.parent
    if {f.parent for f in folders} != {patients_dir} or {f.name for f in folders} != {r["patient_id"] for r in results}:
        raise RuntimeError("the rule's outputs and the batch's results name different patient folders")
    declared = {os.path.normpath(p) for p in snakemake.output if p != snakemake.output.manifest}
    for result in results:
        # Patient folders are owner-only: they hold one person's health data.
        folder = patients_dir / result["patient_id"]
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_json(folder / "result.json", result, mode=0o600)
    renderer = ReportRenderer(thresholds=snakemake.params.thresholds)
    written = render_patient_reports(results, patients_dir, pdf=snakemake.params.pdf, renderer=renderer)
    produced = {
        os.path.normpath(folder / "result.json") for folder in (patients_dir / r["patient_id"] for r in results)
    }
    produced |= {os.path.normpath(path) for paths in written for path in paths.values()}
    if produced != declared:
        raise RuntimeError(f"files written differ from the rule's outputs: {sorted(produced ^ declared)[:5]}")
    manifest = [
        {"patient_id": r["patient_id"], **{kind: str(path) for kind, path in paths.items()}}
        for r, paths in zip(results, written, strict=False)
    ]
    # Written last: a batch whose manifest exists is complete.
    write_json(snakemake.output.manifest, manifest, mode=0o600)


run_step(snakemake, main)
