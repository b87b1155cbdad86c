"""Adapter: rule cohort_qc_shard -> genorisk.qc.shard_qc over one store part's chromosomes (rows + exclusions)."""

import json
import logging
import time
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
        t0 = time.perf_counter()
        shard = shard_qc(
            part / name,
            samples=list(phenotypes.index),
            status=phenotypes["status"].to_dict(),
            thresholds=thresholds,
            threads=snakemake.threads,
        )
        save_shard(shard, out / f"{i:03d}")
        dt = time.perf_counter() - t0
        log.info(
            "%s: %d variants, %d excluded, in %.1f s (%.0f variants/s)",
            chrom, len(shard.variants), len(shard.excluded_variants), dt, len(shard.variants) / max(dt, 1e-9),
        )  # fmt: skip


run_step(snakemake, main)
