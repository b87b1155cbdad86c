# Feature extraction (genorisk.features), per trait: the cohort defines each
# trait's features, patients get exactly those features. Dosage selection
# depends on the trait's phenotype, so it is summarised per (trait, store part)
# (one job each, in parallel); cohort_features gathers the small summaries and
# reads only the selected variants' dosages. Features that do not depend on the
# phenotype (ancestry PCs, burden, polygenic scores, covariates) are computed on
# every QC-passed person, so they are defined identically for every trait.


rule cohort_variant_stats:
    input:
        part=f"{OUTDIR}/store/parts/{{part}}",
        phenotypes=config["cohort"]["phenotypes"],
        excluded_samples=rules.cohort_qc.output.excluded_samples,
        excluded_variants=rules.cohort_qc.output.excluded_variants,
    output:
        stats=directory(f"{OUTDIR}/features/{{trait}}/variant_stats/{{part}}"),
    log:
        f"{OUTDIR}/logs/cohort_variant_stats/{{trait}}/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_variant_stats/{{trait}}/{{part}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        trait=trait_settings_of,
        min_maf=config["features"]["min_maf"],
        min_call_rate=config["features"]["min_call_rate"],
        chunk_size=config["features"]["chunk_size"],
        min_info=config["features"]["min_info"],
        info_key=config["features"]["info_key"],
        # The model's outer folds and per-fold budget: a part keeps only the
        # candidates of some fold's genome-wide top k.
        in_fold_selection={
            "n_folds": config["model"]["n_folds"],
            "seed": config["model"]["seed"],
            "keep_per_fold": MODEL_CONFIG.dosage_columns_per_fold,
        },
    script:
        "../../scripts/cohort_variant_stats.py"


rule cohort_features:
    input:
        store=rules.make_store.output.manifest,
        parts=rules.make_store.input.parts,
        variant_stats=expand(
            f"{OUTDIR}/features/{{{{trait}}}}/variant_stats/{{part}}",
            part=STORE_PARTS,
        ),
        phenotypes=config["cohort"]["phenotypes"],
        excluded_samples=rules.cohort_qc.output.excluded_samples,
        excluded_variants=rules.cohort_qc.output.excluded_variants,
        annotation=rules.gather_annotation.output.table,
        ancestry_panel=ancestry_panel(),
        resources_checked=rules.validate_resources.output.report,
        scores=trait_matched_scores,
    output:
        features=f"{OUTDIR}/features/{{trait}}/cohort.parquet",
        schema=f"{OUTDIR}/features/{{trait}}/features.schema.json",
    log:
        f"{OUTDIR}/logs/cohort_features/{{trait}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_features/{{trait}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        trait=trait_settings_of,
        min_maf=config["features"]["min_maf"],
        min_call_rate=config["features"]["min_call_rate"],
        chunk_size=config["features"]["chunk_size"],
        min_match_rate=config["features"]["min_match_rate"],
        n_components=config["ancestry"]["n_components"],
        outlier_rate=config["ancestry"]["outlier_rate"],
        burden_max_af=config["features"]["burden_max_af"],
        burden_min_carriers=config["features"]["burden_min_carriers"],
        covariates=lambda wildcards: TRAITS[wildcards.trait]["covariates"],
        min_info=config["features"]["min_info"],
        info_key=config["features"]["info_key"],
        # Only the dosage variants training's in-fold rankings can pick are kept:
        # the folds and the per-fold budget are the model's.
        in_fold_selection={
            "n_folds": config["model"]["n_folds"],
            "seed": config["model"]["seed"],
            "keep_per_fold": MODEL_CONFIG.dosage_columns_per_fold,
        },
    script:
        "../../scripts/cohort_features.py"
