# Patient intake and features (genorisk.intake, genorisk.features.patient), one job per batch.


rule patient_features:
    input:
        unpack(annotation_inputs),
        vcfs=batch_vcfs,
        schema=rules.cohort_features.output.schema,
        resources_checked=rules.validate_resources.output.report,
    output:
        features=f"{OUTDIR}/patients/batches/{{batch}}/features.parquet",
        qc=f"{OUTDIR}/patients/batches/{{batch}}/qc.json",
    log:
        f"{OUTDIR}/logs/patient_features/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/patient_features/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        patients=batch_patients,
        genome_build=config["genome_build"],
        annotation=annotation_inputs(),
        population_af_key=population_af_key(),
        rare_max_af=config["features"]["burden_max_af"],
        fasta=ANNOTATION.get("fasta"),
    script:
        "../../scripts/patient_features.py"
