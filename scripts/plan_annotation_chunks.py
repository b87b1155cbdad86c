"""Adapter: checkpoint plan_annotation_chunks -> genorisk.vcf.index.plan_regions (once per cohort VCF)."""

import logging

from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf.index import plan_regions


def main():
    regions = plan_regions(snakemake.input.vcf, snakemake.params.n_chunks)
    logging.getLogger("genorisk.annotate").info(
        "%d region chunks planned (annotation.n_chunks %d): %s",
        len(regions),
        snakemake.params.n_chunks,
        ", ".join(regions),
    )
    write_json(snakemake.output.regions, regions)


run_step(snakemake, main)
