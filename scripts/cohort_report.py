"""Adapter: rule cohort_report -> genorisk.cohort_summary.cohort_summary + genorisk.report.render_cohort_report."""

import pandas as pd

from genorisk.ancestry import AncestryModel, project_vcf
from genorisk.cohort_summary import cohort_summary
from genorisk.config import read_phenotypes
from genorisk.io import read_json, write_json
from genorisk.report import render_cohort_report
from genorisk.runner import run_step
from genorisk.scores import audit_reason_counts


def ancestry_points(schema, features_path, panel):
    """(cohort PC1/PC2, reference panel PC1/PC2 or None) for the ancestry map; (None, None) without PCs."""
    if not schema.get("ancestry"):
        return None, None
    cohort = pd.read_parquet(features_path, columns=["pc1", "pc2"]).to_numpy(dtype=float)
    reference = None
    if panel:
        model = AncestryModel.from_dict(schema["ancestry"])
        reference = project_vcf(model, panel[0])[["pc1", "pc2"]].to_numpy(dtype=float)
    return cohort, reference


def main():
    inputs = snakemake.input
    results = [r for path in inputs.results for r in read_json(path)]
    schema = read_json(inputs.schema)
    cohort_pcs, reference_pcs = ancestry_points(schema, inputs.features, inputs.ancestry_panel)
    summary = cohort_summary(
        name=snakemake.params.name,
        phenotypes=read_phenotypes(inputs.phenotypes),
        qc_summary=read_json(inputs.qc_summary),
        sample_qc=pd.read_csv(inputs.sample_qc, sep="\t"),
        schema=schema,
        card=read_json(inputs.card),
        oof=pd.read_parquet(inputs.oof),
        importance=read_json(inputs.importance),
        patient_results=results,
        min_match_rate=snakemake.params.min_match_rate,
        refused_patients=[e for path in inputs.refused for e in read_json(path)],
        score_audit=audit_reason_counts(inputs.audits),
        cohort_pcs=cohort_pcs,
        reference_pcs=reference_pcs,
    )
    write_json(snakemake.output.summary, summary)
    render_cohort_report(
        summary, snakemake.output.html, source=snakemake.output.summary, thresholds=snakemake.params.thresholds
    )


run_step(snakemake, main)
