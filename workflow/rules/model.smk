# The risk model (genorisk.model): tuned, cross-validated, calibrated XGBoost.
# Trained into a staging folder and published into <outdir>/model/ only when
# complete: Snakemake deletes a job's outputs before it runs, so a training
# that fails must not own the model in use.


rule train_model:
    input:
        features=rules.cohort_features.output.features,
        schema=rules.cohort_features.output.schema,
        phenotypes=config["cohort"]["phenotypes"],
        truth=cohort_truth(),
        ancestry_panel=ancestry_panel(),
    output:
        **model_files(f"{OUTDIR}/training/model"),
        oof=f"{OUTDIR}/evaluation/oof_predictions.parquet",
        importance=f"{OUTDIR}/evaluation/feature_importance.json",
    log:
        f"{OUTDIR}/logs/train_model.log",
    benchmark:
        f"{OUTDIR}/benchmarks/train_model.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        model=config["model"],
        # The config's traits (null: one, "the condition"); today one per run.
        traits=config["traits"],
    script:
        "../../scripts/train_model.py"


rule publish_model:
    input:
        **model_files(f"{OUTDIR}/training/model"),
    output:
        **model_files(f"{OUTDIR}/model"),
    log:
        f"{OUTDIR}/logs/publish_model.log",
    conda:
        "../../envs/genorisk.yaml"
    script:
        "../../scripts/publish_model.py"
