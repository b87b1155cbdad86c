# Annotation (genorisk.annotate), scattered over region chunks of the cohort
# VCF and gathered: memory is bounded by a chunk, chunks run in parallel.
# The chunks are planned once, from the VCF index; how many there are depends
# on the data (at least one per contig), hence a checkpoint.


checkpoint plan_annotation_chunks:
    input:
        vcf=rules.make_store.output.sites,
        csi=rules.make_store.output.sites_csi,
    output:
        regions=f"{OUTDIR}/annotation/chunks.json",
    log:
        f"{OUTDIR}/logs/plan_annotation_chunks.log",
    conda:
        "../../envs/genorisk.yaml"
    params:
        n_chunks=ANNOTATION["n_chunks"],
    script:
        "../../scripts/plan_annotation_chunks.py"


rule annotate_chunk:
    input:
        unpack(annotation_inputs),
        vcf=rules.make_store.output.sites,
        csi=rules.make_store.output.sites_csi,
        regions=rules.plan_annotation_chunks.output.regions,
        resources_checked=rules.validate_resources.output.report,
    output:
        table=f"{OUTDIR}/annotation/chunks/{{chunk}}.parquet",
        bcf=f"{OUTDIR}/annotation/chunks/{{chunk}}.bcf",
        csi=f"{OUTDIR}/annotation/chunks/{{chunk}}.bcf.csi",
    log:
        f"{OUTDIR}/logs/annotate_chunk/{{chunk}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/annotate_chunk/{{chunk}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        population_af_key=population_af_key(),
    script:
        "../../scripts/annotate_chunk.py"


rule gather_annotation:
    input:
        tables=annotation_chunk_files("parquet"),
        bcfs=annotation_chunk_files("bcf"),
    output:
        table=f"{OUTDIR}/annotation/cohort.variants.parquet",
        bcf=f"{OUTDIR}/annotation/cohort.annotated.bcf",
        csi=f"{OUTDIR}/annotation/cohort.annotated.bcf.csi",
        summary=f"{OUTDIR}/annotation/summary.json",
    log:
        f"{OUTDIR}/logs/gather_annotation.log",
    benchmark:
        f"{OUTDIR}/benchmarks/gather_annotation.tsv"
    conda:
        "../../envs/genorisk.yaml"
    script:
        "../../scripts/gather_annotation.py"
