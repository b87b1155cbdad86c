# Scoring patients (genorisk.model, with genorisk.model.explain), one job per
# batch for every trait: each trait's bundle (its hashes checked) scores that
# trait's feature table; results.json holds one result per patient, with a
# result per trait.


rule score_patients:
    input:
        manifests=trait_bundle_files("manifest"),
        models=trait_bundle_files("model"),
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
        # Trait ids in order; each trait's settings come from its bundle.
        traits=list(TRAITS),
        outlier_policy=config["report"]["outlier_policy"],
        # The training run's (a score-only run's bundles'): the model card's limit is set with it.
        outlier_rate=RUN_SETTINGS["ancestry.outlier_rate"],
        min_coverage=config["report"]["min_model_variant_coverage"],
    script:
        "../../scripts/score_patients.py"
