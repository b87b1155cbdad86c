"""Simulated demo cohorts with known truth.

A cohort, a handful of held-out patients and a reference panel are drawn from
one coalescent simulation (msprime; optionally a stdpopsim demographic model)
on GRCh38 chr21 coordinates with real A/C/G/T alleles (HKY mutations, Ti/Tv about 2). Disease status follows
a liability-threshold model with known causal variants:

    liability = G_additive + G_burden + G_dominance + G_epistasis + G_gxage
                + C (age, sex) + E

where each genetic component is scaled so that its variance in the cohort is
the requested liability-scale variance, C explains ``covariate_variance`` and
E ~ N(0, 1 - sum of the others), so var(liability) = 1 and the case fraction
is close to the prevalence K when the threshold is Phi^-1(1 - K). The truth file
records the causal variants, their effects, every realised variance component
and the AUC ceiling of Wray et al. (2010) for what a predictor can capture.

Further diseases of the same people (``simulate.extra_traits``, :class:`ExtraTrait`)
follow the same model with their own causal variants, architecture and prevalence,
each from its own random stream after the first disease, which they leave unchanged
(docs/simulation.md).

Everything is deterministic for a given seed: the same seed gives
byte-identical files.

Modules, one job each:

* :mod:`~genorisk.simulate.config` - :class:`SimulationConfig` and the demo genome's layout;
* :mod:`~genorisk.simulate.genotypes` - coalescent haplotypes, dosages, missing calls, haploid chrX;
* :mod:`~genorisk.simulate.phenotype` - the liability model and :func:`auc_ceiling`;
* :mod:`~genorisk.simulate.vcf_writer` - bgzipped, indexed VCFs (:func:`write_vcf`);
* :mod:`~genorisk.simulate.resources` - population frequencies, ClinVar, the score, the ancestry panel;
* :mod:`~genorisk.simulate.run` - :func:`simulate`, which draws and writes everything in order;
* :mod:`~genorisk.simulate.genome_wide` - genome-wide mode (``simulate.genome_wide``): one job per
  autosome, :func:`simulate_chromosome`, then :func:`simulate_phenotype` over all of them.
"""

from .config import (
    CHR21_LENGTH_GRCH38,
    CHROM,
    CHROM_X,
    CHRX_LENGTH_GRCH38,
    CHRX_START,
    SIMULATED_LABEL,
    ExtraTrait,
    GenomeWideConfig,
    SimulationConfig,
)
from .genome_wide import chromosome_files, simulate_chromosome, simulate_phenotype
from .genotypes import HAPLOID, Genotypes
from .phenotype import auc_ceiling
from .run import simulate
from .vcf_writer import VcfWriter, vcf_header, write_vcf

__all__ = [
    "CHR21_LENGTH_GRCH38",
    "CHROM",
    "CHROM_X",
    "CHRX_LENGTH_GRCH38",
    "CHRX_START",
    "HAPLOID",
    "ExtraTrait",
    "GenomeWideConfig",
    "SIMULATED_LABEL",
    "Genotypes",
    "SimulationConfig",
    "VcfWriter",
    "auc_ceiling",
    "chromosome_files",
    "simulate",
    "simulate_chromosome",
    "simulate_phenotype",
    "vcf_header",
    "write_vcf",
]
