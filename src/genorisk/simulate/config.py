"""What is simulated: the ``simulate:`` config section and the fixed layout of the demo genome.

The demo lives on GRCh38 chr21 coordinates (and, optionally, a non-PAR chrX
segment for the sex check); every file it writes carries :data:`SIMULATED_LABEL`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

# GRCh38 chr21; the header's contig length lets readers check the build.
CHROM = "chr21"
CHR21_LENGTH_GRCH38 = 46_709_983
# The optional chrX segment for the sex check: non-PAR (PAR1 ends at 2,781,479).
CHROM_X = "chrX"
CHRX_LENGTH_GRCH38 = 156_040_895
CHRX_START = 10_000_001
SIMULATED_LABEL = "SIMULATED by genorisk.simulate for the demo; not real data"
#: The phenotype table's own columns: an extra trait cannot take one of these names.
PHENOTYPE_COLUMNS = ("sample_id", "status", "age", "sex")
#: Liability variance the components of one disease may take together (the rest is environment).
MAX_EXPLAINED_VARIANCE = 0.95


@dataclass
class ExtraTrait:
    """A further simulated disease of the same people (one entry of ``simulate.extra_traits``).

    It has its own causal variants (drawn independently of the first disease's,
    from the same candidates), its own architecture and prevalence, and its
    own random stream (``[seed, 1000 + i]`` for the i-th entry), so adding one
    leaves the first disease and every existing file unchanged. Age and sex
    are the people's own, shared by every disease.

    Attributes
    ----------
    column : str
        The phenotype-table column (0 control / 1 case), after ``sex``.
    prevalence : float
        K of this disease.
    h2 : float
        Liability variance of its additive common-variant component.
    n_causal : int
        Its causal common variants.
    burden : float
        Liability variance of a rare-variant burden in ``burden_genes`` genes
        other than those of the diseases before it (0: none, and no genes).
    dominance, epistasis, gxage : float
        Non-additive liability variance components (0 disables one).
    n_epistatic_pairs : int
        Interacting pairs of its causal variants when ``epistasis`` > 0.
    covariate_variance : float
        Liability variance of age and sex.
    """

    column: str
    prevalence: float = 0.1
    h2: float = 0.3
    n_causal: int = 100
    burden: float = 0.0
    dominance: float = 0.0
    epistasis: float = 0.0
    n_epistatic_pairs: int = 20
    gxage: float = 0.0
    covariate_variance: float = 0.05

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExtraTrait:
        """Build from one validated ``extra_traits`` entry.

        Raises
        ------
        ValueError
            An unknown key (the schema refuses those first: a programming error).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ExtraTrait key(s): {', '.join(unknown)}")
        return cls(**values)

    def explained_variance(self) -> float:
        """Sum of the requested liability variance components."""
        return self.h2 + self.burden + self.dominance + self.epistasis + self.gxage + self.covariate_variance


