"""Adapter: rule simulate_phenotype -> genorisk.simulate.simulate_phenotype (genome-wide mode, phase 2)."""

from pathlib import Path

import pandas as pd

from genorisk.runner import run_step
from genorisk.simulate import GenomeWideConfig, SimulationConfig, simulate_phenotype


def main():
    sheet = pd.DataFrame(snakemake.params.patients)
    cfg = SimulationConfig.from_dict(snakemake.params.simulation)
    genome = GenomeWideConfig.from_section(snakemake.params.simulation)
    simulate_phenotype(cfg, genome, sheet, Path(snakemake.output.truth).parent)


run_step(snakemake, main)
