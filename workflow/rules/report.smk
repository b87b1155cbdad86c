# Reports (genorisk.report): per patient result.json, report.json and
# report.html (+ report.pdf), rendered a batch at a time with templates
# compiled once; a refused patient gets error.json instead (no report). One
# rule per batch, so each declares its patients' folders; which of the two a
# folder holds is known only once the patient's VCF was read, so the declared
# output is the folder (Snakemake empties it before the job: no stale report
# or error.json survives a rerun). The profile sets their threads and memory
# under the family name patient_reports. With pgx.enabled the batch's pgx.json
# (rule call_pharmacogenes) is an input too: each report gets its patient's
# Medicines section; without it the section is null ("not assessed").

batch_rule_resources("patient_reports", [f"patient_reports_{b}" for b in BATCHES])

for batch, patients in BATCHES.items():

    rule:
        name:
            f"patient_reports_{batch}"
        input:
            **(
                {"pgx": f"{OUTDIR}/patients/batches/{batch}/pgx.json"}
                if config["pgx"]["enabled"]
                else {}
            ),
            results=f"{OUTDIR}/patients/batches/{batch}/results.json",
            refused=f"{OUTDIR}/patients/batches/{batch}/refused.json",
        output:
            manifest=f"{OUTDIR}/patients/batches/{batch}/reports.json",
            folders=[directory(f) for f in patient_folders(patients)],
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


if not SCORE_ONLY:

    rule cohort_report:
        input:
            phenotypes=config["cohort"]["phenotypes"],
            qc_summary=rules.cohort_qc.output.summary,
            sample_qc=rules.cohort_qc.output.samples,
            ancestry_panel=ancestry_panel(),
            # Per trait, in trait order.
            schemas=trait_outputs(f"{OUTDIR}/features/{{trait}}/features.schema.json"),
            features=trait_outputs(f"{OUTDIR}/features/{{trait}}/cohort.parquet"),
            cards=trait_bundle_files("card"),
            oofs=trait_outputs(f"{OUTDIR}/evaluation/{{trait}}/oof_predictions.parquet"),
            importances=trait_outputs(
                f"{OUTDIR}/evaluation/{{trait}}/feature_importance.json"
            ),
            results=expand(
                f"{OUTDIR}/patients/batches/{{batch}}/results.json", batch=BATCHES
            ),
            refused=expand(
                f"{OUTDIR}/patients/batches/{{batch}}/refused.json", batch=BATCHES
            ),
            audits=score_outputs("audit.tsv"),
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
            traits=list(TRAITS),
            min_match_rate=config["features"]["min_match_rate"],
            thresholds=report_thresholds(),
        script:
            "../../scripts/cohort_report.py"


localrules:
    check_patient_intake,


# The run's exit status says whether patients were refused: with patients.on_error
# fail (the default) this job fails, naming them, after every other output is
# written (so the run exits non-zero, and again on each rerun until the files are
# fixed); with continue it writes the list and the run exits 0.
rule check_patient_intake:
    input:
        refused=expand(
            f"{OUTDIR}/patients/batches/{{batch}}/refused.json", batch=BATCHES
        ),
        manifests=expand(
            f"{OUTDIR}/patients/batches/{{batch}}/reports.json", batch=BATCHES
        ),
        cohort_report=[] if SCORE_ONLY else rules.cohort_report.output.html,
    output:
        check=f"{OUTDIR}/patients/intake_check.json",
    log:
        f"{OUTDIR}/logs/check_patient_intake.log",
    benchmark:
        f"{OUTDIR}/benchmarks/check_patient_intake.tsv"
    conda:
        "../../envs/genorisk.yaml"
    params:
        on_error=config["patients"]["on_error"],
    script:
        "../../scripts/check_patient_intake.py"
