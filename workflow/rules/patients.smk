# Patient intake (genorisk.intake): each distinct patient VCF of the sheet is
# validated (sample, build) and normalised once, by a job that depends on nothing
# from the cohort; then features per batch (genorisk.features.patient), for every
# trait, from the traits' bundles only.


# One job per distinct VCF: a batch VCF shared by many rows is read once. A refused
# file or sample is recorded in status.json (the job succeeds), so the other
# patients go on; the normalised VCF is written only for an accepted file.
rule prepare_patient_vcf:
    input:
        unpack(fasta_input),
        vcf=patient_vcf_input,
    output:
        status=f"{OUTDIR}/patients/vcfs/{{vcf_key}}/status.json",
        vcf=f"{OUTDIR}/patients/vcfs/{{vcf_key}}/normalized.vcf.gz",
        csi=f"{OUTDIR}/patients/vcfs/{{vcf_key}}/normalized.vcf.gz.csi",
        # A shared file cut into one file per batch (its samples), read by that batch's job.
        batches=directory(f"{OUTDIR}/patients/vcfs/{{vcf_key}}/batches"),
    log:
        f"{OUTDIR}/logs/prepare_patient_vcf/{{vcf_key}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/prepare_patient_vcf/{{vcf_key}}.tsv"
    # Before the cohort's long stages, so a refused file is known within seconds.
    priority: 50
    conda:
        "../../envs/genorisk.yaml"
    params:
        patients=patient_vcf_rows,
        genome_build=RUN_SETTINGS["genome_build"],
    script:
        "../../scripts/prepare_patient_vcf.py"


rule patient_features:
    input:
        unpack(annotation_inputs),
        status=batch_prepared("status.json"),
        vcfs=batch_prepared("normalized.vcf.gz"),
        csis=batch_prepared("normalized.vcf.gz.csi"),
        batch_files=batch_prepared("batches"),
        callable_beds=patient_callable_beds(),
        resources_checked=rules.validate_resources.output.report,
        # Everything from the cohort comes through the traits' bundles (in trait
        # order), so a score-only run (config bundles:) reads the same files.
        schemas=trait_bundle_files("schema"),
        cohort_references=trait_bundle_files("cohort_reference"),
        cohort_variants=trait_bundle_files("cohort_variants"),
        manifests=trait_bundle_files("manifest"),
    output:
        # One feature table per trait (bundles from different cohorts may define
        # features of the same name differently), in trait order.
        features=[
            f"{OUTDIR}/patients/batches/{{batch}}/features.{t}.parquet" for t in TRAITS
        ],
        qc=f"{OUTDIR}/patients/batches/{{batch}}/qc.json",
        refused=f"{OUTDIR}/patients/batches/{{batch}}/refused.json",
    log:
        f"{OUTDIR}/logs/patient_features/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/patient_features/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        patients=batch_patients,
        traits=list(TRAITS),
        genome_build=RUN_SETTINGS["genome_build"],
        annotation=annotation_inputs(),
        population_af_key=population_af_key(),
        # The training run's (a score-only run's bundles'), as is the ancestry limit's rate.
        rare_max_af=RUN_SETTINGS["features.burden_max_af"],
        fasta=ANNOTATION.get("fasta"),
        callable_bed=config["patients"]["callable_bed"],
        gvcf_min_gq=config["patients"]["gvcf_min_gq"],
        gvcf_min_dp=config["patients"]["gvcf_min_dp"],
    script:
        "../../scripts/patient_features.py"
