# The risk model (genorisk.model): tuned, cross-validated, calibrated XGBoost.


rule train_model:
    input:
        features=rules.cohort_features.output.features,
        schema=rules.cohort_features.output.schema,
        phenotypes=config["cohort"]["phenotypes"],
        truth=cohort_truth(),
    output:
        model=f"{OUTDIR}/model/model.ubj",
        schema=f"{OUTDIR}/model/features.schema.json",
        calibrator=f"{OUTDIR}/model/calibrator.json",
        cohort_risks=f"{OUTDIR}/model/cohort_risks.json",
        metrics=f"{OUTDIR}/model/metrics.json",
        card=f"{OUTDIR}/model/model_card.json",
        card_md=f"{OUTDIR}/model/model_card.md",
        linear_offset=f"{OUTDIR}/model/linear_offset.json",
        oof=f"{OUTDIR}/evaluation/oof_predictions.parquet",
        importance=f"{OUTDIR}/evaluation/feature_importance.json",
    log:
        f"{OUTDIR}/logs/train_model.log",
    benchmark:
        f"{OUTDIR}/benchmarks/train_model.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("train_model", "threads")
    resources:
        mem_mb=res("train_model", "mem_mb"),
        runtime=res("train_model", "runtime"),
    params:
        model=config["model"],
    script:
        "../../scripts/train_model.py"
