"""Adapter: rule patient_features -> validate each patient VCF, then its features."""

import logging

import pandas as pd

from genorisk.features import patient_features
from genorisk.io import atomic_output, read_json, write_json
from genorisk.qc import infer_sex_single
from genorisk.results import notable_variants
from genorisk.runner import run_step
from genorisk.vcf import validate_vcf

log = logging.getLogger("genorisk.patient_features")


def main():
    schema = read_json(snakemake.input.schema)
    frames, qc = [], {}
    for patient in snakemake.params.patients:
        pid, sample = patient["patient_id"], patient["sample"]
        report = validate_vcf(
            patient["vcf"], genome_build=snakemake.params.genome_build, require_samples=[sample]
        )
        male = {"male": True, "female": False}.get(patient.get("sex"))
        frame, coverage = patient_features(patient["vcf"], sample, schema, patient, male=male)
        # Rows are keyed by patient ID (unique in the sheet; sample names need not be).
        frames.append(frame.set_axis([pid], axis=0).rename_axis("sample_id"))
        notable = None
        if snakemake.params.annotation:
            notable = notable_variants(
                patient["vcf"], sample, max_af=snakemake.params.rare_max_af, male=male,
                population_af_key=snakemake.params.population_af_key, **snakemake.params.annotation,
            )
        qc[pid] = {
            "validation": report.to_dict(),
            "coverage": coverage,
            "notable_variants": notable,
            "sex": infer_sex_single(patient["vcf"], sample),
        }
        log.info("%s: %d model variants, coverage %.3f", pid, coverage["n_model_variants"], coverage["coverage"])
    with atomic_output(snakemake.output.features) as tmp:
        pd.concat(frames).to_parquet(tmp)
    write_json(snakemake.output.qc, qc)


run_step(snakemake, main)
