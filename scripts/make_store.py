"""Adapter: rule make_store -> genorisk.store (the cohort's genotypes, any form, as per-chromosome pgen)."""

import logging

from genorisk.config import read_phenotypes
from genorisk.runner import run_step
from genorisk.store import convert_to_store, describe_inputs, format_ids, reconcile_samples, write_manifest
from genorisk.store.sites import sites_from_store, sites_from_vcfs

SEX_CODE = {"male": 1, "female": 2}


def main():
    log = logging.getLogger("genorisk.store")
    params = snakemake.params
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    vcf_form = params.form in ("vcf", "vcfs")
    # VCF inputs enter the store as their validated, normalised parts.
    inputs = list(snakemake.input.vcfs) if vcf_form else params.source
    sources = describe_inputs(inputs, form="vcf" if vcf_form else params.form, sample_file=params.bgen_sample)
    genotyped = list(sources[0].samples)
    # Every phenotyped person must be genotyped (an error naming who is not);
    # genotyped people without a phenotype stay in the store and are never read.
    reconcile_samples(
        genotyped,
        list(phenotypes.index),
        store_path=sources[0].path,
        phenotype_path=snakemake.input.phenotypes,
        allow_extra=True,
    )
    extra = sorted(set(genotyped) - set(phenotypes.index))
    if extra:
        log.warning("%d genotyped samples have no phenotype and are not used: %s", len(extra), format_ids(extra))
    recorded = phenotypes["sex"].to_dict() if "sex" in phenotypes else {}
    sex = {s: SEX_CODE.get(str(recorded.get(s)), 0) for s in genotyped}
    memory_mb = max(640, min(4000, int(snakemake.resources.get("mem_mb", 2000)) - 300))
    prefixes = convert_to_store(
        sources,
        snakemake.output.pgen,
        sex=sex,
        build=params.genome_build,
        dosage=params.dosage,
        threads=snakemake.threads,
        memory_mb=memory_mb,
    )
    write_manifest(
        snakemake.output.manifest,
        prefixes,
        sex=sex,
        contig_order=[c for s in sources for c in (s.chroms or ())],
    )
    log.info("store: %d chromosomes, %d samples (%s input)", len(prefixes), len(genotyped), params.form)
    if vcf_form:
        sites_from_vcfs(list(snakemake.input.vcfs), snakemake.output.sites, threads=snakemake.threads)
    else:
        sites_from_store(snakemake.output.manifest, snakemake.output.sites, build=params.genome_build)


run_step(snakemake, main)
