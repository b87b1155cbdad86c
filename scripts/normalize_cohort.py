"""Adapter: rule normalize_cohort -> genorisk.vcf.normalize_vcf."""

import json
import logging

from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf import normalize_vcf


def main():
    with open(snakemake.input.validation) as fh:
        validation = json.load(fh)
    counts = normalize_vcf(
        snakemake.input.vcf,
        snakemake.output.vcf,
        fasta=snakemake.input.get("fasta"),
        threads=snakemake.threads,
        validation=validation,
        region=snakemake.params.region,
    )
    logging.getLogger("genorisk.normalize").info("%s", counts)
    write_json(snakemake.output.counts, counts)


run_step(snakemake, main)
