"""Adapter: rule cohort_qc -> genorisk.qc.write_store_qc over the store parts and their plink2 shard folders."""

from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, write_store_qc
from genorisk.runner import run_step


def main():
    # HWE in the first trait's controls (rule cohort_qc's params.status_column); unknown = not a control.
    column = snakemake.params.status_column
    phenotypes = read_phenotypes(snakemake.input.phenotypes, columns=[column])
    samples = phenotypes.index.tolist()
    write_store_qc(
        snakemake.input.parts,
        snakemake.input.shards,
        Path(snakemake.output.summary).parent,  # every output sits in one folder
        samples=samples,
        status=dict(zip(samples, phenotypes[column].tolist(), strict=True)),
        recorded_sex=dict(zip(samples, phenotypes["sex"].tolist(), strict=True)) if "sex" in phenotypes else None,
        thresholds=QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc"),
    )


run_step(snakemake, main)
