"""Adapter: rule score_patients -> genorisk.results.score_batch (one batch, every trait, from bundles)."""

import logging
from pathlib import Path

from genorisk.io import read_json, write_json
from genorisk.model.bundle import load_bundle
from genorisk.results import score_batch
from genorisk.runner import run_step

log = logging.getLogger("genorisk.score_patients")


def main():
    inputs, params = snakemake.input, snakemake.params
    # load_bundle checks every file of the bundle against its bundle.json (and load_model the
    # model card's hashes) before anything is used; each trait's settings come from its bundle.
    bundles = [load_bundle(Path(manifest).parent) for manifest in inputs.manifests]
    found = [b.trait["id"] for b in bundles]
    if found != list(params.traits):
        raise ValueError(f"bundles give traits {found}, the workflow expects {list(params.traits)}")
    results = score_batch(
        params.patients,
        bundles,
        list(inputs.features),
        read_json(inputs.qc),
        outlier_policy=params.outlier_policy,
        outlier_rate=params.outlier_rate,
        min_coverage=params.min_coverage,
    )
    log.info("%d patients scored for %d traits", len(results), len(bundles))
    # Per-patient result.json files are written with the reports (rule patient_reports_<batch>).
    write_json(snakemake.output.results, results, mode=0o600)


run_step(snakemake, main)
