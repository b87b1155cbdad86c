"""Genome-wide mode: one simulation per autosome (parallel jobs), then the phenotype from all of them.

Phase 1, :func:`simulate_chromosome`, runs once per chromosome. It simulates
the same people as the demo (cohort, reference panel, patients, ancestry
panel) on one segment with the seed ``[seed, chromosome]`` and streams the
sites in blocks, so no n_people x n_sites matrix is ever held:

* ``cohort.chr{N}.vcf.gz`` (+ ``.tbi``), with missing calls;
* ``popfreq.chr{N}.simulated.vcf.gz`` and ``ancestry_panel.chr{N}.vcf.gz`` (+ ``.tbi``);
* ``phenotype_inputs.chr{N}.npz``: what the phenotype needs, small:
  every site's position, alleles and cohort frequency; the true dosages
  (cohort, then patients in sheet order) of a uniformly random sample of the
  causal candidates (MAF >= ``causal_min_maf``, in random order, at most
  ``n_causal + pgs_null_variants`` of them) and of every rare coding site;
  the coding sites' genes; the patients' calls; per extra trait
  (``simulate.extra_traits``), its own uniform sample of the candidates
  (``n_causal`` of them, from its own generator) with their dosages.

Phase 2, :func:`simulate_phenotype`, draws how many candidates each
chromosome gives (multivariate hypergeometric on the candidate counts: with the
random order kept in phase 1, a uniform sample of all candidates genome-wide)
and then calls :func:`~genorisk.simulate.phenotype.draw_phenotype`, the demo's
model, on them; each extra trait is drawn the same way from its own sample and
generator. It writes ``phenotypes.tsv``, ``cohort_truth.tsv``,
``patients_truth.tsv``, ``truth.json``, the patients' VCFs (every chromosome),
``clinvar.simulated.vcf.gz``, ``PGS_SIM_DEMO.txt`` and ``ancestry_panel.tsv``.

Unlike the demo: missing calls are drawn in phase 1 (before the phenotype,
from the chromosome's own generator; they never change the truth either way);
there is no chrX segment (``chrx_bp`` is ignored); the population-frequency and
ancestry-panel VCFs are per chromosome.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..genome import contig_lengths
from ..io import atomic_output, write_json
from .config import SIMULATED_LABEL, GenomeWideConfig, SimulationConfig
from .genotypes import Genotypes, coding_gene_per_site, mask_missing_calls, simulate_tree_sequence
from .phenotype import (
    Phenotype,
    draw_phenotype,
    log_extra_traits,
    patient_trait_columns,
    phenotype_truth,
    write_cohort_tables,
)
from .resources import (
    POPFREQ_HEADER,
    clinvar_records,
    panel_sample_ids,
    popfreq_info,
    write_clinvar,
    write_panel_sheet,
    write_pgs,
)
from .vcf_writer import VcfWriter, write_vcf

log = logging.getLogger(__name__)

#: Bytes of genotype calls (int8) per streamed block of sites.
BLOCK_BYTES = 16_000_000


def chromosome_files(outdir: str | Path, chromosome: int) -> dict[str, Path]:
    """Paths phase 1 writes for one chromosome (each VCF has a ``.tbi`` beside it).

    Returns
    -------
    dict
        ``cohort_vcf``, ``popfreq``, ``ancestry_panel`` and ``phenotype_inputs``.
    """
    outdir, c = Path(outdir), int(chromosome)
    return {
        "cohort_vcf": outdir / f"cohort.chr{c}.vcf.gz",
        "popfreq": outdir / f"popfreq.chr{c}.simulated.vcf.gz",
        "ancestry_panel": outdir / f"ancestry_panel.chr{c}.vcf.gz",
        "phenotype_inputs": outdir / f"phenotype_inputs.chr{c}.npz",
    }


def _people(cfg: SimulationConfig, patients: pd.DataFrame) -> dict[str, Any]:
    """Row indices of each group in the simulation's people (cohort, reference, patients, outliers, panel)."""
    is_outlier = patients.get("outlier", pd.Series(False, index=patients.index)).astype(bool).to_numpy()
    n_main = cfg.n_cohort + cfg.n_reference + int((~is_outlier).sum())
    patient_rows = np.empty(len(patients), dtype=int)
    patient_rows[~is_outlier] = np.arange(cfg.n_cohort + cfg.n_reference, n_main)
    patient_rows[is_outlier] = np.arange(n_main, n_main + int(is_outlier.sum()))
    return {
        "n_main": n_main,
        "n_outlier": int(is_outlier.sum()),
        "reference": slice(cfg.n_cohort, cfg.n_cohort + cfg.n_reference),
        "patient_rows": patient_rows,
        "panel_start": n_main + int(is_outlier.sum()),
    }


