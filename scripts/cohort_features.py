"""Adapter: rule cohort_features -> genorisk.features.cohort_features."""

from genorisk.config import read_phenotypes
from genorisk.features import cohort_features
from genorisk.io import atomic_output, write_json
from genorisk.runner import run_step


def main():
    phenotypes = read_phenotypes(snakemake.input.phenotypes)
    features, schema = cohort_features(
        snakemake.input.vcf,
        phenotypes,
        min_maf=snakemake.params.min_maf,
        min_call_rate=snakemake.params.min_call_rate,
        covariates=list(snakemake.params.covariates),
        score_files=list(snakemake.input.scores),
        min_match_rate=snakemake.params.min_match_rate,
        chunk_size=snakemake.params.chunk_size,
    )
    with atomic_output(snakemake.output.features) as tmp:
        features.to_parquet(tmp)
    write_json(snakemake.output.schema, schema)


run_step(snakemake, main)
