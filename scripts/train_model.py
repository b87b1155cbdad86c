"""Adapter: rule train_model -> genorisk.model.train_model / save_model."""

import hashlib
from pathlib import Path

from genorisk.config import read_phenotypes
from genorisk.io import read_json
from genorisk.model import ModelConfig, read_feature_matrix, save_model, train_model
from genorisk.runner import run_step


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    save_model(model, outdir, training_data_sha256=sha256(snakemake.input.features))


run_step(snakemake, main)
