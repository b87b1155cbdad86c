"""Adapter: rule train_model -> genorisk.model.train_model / save_model."""

from pathlib import Path

import pandas as pd

from genorisk.config import read_phenotypes
from genorisk.io import atomic_output, read_json, sha256_file, write_json
from genorisk.model import ModelConfig, read_feature_matrix, save_model, score_patients, train_model
from genorisk.results import feature_importance
from genorisk.runner import run_step


def truth_for_ceiling(path):
    """What a predictor of genotypes plus covariates can capture, from the simulation truth."""
    truth = read_json(path)
    covariates = truth["variance_components"].get("covariates", 0.0)
    return {
        "h2": truth["variance_components"]["additive"] + covariates,
        "h2_total": truth["h2_total"] + covariates,
        "prevalence": truth["prevalence"],
    }


def main():
    features = read_feature_matrix(snakemake.input.features)
    phenotypes = read_phenotypes(snakemake.input.phenotypes).loc[features.index]
    config = ModelConfig.from_dict(
        {"threads": snakemake.threads, **snakemake.params.model}, source="config: model"
    )
    truth = truth_for_ceiling(snakemake.input.truth[0]) if snakemake.input.truth else None
    model = train_model(
        features, phenotypes["status"].to_numpy(), read_json(snakemake.input.schema), config, truth=truth
    )
    outdir = Path(snakemake.output.model).parent
    save_model(model, outdir, training_data_sha256=sha256_file(snakemake.input.features))
    # Cohort-level evaluation (per-person OOF predictions) stays out of the shareable model folder.
    oof = pd.DataFrame({k: v for k, v in model.oof_predictions.items()}, index=features.index)
    with atomic_output(snakemake.output.oof) as tmp:
        oof.to_parquet(tmp)
    scored = score_patients(model, features, top_n=10_000)
    labels = {f["group"]: f["label"] if f["kind"] != "dosage" else f["group"] for f in model.schema["features"]}
    write_json(snakemake.output.importance, feature_importance([s["drivers"] for s in scored], labels))


run_step(snakemake, main)
