"""Adapter: rule validate_cohort -> genorisk.vcf.validate_vcf."""

import logging

from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf import validate_vcf


def main():
    report = validate_vcf(snakemake.input.vcf, genome_build=snakemake.params.genome_build, require_records=True)
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
    write_json(snakemake.output.report, report.to_dict())


run_step(snakemake, main)