@dataclass
class SimulationConfig:
    """Parameters of the demo simulation (config key ``simulate``).

    Attributes
    ----------
    seed : int
        Seeds every random step; the same seed gives byte-identical outputs.
    n_cohort : int
        People in the training cohort.
    n_reference : int
        People in the population-frequency reference panel (gnomAD-like VCF).
    start, end : int
        1-based region on GRCh38 chr21 that is simulated.
    demography : str
        ``"constant"`` (Ne = ``population_size``) or a stdpopsim HomSap model
        id such as ``"OutOfAfrica_3G09"`` (cohort from ``population``).
    population : str
        Population of the cohort, reference panel and patients (stdpopsim id).
    outlier_population : str or None
        Population of patients flagged ``outlier`` in the sheet, to exercise
        ancestry warnings (e.g. ``"YRI"``).
    population_size, mutation_rate, recombination_rate : float
        Coalescent parameters (per generation, per bp).
    h2 : float
        Liability variance of the additive common-variant component.
    n_causal : int
        Causal common variants (MAF >= ``causal_min_maf`` in the cohort).
    burden_genes : int
        Protein-coding genes whose rare (MAF < ``rare_maf``) coding minor
        alleles each raise liability by the same amount.
    burden : float
        Liability variance of that rare-variant burden component.
    dominance, epistasis, gxage : float
        Liability variance of each non-additive component (0 disables it).
    covariate_variance : float
        Liability variance explained by age and sex together.
    prevalence : float
        K; cases are people whose liability exceeds Phi^-1(1 - K).
    missing_rate : float
        Fraction of genotype calls set missing at random (``./.``).
    ancestry_panel : int
        People per population of the demographic model in an ancestry
        reference panel (``ancestry_panel.vcf.gz``, like a 1000 Genomes
        subset) at the cohort's sites; 0 writes none. Ancestry PCs fitted
        with it can tell a patient from another population from the cohort.
    pgs_gwas_n : int
        The demo's "published" polygenic score (PGS Catalog format) has the
        weights an external GWAS of this many people would estimate: each
        causal variant's true effect plus sampling noise of variance
        1 / (2 p q N); 0 writes no score file.
    pgs_null_variants : int
        Non-causal common variants in that score (weights: noise only).
    chrx_bp : int
        Length of a GRCh38 chrX segment (non-PAR, from 10,000,001) simulated
        as well, so the sex check has data: males get haploid calls there
        (``GT=0`` / ``1``), females diploid. It is simulated with 20x the
        recombination rate (standing for a 20x longer stretch, so that its
        sites are nearly as unlinked as chrX-wide data), carries no phenotype
        effect and is not in the ancestry panel or the annotation resources.
        0: none.
    extra_traits : list of ExtraTrait
        Further diseases of the same people, drawn after the first (the
        attributes above) with their own random streams: the first disease's
        phenotype and every file of a simulation without them stay
        byte-identical. Given as :class:`ExtraTrait` or as mappings of its
        fields.

    Raises
    ------
    ConfigError
        An extra trait's column is taken (``sample_id``, ``status``, ``age``,
        ``sex`` or another extra trait's), or its variance components leave
        no room for the environment (they must sum below 0.95).
    """

    seed: int = 42
    n_cohort: int = 3000
    n_reference: int = 2000
    start: int = 25_000_001
    end: int = 33_000_000
    demography: str = "OutOfAfrica_3G09"
    population: str = "CEU"
    outlier_population: str | None = "YRI"
    population_size: float = 10_000
    mutation_rate: float = 1.29e-8
    recombination_rate: float = 1e-8
    h2: float = 0.4
    n_causal: int = 200
    causal_min_maf: float = 0.01
    burden_genes: int = 3
    burden: float = 0.05
    rare_maf: float = 0.01
    dominance: float = 0.0
    epistasis: float = 0.0
    n_epistatic_pairs: int = 20
    gxage: float = 0.0
    covariate_variance: float = 0.05
    prevalence: float = 0.1
    missing_rate: float = 0.001
    ancestry_panel: int = 100
    pgs_gwas_n: int = 100_000
    pgs_null_variants: int = 300
    chrx_bp: int = 0
    extra_traits: list[ExtraTrait] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.extra_traits = [
            t if isinstance(t, ExtraTrait) else ExtraTrait.from_dict(t) for t in (self.extra_traits or [])
        ]
        taken = set(PHENOTYPE_COLUMNS)
        for i, trait in enumerate(self.extra_traits):
            key = f"simulate.extra_traits[{i}]"
            if trait.column in taken:
                raise ConfigError(
                    "config: simulate",
                    f"{key}.column {trait.column!r} is already a phenotype column ({', '.join(sorted(taken))})",
                    record=f"key {key}.column",
                )
            taken.add(trait.column)
            total = trait.explained_variance()
            if total >= MAX_EXPLAINED_VARIANCE:
                raise ConfigError(
                    "config: simulate",
                    f"{key}: h2 + burden + dominance + epistasis + gxage + covariate_variance = {total:g} "
                    f"must be below {MAX_EXPLAINED_VARIANCE} (the variance components must leave room for "
                    "the environment)",
                    record=f"key {key}",
                )

    def trait_config(self, index: int) -> SimulationConfig:
        """The settings the i-th extra trait is drawn with: its architecture on this config's people.

        Its burden (when > 0) is in ``burden_genes`` genes; with ``burden`` 0 it has none.
        """
        trait = self.extra_traits[index]
        return dataclasses.replace(
            self,
            prevalence=trait.prevalence,
            h2=trait.h2,
            n_causal=trait.n_causal,
            burden=trait.burden,
            burden_genes=self.burden_genes if trait.burden > 0 else 0,
            dominance=trait.dominance,
            epistasis=trait.epistasis,
            n_epistatic_pairs=trait.n_epistatic_pairs,
            gxage=trait.gxage,
            covariate_variance=trait.covariate_variance,
            extra_traits=[],
        )

    def trait_seed(self, index: int) -> list[int]:
        """The seed of the i-th extra trait's own generator: ``[seed, 1000 + i]``."""
        return [self.seed, 1000 + index]

    def truth_dict(self) -> dict[str, Any]:
        """The config as ``truth.json`` records it (no ``extra_traits`` key when there are none, as before them)."""
        values = dataclasses.asdict(self)
        if not self.extra_traits:
            del values["extra_traits"]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SimulationConfig:
        """Build from the ``simulate:`` config section, validated by the config schema.

        The schema (:func:`genorisk.config.validate_config` or
        :func:`~genorisk.config.validate_section`) holds every key's type and bounds and
        the relations between keys (``start`` < ``end``, the variance components summing
        below 0.95), and names the key in its messages; they are not checked again here.
        ``outdir``, the workflow's folder for the files, is not a simulation parameter
        and is ignored; so is ``genome_wide`` (see :class:`GenomeWideConfig`).

        Raises
        ------
        ValueError
            An unknown key: the schema refuses those first, so this is a programming error.
        """
        values = {k: v for k, v in (values or {}).items() if k not in ("outdir", "genome_wide")}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SimulationConfig key(s): {', '.join(unknown)}")
        return cls(**values)


