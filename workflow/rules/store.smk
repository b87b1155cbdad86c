# Validation of input VCFs (genorisk.vcf) and the genotype store (genorisk.store).
# A file that fails stops its job with an error naming the file, the record and
# the problem. A VCF cohort given as several files (one per chromosome) is
# validated and normalised one file ("part") per job; every form then becomes one
# store of per-chromosome pgen files.


rule validate_cohort:
    input:
        vcf=lambda wildcards: VCF_PARTS[wildcards.part],
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
    script:
        "../../scripts/validate_vcf.py"


rule normalize_cohort:
    input:
        unpack(fasta_input),
        vcf=lambda wildcards: VCF_PARTS[wildcards.part],
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


rule make_store:
    input:
        parts=expand(f"{OUTDIR}/store/parts/{{part}}", part=STORE_PARTS),
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
