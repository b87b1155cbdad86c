"""Adapter: rule annotate_chunk -> genorisk.annotate (one region chunk of the cohort)."""

from genorisk.annotate import annotate_table, plan_chunks, write_annotated, write_table
from genorisk.errors import InputError
from genorisk.runner import run_step


def main():
    regions = plan_chunks(snakemake.input.vcf, n_chunks=snakemake.params.n_chunks)
    index = int(snakemake.wildcards.chunk)
    if index >= len(regions):
        raise InputError(
            snakemake.input.vcf,
            f"only {len(regions)} region chunks can be made; lower annotation.n_chunks",
        )
    region = regions[index]
    inputs = snakemake.input
    table = annotate_table(
        inputs.vcf,
        region=region,
        gene_model=inputs.get("gene_model"),
        clinvar=inputs.get("clinvar"),
        population_af=inputs.get("population_af"),
        population_af_key=snakemake.params.population_af_key,
        dbsnp=inputs.get("dbsnp"),
        fasta=inputs.get("fasta"),
    )
    write_table(table, snakemake.output.table)
    write_annotated(inputs.vcf, table, snakemake.output.bcf, region=region)


run_step(snakemake, main)
