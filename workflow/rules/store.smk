# Validation of input VCFs (genorisk.vcf) and the genotype store (genorisk.store).
# A file that fails stops its job with an error naming the file, the record and
# the problem. A VCF cohort is validated, normalised and converted one part per
# job: one file of per-chromosome files, or one chromosome of a single indexed
# VCF/BCF (read through its index); every form then becomes one store of
# per-chromosome pgen files. The per-shard jobs (cohort_qc_shard,
# cohort_variant_stats) run on genome shards: a store part's chromosomes, or
# region chunks of them (cohort.shard_mb), written by store_shard.


rule validate_cohort:
    input:
        unpack(vcf_part_input),
    output:
        report=f"{OUTDIR}/qc/{{part}}.validation.json",
    log:
        f"{OUTDIR}/logs/validate_cohort/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/validate_cohort/{{part}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        genome_build=config["genome_build"],
        region=lambda wildcards: VCF_PARTS[wildcards.part].region,
    script:
        "../../scripts/validate_vcf.py"


rule normalize_cohort:
    input:
        unpack(fasta_input),
        unpack(vcf_part_input),
        validation=rules.validate_cohort.output.report,
    output:
        vcf=f"{OUTDIR}/normalized/{{part}}.vcf.gz",
        csi=f"{OUTDIR}/normalized/{{part}}.vcf.gz.csi",
        counts=f"{OUTDIR}/qc/{{part}}.normalization.json",
    log:
        f"{OUTDIR}/logs/normalize_cohort/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/normalize_cohort/{{part}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        region=lambda wildcards: VCF_PARTS[wildcards.part].region,
    script:
        "../../scripts/normalize_cohort.py"


rule store_part:
    input:
        unpack(store_part_input),
        phenotypes=config["cohort"]["phenotypes"],
    output:
        part=directory(f"{OUTDIR}/store/parts/{{part}}"),
    log:
        f"{OUTDIR}/logs/store_part/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/store_part/{{part}}.tsv"
    wildcard_constraints:
        part=one_of(INPUT_PARTS),
    conda:
        "../../envs/genorisk.yaml"
    params:
        form=GENOTYPE_FORM,
        # a {chrom} pattern is not a wildcard: a function keeps it as written
        source=lambda wildcards: COHORT[GENOTYPE_FORM],
        bgen_sample=config["cohort"]["bgen_sample"],
        dosage=config["cohort"]["dosage"],
        genome_build=config["genome_build"],
    script:
        "../../scripts/store_part.py"


rule store_shard:
    input:
        part=lambda wildcards: f"{OUTDIR}/store/parts/{SHARD_VIEWS[wildcards.part].part}",
    output:
        shard=directory(f"{OUTDIR}/store/parts/{{part}}"),
    log:
        f"{OUTDIR}/logs/store_shard/{{part}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/store_shard/{{part}}.tsv"
    wildcard_constraints:
        part=one_of(SHARD_VIEWS),
    conda:
        "../../envs/genorisk.yaml"
    params:
        chrom=lambda wildcards: SHARD_VIEWS[wildcards.part].chrom,
        start=lambda wildcards: SHARD_VIEWS[wildcards.part].start,
        end=lambda wildcards: SHARD_VIEWS[wildcards.part].end,
    script:
        "../../scripts/store_shard.py"


rule make_store:
    input:
        parts=expand(f"{OUTDIR}/store/parts/{{part}}", part=INPUT_PARTS),
    output:
        manifest=f"{OUTDIR}/store/store.json",
        sites=f"{OUTDIR}/store/sites.vcf.gz",
        sites_csi=f"{OUTDIR}/store/sites.vcf.gz.csi",
    log:
        f"{OUTDIR}/logs/make_store.log",
    benchmark:
        f"{OUTDIR}/benchmarks/make_store.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        genome_build=config["genome_build"],
        vcf_parts=bool(VCF_PARTS),
    script:
        "../../scripts/make_store.py"
