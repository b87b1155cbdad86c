"""Adapter: rule cohort_qc -> genorisk.qc.gather_qc over the shards, write_qc."""

from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, gather_qc, load_shard, write_qc
from genorisk.runner import run_step


def main():
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    thresholds = QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc")
    # Shards in genome order: parts in input order, chromosomes in part order (the
    # folder also holds Snakemake's .snakemake_timestamp file).
    shards = [
        load_shard(d) for folder in map(Path, snakemake.input.shards) for d in sorted(folder.iterdir()) if d.is_dir()
    ]
    result = gather_qc(shards, recorded_sex=phenotypes["sex"].to_dict() if "sex" in phenotypes else None)
    write_qc(result, Path(snakemake.output.summary).parent, thresholds)


run_step(snakemake, main)
