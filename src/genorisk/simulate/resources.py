"""The simulated annotation resources: population frequencies, ClinVar, a published-like
polygenic score and an ancestry reference panel, each from the same simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_output
from .config import SIMULATED_LABEL, SimulationConfig
from .genotypes import Genotypes
from .vcf_writer import write_vcf


def write_popfreq(path: Path, geno: Genotypes, reference_dos: np.ndarray) -> None:
    """Write the population-frequency VCF (gnomAD-like: AC, AN, AF) of the reference panel.

    Parameters
    ----------
    path : Path
        ``popfreq.simulated.vcf.gz``.
    geno : Genotypes
        The chr21 sites.
    reference_dos : ndarray, (sites, reference people)
        True alt-allele dosages of the reference panel.
    """
    write_vcf(path, geno.positions, geno.refs, geno.alts, info=popfreq_info(reference_dos), info_header=POPFREQ_HEADER)


#: INFO lines of the population-frequency VCF.
POPFREQ_HEADER = [
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count in the simulated reference panel">',
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total alleles in the simulated reference panel">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency in the simulated reference panel">',
]


def popfreq_info(reference_dos: np.ndarray) -> list[str]:
    """INFO (``AC=..;AN=..;AF=..``) per site from the reference panel's true dosages (sites, people)."""
    ref_ac = reference_dos.sum(axis=1, dtype=np.int64)
    ref_an = 2 * reference_dos.shape[1]
    return [f"AC={ac};AN={ref_an};AF={ac / ref_an:.6g}" for ac in ref_ac]


def write_clinvar(path: Path, records: pd.DataFrame, contigs: list[tuple[str, int]] | None = None) -> None:
    """Write :func:`clinvar_records` as a ClinVar-like sites-only VCF (``clinvar.simulated.vcf.gz``).

    Records with a ``chrom`` column (genome-wide mode) are written on those contigs,
    declared by ``contigs`` (name, length); otherwise on chr21.
    """
    write_vcf(
        path,
        records["pos"].to_numpy(),
        records["ref"].to_numpy(),
        records["alt"].to_numpy(),
        chroms=records["chrom"].to_numpy() if "chrom" in records else None,
        contigs=contigs,
        ids=records["id"].tolist(),
        info=records["info"].tolist(),
        info_header=[
            '##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="simulated ClinVar allele ID">',
            '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance (simulated)">',
            '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status (simulated)">',
            '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene(s) GENE:ID (simulated)">',
            '##INFO=<ID=MC,Number=.,Type=String,Description="Molecular consequence SO|name (simulated)">',
        ],
    )


def write_ancestry_panel(outdir: Path, geno: Genotypes, panel_calls: np.ndarray, populations: np.ndarray) -> None:
    """Write the ancestry reference panel, ``ancestry_panel.vcf.gz`` and ``ancestry_panel.tsv``.

    Parameters
    ----------
    outdir : Path
        The simulation's folder.
    geno : Genotypes
        The chr21 sites (the panel has no chrX).
    panel_calls : ndarray, (sites, panel people, 2)
        The panel's calls.
    populations : ndarray of str
        Population per panel person; samples are named ``PANEL_<pop>_<nnn>``.
    """
    panel_ids = panel_sample_ids(populations)
    write_vcf(
        outdir / "ancestry_panel.vcf.gz", geno.positions, geno.refs, geno.alts, calls=panel_calls, samples=panel_ids
    )
    write_panel_sheet(outdir / "ancestry_panel.tsv", populations)


def panel_sample_ids(populations: np.ndarray) -> list[str]:
    """Sample names of the ancestry panel: ``PANEL_<pop>_<nnn>``, numbered within each population."""
    counter: dict[str, int] = {}
    panel_ids = []
    for pop in populations:
        counter[pop] = counter.get(pop, 0) + 1
        panel_ids.append(f"PANEL_{pop}_{counter[pop]:03d}")
    return panel_ids


def write_panel_sheet(path: Path, populations: np.ndarray) -> None:
    """Write ``ancestry_panel.tsv``: ``sample_id`` and ``population`` of each panel person."""
    with atomic_output(path) as tmp:
        pd.DataFrame({"sample_id": panel_sample_ids(populations), "population": populations}).to_csv(
            tmp, sep="\t", index=False
        )