@dataclass
class GenomeWideConfig:
    """Genome-wide mode (config key ``simulate.genome_wide``): one segment per autosome.

    Each chromosome is its own coalescent simulation (unlinked, as real
    chromosomes are) of the same people and demography, with the seed
    ``[seed, chromosome]``; :func:`~genorisk.simulate.simulate_chromosome`
    writes it and :func:`~genorisk.simulate.simulate_phenotype` draws the
    phenotype from all of them. The demo's ``start``/``end`` and ``chrx_bp``
    do not apply.

    Attributes
    ----------
    chromosomes : list of int
        Autosomes simulated (1-22), written as GRCh38 ``chr1`` ... ``chr22``.
    bp_per_chromosome : int
        Length of the segment simulated on each (about 7,900 sites per Mb
        polymorphic in 10,000 people: 6 Mb gives about 45,000 variants).
    start : int
        First position (1-based) of every segment (the demo's chr21 start, so
        the chr21 gene model's genes carry the burden); the schema's bounds keep
        ``start + bp_per_chromosome - 1`` within the shortest autosome (chr21).
    """

    chromosomes: list[int] = field(default_factory=lambda: list(range(1, 23)))
    bp_per_chromosome: int = 6_000_000
    start: int = 25_000_001

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> GenomeWideConfig | None:
        """The ``genome_wide`` entry of a ``simulate:`` section; None (demo mode) when absent or null."""
        values = (section or {}).get("genome_wide")
        if values is None:
            return None
        return cls(**values)

    @staticmethod
    def contig(chromosome: int | str) -> str:
        """The GRCh38 contig name of an autosome: ``1`` -> ``chr1``."""
        return f"chr{int(chromosome)}"
