"""Adapter: rule train_model -> genorisk.model.train_model / save_model (into the staging folder)."""

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
    trait_settings,
)
from genorisk.runner import run_step


def main():
    features = read_feature_matrix(snakemake.input.features)
    phenotypes = read_phenotypes(snakemake.input.phenotypes).loc[features.index]
    # The model section is schema-validated and complete; XGBoost's threads are the rule's.
    config = ModelConfig.from_dict({**snakemake.params.model, "threads": snakemake.threads}, source="config: model")
    truth = read_truth(snakemake.input.truth[0]) if snakemake.input.truth else None
    # Today one trait per run (issue #13 item 1 makes this a loop over traits).
    trait = trait_settings(snakemake.params.traits)[0]
    schema = read_json(snakemake.input.schema)
    model = train_model(features, phenotypes[trait["column"]].to_numpy(), schema, config, truth=truth)
    # Aggregates of each polygenic score (cohort distribution; Z_norm2 fitted on the reference panel).
    panel = snakemake.input.ancestry_panel
    context = polygenic_score_context(features, schema, reference_vcf=panel[0] if panel else None)
    # The staging folder (<outdir>/training/model); rule publish_model copies it into <outdir>/model.
    outdir = Path(snakemake.output.model).parent
    save_model(
        model,
        outdir,
        training_data_sha256=sha256_file(snakemake.input.features),
        trait=trait,
        score_context=context,
    )
    # Cohort-level evaluation (per-person OOF predictions) stays out of the shareable model folder.
    oof = pd.DataFrame({k: v for k, v in model.oof_predictions.items()}, index=features.index)
    with atomic_output(snakemake.output.oof) as tmp:
        oof.to_parquet(tmp)
    scored = score_patients(model, features, top_n=10_000)
    labels = {f["group"]: f["label"] if f["kind"] != "dosage" else f["group"] for f in model.schema["features"]}
    write_json(snakemake.output.importance, feature_importance([s["drivers"] for s in scored], labels))


run_step(snakemake, main)
