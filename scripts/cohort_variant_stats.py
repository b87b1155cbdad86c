"""Adapter: rule cohort_variant_stats -> genorisk.features.variant_stats on one store part, for one trait."""

import pandas as pd

from genorisk.config import read_phenotypes
from genorisk.features.cohort import trait_labels
from genorisk.features.variant_stats import open_store_part, write_part_variant_stats
from genorisk.runner import run_step


def main():
    params = snakemake.params
    column = params.trait["column"]
    # The people and variants cohort_features uses: those that passed QC. Every
    # one is read (allele frequencies are the cohort's, whatever the trait); a
    # person with no value in this trait's column is in no fold and no ranking.
    phenotypes = read_phenotypes(snakemake.input.phenotypes, columns=[column])
    excluded = pd.read_csv(snakemake.input.excluded_samples, sep="\t", dtype=str)
    phenotypes = phenotypes.drop(index=[s for s in excluded["sample"] if s in phenotypes.index])
    part = open_store_part(snakemake.input.part)
    bad = pd.read_csv(snakemake.input.excluded_variants, sep="\t", dtype={"chrom": str})
    bad = bad[bad["chrom"].isin(list(part.chroms))]
    in_fold = params.in_fold_selection
    write_part_variant_stats(
        part,
        snakemake.output.stats,
        list(phenotypes.index),
        labels=trait_labels(phenotypes, column),
        n_folds=in_fold["n_folds"],
        seed=in_fold["seed"],
        keep_per_fold=in_fold["keep_per_fold"],
        min_maf=params.min_maf,
        min_call_rate=params.min_call_rate,
        male=(phenotypes["sex"] == "male").to_numpy() if "sex" in phenotypes else None,
        exclude=set(zip(bad["chrom"], bad["pos"].astype(int), bad["ref"], bad["alt"], strict=True)),
        chunk_size=params.chunk_size,
        min_info=params.min_info,
        info_key=params.info_key,
    )


run_step(snakemake, main)
