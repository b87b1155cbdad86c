"""Adapter: rule store_part -> genorisk.store.convert_to_store (one input part as per-chromosome pgen)."""

import json
import logging
from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.runner import run_step
from genorisk.store import convert_to_store, describe_inputs, format_ids, reconcile_samples
from genorisk.store.sites import sites_from_vcfs

SEX_CODE = {"male": 1, "female": 2}


def main():
    log = logging.getLogger("genorisk.store")
    params = snakemake.params
    phenotypes = read_phenotypes(snakemake.input.phenotypes, columns=[])  # the samples and their sex
    vcf_form = params.form in ("vcf", "vcfs")
    # A VCF part enters the store as its validated, normalised file.
    inputs = snakemake.input.vcf if vcf_form else params.source
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
    out = Path(snakemake.output.part)
    prefixes = convert_to_store(
        sources,
        out,
        sex=sex,
        build=params.genome_build,
        dosage=params.dosage,
        threads=snakemake.threads,
        memory_mb=memory_mb,
    )
    # What make_store needs to put the parts together: chromosomes in input order.
    part = {
        "chromosomes": {c: Path(p).name for c, p in prefixes.items()},
        "contig_order": [c for s in sources for c in (s.chroms or ())],
        "sex": sex,
    }
    if vcf_form:
        # The part's records without samples, for annotation: read here, in the part's own
        # (parallel) job, so make_store only concatenates small sites-only files.
        sites_from_vcfs([snakemake.input.vcf], out / "sites.vcf.gz", threads=snakemake.threads)
    (out / "part.json").write_text(json.dumps(part, indent=1) + "\n")
    log.info("%s: %d chromosomes, %d samples (%s input)", out.name, len(prefixes), len(genotyped), params.form)


run_step(snakemake, main)
