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

Everything is deterministic for a given seed: the same seed gives
byte-identical files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pysam
from scipy.stats import norm

from .errors import ConfigError
from .io import atomic_output, write_json

log = logging.getLogger("genorisk.simulate")

# GRCh38 chr21; the header's contig length lets readers check the build.
CHROM = "chr21"
CHR21_LENGTH_GRCH38 = 46_709_983
# The optional chrX segment for the sex check: non-PAR (PAR1 ends at 2,781,479).
CHROM_X = "chrX"
CHRX_LENGTH_GRCH38 = 156_040_895
CHRX_START = 10_000_001
#: Second allele of a haploid call in ``Genotypes.calls`` (written ``a``, not ``a|b``).
HAPLOID = -2
SIMULATED_LABEL = "SIMULATED by genorisk.simulate for the demo; not real data"


def auc_ceiling(h2: float, prevalence: float) -> float:
    """Highest ROC AUC any predictor can reach under the liability-threshold model.

    Wray et al. 2010 (PLoS Genetics, doi:10.1371/journal.pgen.1000864), eq. 3:
    with T = Phi^-1(1-K), z = phi(T), i = z/K and v = -i K/(1-K),

        AUC = Phi((i - v) h2 / sqrt(h2 [(1 - h2 i (i - T)) + (1 - h2 v (v - T))]))

    Parameters
    ----------
    h2 : float
        Liability-scale variance the predictor can capture, in (0, 1]. For a
        simulated cohort, the true genetic variance (total, when non-additive
        effects are simulated), plus covariate variance when the predictor
        sees the covariates.
    prevalence : float
        Disease prevalence K, in (0, 1).

    Returns
    -------
    float
        The AUC ceiling, e.g. 0.744 for h2=0.2, K=0.1.
    """
    if not 0.0 < h2 <= 1.0:
        raise ValueError(f"h2 must be in (0, 1], got {h2}")
    if not 0.0 < prevalence < 1.0:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence}")
    k = prevalence
    t = norm.ppf(1.0 - k)
    i = norm.pdf(t) / k
    v = -i * k / (1.0 - k)
    denom = math.sqrt(h2 * ((1.0 - h2 * i * (i - t)) + (1.0 - h2 * v * (v - t))))
    return float(norm.cdf((i - v) * h2 / denom))


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

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "SimulationConfig":
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(None, f"unknown simulate key(s): {', '.join(unknown)}", record="simulate")
        cfg = cls(**values)
        genetic = cfg.h2 + cfg.burden + cfg.dominance + cfg.epistasis + cfg.gxage
        if genetic + cfg.covariate_variance >= 0.95:
            raise ConfigError(
                None,
                f"variance components sum to {genetic + cfg.covariate_variance:.2f}; "
                "they must leave room for the environment (< 0.95)",
                record="simulate",
            )
        if not cfg.start < cfg.end <= CHR21_LENGTH_GRCH38:
            raise ConfigError(None, f"region {cfg.start}-{cfg.end} is not on chr21", record="simulate")
        if not 0 <= cfg.chrx_bp <= 50_000_000:
            raise ConfigError(None, f"chrx_bp {cfg.chrx_bp} is not in 0..50,000,000", record="simulate.chrx_bp")
        return cfg


@dataclass
class Genotypes:
    """Biallelic genotypes of one simulation: ``calls[site, person, haplotype]``."""

    positions: np.ndarray  # 1-based, strictly increasing
    refs: np.ndarray  # str
    alts: np.ndarray  # str
    calls: np.ndarray  # int8, (n_sites, n_people, 2), -1 = missing
    populations: np.ndarray = field(default_factory=lambda: np.empty(0))  # per person


# --------------------------------------------------------------------------
# Coalescent simulation


