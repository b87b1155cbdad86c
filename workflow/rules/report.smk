# Reports (genorisk.report): per patient report.html + report.json (+ PDF),
# rendered a batch at a time with templates compiled once.


rule patient_reports:
    input:
        results=rules.score_patients.output.results,
    output:
        manifest=f"{OUTDIR}/patients/batches/{{batch}}/reports.json",
    log:
        f"{OUTDIR}/logs/patient_reports/{{batch}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/patient_reports/{{batch}}.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("patient_reports", "threads")
    resources:
        mem_mb=res("patient_reports", "mem_mb"),
        runtime=res("patient_reports", "runtime"),
    params:
        pdf=config["report"]["pdf"],
    script:
        "../../scripts/patient_reports.py"
