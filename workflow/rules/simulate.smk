# Simulated cohorts: the demo (one chr21 VCF), or genome-wide mode (simulate.genome_wide:
# one job per autosome, then one job for the phenotype and truth over all of them).
SIM_GENOME = SIM.get("genome_wide") if SIM else None


# Genome-wide mode's per-chromosome VCFs in config order ({kind: []} otherwise): "cohort"
# (the coordinator wires SIMULATED_CHROMOSOME_VCFS into the workflow), "popfreq", "ancestry_panel".
# Lists, not functions: snakemake --lint wants functions in common.smk.
SIM_CHROMOSOME_FILES = {
    kind: (
        [f"{SIM_DIR}/{name.format(c)}" for c in SIM_GENOME["chromosomes"]]
        if SIM_GENOME and (kind != "ancestry_panel" or SIM["ancestry_panel"])
        else []
    )
    for kind, name in {
        "cohort": "cohort.chr{}.vcf.gz",
        "popfreq": "popfreq.chr{}.simulated.vcf.gz",
        "ancestry_panel": "ancestry_panel.chr{}.vcf.gz",
    }.items()
}
SIMULATED_CHROMOSOME_VCFS = SIM_CHROMOSOME_FILES["cohort"]


if SIM and not SIM_GENOME:

    rule simulate_demo:
        input:
            gene_model=config["annotation"]["gene_model"],
        output:
            cohort_vcf=SIM_FILES["cohort_vcf"],
            cohort_tbi=SIM_FILES["cohort_vcf"] + ".tbi",
            phenotypes=SIM_FILES["phenotypes"],
            truth=SIM_FILES["truth"],
            clinvar=SIM_FILES["clinvar"],
            clinvar_tbi=SIM_FILES["clinvar"] + ".tbi",
            popfreq=SIM_FILES["popfreq"],
            popfreq_tbi=SIM_FILES["popfreq"] + ".tbi",
            patients_truth=f"{SIM_DIR}/patients_truth.tsv",
            cohort_truth=f"{SIM_DIR}/cohort_truth.tsv",
            pgs=SIM_FILES["pgs"],
            panel=[
                f
                for key in ["ancestry_panel"]
                if key in SIM_FILES
                for f in (
                    SIM_FILES[key],
                    f"{SIM_FILES[key]}.tbi",
                    f"{SIM_DIR}/ancestry_panel.tsv",
                )
            ],
            patient_vcfs=list(dict.fromkeys(SIM_PATIENTS["vcf"])),
            # Declared so Snakemake touches them with the VCFs (else they look older).
            patient_tbis=[f"{v}.tbi" for v in dict.fromkeys(SIM_PATIENTS["vcf"])],
        log:
            f"{OUTDIR}/logs/simulate_demo.log",
        benchmark:
            f"{OUTDIR}/benchmarks/simulate_demo.tsv"
        conda:
            "../../envs/genorisk.yaml"
        params:
            simulation={k: v for k, v in SIM.items() if k != "outdir"},
            patients=SIM_PATIENTS.to_dict(orient="records"),
        script:
            "../../scripts/simulate_demo.py"


if SIM_GENOME:

    rule simulate_chromosome:
        input:
            gene_model=config["annotation"]["gene_model"],
        output:
            cohort_vcf=f"{SIM_DIR}/cohort.chr{{chrom}}.vcf.gz",
            cohort_tbi=f"{SIM_DIR}/cohort.chr{{chrom}}.vcf.gz.tbi",
            popfreq=f"{SIM_DIR}/popfreq.chr{{chrom}}.simulated.vcf.gz",
            popfreq_tbi=f"{SIM_DIR}/popfreq.chr{{chrom}}.simulated.vcf.gz.tbi",
            panel=[
                f"{SIM_DIR}/ancestry_panel.chr{{chrom}}.vcf.gz{suffix}"
                for suffix in ("", ".tbi")
                if SIM["ancestry_panel"]
            ],
            phenotype_inputs=f"{SIM_DIR}/phenotype_inputs.chr{{chrom}}.npz",
        log:
            f"{OUTDIR}/logs/simulate_chromosome.chr{{chrom}}.log",
        benchmark:
            f"{OUTDIR}/benchmarks/simulate_chromosome.chr{{chrom}}.tsv"
        wildcard_constraints:
            chrom=r"\d+",
        conda:
            "../../envs/genorisk.yaml"
        params:
            simulation={k: v for k, v in SIM.items() if k != "outdir"},
            patients=SIM_PATIENTS.to_dict(orient="records"),
        script:
            "../../scripts/simulate_chromosome.py"

    rule simulate_phenotype:
        input:
            phenotype_inputs=[
                f"{SIM_DIR}/phenotype_inputs.chr{c}.npz"
                for c in SIM_GENOME["chromosomes"]
            ],
        output:
            phenotypes=SIM_FILES["phenotypes"],
            truth=SIM_FILES["truth"],
            clinvar=SIM_FILES["clinvar"],
            clinvar_tbi=SIM_FILES["clinvar"] + ".tbi",
            patients_truth=f"{SIM_DIR}/patients_truth.tsv",
            cohort_truth=f"{SIM_DIR}/cohort_truth.tsv",
            pgs=[SIM_FILES["pgs"]] if SIM["pgs_gwas_n"] else [],
            panel=[f"{SIM_DIR}/ancestry_panel.tsv"] if SIM["ancestry_panel"] else [],
            patient_vcfs=list(dict.fromkeys(SIM_PATIENTS["vcf"])),
            patient_tbis=[f"{v}.tbi" for v in dict.fromkeys(SIM_PATIENTS["vcf"])],
        log:
            f"{OUTDIR}/logs/simulate_phenotype.log",
        benchmark:
            f"{OUTDIR}/benchmarks/simulate_phenotype.tsv"
        conda:
            "../../envs/genorisk.yaml"
        params:
            simulation={k: v for k, v in SIM.items() if k != "outdir"},
            patients=SIM_PATIENTS.to_dict(orient="records"),
        script:
            "../../scripts/simulate_phenotype.py"
