# Annotation (genorisk.annotate), scattered over region chunks of the cohort
# VCF and gathered: memory is bounded by a chunk, chunks run in parallel.


rule validate_resources:
    input:
        unpack(resource_vcfs),
    output:
        report=f"{OUTDIR}/qc/resources.json",
    log:
        f"{OUTDIR}/logs/validate_resources.log",
    benchmark:
        f"{OUTDIR}/benchmarks/validate_resources.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("validate_resources", "threads")
    resources:
        mem_mb=res("validate_resources", "mem_mb"),
        runtime=res("validate_resources", "runtime"),
    params:
        genome_build=config["genome_build"],
    script:
        "../../scripts/validate_resources.py"


rule annotate_chunk:
    input:
        unpack(annotation_inputs),
        vcf=f"{OUTDIR}/normalized/cohort.vcf.gz",
        resources_checked=rules.validate_resources.output.report,
    output:
        table=f"{OUTDIR}/annotation/chunks/{{chunk}}.parquet",
        bcf=f"{OUTDIR}/annotation/chunks/{{chunk}}.bcf",
    log:
        f"{OUTDIR}/logs/annotate_chunk/{{chunk}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/annotate_chunk/{{chunk}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("annotate_chunk", "threads")
    resources:
        mem_mb=res("annotate_chunk", "mem_mb"),
        runtime=res("annotate_chunk", "runtime"),
    params:
        n_chunks=config["annotation"]["n_chunks"],
        population_af_key=population_af_key(),
    script:
        "../../scripts/annotate_chunk.py"


rule gather_annotation:
    input:
        tables=expand(
            f"{OUTDIR}/annotation/chunks/{{chunk}}.parquet", chunk=ANNOTATION_CHUNKS
        ),
        bcfs=expand(
            f"{OUTDIR}/annotation/chunks/{{chunk}}.bcf", chunk=ANNOTATION_CHUNKS
        ),
    output:
        table=f"{OUTDIR}/annotation/cohort.variants.parquet",
        bcf=f"{OUTDIR}/annotation/cohort.annotated.bcf",
        summary=f"{OUTDIR}/annotation/summary.json",
    log:
        f"{OUTDIR}/logs/gather_annotation.log",
    benchmark:
        f"{OUTDIR}/benchmarks/gather_annotation.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("gather_annotation", "threads")
    resources:
        mem_mb=res("gather_annotation", "mem_mb"),
        runtime=res("gather_annotation", "runtime"),
    script:
        "../../scripts/gather_annotation.py"
