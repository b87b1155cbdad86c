# Polygenic scoring files (genorisk.scores): each configured score is resolved
# (a path, or a PGS Catalog ID looked up in scores_dir), checked against
# genome_build (lifted with liftover.chain when set), and matched against the
# store's variants, one job per score. It needs the store only, not QC, so a
# wrong build or a poor match stops the run early. Outputs: the per-variant
# audit, the scoring file in the target build, and the matched rows in store
# terms (store fileset, .pgen row, weights) that cohort_features sums without
# matching again, as plink2 --score is given weights keyed by variant ID.
rule match_score:
    input:
        store=rules.make_store.output.manifest,
        parts=rules.make_store.input.parts,
        scoring_file=lambda wildcards: SCORE_FILES[wildcards.score],
        chain=[config["liftover"]["chain"]] if config["liftover"]["chain"] else [],
    output:
        audit=f"{OUTDIR}/scores/{{score}}.audit.tsv",
        scoring_file=f"{OUTDIR}/scores/{{score}}.target.tsv",
        matched=f"{OUTDIR}/scores/{{score}}.matched.parquet",
    log:
        f"{OUTDIR}/logs/match_score/{{score}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/match_score/{{score}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        genome_build=config["genome_build"],
        # A scoring file that declares no build is an error rather than a warning.
        require_build=config["liftover"].get("require_build", False),
        min_match_rate=config["features"]["min_match_rate"],
        min_info=config["features"]["min_info"],
        info_key=config["features"]["info_key"],
    script:
        "../../scripts/match_score.py"
