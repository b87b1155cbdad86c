"""The liability-threshold phenotype: variance components, covariates and the AUC ceiling.

    liability = G_additive + G_burden + G_dominance + G_epistasis + G_gxage
                + C (age, sex) + E

Each genetic component is scaled so that its variance in the cohort is the
requested liability-scale variance, C explains ``covariate_variance`` and
E ~ N(0, 1 - sum of the others), so var(liability) = 1; cases are people whose
liability exceeds Phi^-1(1 - K).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..io import atomic_output
from .config import SimulationConfig

log = logging.getLogger(__name__)


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
class Phenotype:
    """The drawn phenotype of every simulated person and the truth behind it.

    Attributes
    ----------
    components : dict of str to ndarray
        Liability contribution per person of each component (``additive``,
        ``burden``, the enabled non-additive ones, ``covariates``).
    realised : dict of str to float
        Each component's variance in the cohort, and ``genetic_total``.
    genetic : ndarray
        Total genetic value per person (every component but the covariates).
    liability : ndarray
        Genetic value + covariates + environment.
    threshold : float
        Phi^-1(1 - K).
    status : ndarray of int
        1 for a case (liability above the threshold).
    sex : ndarray of str
        ``"female"`` or ``"male"``.
    age : ndarray of int
    causal : ndarray of int
        Site indices of the causal common variants, sorted.
    effects : ndarray
        Their effects, liability units per alt allele.
    common : ndarray of int
        Site indices with cohort MAF >= ``causal_min_maf`` (the causal candidates).
    burden_genes : list of str
    burden_sites : ndarray of int
        Rare coding sites in the burden genes.
    burden_scale : float
        Liability per minor allele in the burden genes.
    dominance_variants : ndarray of int
        Site indices of the causal variants with a dominance effect (empty without one).
    epistatic_pairs : list of (int, int, float)
        Site indices of each interacting pair and its raw weight (the
        component is the weighted sum of dosage products, scaled to its
        variance); empty without epistasis.
    """

    components: dict[str, np.ndarray]
    realised: dict[str, float]
    genetic: np.ndarray
    liability: np.ndarray
    threshold: float
    status: np.ndarray
    sex: np.ndarray
    age: np.ndarray
    causal: np.ndarray
    effects: np.ndarray
    common: np.ndarray
    burden_genes: list[str]
    burden_sites: np.ndarray
    burden_scale: float
    dominance_variants: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=int))
    epistatic_pairs: list[tuple[int, int, float]] = dataclasses.field(default_factory=list)


def _standardise(x: np.ndarray, target_var: float, ref: slice) -> tuple[np.ndarray, float, float]:
    """Scale ``x`` so that its variance over the cohort rows ``ref`` is ``target_var``."""
    mu, sd = float(x[ref].mean()), float(x[ref].std())
    if target_var <= 0 or sd == 0:
        return np.zeros_like(x, dtype=float), mu, 0.0
    scale = math.sqrt(target_var) / sd
    return (x - mu) * scale, mu, scale


def draw_phenotype(
    rng: np.random.Generator,
    cfg: SimulationConfig,
    dos: np.ndarray,
    cohort_af: np.ndarray,
    gene_at: np.ndarray,
    cohort: slice,
    patients: pd.DataFrame,
    patient_rows: np.ndarray,
    causal_candidates: np.ndarray | None = None,
    *,
    people: tuple[np.ndarray, np.ndarray] | None = None,
    exclude_genes: Collection[str] = (),
) -> Phenotype:
    """Draw causal variants, effects, covariates and liability for every simulated person.

    Parameters
    ----------
    rng : numpy.random.Generator
        The simulation's generator; the draws are made in a fixed order, so
        the same seed gives the same phenotype.
    cfg : SimulationConfig
    dos : ndarray, (sites, people)
        True alt-allele dosages (see :func:`~genorisk.simulate.genotypes.true_dosage`).
    cohort_af : ndarray
        Alt-allele frequency per site in the cohort.
    gene_at : ndarray of str
        Gene per site if in a coding exon, else ``""``.
    cohort : slice
        The cohort's people: variances are scaled over them.
    patients : DataFrame
        The patient sheet; its optional ``sex`` and ``age`` columns are kept, so
        the truth matches the input.
    patient_rows : ndarray of int
        The person index of each sheet row.
    causal_candidates : ndarray of int, optional
        Sites the causal variants are drawn from; by default every site with
        cohort MAF >= ``causal_min_maf``. Genome-wide mode passes a uniform
        sample of those sites across chromosomes (the others are not in ``dos``).
    people : (ndarray of str, ndarray of int), optional
        Everyone's sex and age, when already drawn (a further disease of the
        same people); by default they are drawn here, after the genetic
        components, and the sheet's values kept for the patients.
    exclude_genes : collection of str
        Genes not to choose for the burden (those of the diseases drawn before).

    Returns
    -------
    Phenotype
    """
    maf = np.minimum(cohort_af, 1 - cohort_af)
    n_people: int = dos.shape[1]
    components: dict[str, np.ndarray] = {}
    realised: dict[str, float] = {}

    # Additive common-variant component.
    common = np.flatnonzero(maf >= cfg.causal_min_maf) if causal_candidates is None else np.sort(causal_candidates)
    n_causal = min(cfg.n_causal, len(common))
    causal = np.sort(rng.choice(common, size=n_causal, replace=False))
    beta = rng.normal(0.0, 1.0, size=n_causal)
    x_causal = dos[causal].astype(np.float64)
    raw = beta @ x_causal
    components["additive"], _, scale = _standardise(raw, cfg.h2, cohort)
    effects = beta * scale  # liability units per alt allele

    # Rare-variant burden in coding sequence of a few protein-coding genes.
    rare_coding = (maf < cfg.rare_maf) & (gene_at != "")
    candidates = sorted({g for g in gene_at[rare_coding]} - set(exclude_genes))
    # Prefer genes with the most rare coding variants so the burden is visible.
    counts = {g: int(((gene_at == g) & rare_coding).sum()) for g in candidates}
    burden_genes = sorted(sorted(candidates, key=lambda g: (-counts[g], g))[: cfg.burden_genes])
    burden_sites = np.flatnonzero(rare_coding & np.isin(gene_at, burden_genes))
    # A rare coding allele is "damaging" if it is the minor allele in our truth.
    minor_dos = np.where(cohort_af[burden_sites, None] <= 0.5, dos[burden_sites], 2 - dos[burden_sites]).astype(float)
    burden_count = minor_dos.sum(axis=0) if len(burden_sites) else np.zeros(n_people)
    components["burden"], _, burden_scale = _standardise(burden_count, cfg.burden, cohort)

    # Non-additive components.
    dom_idx = np.empty(0, dtype=int)
    epistatic_pairs: list[tuple[int, int, float]] = []
    if cfg.dominance > 0:
        dom_idx = rng.choice(n_causal, size=max(1, n_causal // 4), replace=False)
        carrier = (x_causal[dom_idx] >= 1).astype(float)  # complete dominance
        components["dominance"], _, _ = _standardise(rng.normal(size=len(dom_idx)) @ carrier, cfg.dominance, cohort)
    if cfg.epistasis > 0:
        pairs = rng.choice(n_causal, size=(cfg.n_epistatic_pairs, 2), replace=True)
        weights = []
        prod: np.ndarray | float = 0.0
        for a, b in pairs:  # one draw per pair, in pair order (the seed's stream)
            weights.append(rng.normal())
            prod = prod + weights[-1] * x_causal[a] * x_causal[b]
        components["epistasis"], _, _ = _standardise(np.asarray(prod, float), cfg.epistasis, cohort)
        epistatic_pairs = [(int(causal[a]), int(causal[b]), float(w)) for (a, b), w in zip(pairs, weights, strict=True)]

    if people is not None:
        sex, age = people
    else:
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
    genetic = cast(np.ndarray, sum(v for k, v in components.items() if k != "covariates"))
    for k, v in components.items():
        realised[k] = float(v[cohort].var())
    realised["genetic_total"] = float(genetic[cohort].var())
    env_var = 1.0 - realised["genetic_total"] - realised["covariates"]
    liability = genetic + components["covariates"] + rng.normal(0.0, math.sqrt(env_var), size=n_people)
    threshold = float(norm.ppf(1.0 - cfg.prevalence))
    status = (liability > threshold).astype(int)
    return Phenotype(
        components=components,
        realised=realised,
        genetic=genetic,
        liability=liability,
        threshold=threshold,
        status=status,
        sex=sex,
        age=age,
        causal=causal,
        effects=effects,
        common=common,
        burden_genes=burden_genes,
        burden_sites=burden_sites,
        burden_scale=burden_scale,
        dominance_variants=np.sort(causal[dom_idx]),
        epistatic_pairs=epistatic_pairs,
    )


def draw_extra_traits(
    cfg: SimulationConfig,
    first: Phenotype,
    dos: np.ndarray,
    cohort_af: np.ndarray,
    gene_at: np.ndarray,
    cohort: slice,
    patients: pd.DataFrame,
    patient_rows: np.ndarray,
    causal_candidates: np.ndarray | None = None,
) -> dict[str, Phenotype]:
    """Draw the further diseases of ``cfg.extra_traits`` for the people of the first one.

    Each is :func:`draw_phenotype` with the trait's settings
    (:meth:`SimulationConfig.trait_config`), its own generator
    (:meth:`SimulationConfig.trait_seed`), the first disease's sex and age, and
    burden genes other than those of the diseases before it. Nothing of the
    first disease, nor the simulation's generator, is touched.

    Parameters
    ----------
    cfg : SimulationConfig
    first : Phenotype
        The first disease (its people's sex and age are shared).
    dos, cohort_af, gene_at, cohort, patients, patient_rows, causal_candidates
        As for :func:`draw_phenotype`.

    Returns
    -------
    dict of str to Phenotype
        Per extra trait's column, in config order.
    """
    traits: dict[str, Phenotype] = {}
    used_genes = set(first.burden_genes)
    for i, trait in enumerate(cfg.extra_traits):
        pheno = draw_phenotype(
            np.random.default_rng(cfg.trait_seed(i)),
            cfg.trait_config(i),
            dos,
            cohort_af,
            gene_at,
            cohort,
            patients,
            patient_rows,
            causal_candidates,
            people=(first.sex, first.age),
            exclude_genes=used_genes,
        )
        used_genes |= set(pheno.burden_genes)
        traits[trait.column] = pheno
    return traits


def patient_trait_columns(traits: dict[str, Phenotype], patient_rows: np.ndarray) -> dict[str, np.ndarray]:
    """The extra traits' ``patients_truth.tsv`` columns: ``<column>`` (0/1), ``<column>_liability``
    and ``<column>_genetic_value`` (every genetic component, epistasis and gene x age included)."""
    columns: dict[str, np.ndarray] = {}
    for column, pheno in traits.items():
        columns[column] = pheno.status[patient_rows]
        columns[f"{column}_liability"] = np.round(pheno.liability[patient_rows], 6)
        columns[f"{column}_genetic_value"] = np.round(pheno.genetic[patient_rows], 6)
    return columns


def write_cohort_tables(
    outdir: Path,
    cohort_ids: list[str],
    pheno: Phenotype,
    cohort: slice | np.ndarray,
    traits: dict[str, Phenotype] | None = None,
) -> None:
    """Write the cohort's ``phenotypes.tsv`` and its per-person truth ``cohort_truth.tsv``.

    The extra traits come after the first disease's columns, in config order:
    ``phenotypes.tsv`` gets ``<column>`` (0/1), ``cohort_truth.tsv``
    ``<column>_liability`` and ``<column>_<component>`` per component.

    Parameters
    ----------
    outdir : Path
        The simulation's output folder.
    cohort_ids : list of str
        Sample IDs of the cohort, in row order.
    pheno : Phenotype
        The drawn phenotype of every simulated person.
    cohort : slice or ndarray
        Index (or mask) of the cohort's people among everyone simulated.
    traits : dict of str to Phenotype, optional
        The extra traits (:func:`draw_extra_traits`).
    """
    traits = traits or {}
    phenotypes = pd.DataFrame(
        {
            "sample_id": cohort_ids,
            "status": pheno.status[cohort],
            "age": pheno.age[cohort],
            "sex": pheno.sex[cohort],
            **{column: extra.status[cohort] for column, extra in traits.items()},
        }
    )
    with atomic_output(outdir / "phenotypes.tsv") as tmp:
        phenotypes.to_csv(tmp, sep="\t", index=False)
    # Per-person truth: lets tests and analyses check h2 against the written VCF.
    cohort_truth = pd.DataFrame({"sample_id": cohort_ids, "liability": np.round(pheno.liability[cohort], 6)})
    for name, values in pheno.components.items():
        cohort_truth[name] = np.round(values[cohort], 6)
    for column, extra in traits.items():
        cohort_truth[f"{column}_liability"] = np.round(extra.liability[cohort], 6)
        for name, values in extra.components.items():
            cohort_truth[f"{column}_{name}"] = np.round(values[cohort], 6)
    with atomic_output(outdir / "cohort_truth.tsv") as tmp:
        cohort_truth.to_csv(tmp, sep="\t", index=False)


def phenotype_truth(
    cfg: SimulationConfig,
    pheno: Phenotype,
    cohort: slice | np.ndarray,
    sites: pd.DataFrame,
    causal: np.ndarray,
    burden_sites: np.ndarray,
    site_rows: np.ndarray | None = None,
) -> dict:
    """The ``truth.json`` entries of one disease, from ``n_cohort`` on, in file order.

    Every simulation mode writes them at the top level for the first disease
    and under ``traits.<column>`` for each extra trait. With dominance or
    epistasis, ``dominance_variants`` and ``epistatic_pairs`` (each pair's two
    sites and raw weight) follow the burden entries.

    Parameters
    ----------
    cfg : SimulationConfig
    pheno : Phenotype
        The drawn phenotype.
    cohort : slice or ndarray
        The cohort's people among everyone simulated.
    sites : pandas.DataFrame
        ``chrom, pos, ref, alt, gene, cohort_af`` of every simulated site.
    causal, burden_sites : ndarray
        Rows of ``sites`` of the causal variants (in ``pheno.effects`` order)
        and of the rare burden variants.
    site_rows : ndarray of int, optional
        The row of ``sites`` of each site index the phenotype was drawn on
        (genome-wide mode draws on a subset); by default the same index.
    """
    gen_h2 = pheno.realised["genetic_total"]
    af, gene = sites["cohort_af"].to_numpy(dtype=float), sites["gene"].to_numpy(dtype=object)

    def site(s: int) -> dict:
        row = sites.iloc[int(s)]
        return {"chrom": str(row["chrom"]), "pos": int(row["pos"]), "ref": str(row["ref"]), "alt": str(row["alt"])}

    out = {
        "n_cohort": cfg.n_cohort,
        "prevalence": cfg.prevalence,
        "liability_threshold": pheno.threshold,
        "case_fraction": float(pheno.status[cohort].mean()),
        "h2": cfg.h2,
        "h2_total": gen_h2,
        "variance_components": pheno.realised,
        "auc_ceiling_genetic": auc_ceiling(gen_h2, cfg.prevalence),
        "auc_ceiling": auc_ceiling(gen_h2 + pheno.realised["covariates"], cfg.prevalence),
        "causal_variants": [
            {**site(s), "effect": round(float(e), 8), "cohort_af": round(float(af[s]), 6)}
            for s, e in zip(causal, pheno.effects, strict=True)
        ],
        "burden_genes": pheno.burden_genes,
        "burden_variants": [
            {**site(s), "gene": str(gene[s]), "cohort_af": round(float(af[s]), 6)} for s in burden_sites
        ],
        "burden_effect_per_allele": pheno.burden_scale,
    }
    rows = np.arange(len(sites)) if site_rows is None else np.asarray(site_rows)
    if cfg.dominance > 0:
        out["dominance_variants"] = [site(rows[s]) for s in pheno.dominance_variants]
    if cfg.epistasis > 0:
        out["epistatic_pairs"] = [
            {"a": site(rows[a]), "b": site(rows[b]), "weight": round(w, 8)} for a, b, w in pheno.epistatic_pairs
        ]
    return out


def extra_traits_truth(
    cfg: SimulationConfig, traits: dict[str, Phenotype], cohort: slice, sites: pd.DataFrame
) -> dict[str, dict]:
    """``truth.json``'s ``traits``: per extra trait's column, the keys the first disease has at the top level.

    Parameters
    ----------
    cfg : SimulationConfig
    traits : dict of str to Phenotype
        From :func:`draw_extra_traits` (drawn on every site of ``sites``).
    cohort : slice
    sites : DataFrame
        ``chrom, pos, ref, alt, gene, cohort_af`` of every site.
    """
    return {
        column: phenotype_truth(cfg.trait_config(i), pheno, cohort, sites, pheno.causal, pheno.burden_sites)
        for i, (column, pheno) in enumerate(traits.items())
    }


def log_extra_traits(truth: dict[str, Any]) -> None:
    """Log each extra trait's realised case fraction and AUC ceiling."""
    for column, t in (truth.get("traits") or {}).items():
        log.info(
            "%s: case fraction %.3f (K=%.3f), genetic variance %.3f, AUC ceiling %.3f, %d epistatic pairs",
            column,
            t["case_fraction"],
            t["prevalence"],
            t["h2_total"],
            t["auc_ceiling"],
            len(t.get("epistatic_pairs", [])),
        )
