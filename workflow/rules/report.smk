# Reports (genorisk.report): per patient result.json, report.json and
# report.html (+ report.pdf), rendered a batch at a time with templates
# compiled once. One rule per batch, so each declares its patients' files;
# the profile sets their threads and memory under the family name patient_reports.

batch_rule_resources("patient_reports", [f"patient_reports_{b}" for b in BATCHES])

for batch, patients in BATCHES.items():

    rule:
        name:
            f"patient_reports_{batch}"
        input:
            results=f"{OUTDIR}/patients/batches/{batch}/results.json",
        output:
            manifest=f"{OUTDIR}/patients/batches/{batch}/reports.json",
            results=patient_files(patients, "result.json"),
            json=patient_files(patients, "report.json"),
            html=patient_files(patients, "report.html"),
            pdf=patient_files(patients, "report.pdf") if config["report"]["pdf"] else [],
        log:
            f"{OUTDIR}/logs/patient_reports/{batch}.log",
        benchmark:
            f"{OUTDIR}/benchmarks/patient_reports/{batch}.tsv"
        conda:
            "../../envs/genorisk.yaml"
        params:
            pdf=config["report"]["pdf"],
            thresholds=report_thresholds(),
        script:
            "../../scripts/patient_reports.py"


rule cohort_report:
    input:
        phenotypes=config["cohort"]["phenotypes"],
        qc_summary=rules.cohort_qc.output.summary,
        sample_qc=rules.cohort_qc.output.samples,
        schema=rules.cohort_features.output.schema,
        card=rules.publish_model.output.card,
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
    params:
        name=config["report"]["cohort_name"],
        min_match_rate=config["features"]["min_match_rate"],
        thresholds=report_thresholds(),
    script:
        "../../scripts/cohort_report.py"