def _simulate_haplotypes(cfg: SimulationConfig, n_main: int, n_outlier: int) -> Genotypes:
    """Simulate ``n_main`` people from ``cfg.population``, ``n_outlier`` from the outlier one,
    then ``cfg.ancestry_panel`` from each population of the model (in that order)."""
    import msprime

    length = cfg.end - cfg.start + 1
    rng_anc, rng_mut = np.random.SeedSequence(cfg.seed).generate_state(2)
    if cfg.demography == "constant":
        if n_outlier:
            raise ConfigError(None, "outlier patients need a demographic model with populations", record="simulate.demography")
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
            raise ConfigError(None, f"unknown stdpopsim model {cfg.demography!r}", record="simulate.demography") from err
        groups = [(cfg.population, n_main)]
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

    # Keep biallelic sites only (several mutations at one site can make 3+ alleles).
    # Filled per variant into int8: the int32 genotype_matrix() would need 4x the memory.
    calls = np.empty((ts.num_sites, ts.num_samples), dtype=np.int8)
    positions, refs, alts = [], [], []
    for var in ts.variants():
        if len(var.alleles) != 2 or var.alleles[1] is None:
            continue
        calls[len(positions)] = var.genotypes
        positions.append(int(var.site.position) + cfg.start)  # discrete genome: 0-based offset
        refs.append(var.alleles[0])
        alts.append(var.alleles[1])
    calls = calls[: len(positions)].reshape(len(positions), -1, 2)
    return Genotypes(np.array(positions), np.array(refs), np.array(alts), calls, pops)


# --------------------------------------------------------------------------
# VCF writing


def _gt_bytes(calls: np.ndarray) -> np.ndarray:
    """Encode (sites, people, 2) allele indices as a (sites, people * 4) byte block ``a|b\\t``."""
    out = np.empty(calls.shape[:2] + (4,), dtype=np.uint8)
    for k in (0, 1):
        allele = calls[:, :, k]
        out[:, :, 2 * k] = np.where(allele < 0, ord("."), ord("0") + allele)
    missing = (calls < 0).any(axis=2)
    out[:, :, 1] = np.where(missing, ord("/"), ord("|"))
    out[:, :, 3] = ord("\t")
    out[:, -1, 3] = ord("\n")
    return out.reshape(calls.shape[0], -1)


def _gt_lines(calls: np.ndarray) -> list[bytes]:
    """Sample columns of each site as bytes; cells whose second allele is
    :data:`HAPLOID` are written as one allele (``1``, ``.``)."""
    block = _gt_bytes(calls)
    haploid = calls[:, :, 1] == HAPLOID
    if not haploid.any():
        return [row.tobytes() for row in block]
    keep = np.ones(calls.shape[:2] + (4,), dtype=bool)
    keep[haploid, 1:3] = False  # drop the separator and the second allele
    keep = keep.reshape(calls.shape[0], -1)
    return [row[k].tobytes() for row, k in zip(block, keep)]


def vcf_header(samples: Sequence[str], *, info: Sequence[str] = (), source: str = "genorisk.simulate",
               with_chrx: bool = False) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##source={source}",
        "##reference=GRCh38",
        f"##contig=<ID={CHROM},length={CHR21_LENGTH_GRCH38},assembly=GRCh38>",
        *([f"##contig=<ID={CHROM_X},length={CHRX_LENGTH_GRCH38},assembly=GRCh38>"] if with_chrx else []),
        f"##genorisk_note={SIMULATED_LABEL}",
        *info,
    ]
    if samples:
        lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


