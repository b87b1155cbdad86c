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
    script:
        "../../scripts/score_patients.py"