def write_pgs(
    path: Path,
    rng: np.random.Generator,
    geno: Genotypes,
    causal: np.ndarray,
    effects: np.ndarray,
    common: np.ndarray,
    cohort_af: np.ndarray,
    cohort_dos: np.ndarray,
    additive: np.ndarray,
    cfg: SimulationConfig,
    chroms: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write a PGS Catalog format 2.0 scoring file with GWAS-like noisy weights.

    Effect alleles are the ALT or the REF at random (with the weight's sign
    turned accordingly), so matching must handle both orientations.

    Parameters
    ----------
    path : Path
        The scoring file (``PGS_SIM_DEMO.txt``).
    rng : numpy.random.Generator
        The simulation's generator (null variants, GWAS noise, orientation).
    geno : Genotypes
        The chr21 sites.
    causal, effects : ndarray
        Causal site indices and their true effects per alt allele.
    common : ndarray of int
        Sites the null (effect-free) variants are drawn from.
    cohort_af : ndarray
        Alt-allele frequency per site in the cohort (sets each weight's noise).
    cohort_dos : ndarray, (sites, cohort)
        True dosages of the cohort.
    additive : ndarray
        The cohort's additive genetic value, to report the score's r^2 with it.
    cfg : SimulationConfig
    chroms : ndarray of str, optional
        Chromosome per site as the file writes it (``"21"``); chr21 when None.

    Returns
    -------
    dict
        The score's entry in the truth (file, id, variants, GWAS size, r^2).
    """
    nulls = np.setdiff1d(common, causal)
    nulls = np.sort(rng.choice(nulls, size=min(cfg.pgs_null_variants, len(nulls)), replace=False))
    sites = np.concatenate([causal, nulls])
    true = np.concatenate([effects, np.zeros(len(nulls))])
    p = cohort_af[sites]
    se = 1.0 / np.sqrt(2 * p * (1 - p) * cfg.pgs_gwas_n)
    weights = true + rng.normal(0.0, se)
    order = np.argsort(sites, kind="stable")  # sites are in genome order
    sites, weights = sites[order], weights[order]
    flip = rng.random(len(sites)) < 0.5
    # How much of the additive genetic value this score captures in the cohort.
    score = weights @ cohort_dos[sites].astype(float)
    r2 = float(np.corrcoef(score, additive)[0, 1] ** 2)
    lines = [
        "###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring for additional information",  # noqa: E501 (verbatim PGS Catalog header)
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
    for s_, w, f in zip(sites, weights, flip, strict=True):
        ea, oa = (geno.refs[s_], geno.alts[s_]) if f else (geno.alts[s_], geno.refs[s_])
        chrom = "21" if chroms is None else chroms[s_]
        lines.append(f"{chrom}\t{geno.positions[s_]}\t{ea}\t{oa}\t{(-w if f else w):.6g}")
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return {
        "file": path.name,
        "pgs_id": "PGS_SIM_DEMO",
        "n_variants": int(len(sites)),
        "gwas_n": cfg.pgs_gwas_n,
        "r2_with_additive_genetic_value": r2,
    }


def clinvar_records(
    rng: np.random.Generator,
    geno: Genotypes,
    gene_at: np.ndarray,
    burden_sites: np.ndarray,
    cohort_af: np.ndarray,
    maf: np.ndarray,
    chroms: np.ndarray | None = None,
) -> pd.DataFrame:
    """ClinVar-format records for simulated variants.

    Burden variants (the true rare damaging alleles) are Pathogenic or
    Likely_pathogenic; a sample of other coding variants are Uncertain or
    Benign; common variants are Benign. Only the alleles of the simulation are
    used, so exact-allele matching can be tested.

    ``chroms`` (contig per site, genome-wide mode) adds a ``chrom`` column.

    Returns
    -------
    DataFrame
        One record per site, sorted by position (in genome order): ``pos``,
        ``ref``, ``alt``, ``id`` and ``info`` (ALLELEID, CLNSIG, CLNREVSTAT, MC, GENEINFO).
    """
    rows = []
    review = [
        "criteria_provided,_multiple_submitters,_no_conflicts",
        "criteria_provided,_single_submitter",
        "reviewed_by_expert_panel",
    ]
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
    first: dict[int, tuple[Any, ...]] = {}
    for r in rows:  # burden records come first and win
        first.setdefault(int(r[0]), r)
    rows = [first[s] for s in sorted(first)]
    out = []
    for k, (s, sig, rev, mc) in enumerate(rows, start=1):
        gene = gene_at[s] or "."
        info = f"ALLELEID={900000 + k};CLNSIG={sig};CLNREVSTAT={rev};MC={mc}"
        if gene != ".":
            info += f";GENEINFO={gene}:{100000 + k}"
        out.append(
            {
                **({"chrom": chroms[s]} if chroms is not None else {}),
                "pos": int(geno.positions[s]),
                "ref": geno.refs[s],
                "alt": geno.alts[s],
                "id": str(9000000 + k),
                "info": info,
            }
        )
    return pd.DataFrame(out)
