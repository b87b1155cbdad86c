# Validation of input VCFs (genorisk.vcf) and cohort QC (genorisk.qc). A file
# that fails stops its job with an error naming the file, the record and the problem.


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
    params:
        genome_build=config["genome_build"],
    script:
        "../../scripts/validate_vcf.py"


rule normalize_cohort:
    input:
        unpack(fasta_input),
        vcf=config["cohort"]["vcf"],
        validation=rules.validate_cohort.output.report,
    output:
        vcf=f"{OUTDIR}/normalized/cohort.vcf.gz",
        csi=f"{OUTDIR}/normalized/cohort.vcf.gz.csi",
        counts=f"{OUTDIR}/qc/normalization.json",
    log:
        f"{OUTDIR}/logs/normalize_cohort.log",
    benchmark:
        f"{OUTDIR}/benchmarks/normalize_cohort.tsv"
    conda:
        "../../envs/genorisk.yaml"
    script:
        "../../scripts/normalize_cohort.py"


rule cohort_qc:
    input:
        vcf=rules.normalize_cohort.output.vcf,
        csi=rules.normalize_cohort.output.csi,
        phenotypes=config["cohort"]["phenotypes"],
    output:
        variants=f"{OUTDIR}/qc/variant_qc.parquet",
        samples=f"{OUTDIR}/qc/sample_qc.tsv",
        excluded_variants=f"{OUTDIR}/qc/excluded_variants.tsv",
        excluded_samples=f"{OUTDIR}/qc/excluded_samples.tsv",
        summary=f"{OUTDIR}/qc/qc_summary.json",
    log:
        f"{OUTDIR}/logs/cohort_qc.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_qc.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        thresholds=config["qc"],
    script:
        "../../scripts/cohort_qc.py"
