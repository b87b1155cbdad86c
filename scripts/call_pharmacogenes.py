"""Adapter: rule call_pharmacogenes -> genorisk.pgx.call.call_batch (one batch of patients)."""

from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.pgx.call import call_batch
from genorisk.runner import run_step


def main():
    # Each prepared VCF's status.json sits in its folder, named by the file's vcf_key.
    statuses = {Path(path).parent.name: read_json(path) for path in snakemake.input.status}
    result = call_batch(
        snakemake.params.patients,
        statuses,
        enabled=snakemake.params.enabled,
        genes=snakemake.params.genes,
        genome_build=snakemake.params.genome_build,
        callable_bed=snakemake.params.callable_bed,
        gvcf_min_gq=snakemake.params.gvcf_min_gq,
        gvcf_min_dp=snakemake.params.gvcf_min_dp,
    )
    write_json(snakemake.output.pgx, result)


run_step(snakemake, main)
