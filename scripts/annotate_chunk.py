"""Adapter: rule annotate_chunk -> genorisk.annotate (one planned region chunk of the cohort)."""

from genorisk.annotate import annotate_table, write_annotated, write_table
from genorisk.io import read_json
from genorisk.runner import run_step


def main():
    inputs = snakemake.input
    region = read_json(inputs.regions)[int(snakemake.wildcards.chunk)]
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
