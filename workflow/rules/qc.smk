# Cohort QC on the genotype store (genorisk.qc): plink2's counts per store part
# (cohort_qc_shard, plink2 only), gathered into sample and variant decisions (cohort_qc).
# QC runs once for every trait: HWE is tested in the first trait's controls
# (HWE_STATUS_COLUMN), so the QC a trait's model sees does not depend on which
# other traits are configured.
HWE_STATUS_COLUMN = next(iter(TRAITS.values()))["column"]

QC_SHARD_SCRIPT = f"{workflow.current_basedir}/../../scripts/cohort_qc_shard.sh"


rule cohort_qc_shard:
    input:
        part=f"{OUTDIR}/store/parts/{{part}}",
        phenotypes=config["cohort"]["phenotypes"],
        script=QC_SHARD_SCRIPT,
    output:
        shard=directory(f"{OUTDIR}/qc/shards/{{part}}"),
    log:
        f"{OUTDIR}/logs/cohort_qc_shard/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_qc_shard/{{part}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        status_column=HWE_STATUS_COLUMN,
    shell:
        "bash {input.script:q} {input.part:q} {input.phenotypes:q} {output.shard:q} {threads} "
        "{params.status_column:q} > {log:q} 2>&1"


rule cohort_qc:
    input:
        shards=expand(f"{OUTDIR}/qc/shards/{{part}}", part=STORE_PARTS),
        parts=expand(f"{OUTDIR}/store/parts/{{part}}", part=STORE_PARTS),
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
        status_column=HWE_STATUS_COLUMN,
    script:
        "../../scripts/cohort_qc.py"
