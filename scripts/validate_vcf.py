"""Adapter: rule validate_cohort -> genorisk.vcf.validate_vcf."""

import logging

from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf import validate_vcf


def main():
    report = validate_vcf(
        snakemake.input.vcf,
        genome_build=snakemake.params.genome_build,
        require_records=True,
        region=snakemake.params.region,
    )
    log = logging.getLogger("genorisk.validate")
    # Warnings name records and keys, never genotype values beyond a malformed GT string.
    for warning in report.warnings:
        log.warning("%s", warning)
    log.info(
        "%s: %d records, %d samples, %d warnings",
        report.path,
        report.n_records,
        len(report.samples),
        len(report.warnings),
    )
    if snakemake.params.region is None and snakemake.wildcards.part == "cohort":
        # One VCF without an index is one part: validated, normalised and converted as a whole.
        log.info("%s has no .tbi/.csi index: one part, not split by chromosome (bcftools index splits it)", report.path)
    write_json(snakemake.output.report, report.to_dict())


run_step(snakemake, main)
