"""Adapter: rule train_model -> genorisk.model.train_model / save_model (into the trait's staging folder)."""

from pathlib import Path

import pandas as pd

from genorisk.config import read_phenotypes, read_truth
from genorisk.io import atomic_output, read_json, sha256_file, write_json
from genorisk.model import (
    ModelConfig,
    feature_importance,
    polygenic_score_context,
    read_feature_matrix,
    save_model,
    score_patients,
    train_model,
    trait_training_rows,
)
from genorisk.runner import run_step


def main():
    trait = dict(snakemake.params.trait)
    column = trait["column"]
    # Rows of the feature matrix: every QC-passed person; training rows: those with a 0/1 value for this trait.
    features = read_feature_matrix(snakemake.input.features)
    phenotypes = read_phenotypes(snakemake.input.phenotypes, columns=[column])
    X, y = trait_training_rows(features, phenotypes, column, path=snakemake.input.phenotypes)
    # The model section is schema-validated and complete; XGBoost's threads are the rule's.
    config = ModelConfig.from_dict({**snakemake.params.model, "threads": snakemake.threads}, source="config: model")
    truth = read_truth(snakemake.input.truth[0], column=column) if snakemake.input.truth else None
    schema = read_json(snakemake.input.schema)
    model = train_model(X, y, schema, config, truth=truth)
    # Aggregates of each polygenic score over the whole QC-passed cohort (Z_norm2 fitted on the reference panel).
    panel = snakemake.input.ancestry_panel
    context = polygenic_score_context(features, schema, reference_vcf=panel[0] if panel else None)
    # The trait's staging folder (<outdir>/training/<trait>/model); rule publish_model makes it the bundle.
    outdir = Path(snakemake.output.model).parent
    save_model(
        model,
        outdir,
        training_data_sha256=sha256_file(snakemake.input.features),
        trait=trait,
        score_context=context,
    )
    # Cohort-level evaluation (per-person OOF predictions, the training rows) stays out of the shareable bundle.
    oof = pd.DataFrame({k: v for k, v in model.oof_predictions.items()}, index=X.index)
    with atomic_output(snakemake.output.oof) as tmp:
        oof.to_parquet(tmp)
    scored = score_patients(model, X, top_n=10_000)
    names = {f["group"]: f["label"] if f["kind"] != "dosage" else f["group"] for f in model.schema["features"]}
    labels = {f["name"]: f["label"] for f in model.schema["features"]}
    names.update({t.name: t.label(labels) for t in model.interactions})
    write_json(snakemake.output.importance, feature_importance([s["drivers"] for s in scored], names))


run_step(snakemake, main)
