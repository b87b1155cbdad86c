"""Adapter: rule make_store -> genorisk.store.write_manifest over the parts, and the sites VCF annotation reads."""

import json
import logging
from pathlib import Path

from genorisk.runner import run_step
from genorisk.store import write_manifest
from genorisk.store.sites import sites_from_store, sites_from_vcfs


def main():
    prefixes, contig_order, sex = {}, [], {}
    for folder in map(Path, snakemake.input.parts):
        part = json.loads((folder / "part.json").read_text())
        prefixes.update({c: folder / name for c, name in part["chromosomes"].items()})
        contig_order += part["contig_order"]
        sex.update(part["sex"])
    write_manifest(snakemake.output.manifest, prefixes, sex=sex, contig_order=contig_order)
    logging.getLogger("genorisk.store").info(
        "store: %d chromosomes from %d parts", len(prefixes), len(snakemake.input.parts)
    )
    if snakemake.params.vcf_parts:  # each VCF part wrote its sites in its own job
        parts = [Path(folder) / "sites.vcf.gz" for folder in snakemake.input.parts]
        sites_from_vcfs(parts, snakemake.output.sites, threads=snakemake.threads)
    else:
        sites_from_store(snakemake.output.manifest, snakemake.output.sites, build=snakemake.params.genome_build)


run_step(snakemake, main)
