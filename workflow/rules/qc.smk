# Validation of input VCFs (genorisk.vcf). A file that fails stops its job
# with an error naming the file, the record and the problem.


rule validate_cohort:
    input:
        vcf=config["cohort"]["vcf"],
    output:
        report=f"{OUTDIR}/qc/cohort.validation.json",
    log:
        f"{OUTDIR}/logs/validate_cohort.log",
    benchmark:
        f"{OUTDIR}/benchmarks/validate_cohort.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("validate_cohort", "threads")
    resources:
        mem_mb=res("validate_cohort", "mem_mb"),
        runtime=res("validate_cohort", "runtime"),
    params:
        genome_build=config["genome_build"],
    script:
        "../../scripts/validate_vcf.py"
