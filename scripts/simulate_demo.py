"""Adapter: rule simulate_demo -> genorisk.simulate.simulate."""

from pathlib import Path

import pandas as pd

from genorisk.runner import run_step
from genorisk.simulate import SimulationConfig, simulate


def main():
    sheet = pd.DataFrame(snakemake.params.patients)
    cfg = SimulationConfig.from_dict(snakemake.params.simulation)
    outdir = Path(snakemake.output.cohort_vcf).parent
    simulate(cfg, sheet, outdir, snakemake.input.gene_model)


run_step(snakemake, main)
