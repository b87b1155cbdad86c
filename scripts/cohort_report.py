"""Adapter: rule cohort_report -> genorisk.cohort_summary.cohort_summary + genorisk.report.render_cohort_report.

The rule's per-trait inputs (schemas, features, cards, oofs, importances) are lists in trait order,
params.traits the trait ids in the same order. The ancestry PCs are the same for every trait of a
cohort, so the map reads the first trait's feature table.
"""

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
    trait_ids = list(snakemake.params.traits)
    per_trait = [inputs.schemas, inputs.features, inputs.cards, inputs.oofs, inputs.importances]
    if any(len(files) != len(trait_ids) for files in per_trait):
        raise RuntimeError(
            f"rule cohort_report: {len(trait_ids)} traits but per-trait inputs of lengths {[len(f) for f in per_trait]}"
        )
    results = [r for path in inputs.results for r in read_json(path)]
    schemas = [read_json(path) for path in inputs.schemas]
    cards = [read_json(path) for path in inputs.cards]
    columns = [(card.get("trait") or {}).get("column", "status") for card in cards]
    cohort_pcs, reference_pcs = ancestry_points(schemas[0], inputs.features[0], inputs.ancestry_panel)
    summary = cohort_summary(
        name=snakemake.params.name,
        phenotypes=read_phenotypes(inputs.phenotypes, columns=columns),
        qc_summary=read_json(inputs.qc_summary),
        sample_qc=pd.read_csv(inputs.sample_qc, sep="\t"),
        traits=[
            {
                "id": trait_id,
                "schema": schema,
                "card": card,
                "oof": pd.read_parquet(oof),
                "importance": read_json(importance),
            }
            for trait_id, schema, card, oof, importance in zip(
                trait_ids, schemas, cards, inputs.oofs, inputs.importances, strict=True
            )
        ],
        patient_results=results,
        min_match_rate=snakemake.params.min_match_rate,
        refused_patients=[e for path in inputs.refused for e in read_json(path)],
        score_audit=audit_reason_counts(inputs.audits) if inputs.audits else None,
        cohort_pcs=cohort_pcs,
        reference_pcs=reference_pcs,
    )
    write_json(snakemake.output.summary, summary)
    render_cohort_report(
        summary, snakemake.output.html, source=snakemake.output.summary, thresholds=snakemake.params.thresholds
    )


run_step(snakemake, main)
