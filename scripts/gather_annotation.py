"""Adapter: rule gather_annotation -> genorisk.annotate.gather."""

from genorisk.annotate import gather
from genorisk.runner import run_step


def main():
    gather(
        snakemake.input.tables,
        snakemake.input.bcfs,
        snakemake.output.table,
        snakemake.output.bcf,
        snakemake.output.summary,
    )


run_step(snakemake, main)
