"""Adapter: rule cohort_qc -> genorisk.qc.run_qc / write_qc."""

from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, run_qc, write_qc
from genorisk.runner import run_step


def main():
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    thresholds = QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc")
    result = run_qc(
        snakemake.input.vcf,
        samples=list(phenotypes.index),
        recorded_sex=phenotypes["sex"].to_dict() if "sex" in phenotypes else None,
        status=phenotypes["status"].to_dict(),
        thresholds=thresholds,
    )
    write_qc(result, Path(snakemake.output.summary).parent, thresholds)


run_step(snakemake, main)
