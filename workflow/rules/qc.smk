# Cohort QC on the genotype store (genorisk.qc): counts per store part
# (cohort_qc_shard), gathered into sample and variant decisions (cohort_qc).


rule cohort_qc_shard:
    input:
        part=f"{OUTDIR}/store/parts/{{part}}",
        phenotypes=config["cohort"]["phenotypes"],
    output:
        shard=directory(f"{OUTDIR}/qc/shards/{{part}}"),
    log:
        f"{OUTDIR}/logs/cohort_qc_shard/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_qc_shard/{{part}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        thresholds=config["qc"],
    script:
        "../../scripts/cohort_qc_shard.py"


rule cohort_qc:
    input:
        shards=expand(f"{OUTDIR}/qc/shards/{{part}}", part=STORE_PARTS),
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
