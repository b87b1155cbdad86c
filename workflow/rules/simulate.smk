# Demo only: simulate the cohort, held-out patients and annotation resources.
if SIM:

    rule simulate_demo:
        input:
            sheet=config["patients"]["sheet"],
            gene_model=config["annotation"]["gene_model"],
        output:
            cohort_vcf=SIM_FILES["cohort_vcf"],
            cohort_tbi=SIM_FILES["cohort_vcf"] + ".tbi",
            phenotypes=SIM_FILES["phenotypes"],
            truth=SIM_FILES["truth"],
            clinvar=SIM_FILES["clinvar"],
            popfreq=SIM_FILES["popfreq"],
            patients_truth=f"{SIM_DIR}/patients_truth.tsv",
            cohort_truth=f"{SIM_DIR}/cohort_truth.tsv",
            patient_vcfs=_simulated_patient_vcfs(config["patients"]["sheet"]),
        params:
            simulation={k: v for k, v in SIM.items() if k != "outdir"},
            outdir=SIM_DIR,
        log:
            f"{OUTDIR}/logs/simulate_demo.log",
        benchmark:
            f"{OUTDIR}/benchmarks/simulate_demo.tsv"
        threads: res("simulate_demo", "threads")
        resources:
            mem_mb=res("simulate_demo", "mem_mb"),
            runtime=res("simulate_demo", "runtime"),
        conda:
            "../../envs/genorisk.yaml"
        script:
            "../../scripts/simulate_demo.py"
