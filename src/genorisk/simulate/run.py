"""``simulate()``: one coalescent simulation to every file of the demo, in a fixed order of random draws."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io import atomic_output, write_json
from .config import CHROM, CHROM_X, CHRX_START, SIMULATED_LABEL, SimulationConfig
from .genotypes import (
    Genotypes,
    chrx_genotypes,
    coding_gene_per_site,
    mask_missing_calls,
    simulate_haplotypes,
    true_dosage,
)
from .pgx import contig_lines, demo_pgx_sites
from .phenotype import (
    draw_extra_traits,
    draw_phenotype,
    extra_traits_truth,
    log_extra_traits,
    patient_trait_columns,
    phenotype_truth,
    write_cohort_tables,
)
from .resources import clinvar_records, write_ancestry_panel, write_clinvar, write_pgs, write_popfreq
from .vcf_writer import write_vcf

log = logging.getLogger(__name__)


def patient_vcf_groups(patients: pd.DataFrame) -> list[tuple[str, np.ndarray, list[str]]]:
    """The patient VCFs to write: each distinct ``vcf`` path with the sheet rows and samples in it.

    Parameters
    ----------
    patients : DataFrame
        The patient sheet: ``patient_id``, ``vcf`` and optional ``sample`` (the
        sample name in the VCF; default ``patient_id``).

    Returns
    -------
    list of (str, ndarray of int, list of str)
        Per distinct path, in order of first appearance: the path, the
        0-based positions of its rows in the sheet (in sheet order) and their
        sample names. Every row with its own path gives one single-sample file.

    Raises
    ------
    ConfigError
        Two rows of one path name the same sample (naming the sheet rows, 1-based).
    """
    sample_col = patients["sample"] if "sample" in patients else patients["patient_id"]
    paths = [str(v) for v in patients["vcf"]]
    rows_of: dict[str, list[int]] = {}
    for row_no, path in enumerate(paths):
        rows_of.setdefault(path, []).append(row_no)
    groups = []
    for path, rows in rows_of.items():
        samples = [str(sample_col.iloc[r]) for r in rows]
        seen: dict[str, int] = {}
        for r, sample in zip(rows, samples, strict=True):
            if sample in seen:
                raise ConfigError(
                    "patient sheet",
                    f"sample {sample!r} is named twice for the VCF {path} (rows {seen[sample] + 1} and {r + 1})",
                    record=f"row {r + 1}",
                )
            seen[sample] = r
        groups.append((path, np.asarray(rows, dtype=int), samples))
    return groups


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
        and ``outlier``); a VCF is written at each path its ``vcf`` column
        gives, with one sample per row naming it (:func:`patient_vcf_groups`:
        rows sharing a path make one multi-sample batch VCF, as a clinic's
        batch of held-out people): the chr21 (and chrX) sites, plus a small
        pharmacogenomic region with planned diplotypes
        (:mod:`genorisk.simulate.pgx`; ``patients_truth.tsv`` columns
        ``pgx_diplotypes`` and ``pgx_missing``).
    outdir : path
        Receives ``cohort.vcf.gz`` (+ ``.tbi``), ``phenotypes.tsv``,
        ``cohort_truth.tsv`` (liability and each component per person),
        ``patients_truth.tsv``, ``clinvar.simulated.vcf.gz``,
        ``popfreq.simulated.vcf.gz``, ``PGS_SIM_DEMO.txt``,
        ``ancestry_panel.vcf.gz`` (+ ``.tsv``) and ``truth.json``. Each of
        ``cfg.extra_traits`` (drawn after the first disease, from its own
        generator) adds columns after the existing ones: ``<column>`` to
        ``phenotypes.tsv``; ``<column>_liability`` and ``<column>_<component>``
        to ``cohort_truth.tsv``; ``<column>`` (0/1) and ``<column>_liability``
        to ``patients_truth.tsv``; and its truth to ``truth.json`` under
        ``traits.<column>`` (:func:`extra_traits_truth`). Without extra traits
        the files are as before them, byte for byte.
    gene_model : path
        GTF or GFF3 of chr21, read by :mod:`genorisk.annotate`: the coding
        exons of its genes carry the rare-variant burden.

    Returns
    -------
    dict
        The truth (also written as ``truth.json``).
    """
    outdir = Path(outdir)
    # One generator for the phenotype, missing calls, ClinVar and the score, drawn in this
    # order: moving a draw changes every later one, and the files with them.
    rng = np.random.default_rng(cfg.seed)
    is_outlier = patients.get("outlier", pd.Series(False, index=patients.index)).astype(bool).to_numpy()
    n_pat = len(patients)
    n_main = cfg.n_cohort + cfg.n_reference + int((~is_outlier).sum())
    geno = simulate_haplotypes(cfg, n_main, int(is_outlier.sum()))
    xgeno = None
    if cfg.chrx_bp:
        # Its own seed: the chr21 simulation and phenotype stay as without chrX.
        # 20x the recombination rate: the segment stands for a 20x longer stretch of
        # chrX, so the sex check sees about as many unlinked sites as in real data.
        xcfg = dataclasses.replace(
            cfg,
            start=CHRX_START,
            end=CHRX_START + cfg.chrx_bp - 1,
            seed=cfg.seed + 1,
            recombination_rate=20 * cfg.recombination_rate,
        )
        xgeno = simulate_haplotypes(xcfg, n_main, int(is_outlier.sum()))
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
    dos = true_dosage(geno.calls)
    cohort_af = dos[:, cohort].sum(axis=1, dtype=np.int64) / (2 * cfg.n_cohort)
    keep = (cohort_af > 0) & (cohort_af < 1)
    geno = Genotypes(geno.positions[keep], geno.refs[keep], geno.alts[keep], geno.calls[keep], geno.populations)
    dos, cohort_af = dos[keep], cohort_af[keep]
    maf = np.minimum(cohort_af, 1 - cohort_af)
    n_sites = len(geno.positions)
    log.info("%d sites polymorphic in the cohort", n_sites)

    gene_at = coding_gene_per_site(geno, gene_model)
    pheno = draw_phenotype(rng, cfg, dos, cohort_af, gene_at, cohort, patients, patient_rows)
    components, realised, liability, status = pheno.components, pheno.realised, pheno.liability, pheno.status
    sex, age = pheno.sex, pheno.age
    # Further diseases of the same people, each from its own generator: `rng` is not touched.
    traits = draw_extra_traits(cfg, pheno, dos, cohort_af, gene_at, cohort, patients, patient_rows)

    # Missing calls are drawn after the phenotype, so they never change the truth.
    calls = geno.calls
    mask_missing_calls(calls, cfg.missing_rate, rng)

    # chrX (optional): males haploid; then chr21 and chrX sites in one array.
    chroms = np.full(n_sites, CHROM, dtype=object)
    positions, refs, alts = geno.positions, geno.refs, geno.alts
    n_x = 0
    if xgeno is not None:
        chrx = chrx_genotypes(xgeno, sex == "male", cohort, seed=cfg.seed, missing_rate=cfg.missing_rate)
        n_x = len(chrx.positions)
        chroms = np.concatenate([chroms, np.full(n_x, CHROM_X, dtype=object)])
        positions = np.concatenate([positions, chrx.positions])
        refs = np.concatenate([refs, chrx.refs])
        alts = np.concatenate([alts, chrx.alts])
        calls = np.concatenate([calls, chrx.calls])
        log.info("chrX: %d sites polymorphic in the cohort (males haploid)", n_x)

    cohort_ids = [f"COH{i:05d}" for i in range(1, cfg.n_cohort + 1)]
    outdir.mkdir(parents=True, exist_ok=True)
    log.info("writing cohort VCF: %d people x %d sites", cfg.n_cohort, n_sites + n_x)
    write_vcf(
        outdir / "cohort.vcf.gz", positions, refs, alts, calls=calls[:, cohort], samples=cohort_ids, chroms=chroms
    )

    write_cohort_tables(outdir, cohort_ids, pheno, cohort, traits)

    # Patient VCFs: a small pharmacogenomic region with planned diplotypes (no random draws)
    # before the chr21 (and chrX) sites, on contigs that sort before chr21.
    pgx = demo_pgx_sites(n_pat)
    pat_contigs = contig_lines(pgx.contigs, [CHROM, *([CHROM_X] if n_x else [])])
    pat_chroms = np.concatenate([pgx.chroms, chroms])
    pat_positions = np.concatenate([pgx.positions, positions])
    pat_refs = np.concatenate([pgx.refs, refs.astype(object)])
    pat_alts = np.concatenate([pgx.alts, alts.astype(object)])
    pat_ids = [*pgx.ids.tolist(), *["."] * len(positions)]
    for path, rows, samples in patient_vcf_groups(patients):
        write_vcf(
            path,
            pat_positions,
            pat_refs,
            pat_alts,
            calls=np.concatenate([pgx.calls[:, rows], calls[:, patient_rows[rows]]]),
            samples=samples,
            ids=pat_ids,
            chroms=pat_chroms,
            contigs=pat_contigs,
        )
    if len(panel_rows):
        write_ancestry_panel(outdir, geno, calls[:n_sites, panel_rows], geno.populations[panel_rows])
    pat_truth = pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(),
            "population": geno.populations[patient_rows],
            "age": age[patient_rows],
            "sex": sex[patient_rows],
            "liability": np.round(liability[patient_rows], 6),
            "genetic_value": np.round(pheno.genetic[patient_rows], 6),
            "status": status[patient_rows],
            "pgx_diplotypes": [t["pgx_diplotypes"] for t in pgx.truth],
            "pgx_missing": [t["pgx_missing"] for t in pgx.truth],
            **patient_trait_columns(traits, patient_rows),
        }
    )
    with atomic_output(outdir / "patients_truth.tsv") as tmp:
        pat_truth.to_csv(tmp, sep="\t", index=False)

    write_popfreq(outdir / "popfreq.simulated.vcf.gz", geno, dos[:, reference])
    clinvar = clinvar_records(rng, geno, gene_at, pheno.burden_sites, cohort_af, maf)
    write_clinvar(outdir / "clinvar.simulated.vcf.gz", clinvar)

    pgs_info = None
    if cfg.pgs_gwas_n > 0:
        pgs_info = write_pgs(
            outdir / "PGS_SIM_DEMO.txt",
            rng,
            geno,
            pheno.causal,
            pheno.effects,
            pheno.common,
            cohort_af,
            dos[:, cohort],
            components["additive"][cohort],
            cfg,
        )

    gen_h2 = realised["genetic_total"]
    sites = pd.DataFrame(
        {
            "chrom": CHROM,
            "pos": geno.positions,
            "ref": geno.refs,
            "alt": geno.alts,
            "gene": gene_at,
            "cohort_af": cohort_af,
        }
    )
    truth = {
        "label": SIMULATED_LABEL,
        "seed": cfg.seed,
        "config": cfg.truth_dict(),
        "chrom": CHROM,
        "n_sites": n_sites,
        "chrx": {
            "chrom": CHROM_X,
            "start": CHRX_START,
            "end": CHRX_START + cfg.chrx_bp - 1,
            "n_sites": n_x,
            "males_haploid": True,
        }
        if cfg.chrx_bp
        else None,
        **phenotype_truth(cfg, pheno, cohort, sites, pheno.causal, pheno.burden_sites),
        "pgs": pgs_info,
    }
    if traits:
        truth["traits"] = extra_traits_truth(cfg, traits, cohort, sites)
    write_json(outdir / "truth.json", truth)
    log.info(
        "done: case fraction %.3f (K=%.3f), genetic variance %.3f, AUC ceiling %.3f",
        truth["case_fraction"],
        cfg.prevalence,
        gen_h2,
        truth["auc_ceiling"],
    )
    log_extra_traits(truth)
    return truth
