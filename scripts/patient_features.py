"""Adapter: rule patient_features -> genorisk.intake.patient_inputs for each patient of a batch."""

import logging

import pandas as pd

from genorisk.intake import patient_inputs
from genorisk.io import atomic_output, read_json, write_json
from genorisk.runner import run_step

log = logging.getLogger("genorisk.patient_features")


def main():
    schema = read_json(snakemake.input.schema)
    frames, qc = [], {}
    for patient in snakemake.params.patients:
        frame, qc[patient["patient_id"]] = patient_inputs(
            patient,
            schema,
            genome_build=snakemake.params.genome_build,
            annotation=snakemake.params.annotation,
            population_af_key=snakemake.params.population_af_key,
            rare_max_af=snakemake.params.rare_max_af,
            fasta=snakemake.params.fasta,
        )
        frames.append(frame)
        coverage = qc[patient["patient_id"]]["coverage"]
        log.info("%s: coverage of model variants %.3f", patient["patient_id"], coverage["coverage"])
    with atomic_output(snakemake.output.features) as tmp:
        pd.concat(frames).to_parquet(tmp)
    write_json(snakemake.output.qc, qc)


run_step(snakemake, main)