def write_vcf(
    path: str | Path,
    positions: np.ndarray,
    refs: np.ndarray,
    alts: np.ndarray,
    *,
    calls: np.ndarray | None = None,
    samples: Sequence[str] = (),
    ids: Sequence[str] | None = None,
    info: Sequence[str] | None = None,
    info_header: Sequence[str] = (),
    chunk: int = 2000,
    chroms: Sequence[str] | None = None,
) -> None:
    """Write a bgzipped, tabix-indexed VCF on chr21 (and chrX) atomically.

    ``calls`` is (n_sites, n_samples, 2) int8 with -1 for missing and
    :data:`HAPLOID` as the second allele of a haploid call; omit it for a
    sites-only VCF. ``info`` gives one INFO string per site (``"."`` if None).
    ``chroms`` gives each site's contig (chr21 when None); sites must be
    sorted, chr21 before chrX.
    """
    path = Path(path)
    n = len(positions)
    chroms = np.asarray(chroms, dtype=object) if chroms is not None else np.full(n, CHROM, dtype=object)
    ids = ids if ids is not None else ["."] * n
    info = info if info is not None else ["."] * n
    with atomic_output(path) as tmp_gz, atomic_output(path.with_name(path.name + ".tbi")) as tmp_tbi:
        with open(tmp_gz, "wb") as out, _bgzip_writer(out) as fh:
            fh.write(vcf_header(samples, info=info_header, with_chrx=bool((chroms == CHROM_X).any())).encode())
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                block = _gt_lines(calls[lo:hi]) if calls is not None else None
                for j in range(hi - lo):
                    s = lo + j
                    fixed = f"{chroms[s]}\t{positions[s]}\t{ids[s]}\t{refs[s]}\t{alts[s]}\t.\tPASS\t{info[s]}"
                    if block is None:
                        fh.write(fixed.encode() + b"\n")
                    else:
                        fh.write(fixed.encode() + b"\tGT\t" + block[j])
        # tabix_index names the index after the file it indexes: index a link with the final name.
        link = tmp_gz.with_name(tmp_gz.name + ".idx" + "".join(path.suffixes))
        try:
            link.symlink_to(tmp_gz.name)
            pysam.tabix_index(str(link), preset="vcf", force=True, keep_original=True)
            Path(str(link) + ".tbi").replace(tmp_tbi)
        finally:
            link.unlink(missing_ok=True)


