"""Adapter: rule check_patient_intake -> the run's exit status for refused patients (patients.on_error)."""

import logging

from genorisk.errors import InputError
from genorisk.io import read_json, write_json
from genorisk.runner import run_step

log = logging.getLogger("genorisk.check_patient_intake")


def main():
    refused = [e for path in snakemake.input.refused for e in read_json(path)]
    lines = [
        f"{e['patient_id']} (sample sheet line {e['sheet_line']}): {e['file']}"
        + (f": {e['record']}" if e.get("record") else "")
        + f": {e['problem']}"
        for e in refused
    ]
    for line in lines:
        log.warning("refused: %s", line)
    if refused and snakemake.params.on_error == "fail":
        raise InputError(
            None,
            f"{len(refused)} patient(s) refused, the others were reported "
            f"(patients/<id>/error.json; patients.on_error: continue makes this exit 0): " + "; ".join(lines),
        )
    write_json(snakemake.output.check, {"on_error": snakemake.params.on_error, "refused": refused})


run_step(snakemake, main)
