"""Adapter: rule cohort_features -> genorisk.features.cohort_features."""

import pandas as pd

from genorisk.config import read_phenotypes
from genorisk.features import cohort_features
from genorisk.features.variants import read_annotation_candidates
from genorisk.io import atomic_output, write_json
from genorisk.runner import run_step


def main():
    column = snakemake.params.trait["column"]
    covariates = list(snakemake.params.covariates)
    # Rows: every QC-passed person, whatever their value in this trait's column
    # (PCs, burden, scores and covariates are the cohort's, identical for every
    # trait); train_model trains on the people with a 0/1 value.
    phenotypes = read_phenotypes(snakemake.input.phenotypes, covariates=covariates, columns=[column])
    # People and variants that failed QC (results/qc/excluded_*.tsv, with reasons) are left out.
    excluded = pd.read_csv(snakemake.input.excluded_samples, sep="\t", dtype=str)
    phenotypes = phenotypes.drop(index=[s for s in excluded["sample"] if s in phenotypes.index])
    bad_variants = pd.read_csv(snakemake.input.excluded_variants, sep="\t", dtype={"chrom": str})
    # Only the alleles that can be burden or carrier alleles: memory follows them, not the genome.
    annotation, consequences_computed = read_annotation_candidates(snakemake.input.annotation)
    features, schema = cohort_features(
        snakemake.input.store,
        phenotypes,
        min_maf=snakemake.params.min_maf,
        min_call_rate=snakemake.params.min_call_rate,
        covariates=covariates,
        score_files=list(snakemake.input.scores),
        min_match_rate=snakemake.params.min_match_rate,
        exclude_variants=bad_variants[["chrom", "pos", "ref", "alt"]],
        annotation=annotation,
        consequences_computed=consequences_computed,
        ancestry_panel=snakemake.input.ancestry_panel[0] if snakemake.input.ancestry_panel else None,
        n_components=snakemake.params.n_components,
        outlier_rate=snakemake.params.outlier_rate,
        burden_max_af=snakemake.params.burden_max_af,
        burden_min_carriers=snakemake.params.burden_min_carriers,
        chunk_size=snakemake.params.chunk_size,
        min_info=snakemake.params.min_info,
        info_key=snakemake.params.info_key,
        in_fold_selection=snakemake.params.in_fold_selection,
        variant_stats=list(snakemake.input.variant_stats),
        label_column=column,
    )
    with atomic_output(snakemake.output.features) as tmp:
        features.to_parquet(tmp)
    write_json(snakemake.output.schema, schema)


run_step(snakemake, main)
