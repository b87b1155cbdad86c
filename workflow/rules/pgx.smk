# Pharmacogenomics (genorisk.pgx): named-allele diplotypes per patient (issue #15).
# One job per batch of patients, like patient_features: calling reads a few
# hundred positions through the index (milliseconds per patient), so a job per
# patient would cost far more in job start-up than in work (bench/pgx_speed.py).
# The output holds one pgx object per patient of the batch; the reports read it
# (phase 2). pgx.enabled false: the job writes "disabled" objects only.


rule call_pharmacogenes:
    input:
        status=batch_prepared("status.json"),
        vcfs=batch_prepared("normalized.vcf.gz"),
        csis=batch_prepared("normalized.vcf.gz.csi"),
        callable_beds=patient_callable_beds(),
    output:
        pgx=f"{OUTDIR}/patients/batches/{{batch}}/pgx.json",
    log:
        f"{OUTDIR}/logs/call_pharmacogenes/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/call_pharmacogenes/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        patients=batch_patients,
        enabled=config["pgx"]["enabled"],
        genes=config["pgx"]["genes"],
        genome_build=config["genome_build"],
        callable_bed=config["patients"]["callable_bed"],
        gvcf_min_gq=config["patients"]["gvcf_min_gq"],
        gvcf_min_dp=config["patients"]["gvcf_min_dp"],
    script:
        "../../scripts/call_pharmacogenes.py"
