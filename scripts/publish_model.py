"""Adapter: rule publish_model -> genorisk.model.bundle.write_bundle (the trait's bundle, model/<trait>/).

Runs only after training succeeded, so a failed training never touches the
bundle in use. write_bundle stages every file beside the bundle folder, then
renames them in, bundle.json (every file's SHA-256 and its own) last: a reader
sees whole files, and a folder left half-written fails verify_bundle.
"""

import logging
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from genorisk.io import read_json
from genorisk.model.bundle import COHORT_VARIANT_COLUMNS, cohort_reference, write_bundle
from genorisk.runner import run_step

log = logging.getLogger("genorisk.publish_model")


def main():
    inputs, outputs = snakemake.input, snakemake.output
    reference = cohort_reference(read_json(inputs.qc_summary), pd.read_csv(inputs.sample_qc, sep="\t"))
    # An Arrow table, not a DataFrame: a genome-wide cohort's sites in less memory.
    sites = pq.read_table(inputs.variant_qc, columns=list(COHORT_VARIANT_COLUMNS))
    manifest = write_bundle(
        Path(outputs.manifest).parent,
        snakemake.params.trait,
        model_dir=Path(inputs.model).parent,
        cohort_reference=reference,
        cohort_sites=sites,
        settings=snakemake.params.settings,
    )
    log.info(
        "bundle of trait %s: %d files, %d cohort sites, bundle_sha256 %s",
        manifest["trait"]["id"],
        len(manifest["files"]),
        sites.num_rows,
        manifest["bundle_sha256"],
    )


run_step(snakemake, main)
