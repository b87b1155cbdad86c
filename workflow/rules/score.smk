# Scoring patients (genorisk.model, with genorisk.model.explain), one job per batch.


rule score_patients:
    input:
        unpack(lambda wildcards: model_files(f"{OUTDIR}/model")),
        features=rules.patient_features.output.features,
        qc=rules.patient_features.output.qc,
    output:
        results=f"{OUTDIR}/patients/batches/{{batch}}/results.json",
    log:
        f"{OUTDIR}/logs/score_patients/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/score_patients/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        patients=batch_patients,
        # The config's traits (null: one, "the condition"); today one per run.
        traits=config["traits"],
        outlier_policy=config["report"]["outlier_policy"],
        outlier_rate=config["ancestry"]["outlier_rate"],
        min_coverage=config["report"]["min_model_variant_coverage"],
    script:
        "../../scripts/score_patients.py"
