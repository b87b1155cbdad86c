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


rule cohort_report:
    input:
        phenotypes=config["cohort"]["phenotypes"],
        qc_summary=rules.cohort_qc.output.summary,
        sample_qc=rules.cohort_qc.output.samples,
        schema=rules.cohort_features.output.schema,
        card=rules.train_model.output.card,
        oof=rules.train_model.output.oof,
        importance=rules.train_model.output.importance,
        results=expand(
            f"{OUTDIR}/patients/batches/{{batch}}/results.json", batch=BATCHES
        ),
    output:
        summary=f"{OUTDIR}/cohort/cohort_summary.json",
        html=report(
            f"{OUTDIR}/cohort/cohort_report.html",
            caption="../report/cohort_report.rst",
            category="Cohort",
        ),
    log:
        f"{OUTDIR}/logs/cohort_report.log",
    benchmark:
        f"{OUTDIR}/benchmarks/cohort_report.tsv"
    conda:
        "../../envs/genorisk.yaml"
    threads: res("cohort_report", "threads")
    resources:
        mem_mb=res("cohort_report", "mem_mb"),
        runtime=res("cohort_report", "runtime"),
    params:
        name=config["report"]["cohort_name"],
        min_match_rate=config["features"]["min_match_rate"],
    script:
        "../../scripts/cohort_report.py"
