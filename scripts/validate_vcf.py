"""Adapter: rule validate_cohort -> genorisk.vcf.validate_vcf."""

from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf import validate_vcf


def main():
    report = validate_vcf(
        snakemake.input.vcf, genome_build=snakemake.params.genome_build, require_records=True
    )
    write_json(snakemake.output.report, report.to_dict())


run_step(snakemake, main)
