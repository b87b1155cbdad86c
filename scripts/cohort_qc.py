"""Adapter: rule cohort_qc -> genorisk.qc.shard_qc per store chromosome, gather_qc, write_qc."""

import logging
from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.qc import QCThresholds, gather_qc, shard_qc, write_qc
from genorisk.runner import run_step
from genorisk.store import open_store


def main():
    log = logging.getLogger("genorisk.qc")
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    thresholds = QCThresholds.from_dict(snakemake.params.thresholds, source="config: qc")
    store = open_store(snakemake.input.manifest)
    samples = list(phenotypes.index)
    status = phenotypes["status"].to_dict()
    # One shard per chromosome; the shards' counts add up to the cohort's.
    shards = []
    for chrom, prefix in store.chroms.items():
        shards.append(
            shard_qc(prefix, samples=samples, status=status, thresholds=thresholds, threads=snakemake.threads)
        )
        log.info("%s: %d variants counted", chrom, len(shards[-1].variants))
    result = gather_qc(shards, recorded_sex=phenotypes["sex"].to_dict() if "sex" in phenotypes else None)
    write_qc(result, Path(snakemake.output.summary).parent, thresholds)


run_step(snakemake, main)
