# Demo only: simulate the cohort, held-out patients and annotation resources.
if SIM:

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
                for f in (SIM_FILES[key], f"{SIM_FILES[key]}.tbi")
            ],
            patient_vcfs=list(SIM_PATIENTS["vcf"]),
            # Declared so Snakemake touches them with the VCFs (else they look older).
            patient_tbis=[f"{v}.tbi" for v in SIM_PATIENTS["vcf"]],
        log:
            f"{OUTDIR}/logs/simulate_demo.log",
        benchmark:
            f"{OUTDIR}/benchmarks/simulate_demo.tsv"
        conda:
            "../../envs/genorisk.yaml"
        threads: res("simulate_demo", "threads")
        resources:
            mem_mb=res("simulate_demo", "mem_mb"),
            runtime=res("simulate_demo", "runtime"),
        params:
            simulation={k: v for k, v in SIM.items() if k != "outdir"},
            patients=SIM_PATIENTS.to_dict(orient="records"),
        script:
            "../../scripts/simulate_demo.py"
