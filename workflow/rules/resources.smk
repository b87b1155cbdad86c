# Annotation resources (ClinVar, population frequencies, dbSNP) and the ancestry
# reference panel are checked once against genome_build before any stage reads
# them: cohort annotation and the patients' notable variants both use them, so
# this rule runs in a score-only run too.


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
    params:
        genome_build=config["genome_build"],
    script:
        "../../scripts/validate_resources.py"
