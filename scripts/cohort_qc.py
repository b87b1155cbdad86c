"""Adapter: rule cohort_qc -> genorisk.qc.write_gathered_qc over the shard folders (streams the variant rows)."""

from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, write_gathered_qc
from genorisk.runner import run_step


def main():
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    thresholds = QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc")
    # Shards in genome order: parts in input order, chromosomes in part order (the
    # folder also holds Snakemake's .snakemake_timestamp file).
    folders = [d for folder in map(Path, snakemake.input.shards) for d in sorted(folder.iterdir()) if d.is_dir()]
    write_gathered_qc(
        folders,
        Path(snakemake.output.summary).parent,
        recorded_sex=phenotypes["sex"].to_dict() if "sex" in phenotypes else None,
        thresholds=thresholds,
    )


run_step(snakemake, main)