def simulate_chromosome(
    cfg: SimulationConfig,
    genome: GenomeWideConfig,
    chromosome: int,
    patients: pd.DataFrame,
    outdir: str | Path,
    gene_model: str | Path,
) -> dict[str, Any]:
    """Phase 1 of genome-wide mode: simulate one autosome's segment and write its files.

    Parameters
    ----------
    cfg : SimulationConfig
        People, demography, rates and the causal-candidate settings.
    genome : GenomeWideConfig
        Segment start and length.
    chromosome : int
        1-22.
    patients : DataFrame
        The patient sheet (its ``outlier`` column decides who comes from the outlier population).
    outdir : path
        Receives the files of :func:`chromosome_files`.
    gene_model : path
        GTF/GFF3 whose coding exons carry the burden (sites outside it are non-coding).

    Returns
    -------
    dict
        ``chromosome``, ``n_sites`` (written), ``n_candidates`` (cohort MAF >= ``causal_min_maf``),
        ``n_rare_coding`` and ``seconds``.
    """
    from ..annotate import read_gene_model

    t0 = time.perf_counter()
    c = int(chromosome)
    contig = GenomeWideConfig.contig(c)
    contigs = [(contig, contig_lengths("GRCh38")[contig])]
    files = chromosome_files(outdir, c)
    people = _people(cfg, patients)
    ts, pops = simulate_tree_sequence(
        cfg, people["n_main"], people["n_outlier"], genome.bp_per_chromosome, seed=[cfg.seed, c]
    )
    rng = np.random.default_rng([cfg.seed, c, 1])
    model = read_gene_model(gene_model)

    n_people = ts.num_individuals
    cohort, reference, patient_rows = slice(0, cfg.n_cohort), people["reference"], people["patient_rows"]
    panel_rows = np.arange(people["panel_start"], n_people)
    # Dosage columns kept for the phenotype: the cohort, then the patients in sheet order.
    pheno_people = np.concatenate([np.arange(cfg.n_cohort), patient_rows])
    cap = cfg.n_causal + cfg.pgs_null_variants
    block = max(64, BLOCK_BYTES // ts.num_samples)

    kept: dict[str, list[np.ndarray]] = {k: [] for k in ("pos", "ref", "alt", "af", "patient_calls")}
    kept.update({k: [] for k in ("coding_sites", "coding_genes", "rare_sites", "rare_dos")})
    cand_keys, cand_sites = np.empty(0), np.empty(0, dtype=np.int64)
    cand_dos = np.empty((0, len(pheno_people)), np.int8)
    n_candidates = 0
    n_written = 0
    n_dropped_duplicate = 0
    # Each extra trait's own uniform sample of the candidates (its own keys and generator,
    # so the first disease's sample and the missing calls are drawn as without it).
    extra = [
        _CandidateSample(np.random.default_rng([*cfg.trait_seed(i), c]), trait.n_causal, len(pheno_people))
        for i, trait in enumerate(cfg.extra_traits)
    ]

    def flush(pos: np.ndarray, ref: np.ndarray, alt: np.ndarray, haplotypes: np.ndarray) -> None:
        nonlocal cand_keys, cand_sites, cand_dos, n_candidates, n_written
        calls = haplotypes.reshape(len(pos), n_people, 2)
        dos = calls[:, :, 0] + calls[:, :, 1]  # int8, no missing calls yet
        af = dos[:, cohort].sum(axis=1, dtype=np.int64) / (2 * cfg.n_cohort)
        keep = (af > 0) & (af < 1)  # polymorphic in the cohort, as in the demo
        pos, ref, alt, af, dos = pos[keep], ref[keep], alt[keep], af[keep], dos[keep]
        calls = calls[keep]
        if not len(pos):
            return
        sites = n_written + np.arange(len(pos))
        maf = np.minimum(af, 1 - af)
        gene_at = coding_gene_per_site(Genotypes(pos, ref, alt, calls[:0]), model, contig)

        common = np.flatnonzero(maf >= cfg.causal_min_maf)
        n_candidates += len(common)
        # Random keys, smallest kept: a uniform sample of the candidates, in random order.
        cand_keys = np.concatenate([cand_keys, rng.random(len(common))])
        cand_sites = np.concatenate([cand_sites, sites[common]])
        cand_dos = np.concatenate([cand_dos, dos[np.ix_(common, pheno_people)]])
        if len(cand_keys) > 2 * cap:
            best = np.argsort(cand_keys, kind="stable")[:cap]
            cand_keys, cand_sites, cand_dos = cand_keys[best], cand_sites[best], cand_dos[best]
        for sample in extra:
            sample.add(sites[common], dos[np.ix_(common, pheno_people)])
        coding = gene_at != ""
        rare = np.flatnonzero((maf < cfg.rare_maf) & coding)
        kept["coding_sites"].append(sites[coding])
        kept["coding_genes"].append(gene_at[coding].astype(str))
        kept["rare_sites"].append(sites[rare])
        kept["rare_dos"].append(dos[np.ix_(rare, pheno_people)])

        mask_missing_calls(calls, cfg.missing_rate, rng)
        chroms = np.full(len(pos), contig, dtype=object)
        cohort_vcf.write(chroms, pos, ref, alt, calls=calls[:, cohort])
        popfreq_vcf.write(chroms, pos, ref, alt, info=popfreq_info(dos[:, reference]))
        if panel_vcf is not None:
            panel_vcf.write(chroms, pos, ref, alt, calls=calls[:, panel_rows])
        kept["patient_calls"].append(calls[:, patient_rows])
        for key, values in (("pos", pos), ("ref", ref), ("alt", alt), ("af", af)):
            kept[key].append(values)
        n_written += len(pos)

    cohort_ids = [f"COH{i:05d}" for i in range(1, cfg.n_cohort + 1)]
    haplotypes = np.empty((block, ts.num_samples), dtype=np.int8)
    pos_buf: list[int] = []
    ref_buf: list[str] = []
    alt_buf: list[str] = []
    last_pos = -1
    last_log = time.perf_counter()
    with (
        VcfWriter(files["cohort_vcf"], cohort_ids, contigs=contigs) as cohort_vcf,
        VcfWriter(files["popfreq"], info_header=POPFREQ_HEADER, contigs=contigs) as popfreq_vcf,
        VcfWriter(files["ancestry_panel"], panel_sample_ids(pops[panel_rows]), contigs=contigs)
        if len(panel_rows)
        else _NoWriter() as panel_vcf,
    ):
        for var in ts.variants():
            if len(var.alleles) != 2 or var.alleles[1] is None:
                continue  # biallelic only, as in the demo
            position = int(var.site.position) + genome.start
            if position == last_pos:
                n_dropped_duplicate += 1  # one record per position (keep the first)
                continue
            last_pos = position
            haplotypes[len(pos_buf)] = var.genotypes
            pos_buf.append(position)
            ref_buf.append(var.alleles[0])
            alt_buf.append(var.alleles[1])
            if len(pos_buf) == block:
                flush(np.array(pos_buf), np.array(ref_buf), np.array(alt_buf), haplotypes)
                pos_buf, ref_buf, alt_buf = [], [], []
                if time.perf_counter() - last_log > 10:
                    last_log = time.perf_counter()
                    rate = n_written / (last_log - t0)
                    log.info("%s: %d records written (%.0f records/s)", contig, n_written, rate)
        if pos_buf:
            flush(np.array(pos_buf), np.array(ref_buf), np.array(alt_buf), haplotypes[: len(pos_buf)])

    order = np.argsort(cand_keys, kind="stable")[:cap]
    arrays = {
        "contig": np.array(contig),
        "n_cohort": np.array(cfg.n_cohort),
        "positions": _cat(kept["pos"], np.int64),
        "refs": _cat(kept["ref"], str),
        "alts": _cat(kept["alt"], str),
        "cohort_af": _cat(kept["af"], np.float64),
        "n_candidates": np.array(n_candidates),
        "candidate_sites": cand_sites[order],
        "candidate_dosages": cand_dos[order],
        "rare_coding_sites": _cat(kept["rare_sites"], np.int64),
        "rare_coding_dosages": np.concatenate(kept["rare_dos"]) if kept["rare_dos"] else cand_dos[:0],
        "coding_sites": _cat(kept["coding_sites"], np.int64),
        "coding_genes": _cat(kept["coding_genes"], str),
        "patient_calls": np.concatenate(kept["patient_calls"])
        if kept["patient_calls"]
        else np.empty((0, len(patients), 2), np.int8),
        "patient_populations": pops[patient_rows].astype(str),
        "panel_populations": pops[panel_rows].astype(str),
    }
    for i, sample in enumerate(extra):
        arrays[f"extra_candidate_sites_{i}"], arrays[f"extra_candidate_dosages_{i}"] = sample.result()
    with atomic_output(files["phenotype_inputs"]) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    seconds = time.perf_counter() - t0
    log.info(
        "%s: %d records written in %.1f s (%.0f records/s); %d causal candidates, %d rare coding sites%s",
        contig,
        n_written,
        seconds,
        n_written / max(seconds, 1e-9),
        n_candidates,
        len(arrays["rare_coding_sites"]),
        f", {n_dropped_duplicate} duplicate positions dropped" if n_dropped_duplicate else "",
    )
    return {
        "chromosome": c,
        "n_sites": n_written,
        "n_candidates": n_candidates,
        "n_rare_coding": len(arrays["rare_coding_sites"]),
        "seconds": seconds,
    }


class _CandidateSample:
    """A uniform sample of at most ``cap`` streamed sites, in random order: those of the smallest random keys."""

    def __init__(self, rng: np.random.Generator, cap: int, n_people: int):
        self.rng, self.cap = rng, cap
        self.keys = np.empty(0)
        self.sites = np.empty(0, dtype=np.int64)
        self.dos = np.empty((0, n_people), np.int8)

    def add(self, sites: np.ndarray, dos: np.ndarray) -> None:
        """Offer the next block's candidate sites and their dosages (sites x people)."""
        self.keys = np.concatenate([self.keys, self.rng.random(len(sites))])
        self.sites = np.concatenate([self.sites, sites])
        self.dos = np.concatenate([self.dos, dos])
        if len(self.keys) > 2 * self.cap:
            self._prune()

    def _prune(self) -> None:
        best = np.argsort(self.keys, kind="stable")[: self.cap]
        self.keys, self.sites, self.dos = self.keys[best], self.sites[best], self.dos[best]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled sites and their dosages, in random (key) order."""
        self._prune()
        return self.sites, self.dos


class _NoWriter:
    """Stands in for the ancestry-panel writer when there is no panel."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)


def simulate_phenotype(
    cfg: SimulationConfig,
    genome: GenomeWideConfig,
    patients: pd.DataFrame,
    outdir: str | Path,
) -> dict[str, Any]:
    """Phase 2 of genome-wide mode: the phenotype and truth from every chromosome's phase-1 file.

    Parameters
    ----------
    cfg : SimulationConfig
    genome : GenomeWideConfig
    patients : DataFrame
        The patient sheet; one VCF over every chromosome is written for each
        row at the path its ``vcf`` column gives.
    outdir : path
        Holds the ``phenotype_inputs.chr{N}.npz`` files; receives
        ``phenotypes.tsv``, ``cohort_truth.tsv``, ``patients_truth.tsv``,
        ``clinvar.simulated.vcf.gz``, ``PGS_SIM_DEMO.txt`` (if ``pgs_gwas_n``),
        ``ancestry_panel.tsv`` (if ``ancestry_panel``) and ``truth.json``.

    Returns
    -------
    dict
        The truth (also written as ``truth.json``), with the keys of the demo's.
    """
    outdir = Path(outdir)
    rng = np.random.default_rng(cfg.seed)
    lengths = contig_lengths("GRCh38")
    contigs = [(GenomeWideConfig.contig(c), lengths[GenomeWideConfig.contig(c)]) for c in genome.chromosomes]
    parts = []
    for c in genome.chromosomes:
        with np.load(chromosome_files(outdir, c)["phenotype_inputs"]) as npz:
            parts.append({k: npz[k] for k in npz.files})
        if int(parts[-1]["n_cohort"]) != cfg.n_cohort or parts[-1]["patient_calls"].shape[1] != len(patients):
            raise ValueError(f"{chromosome_files(outdir, c)['phenotype_inputs']}: simulated for other people")
    offsets = np.cumsum([0] + [len(p["positions"]) for p in parts])
    n_sites = int(offsets[-1])
    chroms = np.concatenate([np.full(len(p["positions"]), str(p["contig"]), dtype=object) for p in parts])
    positions = np.concatenate([p["positions"] for p in parts])
    refs = np.concatenate([p["refs"] for p in parts])
    alts = np.concatenate([p["alts"] for p in parts])
    cohort_af = np.concatenate([p["cohort_af"] for p in parts])
    maf = np.minimum(cohort_af, 1 - cohort_af)
    gene_at = np.full(n_sites, "", dtype=object)
    for p, off in zip(parts, offsets, strict=False):
        gene_at[p["coding_sites"] + off] = p["coding_genes"]
    log.info("%d sites on %d chromosomes", n_sites, len(parts))

    # A uniform sample of all candidates genome-wide: how many from each chromosome is
    # multivariate hypergeometric; phase 1 kept each chromosome's sample in random order.
    counts = np.array([int(p["n_candidates"]) for p in parts], dtype=np.int64)
    n_take = min(cfg.n_causal + cfg.pgs_null_variants, int(counts.sum()))
    take = rng.multivariate_hypergeometric(counts, n_take) if n_take else np.zeros(len(parts), dtype=np.int64)
    cand_global = np.concatenate(
        [p["candidate_sites"][:k] + off for p, k, off in zip(parts, take, offsets, strict=False)]
    )
    rare_global = np.concatenate([p["rare_coding_sites"] + off for p, off in zip(parts, offsets, strict=False)])
    sub = np.union1d(cand_global, rare_global)  # sorted: genome order
    n_pheno = cfg.n_cohort + len(patients)
    dos = np.zeros((len(sub), n_pheno), dtype=np.int8)
    dos[np.searchsorted(sub, cand_global)] = np.concatenate(
        [p["candidate_dosages"][:k] for p, k in zip(parts, take, strict=True)]
    )
    dos[np.searchsorted(sub, rare_global)] = np.concatenate([p["rare_coding_dosages"] for p in parts])
    cohort = slice(0, cfg.n_cohort)
    patient_rows = cfg.n_cohort + np.arange(len(patients))
    pheno = draw_phenotype(
        rng,
        cfg,
        dos,
        cohort_af[sub],
        gene_at[sub],
        cohort,
        patients,
        patient_rows,
        causal_candidates=np.searchsorted(sub, cand_global),
    )
    components, realised, liability, status = pheno.components, pheno.realised, pheno.liability, pheno.status
    sex, age = pheno.sex, pheno.age
    sites_table = pd.DataFrame(
        {"chrom": chroms, "pos": positions, "ref": refs, "alt": alts, "gene": gene_at, "cohort_af": cohort_af}
    )
    traits, traits_truth = _draw_extra_traits(
        cfg, parts, offsets, counts, rare_global, cohort_af, gene_at, pheno, patients, sites_table
    )

    cohort_ids = [f"COH{i:05d}" for i in range(1, cfg.n_cohort + 1)]
    write_cohort_tables(outdir, cohort_ids, pheno, cohort, traits)

    patient_calls = np.concatenate([p["patient_calls"] for p in parts])
    sample_col = patients["sample"] if "sample" in patients else patients["patient_id"]
    for row_no, (_, row) in enumerate(patients.iterrows()):
        write_vcf(
            row["vcf"],
            positions,
            refs,
            alts,
            calls=patient_calls[:, row_no : row_no + 1],
            samples=[str(sample_col.iloc[row_no])],
            chroms=chroms,
            contigs=contigs,
        )
    del patient_calls
    pat_truth = pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(),
            "population": parts[0]["patient_populations"],
            "age": age[patient_rows],
            "sex": sex[patient_rows],
            "liability": np.round(liability[patient_rows], 6),
            "genetic_value": np.round(pheno.genetic[patient_rows], 6),
            "status": status[patient_rows],
            **patient_trait_columns(traits, patient_rows),
        }
    )
    with atomic_output(outdir / "patients_truth.tsv") as tmp:
        pat_truth.to_csv(tmp, sep="\t", index=False)
    if len(parts[0]["panel_populations"]):
        write_panel_sheet(outdir / "ancestry_panel.tsv", parts[0]["panel_populations"])

    sites = Genotypes(positions, refs, alts, np.empty((0, 0, 2), np.int8))
    burden_global = sub[pheno.burden_sites]
    clinvar = clinvar_records(rng, sites, gene_at, burden_global, cohort_af, maf, chroms=chroms)
    write_clinvar(outdir / "clinvar.simulated.vcf.gz", clinvar, contigs=contigs)

    pgs_info = None
    if cfg.pgs_gwas_n > 0:
        sub_sites = Genotypes(positions[sub], refs[sub], alts[sub], np.empty((0, 0, 2), np.int8))
        pgs_info = write_pgs(
            outdir / "PGS_SIM_DEMO.txt",
            rng,
            sub_sites,
            pheno.causal,
            pheno.effects,
            pheno.common,
            cohort_af[sub],
            dos[:, cohort],
            components["additive"][cohort],
            cfg,
            chroms=np.array([str(ch).removeprefix("chr") for ch in chroms[sub]]),
        )

    causal_global = sub[pheno.causal]
    gen_h2 = realised["genetic_total"]
    truth = {
        "label": SIMULATED_LABEL,
        "seed": cfg.seed,
        "config": {**cfg.truth_dict(), "genome_wide": dataclasses.asdict(genome)},
        "chrom": [name for name, _ in contigs],
        "n_sites": n_sites,
        "chrx": None,
        "genome_wide": {
            "chromosomes": [
                {
                    "chrom": name,
                    "start": genome.start,
                    "end": genome.start + genome.bp_per_chromosome - 1,
                    "n_sites": int(offsets[i + 1] - offsets[i]),
                    "n_causal_candidates": int(counts[i]),
                    "vcf": chromosome_files(outdir, c)["cohort_vcf"].name,
                }
                for i, ((name, _), c) in enumerate(zip(contigs, genome.chromosomes, strict=True))
            ],
        },
        **phenotype_truth(cfg, pheno, cohort, sites_table, causal_global, burden_global, sub),
        "pgs": pgs_info,
    }
    if traits:
        truth["traits"] = traits_truth
    write_json(outdir / "truth.json", truth)
    log.info(
        "done: %d causal variants on %d chromosomes, case fraction %.3f (K=%.3f), genetic variance %.3f, "
        "AUC ceiling %.3f",
        len(causal_global),
        len(set(chroms[causal_global])),
        truth["case_fraction"],
        cfg.prevalence,
        gen_h2,
        truth["auc_ceiling"],
    )
    log_extra_traits(truth)
    return truth


