# The risk model (genorisk.model), per trait: tuned, cross-validated, calibrated
# XGBoost. Trained into a staging folder and published as the trait's bundle
# <outdir>/model/<trait>/ (genorisk.model.bundle: the model artifact, the cohort
# reference patient features need, and bundle.json with every file's hash) only
# when complete: Snakemake deletes a job's outputs before it runs, so a training
# that fails must not own the bundle in use.


rule train_model:
    input:
        features=rules.cohort_features.output.features,
        schema=rules.cohort_features.output.schema,
        phenotypes=config["cohort"]["phenotypes"],
        truth=cohort_truth(),
        ancestry_panel=ancestry_panel(),
    output:
        **model_files(f"{OUTDIR}/training/{{trait}}/model"),
        oof=f"{OUTDIR}/evaluation/{{trait}}/oof_predictions.parquet",
        importance=f"{OUTDIR}/evaluation/{{trait}}/feature_importance.json",
    log:
        f"{OUTDIR}/logs/train_model/{{trait}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/train_model/{{trait}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        model=config["model"],
        trait=trait_settings_of,
    script:
        "../../scripts/train_model.py"


rule publish_model:
    input:
        **model_files(f"{OUTDIR}/training/{{trait}}/model"),
        qc_summary=rules.cohort_qc.output.summary,
        sample_qc=rules.cohort_qc.output.samples,
        variant_qc=rules.cohort_qc.output.variants,
    output:
        **bundle_files(f"{OUTDIR}/model/{{trait}}"),
    log:
        f"{OUTDIR}/logs/publish_model/{{trait}}.log",
    conda:
        "../../envs/genorisk.yaml"
    params:
        trait=trait_settings_of,
        # Recorded in bundle.json: a score-only run reports with them.
        settings=RUN_SETTINGS,
    script:
        "../../scripts/publish_model.py"
