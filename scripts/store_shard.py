"""Adapter: rule store_shard -> genorisk.store.shards.write_shard (a chromosome or region chunk of a store part)."""

import logging

from genorisk.runner import run_step
from genorisk.store.shards import write_shard


def main():
    params = snakemake.params
    memory_mb = max(640, min(4000, int(snakemake.resources.get("mem_mb", 2000)) - 300))
    out = write_shard(
        snakemake.input.part,
        snakemake.output.shard,
        params.chrom,
        params.start,
        params.end,
        threads=snakemake.threads,
        memory_mb=memory_mb,
    )
    where = params.chrom if params.start is None else f"{params.chrom}:{params.start}-{params.end}"
    logging.getLogger("genorisk.store").info("%s: %s of store part %s", out.name, where, snakemake.input.part)


run_step(snakemake, main)
