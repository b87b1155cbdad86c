"""Adapter: rule patient_reports_<batch> -> each patient's result.json + genorisk.report.render_patient_reports.

A refused patient's folder gets error.json (genorisk.patient_files.refusal) and no report. With
pgx.enabled the batch's pgx.json is an input: each result gets its patient's Medicines section
(genorisk.report.pharmacogenomics_section; a patient refused by pgx alone keeps the disease report).
"""

import os
from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.report import ReportRenderer, pharmacogenomics_section, render_patient_reports
from genorisk.runner import run_step


def main():
    results = read_json(snakemake.input.results)
    refused = read_json(snakemake.input.refused)
    # The declared outputs are each patient's folder, <patients>/<patient_id>.
    folders = [Path(f) for f in snakemake.output.folders]
    patients_dir = folders[0].parent
    named = {r["patient_id"] for r in results} | {e["patient_id"] for e in refused}
    if {f.parent for f in folders} != {patients_dir} or {f.name for f in folders} != named:
        raise RuntimeError("the rule's outputs and the batch's results name different patient folders")
    pgx_path = getattr(snakemake.input, "pgx", None)
    if pgx_path is not None:
        pgx = read_json(pgx_path)["patients"]
        unknown = [r["patient_id"] for r in results if r["patient_id"] not in pgx]
        if unknown:
            raise RuntimeError(f"{pgx_path} has no object for patient(s) {', '.join(unknown)}")
        for result in results:
            pid = result["patient_id"]
            result["pharmacogenomics"] = pharmacogenomics_section(pgx[pid], patient_id=pid, source=pgx_path)
    for folder in folders:
        # Patient folders are owner-only: they hold one person's health data.
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for error in refused:
        write_json(patients_dir / error["patient_id"] / "error.json", error, mode=0o600)
    for result in results:
        write_json(patients_dir / result["patient_id"] / "result.json", result, mode=0o600)
    renderer = ReportRenderer(thresholds=snakemake.params.thresholds)
    written = render_patient_reports(results, patients_dir, pdf=snakemake.params.pdf, renderer=renderer)
    for folder in folders:
        files = {p.name for p in folder.iterdir()}
        wanted = (
            {"error.json"}
            if folder.name in {e["patient_id"] for e in refused}
            else {"result.json", "report.json", "report.html"} | ({"report.pdf"} if snakemake.params.pdf else set())
        )
        if files != wanted:
            raise RuntimeError(f"{folder}: files written {sorted(files)}, expected {sorted(wanted)}")
    manifest = [
        {"patient_id": r["patient_id"], **{kind: str(path) for kind, path in paths.items()}}
        for r, paths in zip(results, written, strict=False)
    ]
    manifest += [
        {"patient_id": e["patient_id"], "error": os.path.normpath(patients_dir / e["patient_id"] / "error.json")}
        for e in refused
    ]
    # Written last: a batch whose manifest exists is complete.
    write_json(snakemake.output.manifest, manifest, mode=0o600)


run_step(snakemake, main)
