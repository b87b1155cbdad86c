"""Adapter: rule patient_features -> genorisk.intake.batch_patient_inputs (one batch)."""

import logging
from pathlib import Path

import pandas as pd

from genorisk.intake import batch_patient_inputs
from genorisk.io import atomic_output, read_json, write_json
from genorisk.patient_checks import cohort_sample_ranges
from genorisk.runner import run_step

log = logging.getLogger("genorisk.patient_features")


def main():
    schema = read_json(snakemake.input.schema)
    # <outdir>/patients/vcfs/<vcf_key>/status.json
    prepared = {Path(path).parent.name: read_json(path) for path in snakemake.input.status}
    params = snakemake.params
    features, qc, refused = batch_patient_inputs(
        params.patients,
        prepared,
        schema,
        cohort_sites=pd.read_parquet(snakemake.input.variant_qc, columns=["chrom", "pos", "ref", "alt"]),
        cohort_ranges=cohort_sample_ranges(
            read_json(snakemake.input.qc_summary), pd.read_csv(snakemake.input.sample_qc, sep="\t")
        ),
        genome_build=params.genome_build,
        annotation=params.annotation,
        population_af_key=params.population_af_key,
        rare_max_af=params.rare_max_af,
        fasta=params.fasta,
        callable_bed=params.callable_bed,
        gvcf_min_gq=params.gvcf_min_gq,
        gvcf_min_dp=params.gvcf_min_dp,
    )
    for pid, record in qc.items():
        log.info("%s: coverage of model variants %.3f", pid, record["coverage"]["coverage"])
    log.info("%d patients read, %d refused", len(qc), len(refused))
    if features is None:  # every patient of the batch was refused: an empty table of the schema's columns
        features = pd.DataFrame(
            columns=[f["name"] for f in schema["features"]], index=pd.Index([], name="sample_id"), dtype="float32"
        )
    with atomic_output(snakemake.output.features) as tmp:
        features.to_parquet(tmp)
    write_json(snakemake.output.qc, qc)
    write_json(snakemake.output.refused, refused)


run_step(snakemake, main)
