"""Adapter: rule cohort_qc_shard -> genorisk.qc.shard_qc over one store part's chromosomes."""

import json
import logging
from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, save_shard, shard_qc
from genorisk.runner import run_step


def main():
    log = logging.getLogger("genorisk.qc")
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    thresholds = QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc")
    part = Path(snakemake.input.part)
    chromosomes = json.loads((part / "part.json").read_text())["chromosomes"]
    out = Path(snakemake.output.shard)
    for i, (chrom, name) in enumerate(chromosomes.items()):
        shard = shard_qc(
            part / name,
            samples=list(phenotypes.index),
            status=phenotypes["status"].to_dict(),
            thresholds=thresholds,
            threads=snakemake.threads,
        )
        save_shard(shard, out / f"{i:03d}")
        log.info("%s: %d variants counted", chrom, len(shard.variants))


run_step(snakemake, main)
