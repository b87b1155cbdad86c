"""``simulate()``: one coalescent simulation to every file of the demo, in a fixed order of random draws."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
from .phenotype import draw_phenotype, phenotype_truth, write_cohort_tables
from .resources import clinvar_records, write_ancestry_panel, write_clinvar, write_pgs, write_popfreq
from .vcf_writer import write_vcf

log = logging.getLogger(__name__)


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

    write_cohort_tables(outdir, cohort_ids, pheno, cohort)

    sample_col = patients["sample"] if "sample" in patients else patients["patient_id"]
    for row_no, (_, row) in enumerate(patients.iterrows()):
        person = patient_rows[row_no]
        write_vcf(
            row["vcf"],
            positions,
            refs,
            alts,
            calls=calls[:, person : person + 1],
            samples=[str(sample_col.iloc[row_no])],
            chroms=chroms,
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
    truth = {
        "label": SIMULATED_LABEL,
        "seed": cfg.seed,
        "config": dataclasses.asdict(cfg),
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
        **phenotype_truth(
            cfg,
            pheno,
            cohort,
            pd.DataFrame(
                {
                    "chrom": CHROM,
                    "pos": geno.positions,
                    "ref": geno.refs,
                    "alt": geno.alts,
                    "gene": gene_at,
                    "cohort_af": cohort_af,
                }
            ),  # fmt: skip
            pheno.causal,
            pheno.burden_sites,
        ),
        "pgs": pgs_info,
    }
    write_json(outdir / "truth.json", truth)
    log.info(
        "done: case fraction %.3f (K=%.3f), genetic variance %.3f, AUC ceiling %.3f",
        truth["case_fraction"],
        cfg.prevalence,
        gen_h2,
        truth["auc_ceiling"],
    )
    return truth
