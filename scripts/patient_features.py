"""Adapter: rule patient_features -> genorisk.intake.batch_patient_inputs (one batch, every trait)."""

import logging
from pathlib import Path

import pandas as pd

from genorisk.intake import batch_patient_inputs
from genorisk.io import atomic_output, read_json, write_json
from genorisk.model.bundle import verify_bundle
from genorisk.runner import run_step

log = logging.getLogger("genorisk.patient_features")


def main():
    inputs, params = snakemake.input, snakemake.params
    # Every bundle's files are checked against its bundle.json before any is read.
    for manifest in inputs.manifests:
        verify_bundle(Path(manifest).parent)
    schemas = {trait: read_json(path) for trait, path in zip(params.traits, inputs.schemas, strict=True)}
    # The patient's genotype QC is trait-independent: it uses the first trait's cohort. Bundles
    # from different cohorts (different cohort_reference.json) would give other ranges; the
    # first trait's are used and the others' not (qc.json records one cohort_qc per patient).
    reference = read_json(inputs.cohort_references[0])
    # <outdir>/patients/vcfs/<vcf_key>/status.json
    prepared = {Path(path).parent.name: read_json(path) for path in inputs.status}
    features, qc, refused = batch_patient_inputs(
        params.patients,
        prepared,
        schemas,
        cohort_sites=pd.read_parquet(inputs.cohort_variants[0], columns=["chrom", "pos", "ref", "alt"]),
        cohort_ranges=reference["sample_ranges"],
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
        for trait, coverage in record["coverage"].items():
            log.info("%s: %s: coverage of model variants %.3f", pid, trait, coverage["coverage"])
    log.info("%d patients read for %d traits, %d refused", len(qc), len(schemas), len(refused))
    for (trait, schema), path in zip(schemas.items(), snakemake.output.features, strict=True):
        table = features[trait]
        if table is None:  # every patient of the batch was refused: an empty table of the schema's columns
            table = pd.DataFrame(
                columns=[f["name"] for f in schema["features"]], index=pd.Index([], name="sample_id"), dtype="float32"
            )
        with atomic_output(path) as tmp:
            table.to_parquet(tmp)
    write_json(snakemake.output.qc, qc)
    write_json(snakemake.output.refused, refused)


run_step(snakemake, main)