def _draw_extra_traits(
    cfg: SimulationConfig,
    parts: list[dict[str, np.ndarray]],
    offsets: np.ndarray,
    counts: np.ndarray,
    rare_global: np.ndarray,
    cohort_af: np.ndarray,
    gene_at: np.ndarray,
    first: Phenotype,
    patients: pd.DataFrame,
    sites: pd.DataFrame,
) -> tuple[dict[str, Phenotype], dict[str, dict]]:
    """The extra traits of genome-wide mode and their truth, each from its own candidates and generator.

    As for the first disease: how many of a trait's causal variants each chromosome
    gives is multivariate hypergeometric on the candidate counts (from the trait's
    generator, ``[seed, 1000 + i]``), taken from the uniform sample phase 1 kept for
    the trait (``extra_candidate_sites_<i>``); the burden is drawn from every rare
    coding site. Sex and age are the first disease's people's.
    """
    traits: dict[str, Phenotype] = {}
    traits_truth: dict[str, dict] = {}
    used_genes = set(first.burden_genes)
    cohort = slice(0, cfg.n_cohort)
    patient_rows = cfg.n_cohort + np.arange(len(patients))
    for i, trait in enumerate(cfg.extra_traits):
        key = f"extra_candidate_sites_{i}"
        if any(key not in p for p in parts):
            raise ValueError(f"phase-1 files lack {key}: simulated without simulate.extra_traits[{i}]; rerun them")
        rng = np.random.default_rng(cfg.trait_seed(i))
        n_take = min(trait.n_causal, int(counts.sum()))
        take = rng.multivariate_hypergeometric(counts, n_take) if n_take else np.zeros(len(parts), dtype=np.int64)
        cand = np.concatenate([p[key][:k] + off for p, k, off in zip(parts, take, offsets, strict=False)])
        sub = np.union1d(cand, rare_global)
        dos = np.zeros((len(sub), cfg.n_cohort + len(patients)), dtype=np.int8)
        dos[np.searchsorted(sub, cand)] = np.concatenate(
            [p[f"extra_candidate_dosages_{i}"][:k] for p, k in zip(parts, take, strict=True)]
        )
        dos[np.searchsorted(sub, rare_global)] = np.concatenate([p["rare_coding_dosages"] for p in parts])
        trait_cfg = cfg.trait_config(i)
        pheno = draw_phenotype(
            rng,
            trait_cfg,
            dos,
            cohort_af[sub],
            gene_at[sub],
            cohort,
            patients,
            patient_rows,
            causal_candidates=np.searchsorted(sub, cand),
            people=(first.sex, first.age),
            exclude_genes=used_genes,
        )
        used_genes |= set(pheno.burden_genes)
        traits[trait.column] = pheno
        traits_truth[trait.column] = phenotype_truth(
            trait_cfg, pheno, cohort, sites, sub[pheno.causal], sub[pheno.burden_sites], sub
        )
    return traits, traits_truth
