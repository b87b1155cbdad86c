"""Adapter: rule simulate_chromosome -> genorisk.simulate.simulate_chromosome (genome-wide mode, phase 1)."""

from pathlib import Path

import pandas as pd

from genorisk.runner import run_step
from genorisk.simulate import GenomeWideConfig, SimulationConfig, simulate_chromosome


def main():
    sheet = pd.DataFrame(snakemake.params.patients)
    cfg = SimulationConfig.from_dict(snakemake.params.simulation)
    genome = GenomeWideConfig.from_section(snakemake.params.simulation)
    outdir = Path(snakemake.output.phenotype_inputs).parent
    simulate_chromosome(cfg, genome, int(snakemake.wildcards.chrom), sheet, outdir, snakemake.input.gene_model)


run_step(snakemake, main)