@contextlib.contextmanager
def _bgzip_writer(out):
    """A binary file object whose bytes are BGZF-compressed into ``out``.

    Uses ``bgzip -@2`` when installed (about twice as fast); BGZF blocks are
    compressed independently, so threaded and unthreaded output are identical.
    """
    exe = shutil.which("bgzip")
    if exe:
        proc = subprocess.Popen([exe, "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=out)
        try:
            yield proc.stdin
        finally:
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError(f"bgzip exited with {proc.returncode}")
    else:
        with pysam.BGZFile(out.name, "wb") as bgz:
            yield bgz


def _coding_gene(geno: Genotypes, gene_model: str | Path) -> np.ndarray:
    """Gene name per site if the site lies in a coding exon (region class CDS), else ''."""
    from .annotate import read_gene_model

    sites = pd.DataFrame({"chrom": CHROM, "pos": geno.positions, "ref": geno.refs, "alt": geno.alts})
    classes = read_gene_model(gene_model).classify(sites)
    coding = (classes["region_class"] == "CDS").to_numpy() & classes["gene"].notna().to_numpy()
    return np.where(coding, classes["gene"].fillna("").astype(str).to_numpy(), "").astype(object)


# --------------------------------------------------------------------------
# Phenotype model


def _standardise(x: np.ndarray, target_var: float, ref: slice) -> tuple[np.ndarray, float, float]:
    """Scale ``x`` so that its variance over the cohort rows ``ref`` is ``target_var``."""
    mu, sd = float(x[ref].mean()), float(x[ref].std())
    if target_var <= 0 or sd == 0:
        return np.zeros_like(x, dtype=float), mu, 0.0
    scale = math.sqrt(target_var) / sd
    return (x - mu) * scale, mu, scale


def _dosage(calls: np.ndarray) -> np.ndarray:
    """Alt-allele dosage (sites, people), int8, with missing calls counted as reference.

    Used for the *true* phenotype only: a missing call is a measurement gap, the
    person still has a genotype; the simulator draws missingness after the
    phenotype from the full genotypes.
    """
    return np.maximum(calls[:, :, 0], 0) + np.maximum(calls[:, :, 1], 0)  # int8


def simulate(
    cfg: SimulationConfig,
    patients: pd.DataFrame,
    outdir: str | Path,
    gene_model: str | Path,
) -> dict[str, Any]:
    """Simulate the demo and write every file under ``outdir``.

    Parameters
    ----------
    cfg : SimulationConfig
    patients : DataFrame
        The patient sample sheet (``patient_id``, ``vcf``, optional ``sample``
        and ``outlier``); one single-sample VCF is written for each row at the
        path its ``vcf`` column gives.
    outdir : path
        Receives ``cohort.vcf.gz`` (+ ``.tbi``), ``phenotypes.tsv``,
        ``cohort_truth.tsv`` (liability and each component per person),
        ``patients_truth.tsv``, ``clinvar.simulated.vcf.gz``,
        ``popfreq.simulated.vcf.gz``, ``PGS_SIM_DEMO.txt``,
        ``ancestry_panel.vcf.gz`` (+ ``.tsv``) and ``truth.json``.
    gene_model : path
        GTF or GFF3 of chr21, read by :mod:`genorisk.annotate`: the coding
        exons of its genes carry the rare-variant burden.

    Returns
    -------
    dict
        The truth (also written as ``truth.json``).
    """
    outdir = Path(outdir)
    rng = np.random.default_rng(cfg.seed)
    is_outlier = patients.get("outlier", pd.Series(False, index=patients.index)).astype(bool).to_numpy()
    n_pat = len(patients)
    n_main = cfg.n_cohort + cfg.n_reference + int((~is_outlier).sum())
    geno = _simulate_haplotypes(cfg, n_main, int(is_outlier.sum()))
    xgeno = None
    if cfg.chrx_bp:
        # Its own seed: the chr21 simulation and phenotype stay as without chrX.
        # 20x the recombination rate: the segment stands for a 20x longer stretch of
        # chrX, so the sex check sees about as many unlinked sites as in real data.
        xcfg = dataclasses.replace(cfg, start=CHRX_START, end=CHRX_START + cfg.chrx_bp - 1, seed=cfg.seed + 1,
                                   recombination_rate=20 * cfg.recombination_rate)
        xgeno = _simulate_haplotypes(xcfg, n_main, int(is_outlier.sum()))
    panel_rows = np.arange(n_main + int(is_outlier.sum()), len(geno.populations))

    # People: cohort, reference panel, patients (main population), outlier patients.
    cohort = slice(0, cfg.n_cohort)
    reference = slice(cfg.n_cohort, cfg.n_cohort + cfg.n_reference)
    main_patients = np.arange(cfg.n_cohort + cfg.n_reference, n_main)
    outlier_patients = np.arange(n_main, n_main + int(is_outlier.sum()))
    patient_rows = np.empty(n_pat, dtype=int)
    patient_rows[~is_outlier] = main_patients
    patient_rows[is_outlier] = outlier_patients

    # Sites monomorphic in the cohort carry no information there; drop them.
    dos = _dosage(geno.calls)
    cohort_af = dos[:, cohort].sum(axis=1, dtype=np.int64) / (2 * cfg.n_cohort)
    keep = (cohort_af > 0) & (cohort_af < 1)
    geno = Genotypes(geno.positions[keep], geno.refs[keep], geno.alts[keep], geno.calls[keep], geno.populations)
    dos, cohort_af = dos[keep], cohort_af[keep]
    maf = np.minimum(cohort_af, 1 - cohort_af)
    n_sites = len(geno.positions)
    log.info("%d sites polymorphic in the cohort", n_sites)

    n_people = dos.shape[1]
    components: dict[str, np.ndarray] = {}
    realised: dict[str, float] = {}

    # Additive common-variant component.
    common = np.flatnonzero(maf >= cfg.causal_min_maf)
    n_causal = min(cfg.n_causal, len(common))
    causal = np.sort(rng.choice(common, size=n_causal, replace=False))
    beta = rng.normal(0.0, 1.0, size=n_causal)
    x_causal = dos[causal].astype(np.float64)
    raw = beta @ x_causal
    components["additive"], mu, scale = _standardise(raw, cfg.h2, cohort)
    effects = beta * scale  # liability units per alt allele

    # Rare-variant burden in coding sequence of a few protein-coding genes.
    gene_at = _coding_gene(geno, gene_model)
    rare_coding = (maf < cfg.rare_maf) & (gene_at != "")
    candidates = sorted({g for g in gene_at[rare_coding]})
    # Prefer genes with the most rare coding variants so the burden is visible.
    counts = {g: int(((gene_at == g) & rare_coding).sum()) for g in candidates}
    burden_genes = sorted(sorted(candidates, key=lambda g: (-counts[g], g))[: cfg.burden_genes])
    burden_sites = np.flatnonzero(rare_coding & np.isin(gene_at, burden_genes))
    # A rare coding allele is "damaging" if it is the minor allele in our truth.
    minor_dos = np.where(cohort_af[burden_sites, None] <= 0.5, dos[burden_sites], 2 - dos[burden_sites]).astype(float)
    burden_count = minor_dos.sum(axis=0) if len(burden_sites) else np.zeros(n_people)
    components["burden"], _, burden_scale = _standardise(burden_count, cfg.burden, cohort)

    # Non-additive components.
    if cfg.dominance > 0:
        dom_idx = rng.choice(n_causal, size=max(1, n_causal // 4), replace=False)
        carrier = (x_causal[dom_idx] >= 1).astype(float)  # complete dominance
        components["dominance"], _, _ = _standardise(rng.normal(size=len(dom_idx)) @ carrier, cfg.dominance, cohort)
    if cfg.epistasis > 0:
        pairs = rng.choice(n_causal, size=(cfg.n_epistatic_pairs, 2), replace=True)
        prod = sum(rng.normal() * x_causal[a] * x_causal[b] for a, b in pairs)
        components["epistasis"], _, _ = _standardise(np.asarray(prod, float), cfg.epistasis, cohort)

    sex = np.where(rng.random(n_people) < 0.5, "female", "male")
    age = rng.integers(40, 81, size=n_people)
    # Patients keep the age and sex their sheet records, so the truth matches the input.
    if "sex" in patients:
        given = patients["sex"].to_numpy()
        sex[patient_rows] = np.where(np.isin(given, ["male", "female"]), given, sex[patient_rows])
    if "age" in patients:
        given_age = pd.to_numeric(patients["age"], errors="coerce").to_numpy()
        age[patient_rows] = np.where(np.isnan(given_age), age[patient_rows], given_age).astype(int)
    age_z = (age - 60.0) / 11.8
    if cfg.gxage > 0:
        components["gxage"], _, _ = _standardise(components["additive"] * age_z, cfg.gxage, cohort)

    cov_raw = 0.7 * age_z + 0.3 * (sex == "male")
    components["covariates"], _, _ = _standardise(cov_raw, cfg.covariate_variance, cohort)
    genetic = sum(v for k, v in components.items() if k != "covariates")
    for k, v in components.items():
        realised[k] = float(v[cohort].var())
    realised["genetic_total"] = float(genetic[cohort].var())
    env_var = 1.0 - realised["genetic_total"] - realised["covariates"]
    liability = genetic + components["covariates"] + rng.normal(0.0, math.sqrt(env_var), size=n_people)
    threshold = float(norm.ppf(1.0 - cfg.prevalence))
    status = (liability > threshold).astype(int)

    # Missing calls are drawn after the phenotype, so they never change the truth.
    # In place and in site chunks: a float mask over all calls would cost 8 bytes a call.
    calls = geno.calls
    for lo in range(0, n_sites, 4096):
        block = calls[lo : lo + 4096]
        block[rng.random(block.shape[:2]) < cfg.missing_rate] = -1

    # chrX (optional): males haploid; then chr21 and chrX sites in one array.
    chroms = np.full(n_sites, CHROM, dtype=object)
    positions, refs, alts = geno.positions, geno.refs, geno.alts
    n_x = 0
    if xgeno is not None:
        xcalls = xgeno.calls
        xcalls[:, sex == "male", 1] = HAPLOID
        x_rng = np.random.default_rng([cfg.seed, 23])
        miss = x_rng.random(xcalls.shape[:2]) < cfg.missing_rate
        xcalls[..., 0][miss] = -1  # a male's missing call stays haploid: "."
        xcalls[..., 1][miss & (xcalls[..., 1] != HAPLOID)] = -1
        called = xcalls[:, cohort] >= 0
        alt_count = ((xcalls[:, cohort] == 1) & called).sum(axis=(1, 2))
        x_keep = (alt_count > 0) & (alt_count < called.sum(axis=(1, 2)))  # polymorphic in the cohort
        n_x = int(x_keep.sum())
        chroms = np.concatenate([chroms, np.full(n_x, CHROM_X, dtype=object)])
        positions = np.concatenate([positions, xgeno.positions[x_keep]])
        refs = np.concatenate([refs, xgeno.refs[x_keep]])
        alts = np.concatenate([alts, xgeno.alts[x_keep]])
        calls = np.concatenate([calls, xcalls[x_keep]])
        log.info("chrX: %d sites polymorphic in the cohort (males haploid)", n_x)

    cohort_ids = [f"COH{i:05d}" for i in range(1, cfg.n_cohort + 1)]
    outdir.mkdir(parents=True, exist_ok=True)
    log.info("writing cohort VCF: %d people x %d sites", cfg.n_cohort, n_sites + n_x)
    write_vcf(outdir / "cohort.vcf.gz", positions, refs, alts, calls=calls[:, cohort], samples=cohort_ids,
              chroms=chroms)

    pheno = pd.DataFrame({"sample_id": cohort_ids, "status": status[cohort], "age": age[cohort], "sex": sex[cohort]})
    with atomic_output(outdir / "phenotypes.tsv") as tmp:
        pheno.to_csv(tmp, sep="\t", index=False)
    # Per-person truth: lets tests and analyses check h2 against the written VCF.
    cohort_truth = pd.DataFrame({"sample_id": cohort_ids, "liability": np.round(liability[cohort], 6)})
    for name, values in components.items():
        cohort_truth[name] = np.round(values[cohort], 6)
    with atomic_output(outdir / "cohort_truth.tsv") as tmp:
        cohort_truth.to_csv(tmp, sep="\t", index=False)

    sample_col = patients["sample"] if "sample" in patients else patients["patient_id"]
    for k, (_, row) in enumerate(patients.iterrows()):
        person = patient_rows[k]
        write_vcf(
            row["vcf"], positions, refs, alts,
            calls=calls[:, person : person + 1], samples=[str(sample_col.iloc[k])], chroms=chroms,
        )
    if len(panel_rows):
        pops = geno.populations[panel_rows]
        counter: dict[str, int] = {}
        panel_ids = []
        for pop in pops:
            counter[pop] = counter.get(pop, 0) + 1
            panel_ids.append(f"PANEL_{pop}_{counter[pop]:03d}")
        write_vcf(outdir / "ancestry_panel.vcf.gz", geno.positions, geno.refs, geno.alts,
                  calls=calls[:n_sites, panel_rows], samples=panel_ids)
        with atomic_output(outdir / "ancestry_panel.tsv") as tmp:
            pd.DataFrame({"sample_id": panel_ids, "population": pops}).to_csv(tmp, sep="\t", index=False)
    pat_truth = pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(),
            "population": geno.populations[patient_rows],
            "age": age[patient_rows],
            "sex": sex[patient_rows],
            "liability": np.round(liability[patient_rows], 6),
            "genetic_value": np.round(genetic[patient_rows], 6),
            "status": status[patient_rows],
        }
    )
    with atomic_output(outdir / "patients_truth.tsv") as tmp:
        pat_truth.to_csv(tmp, sep="\t", index=False)

    # Population-frequency VCF (gnomAD-like) from the reference panel.
    ref_dos = dos[:, reference]
    ref_ac = ref_dos.sum(axis=1, dtype=np.int64)
    ref_an = 2 * cfg.n_reference
    popfreq_info = [f"AC={ac};AN={ref_an};AF={ac / ref_an:.6g}" for ac in ref_ac]
    write_vcf(
        outdir / "popfreq.simulated.vcf.gz", geno.positions, geno.refs, geno.alts, info=popfreq_info,
        info_header=[
            '##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count in the simulated reference panel">',
            '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total alleles in the simulated reference panel">',
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency in the simulated reference panel">',
        ],
    )

    clinvar = _clinvar_records(rng, geno, gene_at, burden_sites, cohort_af, maf, cfg)
    write_vcf(
        outdir / "clinvar.simulated.vcf.gz",
        clinvar["pos"].to_numpy(), clinvar["ref"].to_numpy(), clinvar["alt"].to_numpy(),
        ids=clinvar["id"].tolist(), info=clinvar["info"].tolist(),
        info_header=[
            '##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="simulated ClinVar allele ID">',
            '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance (simulated)">',
            '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status (simulated)">',
            '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene(s) GENE:ID (simulated)">',
            '##INFO=<ID=MC,Number=.,Type=String,Description="Molecular consequence SO|name (simulated)">',
        ],
    )

    pgs_info = None
    if cfg.pgs_gwas_n > 0:
        pgs_info = _write_pgs(outdir / "PGS_SIM_DEMO.txt", rng, geno, causal, effects, common, cohort_af, dos[:, cohort], components["additive"][cohort], cfg)

    gen_h2 = realised["genetic_total"]
    truth = {
        "label": SIMULATED_LABEL,
        "seed": cfg.seed,
        "config": dataclasses.asdict(cfg),
        "chrom": CHROM,
        "n_sites": n_sites,
        "chrx": {"chrom": CHROM_X, "start": CHRX_START, "end": CHRX_START + cfg.chrx_bp - 1, "n_sites": n_x,
                 "males_haploid": True} if cfg.chrx_bp else None,
        "n_cohort": cfg.n_cohort,
        "prevalence": cfg.prevalence,
        "liability_threshold": threshold,
        "case_fraction": float(status[cohort].mean()),
        "h2": cfg.h2,
        "h2_total": gen_h2,
        "variance_components": realised,
        "auc_ceiling_genetic": auc_ceiling(gen_h2, cfg.prevalence),
        "auc_ceiling": auc_ceiling(gen_h2 + realised["covariates"], cfg.prevalence),
        "causal_variants": [
            {"chrom": CHROM, "pos": int(geno.positions[s]), "ref": str(geno.refs[s]), "alt": str(geno.alts[s]),
             "effect": round(float(e), 8), "cohort_af": round(float(cohort_af[s]), 6)}
            for s, e in zip(causal, effects)
        ],
        "burden_genes": burden_genes,
        "burden_variants": [
            {"chrom": CHROM, "pos": int(geno.positions[s]), "ref": str(geno.refs[s]), "alt": str(geno.alts[s]),
             "gene": str(gene_at[s]), "cohort_af": round(float(cohort_af[s]), 6)}
            for s in burden_sites
        ],
        "burden_effect_per_allele": burden_scale,
        "pgs": pgs_info,
    }
    write_json(outdir / "truth.json", truth)
    log.info(
        "done: case fraction %.3f (K=%.3f), genetic variance %.3f, AUC ceiling %.3f",
        truth["case_fraction"], cfg.prevalence, gen_h2, truth["auc_ceiling"],
    )
    return truth


def _write_pgs(path, rng, geno: Genotypes, causal, effects, common, cohort_af, cohort_dos, additive, cfg) -> dict:
    """Write a PGS Catalog format 2.0 scoring file with GWAS-like noisy weights.

    Effect alleles are the ALT or the REF at random (with the weight's sign
    turned accordingly), so matching must handle both orientations.
    """
    nulls = np.setdiff1d(common, causal)
    nulls = np.sort(rng.choice(nulls, size=min(cfg.pgs_null_variants, len(nulls)), replace=False))
    sites = np.concatenate([causal, nulls])
    true = np.concatenate([effects, np.zeros(len(nulls))])
    p = cohort_af[sites]
    se = 1.0 / np.sqrt(2 * p * (1 - p) * cfg.pgs_gwas_n)
    weights = true + rng.normal(0.0, se)
    order = np.argsort(geno.positions[sites], kind="stable")
    sites, weights = sites[order], weights[order]
    flip = rng.random(len(sites)) < 0.5
    # How much of the additive genetic value this score captures in the cohort.
    score = weights @ cohort_dos[sites].astype(float)
    r2 = float(np.corrcoef(score, additive)[0, 1] ** 2)
    lines = [
        "###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring for additional information",
        "#format_version=2.0",
        "##POLYGENIC SCORE (PGS) INFORMATION",
        "#pgs_id=PGS_SIM_DEMO",
        f"#pgs_name=simulated GWAS of {cfg.pgs_gwas_n} people ({SIMULATED_LABEL})",
        "#trait_reported=simulated demo disease",
        "#genome_build=GRCh38",
        f"#variants_number={len(sites)}",
        "#weight_type=beta",
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight",
    ]
    for s_, w, f in zip(sites, weights, flip):
        ea, oa = (geno.refs[s_], geno.alts[s_]) if f else (geno.alts[s_], geno.refs[s_])
        lines.append(f"21\t{geno.positions[s_]}\t{ea}\t{oa}\t{(-w if f else w):.6g}")
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return {"file": path.name, "pgs_id": "PGS_SIM_DEMO", "n_variants": int(len(sites)),
            "gwas_n": cfg.pgs_gwas_n, "r2_with_additive_genetic_value": r2}


def _clinvar_records(rng, geno: Genotypes, gene_at, burden_sites, cohort_af, maf, cfg) -> pd.DataFrame:
    """ClinVar-format records for simulated variants.

    Burden variants (the true rare damaging alleles) are Pathogenic or
    Likely_pathogenic; a sample of other coding variants are Uncertain or
    Benign; common variants are Benign. Only the alleles of the simulation are
    used, so exact-allele matching can be tested.
    """
    rows = []
    review = ["criteria_provided,_multiple_submitters,_no_conflicts", "criteria_provided,_single_submitter", "reviewed_by_expert_panel"]
    coding = np.flatnonzero(gene_at != "")
    others = np.setdiff1d(coding, burden_sites)
    others = rng.choice(others, size=min(len(others), 40), replace=False) if len(others) else others
    common = np.flatnonzero(maf > 0.05)
    common = rng.choice(common, size=min(len(common), 30), replace=False)
    for s in burden_sites:
        # The damaging allele is the minor one; describe the ALT only if it is minor.
        sig = "Pathogenic" if rng.random() < 0.6 else "Likely_pathogenic"
        if cohort_af[s] > 0.5:
            sig = "Benign"
        rows.append((s, sig, review[int(rng.integers(0, 3))], "SO:0001583|missense_variant"))
    for s in others:
        sig = "Uncertain_significance" if rng.random() < 0.5 else "Likely_benign"
        rows.append((s, sig, review[1], "SO:0001583|missense_variant"))
    for s in common:
        rows.append((s, "Benign", review[0], "SO:0001627|intron_variant"))
    first: dict[int, tuple] = {}
    for r in rows:  # burden records come first and win
        first.setdefault(int(r[0]), r)
    rows = [first[s] for s in sorted(first)]
    out = []
    for k, (s, sig, rev, mc) in enumerate(rows, start=1):
        gene = gene_at[s] or "."
        info = f"ALLELEID={900000 + k};CLNSIG={sig};CLNREVSTAT={rev};MC={mc}"
        if gene != ".":
            info += f";GENEINFO={gene}:{100000 + k}"
        out.append({"pos": int(geno.positions[s]), "ref": geno.refs[s], "alt": geno.alts[s], "id": str(9000000 + k), "info": info})
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genorisk.simulate``: simulate without Snakemake (benchmarks, notebooks)."""
    import argparse

    import yaml

    from .runner import setup_logging

    parser = argparse.ArgumentParser(prog="python -m genorisk.simulate", description=main.__doc__)
    parser.add_argument("--config", help="YAML: a 'simulate' section (or the mapping itself)")
    parser.add_argument("--patients", required=True, help="patient sheet TSV (patient_id, vcf, ...)")
    parser.add_argument("--gene-model", required=True, help="Ensembl GFF3 of chr21")
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    setup_logging(None)
    values = {}
    if args.config:
        data = yaml.safe_load(Path(args.config).read_text()) or {}
        values = {k: v for k, v in data.get("simulate", data).items() if k != "outdir"}
    sheet = pd.read_csv(args.patients, sep="\t", dtype=str, keep_default_na=False)
    if "outlier" in sheet:
        sheet["outlier"] = sheet["outlier"].str.lower().isin(["1", "true", "yes"])
    simulate(SimulationConfig.from_dict(values), sheet, args.outdir, args.gene_model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
