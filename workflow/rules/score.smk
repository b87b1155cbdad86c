# Scoring patients (genorisk.model + genorisk.explain), one job per batch.


rule score_patients:
    input:
        features=rules.patient_features.output.features,
        qc=rules.patient_features.output.qc,
        model=rules.train_model.output.model,
        card=rules.train_model.output.card,
    output:
        results=f"{OUTDIR}/patients/batches/{{batch}}/results.json",
    log:
        f"{OUTDIR}/logs/score_patients/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/score_patients/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("score_patients", "threads")
    resources:
        mem_mb=res("score_patients", "mem_mb"),
        runtime=res("score_patients", "runtime"),
    params:
        patients=batch_patients,
    script:
        "../../scripts/score_patients.py"
