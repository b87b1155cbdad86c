"""Genotypes of the simulation: coalescent haplotypes (msprime, optionally a stdpopsim model),
the true dosages, missing calls and the haploid chrX of males."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .config import CHROM, SimulationConfig

log = logging.getLogger(__name__)

#: Second allele of a haploid call in ``Genotypes.calls`` (written ``a``, not ``a|b``).
HAPLOID = -2


@dataclass
class Genotypes:
    """Biallelic genotypes of one simulation: ``calls[site, person, haplotype]``."""

    positions: np.ndarray  # 1-based, strictly increasing
    refs: np.ndarray  # str
    alts: np.ndarray  # str
    calls: np.ndarray  # int8, (n_sites, n_people, 2), -1 = missing
    populations: np.ndarray = field(default_factory=lambda: np.empty(0))  # per person


def simulate_haplotypes(cfg: SimulationConfig, n_main: int, n_outlier: int) -> Genotypes:
    """Simulate ``n_main`` people from ``cfg.population``, ``n_outlier`` from the outlier one,
    then ``cfg.ancestry_panel`` from each population of the model (in that order)."""
    ts, pops = simulate_tree_sequence(cfg, n_main, n_outlier, cfg.end - cfg.start + 1, seed=cfg.seed)
    # Keep biallelic sites only (several mutations at one site can make 3+ alleles).
    # Filled per variant into int8: the int32 genotype_matrix() would need 4x the memory.
    calls = np.empty((ts.num_sites, ts.num_samples), dtype=np.int8)
    positions: list[int] = []
    refs: list[str] = []
    alts: list[str] = []
    for var in ts.variants():
        if len(var.alleles) != 2 or var.alleles[1] is None:
            continue
        calls[len(positions)] = var.genotypes
        positions.append(int(var.site.position) + cfg.start)  # discrete genome: 0-based offset
        refs.append(var.alleles[0])
        alts.append(var.alleles[1])
    calls = calls[: len(positions)].reshape(len(positions), -1, 2)
    return Genotypes(np.array(positions), np.array(refs), np.array(alts), calls, pops)


def simulate_tree_sequence(
    cfg: SimulationConfig, n_main: int, n_outlier: int, length: int, *, seed: int | Sequence[int]
) -> tuple[Any, np.ndarray]:
    """The coalescent simulation behind :func:`simulate_haplotypes`, with its mutations.

    Parameters
    ----------
    cfg : SimulationConfig
        Demography, populations, rates and ``ancestry_panel``.
    n_main, n_outlier : int
        People from ``cfg.population`` and from ``cfg.outlier_population``.
    length : int
        Sequence length in bp.
    seed : int or sequence of int
        Entropy of the ancestry and mutation seeds (genome-wide mode: ``[seed, chromosome]``).

    Returns
    -------
    ts : tskit.TreeSequence
        Individuals in the order main, outlier, then ``cfg.ancestry_panel`` from
        each population of the model; sites at 0-based integer offsets.
    populations : ndarray of str
        Population per individual.
    """
    import msprime

    rng_anc, rng_mut = np.random.SeedSequence(seed).generate_state(2)
    if cfg.demography == "constant":
        if n_outlier:
            raise ConfigError(
                None, "outlier patients need a demographic model with populations", record="simulate.demography"
            )
        ts = msprime.sim_ancestry(
            samples=n_main + cfg.ancestry_panel,
            population_size=cfg.population_size,
            sequence_length=length,
            recombination_rate=cfg.recombination_rate,
            random_seed=int(rng_anc),
        )
        pops = np.array([cfg.population] * (n_main + cfg.ancestry_panel))
    else:
        import stdpopsim

        try:
            model = stdpopsim.get_species("HomSap").get_demographic_model(cfg.demography)
        except ValueError as err:
            raise ConfigError(
                None, f"unknown stdpopsim model {cfg.demography!r}", record="simulate.demography"
            ) from err
        groups: list[tuple[str | None, int]] = [(cfg.population, n_main)]
        if n_outlier:
            groups.append((cfg.outlier_population, n_outlier))
        groups += [(pop.name, cfg.ancestry_panel) for pop in model.populations if cfg.ancestry_panel]
        ts = msprime.sim_ancestry(
            samples=[msprime.SampleSet(n, population=pop) for pop, n in groups if n],
            demography=model.model,
            sequence_length=length,
            recombination_rate=cfg.recombination_rate,
            random_seed=int(rng_anc),
        )
        pops = np.concatenate([[pop] * n for pop, n in groups]).astype(str)
    # HKY with kappa 4 gives a genome-like Ti/Tv of about 2 (JC69 would give 0.5),
    # and so the usual share of strand-ambiguous A/T and C/G SNPs.
    ts = msprime.sim_mutations(ts, rate=cfg.mutation_rate, model=msprime.HKY(kappa=4.0), random_seed=int(rng_mut))
    log.info("coalescent simulation: %d people, %d sites over %d bp", ts.num_individuals, ts.num_sites, length)
    return ts, pops


def true_dosage(calls: np.ndarray) -> np.ndarray:
    """Alt-allele dosage (sites, people), int8, with missing calls counted as reference.

    Used for the *true* phenotype only: a missing call is a measurement gap, the
    person still has a genotype; the simulator draws missingness after the
    phenotype from the full genotypes.
    """
    return np.maximum(calls[:, :, 0], 0) + np.maximum(calls[:, :, 1], 0)  # int8


def coding_gene_per_site(geno: Genotypes, gene_model: Any, chrom: str = CHROM) -> np.ndarray:
    """Gene name per site if the site lies in a coding exon (region class CDS), else ''.

    ``gene_model`` is a GTF/GFF3 path or a model already read by
    :func:`genorisk.annotate.read_gene_model`; the sites lie on ``chrom``.
    """
    from ..annotate import read_gene_model

    sites = pd.DataFrame({"chrom": chrom, "pos": geno.positions, "ref": geno.refs, "alt": geno.alts})
    model = read_gene_model(gene_model) if isinstance(gene_model, str | Path) else gene_model
    classes = model.classify(sites)
    coding = (classes["region_class"] == "CDS").to_numpy() & classes["gene"].notna().to_numpy()
    return np.where(coding, classes["gene"].fillna("").astype(str).to_numpy(), "").astype(object)


def mask_missing_calls(calls: np.ndarray, missing_rate: float, rng: np.random.Generator) -> None:
    """Set a random ``missing_rate`` of the (site, person) calls to ``-1``, in place.

    In site chunks: a float mask over all calls would cost 8 bytes a call.
    """
    for lo in range(0, calls.shape[0], 4096):
        block = calls[lo : lo + 4096]
        block[rng.random(block.shape[:2]) < missing_rate] = -1


def chrx_genotypes(xgeno: Genotypes, male: np.ndarray, cohort: slice, *, seed: int, missing_rate: float) -> Genotypes:
    """Make the chrX segment's males haploid, draw its missing calls and keep its sites polymorphic in the cohort.

    Parameters
    ----------
    xgeno : Genotypes
        The diploid chrX simulation; its ``calls`` are changed in place.
    male : ndarray of bool
        Per person.
    cohort : slice
        The cohort's people, who decide which sites are polymorphic.
    seed : int
        The simulation seed; missing calls come from their own generator
        (``[seed, 23]``), so the chr21 draws stay as without chrX.
    missing_rate : float
        Fraction of calls set missing; a male's missing call stays haploid (``.``).

    Returns
    -------
    Genotypes
        The polymorphic sites (``populations`` left empty).
    """
    xcalls = xgeno.calls
    xcalls[:, male, 1] = HAPLOID
    x_rng = np.random.default_rng([seed, 23])
    miss = x_rng.random(xcalls.shape[:2]) < missing_rate
    xcalls[..., 0][miss] = -1  # a male's missing call stays haploid: "."
    xcalls[..., 1][miss & (xcalls[..., 1] != HAPLOID)] = -1
    called = xcalls[:, cohort] >= 0
    alt_count = ((xcalls[:, cohort] == 1) & called).sum(axis=(1, 2))
    keep = (alt_count > 0) & (alt_count < called.sum(axis=(1, 2)))  # polymorphic in the cohort
    return Genotypes(xgeno.positions[keep], xgeno.refs[keep], xgeno.alts[keep], xcalls[keep])
