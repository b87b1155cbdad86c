#!/usr/bin/env python3
"""Held-out truth: simulated held-out people scored through the patient path, next to the OOF figures.

Usage::

    nice .venv/bin/python bench/heldout.py [--workdir /tmp/heldout] [--n-cohort 3000]
        [--n-heldout 1000] [--cores 2] [--configs no_external_score] [--traits ID,...]
        [--no-paired] [--reuse] [--out bench/results/heldout]

Issue #16 items 4-6. Steps:

1. **Simulate** (in this process, :func:`genorisk.simulate.simulate`) the demo's
   cohort from ``config/demo.yaml``'s ``simulate:`` block (``--n-cohort``
   people; its own folder ``WORKDIR/sim``) plus ``--n-heldout`` held-out people
   of the cohort's population, written as ONE multi-sample batch VCF
   (``heldout.vcf.gz``: every sheet row names the same file,
   :func:`genorisk.simulate.run.patient_vcf_groups`), so the patient path
   prepares one file. Their truth (status and liability of every simulated
   disease, age, sex) is the simulation's ``patients_truth.tsv``.
2. **Run the workflow** (``snakemake --cores N``) on a copy of the demo config
   without its ``simulate:`` block (the files exist), pointed at those files,
   with every trait of the demo (``--traits`` to choose), a patient sheet
   giving each held-out person's recorded age and sex, PGx off,
   ``outdir: WORKDIR/results[_<config>]``. The model settings are the demo's
   (``model.ship: rule``); traits[].prevalence stays the simulated K, so each
   shown risk is re-anchored to it.
3. **Paired** (``--paired``, the default): the held-out people are also scored
   by the model the rule did NOT ship, so the boosted model and the strong
   linear baseline are compared on the same people. The finished results
   folder is copied (``cp -a``) to ``<outdir>_ship_<boosted|linear>``; its
   config differs only in ``outdir`` and ``model.ship``; snakemake reruns
   ``train_model`` of the traits that need it (``--forcerun`` of their
   training outputs with ``--rerun-triggers mtime``: the copy has no
   Snakemake metadata, so the params change alone triggers nothing) and what
   depends on it (publish, patient scoring and reports). The dry run's job
   list is kept in the report: no QC, annotation or feature job reruns.
4. **Score**, per trait: each held-out person's ``risk`` from
   ``results/patients/<id>/report.json``. Risks withheld by
   ``report.outlier_policy`` are counted and left out. Against the trait's
   true status: ROC AUC (stratified bootstrap CI), ECE (10 equal-mass bins,
   the model's own :func:`genorisk.model.metrics.expected_calibration_error`),
   calibration slope and intercept (logistic regression of status on
   logit(risk); Wald CIs) and calibration-in-the-large, the trait's Wray
   ceiling from ``truth.json`` (``auc_ceiling``, or ``traits.<column>``) and
   the ratio to it; the same from the model's out-of-fold predictions
   (``results/evaluation/<trait>/oof_predictions.parquet``,
   ``results/model/<trait>/metrics.json``), side by side. Paired: the
   held-out AUC difference boosted - linear with a stratified paired
   bootstrap CI, beside the OOF one of ``metrics.json``
   (``roc_auc_difference["model-baseline"]``). The #16 targets that apply
   to the trait's architecture (from the simulation config: epistasis or
   gene x age variance > 0 = epistatic, else additive) are checked.
5. **Expected AUCs** (:func:`expected_aucs`): the same people's statuses
   redrawn 400 times from their simulated genetic + covariate liability and
   new environmental noise, as the simulator draws them. With a hundred or so
   cases most of a realised AUC's CI is the one outcome draw's luck; the
   expected AUC removes it and keeps the people's sampling (people-bootstrap
   CI). For the held-out people, the OOF predictions, the paired difference
   and the simulated liability itself (which shows how far the Wray ceiling,
   exact for a normal liability, is from what is reachable).

``--reuse`` keeps a finished simulation and workflow runs in ``--workdir`` and
only re-scores (run times from ``WORKDIR/runs.json``). Writes ``OUT.json`` and
``OUT.md`` (``--out``, default ``bench/results/heldout``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from genorisk.model.metrics import expected_calibration_error  # noqa: E402
from genorisk.simulate import SimulationConfig, simulate  # noqa: E402

RESULTS = REPO / "bench" / "results"
VENV_BIN = REPO / ".venv" / "bin"
SNAKEMAKE = str(VENV_BIN / "snakemake") if VENV_BIN.exists() else "snakemake"
GENE_MODEL = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"
N_BOOT = 2000
ECE_BINS = 10
# The #16 targets (items 5 and 6): additive architecture.
TARGET_RATIO_HELDOUT = 0.92
TARGET_RATIO_OOF = 0.90
TARGET_ECE = 0.02
TARGET_SLOPE = (0.8, 1.2)
# Expected AUCs over redraws of the environmental noise (outcome_model, expected_aucs).
N_OUTCOME_DRAWS = 400
N_EXPECTED_BOOT = 200
# Workflow configs run on the same simulation, each in its own outdir.
VARIANTS = {
    "demo": "the demo's config, with its simulated external PGS (weights of a 100,000-person GWAS)",
    "no_external_score": "the same without the external score (`scores: []`, the setting of #16's targets; "
    "the strong baseline is the in-cohort scores + covariates + PCs)",
}

log = logging.getLogger("heldout")


# --- simulation and workflow -------------------------------------------------------------


def simulate_cohort(demo: dict[str, Any], sim_dir: Path, n_cohort: int, n_heldout: int) -> pd.DataFrame:
    """Simulate the demo-like cohort and the held-out batch VCF; return the held-out truth."""
    section = dict(demo["simulate"], n_cohort=n_cohort)
    cfg = SimulationConfig.from_dict(section)
    batch_vcf = sim_dir / "heldout.vcf.gz"
    ids = [f"H{i:04d}" for i in range(1, n_heldout + 1)]
    sheet = pd.DataFrame({"patient_id": ids, "vcf": str(batch_vcf), "sample": ids, "outlier": False})
    simulate(cfg, sheet, sim_dir, GENE_MODEL)
    return pd.read_csv(sim_dir / "patients_truth.tsv", sep="\t", dtype={"patient_id": str})


def results_dir(workdir: Path, variant: str, ship: str = "rule") -> Path:
    """The workflow's ``outdir`` of one variant; ``ship`` boosted/linear: its paired copy."""
    base = "results" if variant == "demo" else f"results_{variant}"
    return workdir / (base if ship == "rule" else f"{base}_ship_{ship}")


def write_workflow_inputs(
    demo: dict[str, Any],
    workdir: Path,
    truth: pd.DataFrame,
    variant: str,
    trait_ids: list[str],
    ship: str = "rule",
) -> Path:
    """The variant's config (the demo's, pointed at the simulated files) and the patient sheet; returns the config.

    ``ship`` other than ``rule``: the paired copy's config, which differs only
    in ``outdir`` and ``model.ship``.
    """
    sim = workdir / "sim"
    sheet = pd.DataFrame(
        {
            "patient_id": truth["patient_id"],
            "vcf": str(sim / "heldout.vcf.gz"),
            "sample": truth["patient_id"],
            "sex": truth["sex"],
            "age": truth["age"],
        }
    )
    sheet_path = workdir / "heldout_patients.tsv"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    cfg = {k: v for k, v in demo.items() if k != "simulate"}
    cfg["outdir"] = str(results_dir(workdir, variant, ship))
    cfg["cohort"] = dict(
        demo["cohort"],
        vcf=str(sim / "cohort.vcf.gz"),
        phenotypes=str(sim / "phenotypes.tsv"),
        truth=str(sim / "truth.json"),
    )
    cfg["patients"] = dict(demo["patients"], sheet=str(sheet_path))
    ann = dict(demo["annotation"])
    ann["gene_model"] = str(REPO / ann["gene_model"])
    ann["clinvar"] = str(sim / "clinvar.simulated.vcf.gz")
    ann["population_af"] = dict(ann["population_af"], vcf=str(sim / "popfreq.simulated.vcf.gz"))
    cfg["annotation"] = ann
    cfg["scores"] = [str(sim / "PGS_SIM_DEMO.txt")] if variant == "demo" else []
    # Each disease's held-out labels are patients_truth.tsv's column of the same name (status, status_b).
    by_id = {t["id"]: t for t in demo["traits"]}
    cfg["traits"] = [by_id[t] if variant == "demo" else dict(by_id[t], scores=[]) for t in trait_ids]
    cfg["ancestry"] = dict(demo["ancestry"], reference_panel=str(sim / "ancestry_panel.vcf.gz"))
    cfg["pgx"] = {"enabled": False}
    cfg["report"] = dict(demo.get("report", {}), cohort_name="held-out benchmark cohort (simulated)")
    cfg["model"] = dict(demo.get("model", {}), ship=ship)
    path = workdir / (f"config.{variant}.yaml" if ship == "rule" else f"config.{variant}.ship_{ship}.yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake_argv(config: Path, cores: int, extra: list[str] | None = None) -> list[str]:
    return [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(config),
        "--cores",
        str(cores),
        *(extra or []),
    ]


def run_workflow(workdir: Path, config: Path, cores: int, extra: list[str] | None = None) -> dict[str, Any]:
    """``snakemake --cores`` in ``workdir``; wall time and the load average sampled every 15 s."""
    argv = snakemake_argv(config, cores, extra)
    loads = []
    start = time.perf_counter()
    with open(workdir / "snakemake.log", "ab") as out:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            loads.append(os.getloadavg()[0])
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"heldout: the workflow failed (exit {proc.returncode}); see {workdir / 'snakemake.log'}")
    return {
        "argv": argv,
        "wall_s": round(wall, 1),
        "load_1min_mean": round(float(np.mean(loads)), 2) if loads else None,
    }


def dry_run_jobs(workdir: Path, config: Path, extra: list[str]) -> dict[str, int]:
    """Jobs per rule that ``snakemake -n`` would run (its "Job stats" table)."""
    argv = snakemake_argv(config, 1, ["-n", *extra])
    proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"heldout: snakemake -n failed: {proc.stderr[-2000:]}")
    jobs: dict[str, int] = {}
    text = proc.stdout + proc.stderr
    if "Job stats:" in text:
        for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


#: The rules a paired rerun may run: a model's training and what depends on it (and patient_reports_b*).
PAIRED_RULES = {
    "default",
    "train_model",
    "publish_model",
    "patient_features",
    "score_patients",
    "check_patient_intake",
    "cohort_report",
}


def run_paired_copy(
    demo: dict[str, Any],
    workdir: Path,
    truth: pd.DataFrame,
    variant: str,
    trait_ids: list[str],
    ship: str,
    retrain: list[str],
    cores: int,
) -> dict[str, Any]:
    """Copy the variant's finished results to its ``ship`` folder and retrain ``retrain``'s models there."""
    source, dest = results_dir(workdir, variant), results_dir(workdir, variant, ship)
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)
    config = write_workflow_inputs(demo, workdir, truth, variant, trait_ids, ship=ship)
    # The copy has no Snakemake metadata of its own, so a changed model.ship alone triggers nothing
    # (the plain dry run, kept in the record, says so): force the training jobs of the traits that
    # need the other model, and rerun on mtime only.
    plain = dry_run_jobs(workdir, config, [])
    extra = ["--rerun-triggers", "mtime", "--forcerun"]
    extra += [str(dest / "evaluation" / t / "oof_predictions.parquet") for t in retrain]
    jobs = dry_run_jobs(workdir, config, extra)
    # Per-batch report rules are named patient_reports_b<batch>.
    unexpected = sorted(r for r in jobs if r not in PAIRED_RULES and not r.startswith("patient_reports_"))
    if unexpected:
        raise SystemExit(f"heldout: the paired rerun ({ship}) would also run {unexpected}; see {dest}")
    run = run_workflow(workdir, config, cores, extra)
    log.info("%s, model.ship %s: rerun in %.0f s (%s)", variant, ship, run["wall_s"], jobs)
    return {**run, "retrained": retrain, "jobs": jobs, "jobs_without_forcerun": plain}


def train_seconds(results: Path, trait: str) -> float | None:
    """Wall seconds of ``train_model`` for one trait (its Snakemake benchmark file)."""
    path = results / "benchmarks" / "train_model" / f"{trait}.tsv"
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0]) if path.exists() else None


def shipped_model(results: Path, trait: str) -> str:
    """The model ``metrics.json`` says was shipped: boosted or linear."""
    metrics = json.loads((results / "model" / trait / "metrics.json").read_text())
    return (metrics.get("shipped") or {}).get("model", "boosted")


# --- the simulated truth of each trait ---------------------------------------------------

#: The liability components of a disease that make its true genetic value.
GENETIC_COMPONENTS = ("additive", "burden", "dominance", "epistasis", "gxage")


def trait_truth(sim_truth: dict[str, Any], column: str) -> dict[str, Any]:
    """One disease's simulated truth: ceiling, architecture and its settings, by phenotype column.

    The first disease (column ``status``) is ``truth.json``'s top level and
    ``config``; each extra trait is ``traits.<column>`` and its entry of
    ``config.extra_traits``. Epistatic when its epistasis or gene x age
    variance is above 0, else additive.
    """
    if column == "status":
        settings, section = sim_truth["config"], sim_truth
    else:
        extras = {t["column"]: t for t in sim_truth["config"].get("extra_traits", [])}
        if column not in extras or column not in sim_truth.get("traits", {}):
            raise SystemExit(f"heldout: truth.json has no simulated trait of column {column!r}")
        settings, section = extras[column], sim_truth["traits"][column]
    epistatic = float(settings.get("epistasis", 0)) > 0 or float(settings.get("gxage", 0)) > 0
    return {
        "column": column,
        "architecture": "epistatic" if epistatic else "additive",
        "settings": {
            k: settings.get(k)
            for k in ("h2", "n_causal", "burden", "dominance", "epistasis", "n_epistatic_pairs", "gxage", "prevalence")
            if settings.get(k) is not None
        },
        "auc_ceiling": float(section["auc_ceiling"]),
        "auc_ceiling_genetic": float(section["auc_ceiling_genetic"]),
        "case_fraction": section.get("case_fraction"),
    }


def genetic_value_columns(columns: list[str], column: str) -> list[str]:
    """``cohort_truth.tsv``'s genetic components of one disease (extra traits' are prefixed ``<column>_``)."""
    prefix = "" if column == "status" else f"{column}_"
    return [f"{prefix}{c}" for c in GENETIC_COMPONENTS if f"{prefix}{c}" in columns]


# --- scoring -----------------------------------------------------------------------------


def logistic_calibration(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Calibration slope and intercept: logistic regression of ``y`` on logit(``p``), Wald 95% CIs.

    Also calibration-in-the-large: the intercept with the slope fixed at 1
    (logit(p) as an offset), its Wald CI. Fitted by Newton-Raphson (IRLS).
    """
    x = logit(np.clip(p, 1e-9, 1 - 1e-9))
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([0.0, 1.0])
    for _ in range(100):
        mu = expit(design @ beta)
        w = mu * (1 - mu)
        hess = design.T @ (design * w[:, None])
        step = np.linalg.solve(hess, design.T @ (y - mu))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    z = norm.ppf(0.975)
    # Calibration-in-the-large: intercept a with offset logit(p).
    a = 0.0
    for _ in range(100):
        mu = expit(a + x)
        step = np.sum(y - mu) / np.sum(mu * (1 - mu))
        a += step
        if abs(step) < 1e-12:
            break
    se_a = 1 / np.sqrt(np.sum(mu * (1 - mu)))
    return {
        "slope": {"estimate": float(beta[1]), "ci": [float(beta[1] - z * se[1]), float(beta[1] + z * se[1])]},
        "intercept": {"estimate": float(beta[0]), "ci": [float(beta[0] - z * se[0]), float(beta[0] + z * se[0])]},
        "calibration_in_the_large": {"estimate": float(a), "ci": [float(a - z * se_a), float(a + z * se_a)]},
    }


def auc_with_ci(y: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """ROC AUC with a percentile bootstrap CI (resampled within cases and controls)."""
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = np.empty(N_BOOT)
    for b in range(N_BOOT):
        idx = np.concatenate([rng.choice(cases, len(cases)), rng.choice(controls, len(controls))])
        boots[b] = roc_auc_score(y[idx], p[idx])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"estimate": float(roc_auc_score(y, p)), "ci": [float(lo), float(hi)]}


def ece_with_ci(y: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """ECE (10 equal-mass bins) with a stratified percentile bootstrap CI (bins refitted per resample)."""
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = np.empty(N_BOOT)
    for b in range(N_BOOT):
        idx = np.concatenate([rng.choice(cases, len(cases)), rng.choice(controls, len(controls))])
        boots[b] = expected_calibration_error(y[idx], p[idx], n_bins=ECE_BINS)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"estimate": expected_calibration_error(y, p, n_bins=ECE_BINS), "ci": [float(lo), float(hi)]}


def ece_floor(p: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """ECE of perfectly calibrated predictions ``p``: outcomes drawn as Bernoulli(``p``), 2,000 times.

    The binned ECE is biased upwards by the outcomes' sampling noise (about
    the mean |observed - expected| over bins of n/10 people), so it is what
    a perfect model would show on this many people: the floor to read a
    target such as ECE < 0.02 against.
    """
    draws = np.array(
        [expected_calibration_error((rng.random(len(p)) < p).astype(float), p, n_bins=ECE_BINS) for _ in range(N_BOOT)]
    )
    return {"median": float(np.median(draws)), "p95": float(np.percentile(draws, 95))}


def figures(y: np.ndarray, p: np.ndarray, ceiling: float, seed: int) -> dict[str, Any]:
    """Every figure of one set of predictions against true status."""
    rng = np.random.default_rng(seed)
    auc = auc_with_ci(y, p, rng)
    return {
        "n": int(len(y)),
        "n_cases": int(y.sum()),
        "case_fraction": float(y.mean()),
        "mean_risk": float(p.mean()),
        "roc_auc": auc,
        "ratio_to_ceiling": {"estimate": auc["estimate"] / ceiling, "ci": [c / ceiling for c in auc["ci"]]},
        "ece": ece_with_ci(y, p, rng),
        "ece_if_perfectly_calibrated": ece_floor(p, rng),
        **logistic_calibration(y, p),
    }


def outcome_model(
    workdir: Path, sim_truth: dict[str, Any], column: str, cohort: pd.DataFrame | None = None
) -> dict[str, Any]:
    """What the simulator drew one disease's status from, apart from the environmental noise.

    ``status = (genetic + covariates + e > threshold)``, ``e ~ N(0, env_sd^2)``
    (:func:`genorisk.simulate.phenotype.draw_phenotype`). The covariate component is
    a linear function of age and sex standardised on the cohort; its exact
    coefficients are recovered from the cohort's truth by least squares (a
    residual above 1e-4 stops the bench: the simulator's covariate model changed).
    ``cohort``: ``cohort_truth.tsv`` indexed by sample_id, if the caller has read it.
    Returns ``threshold``, ``env_sd`` and ``covariate_coef`` (on 1, age_z, male).
    """
    section = sim_truth if column == "status" else sim_truth["traits"][column]
    components = section["variance_components"]
    env_var = 1.0 - float(components["genetic_total"]) - float(components["covariates"])
    if cohort is None:
        cohort = pd.read_csv(workdir / "sim" / "cohort_truth.tsv", sep="\t").set_index("sample_id")
    people = pd.read_csv(workdir / "sim" / "phenotypes.tsv", sep="\t").set_index("sample_id")
    prefix = "" if column == "status" else f"{column}_"
    both = cohort[[f"{prefix}covariates"]].join(people[["age", "sex"]], how="inner")
    design = covariate_design(both["age"].to_numpy(float), both["sex"].to_numpy())
    coef, *_ = np.linalg.lstsq(design, both[f"{prefix}covariates"].to_numpy(float), rcond=None)
    residual = float(np.abs(design @ coef - both[f"{prefix}covariates"].to_numpy(float)).max())
    if residual > 1e-4:
        raise SystemExit(f"heldout: {column}'s covariate component is not linear in age and sex (residual {residual})")
    return {
        "threshold": float(section["liability_threshold"]),
        "env_sd": float(np.sqrt(env_var)),
        "covariate_coef": coef,
    }


def covariate_design(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """The simulator's covariate inputs: 1, age_z = (age - 60) / 11.8 and male (0/1)."""
    return np.c_[np.ones(len(age)), (age - 60.0) / 11.8, (sex == "male").astype(float)]


def expected_aucs(
    risks: dict[str, np.ndarray],
    fixed: np.ndarray,
    env_sd: float,
    threshold: float,
    ceiling: float,
    seed: int,
    n_draws: int = N_OUTCOME_DRAWS,
    n_boot: int = N_EXPECTED_BOOT,
) -> dict[str, Any]:
    """ROC AUC of each risk averaged over redraws of the environmental noise, with a people-bootstrap CI.

    The same people (genotypes, age, sex: ``fixed`` = genetic + covariate
    liability) get new statuses ``fixed + e > threshold`` in every draw, as the
    simulator draws them. The mean AUC over draws is the AUC these risks have
    in these people without the luck of one outcome draw, which is most of a
    realised AUC's CI at a hundred or so cases; the CI (percentile, people
    resampled with ``n_draws // 10`` draws each) keeps the people's sampling.
    Also the difference of every pair of risks (first minus second, dict order).
    """
    rng = np.random.default_rng(seed)
    n = len(fixed)
    names = list(risks)

    def mean_aucs(rows: np.ndarray, draws: int) -> np.ndarray:
        out = np.zeros(len(names))
        for _ in range(draws):
            status = fixed[rows] + rng.normal(0.0, env_sd, len(rows)) > threshold
            out += [roc_auc_score(status, risks[k][rows]) for k in names]
        return out / draws

    estimate = mean_aucs(np.arange(n), n_draws)
    boot = np.array([mean_aucs(rng.integers(0, n, n), max(1, n_draws // 10)) for _ in range(n_boot)])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    out: dict[str, Any] = {
        k: {
            "estimate": float(estimate[i]),
            "ci": [float(lo[i]), float(hi[i])],
            "ratio_to_ceiling": {"estimate": float(estimate[i]) / ceiling, "ci": [lo[i] / ceiling, hi[i] / ceiling]},
        }
        for i, k in enumerate(names)
    }
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            d = boot[:, i] - boot[:, j]
            lo_d, hi_d = np.percentile(d, [2.5, 97.5])
            out[f"{names[i]}-{names[j]}"] = {
                "estimate": float(estimate[i] - estimate[j]),
                "ci": [float(lo_d), float(hi_d)],
            }
    out["settings"] = {"n_draws": n_draws, "n_boot": n_boot, "draws_per_resample": max(1, n_draws // 10)}
    return out


def read_heldout_risks(results: Path, ids: list[str], trait: str) -> pd.DataFrame:
    """Each held-out person's shown risk of ``trait``, its status (shown/withheld/widened) and anchoring."""
    rows = []
    for pid in ids:
        path = results / "patients" / pid / "report.json"
        if not path.exists():
            rows.append({"patient_id": pid, "status_shown": "no report", "risk": np.nan})
            continue
        entries = {t["trait"]["id"]: t for t in json.loads(path.read_text())["traits"]}  # schema 4
        if trait not in entries:
            raise SystemExit(f"heldout: {path} has no trait {trait!r} (it has {sorted(entries)})")
        risk = entries[trait]["risk"]
        rows.append(
            {
                "patient_id": pid,
                "status_shown": risk.get("status", "shown"),
                "risk": np.nan if risk.get("probability") is None else float(risk["probability"]),
                "anchoring": risk.get("anchoring"),
                "prevalence": risk.get("prevalence"),
                "withheld_reason": risk.get("withheld_reason"),
            }
        )
    return pd.DataFrame(rows)


def prior_shift(p: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Move risks anchored at ``from_rate`` to ``to_rate`` (odds x [to/(1-to)] / [from/(1-from)])."""
    odds = p / (1 - p) * (to_rate / (1 - to_rate)) / (from_rate / (1 - from_rate))
    return odds / (1 + odds)


def reason_kind(reason: str) -> str:
    """A withheld reason with its numbers blanked, so reasons of one kind count together."""
    return re.sub(r"\d+(\.\d+)?", "#", reason)


def paired_auc_difference(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOT
) -> dict[str, Any]:
    """AUC(``p_a``) - AUC(``p_b``) on the same people, with a stratified paired percentile bootstrap CI.

    Each resample draws cases and controls apart (with replacement, their
    counts kept) and scores both predictions on the same draw.

    Returns
    -------
    dict
        ``estimate``, ``ci`` (95%), ``auc_a``, ``auc_b`` and
        ``fraction_above_0`` (share of resamples where ``p_a`` wins).
    """
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(cases, len(cases)), rng.choice(controls, len(controls))])
        boots[b] = roc_auc_score(y[idx], p_a[idx]) - roc_auc_score(y[idx], p_b[idx])
    auc_a, auc_b = float(roc_auc_score(y, p_a)), float(roc_auc_score(y, p_b))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {
        "estimate": auc_a - auc_b,
        "ci": [float(lo), float(hi)],
        "auc_a": auc_a,
        "auc_b": auc_b,
        "fraction_above_0": float(np.mean(boots > 0)),
    }


def score_trait(
    workdir: Path,
    variant: str,
    trait: str,
    column: str,
    truth: pd.DataFrame,
    sim_truth: dict[str, Any],
    sources: dict[str, Path] | None,
) -> dict[str, Any]:
    """The held-out and OOF figures of one trait of one variant's run.

    ``sources``: the results folder holding the boosted and the linear
    model's held-out scores (``--paired``), else None.
    """
    results = results_dir(workdir, variant)
    tt = trait_truth(sim_truth, column)
    ceiling = tt["auc_ceiling"]
    if column not in truth.columns:
        raise SystemExit(f"heldout: patients_truth.tsv has no column {column!r} (trait {trait})")
    risks = read_heldout_risks(results, truth["patient_id"].tolist(), trait)
    merged = truth.merge(risks, on="patient_id", how="left")
    shown = merged["risk"].notna().to_numpy()
    y = merged[column].to_numpy(dtype=int)
    p = merged["risk"].to_numpy(dtype=float)
    metrics = json.loads((results / "model" / trait / "metrics.json").read_text())
    oof = pd.read_parquet(results / "evaluation" / trait / "oof_predictions.parquet")
    y_oof = oof["y"].to_numpy(dtype=int)
    cohort_rate = float(y_oof.mean())
    withheld = merged.loc[~shown]
    heldout = figures(y[shown], p[shown], ceiling, seed=1)
    # The shown risks are re-anchored to the configured prevalence; the OOF predictions are at the
    # cohort's case fraction. The held-out figures at the cohort's anchoring tell the two apart.
    anchorings = set(merged.loc[shown, "anchoring"].dropna())
    prevalences = {float(v) for v in merged.loc[shown, "prevalence"].dropna()}
    heldout_cohort_anchor = (
        figures(y[shown], prior_shift(p[shown], min(prevalences), cohort_rate), ceiling, seed=1)
        if anchorings == {"prior shift"} and len(prevalences) == 1
        else None
    )
    oof_fig = figures(y_oof, oof["model"].to_numpy(dtype=float), ceiling, seed=2)
    oof_baseline = figures(y_oof, oof["baseline"].to_numpy(dtype=float), ceiling, seed=3)
    oof_linear = (
        figures(y_oof, oof["linear_calibrated"].to_numpy(dtype=float), ceiling, seed=4)
        if "linear_calibrated" in oof.columns
        else None
    )
    # The truth's own predictor (the true genetic value, this disease's components only) in the same
    # people: what any model could reach there.
    cohort_truth = pd.read_csv(workdir / "sim" / "cohort_truth.tsv", sep="\t").set_index("sample_id")
    cohort_g = cohort_truth.loc[oof.index, genetic_value_columns(list(cohort_truth.columns), column)].sum(axis=1)
    heldout_g_column = "genetic_value" if column == "status" else f"{column}_genetic_value"
    heldout_g = (
        float(roc_auc_score(y[shown], merged[heldout_g_column].to_numpy()[shown]))
        if heldout_g_column in merged.columns
        else None
    )
    # Expected AUCs (over redraws of the environmental noise) of the same predictions.
    om = outcome_model(workdir, sim_truth, column, cohort_truth)
    heldout_fixed = (
        merged[heldout_g_column].to_numpy(float)
        + covariate_design(merged["age"].to_numpy(float), merged["sex"].to_numpy()) @ om["covariate_coef"]
        if heldout_g_column in merged.columns
        else None
    )
    prefix = "" if column == "status" else f"{column}_"
    oof_fixed = (cohort_g + cohort_truth.loc[oof.index, f"{prefix}covariates"]).to_numpy(float)
    oof_risks = {"model": oof["model"].to_numpy(dtype=float)}
    if "linear_calibrated" in oof.columns:
        oof_risks["linear_calibrated"] = oof["linear_calibrated"].to_numpy(dtype=float)
    oof_risks["truth"] = oof_fixed
    expected = {
        "heldout": None
        if heldout_fixed is None
        else expected_aucs(
            {"shipped": p[shown], "truth": heldout_fixed[shown]},
            heldout_fixed[shown],
            om["env_sd"],
            om["threshold"],
            ceiling,
            seed=11,
        ),
        "oof": expected_aucs(oof_risks, oof_fixed, om["env_sd"], om["threshold"], ceiling, seed=12),
    }
    reasons = withheld["withheld_reason"].fillna(withheld["status_shown"]).map(reason_kind)
    out: dict[str, Any] = {
        "trait": trait,
        "truth": tt,
        "shipped": metrics.get("shipped"),
        "heldout": {
            "n_people": int(len(merged)),
            "n_withheld": int((~shown).sum()),
            "withheld_reasons": reasons.value_counts().to_dict(),
            "withheld_cases": int(withheld[column].sum()),
            "n_widened": int((merged["status_shown"] == "widened").sum()),
            "anchoring": sorted(anchorings),
            "prevalence_shown": sorted(prevalences),
            "auc_of_true_genetic_value": heldout_g,
            "figures": heldout,
            "figures_at_cohort_anchoring": heldout_cohort_anchor,
        },
        "oof": {
            "n_trained_on": metrics["data"]["n_samples"],
            "n_cases": metrics["data"]["n_cases"],
            "n_features": metrics["data"].get("n_features"),
            "baseline_features": metrics.get("baseline_features"),
            "case_fraction": cohort_rate,
            "auc_of_true_genetic_value": float(roc_auc_score(y_oof, cohort_g.to_numpy())),
            "figures": oof_fig,
            "baseline_figures": oof_baseline,
            "linear_calibrated_figures": oof_linear,
            "metrics_json": {
                k: metrics[k] for k in ("model", "baseline", "linear_calibrated", "roc_auc_difference") if k in metrics
            },
            "evaluation": metrics.get("evaluation"),
        },
        "expected": expected,
        "paired": None,
    }
    if sources is not None:
        fixed = None if heldout_fixed is None else pd.Series(heldout_fixed, index=merged["patient_id"])
        out["paired"] = score_paired(truth, trait, column, ceiling, sources, fixed, om)
    return out


def same_training(sources: dict[str, Path], trait: str) -> dict[str, Any]:
    """Whether the folders trained the same models: their ``metrics.json`` OOF ROC AUCs, side by side.

    The paired copy retrains with only ``model.ship`` changed, so its boosted
    model and strong baseline should be the rule run's, figure for figure;
    a difference means the code changed between the runs (or the training is
    not deterministic), and the two held-out columns come from different trainings.
    """
    aucs = {}
    for kind, folder in sources.items():
        metrics = json.loads((folder / "model" / trait / "metrics.json").read_text())
        aucs[kind] = {k: metrics[k]["roc_auc"]["estimate"] for k in ("model", "baseline") if metrics.get(k)}
    values = list(aucs.values())
    return {"equal": all(v == values[0] for v in values), "oof_roc_auc": aucs}


def score_paired(
    truth: pd.DataFrame,
    trait: str,
    column: str,
    ceiling: float,
    sources: dict[str, Path],
    fixed: pd.Series | None,
    om: dict[str, Any],
) -> dict[str, Any]:
    """The boosted and the linear model on the same held-out people: each one's figures and the AUC difference.

    ``fixed``: each person's genetic + covariate liability (:func:`outcome_model`), for the expected AUCs.
    """
    risk = {}
    for kind, folder in sources.items():
        shipped = shipped_model(folder, trait)
        if shipped != kind:
            raise SystemExit(f"heldout: {folder} shipped the {shipped} model of {trait}, not the {kind} one")
        risk[kind] = read_heldout_risks(folder, truth["patient_id"].tolist(), trait).set_index("patient_id")["risk"]
    both = truth.set_index("patient_id").join(pd.DataFrame(risk)).dropna(subset=list(risk))
    y = both[column].to_numpy(dtype=int)
    p_boosted, p_linear = both["boosted"].to_numpy(float), both["linear"].to_numpy(float)
    diff = paired_auc_difference(y, p_boosted, p_linear, np.random.default_rng(5))
    return {
        "sources": {k: str(v) for k, v in sources.items()},
        "same_training": same_training(sources, trait),
        "n": int(len(y)),
        "n_cases": int(y.sum()),
        "difference_boosted_minus_linear": diff,
        "boosted": figures(y, p_boosted, ceiling, seed=6),
        "linear": figures(y, p_linear, ceiling, seed=7),
        "expected": None
        if fixed is None
        else expected_aucs(
            {"boosted": p_boosted, "linear": p_linear},
            fixed.loc[both.index].to_numpy(float),
            om["env_sd"],
            om["threshold"],
            ceiling,
            seed=13,
        ),
    }


# --- report ------------------------------------------------------------------------------


def _ci(d: dict[str, Any], digits: int = 3) -> str:
    return f"{d['estimate']:.{digits}f} ({d['ci'][0]:.{digits}f}-{d['ci'][1]:.{digits}f})"


def _metrics_ci(d: dict[str, float]) -> dict[str, Any]:
    """A metrics.json figure (estimate, ci_low, ci_high) as estimate + ci."""
    return {"estimate": d["estimate"], "ci": [d["ci_low"], d["ci_high"]]}


def _met(ok: bool, miss: str) -> str:
    return "met" if ok else miss


def verdicts(t: dict[str, Any]) -> list[str]:
    """One line per #16 target of the trait's architecture: the figure, its CI, met or missed by how much."""
    h = t["heldout"]["figures"]
    # The OOF figure of the model that ships (the held-out column is that model's too): the
    # calibrated strong baseline when the rule shipped the linear model.
    shipped_linear = (t.get("shipped") or {}).get("model") == "linear"
    o = (
        t["oof"]["linear_calibrated_figures"]
        if shipped_linear and t["oof"].get("linear_calibrated_figures")
        else t["oof"]["figures"]
    )
    r_h, r_o = h["ratio_to_ceiling"], o["ratio_to_ceiling"]
    e, s = h["ece"], h["slope"]
    lo, hi = TARGET_SLOPE
    floor = h["ece_if_perfectly_calibrated"]
    lines = []
    if t["truth"]["architecture"] == "additive":
        lines += [
            f"- held-out AUC / ceiling {_ci(r_h)} against >= {TARGET_RATIO_HELDOUT}: "
            + _met(r_h["estimate"] >= TARGET_RATIO_HELDOUT, f"missed by {TARGET_RATIO_HELDOUT - r_h['estimate']:.3f}"),
            f"- OOF AUC / ceiling of the shipped ({'linear' if shipped_linear else 'boosted'}) model "
            f"{_ci(r_o)} against >= {TARGET_RATIO_OOF}: "
            + _met(r_o["estimate"] >= TARGET_RATIO_OOF, f"missed by {TARGET_RATIO_OOF - r_o['estimate']:.3f}"),
        ]
        ex = t.get("expected") or {}
        if ex.get("heldout") is not None:
            r_e = ex["heldout"]["shipped"]["ratio_to_ceiling"]
            lines.append(
                f"- held-out expected AUC / ceiling (environment redrawn) {_ci(r_e)} against >= "
                f"{TARGET_RATIO_HELDOUT}: "
                + _met(
                    r_e["estimate"] >= TARGET_RATIO_HELDOUT, f"missed by {TARGET_RATIO_HELDOUT - r_e['estimate']:.3f}"
                )
            )
        oof_key = "linear_calibrated" if shipped_linear and "linear_calibrated" in ex.get("oof", {}) else "model"
        if ex.get("oof"):
            r_e = ex["oof"][oof_key]["ratio_to_ceiling"]
            lines.append(
                f"- OOF expected AUC / ceiling of the shipped model (environment redrawn) {_ci(r_e)} against >= "
                f"{TARGET_RATIO_OOF}: "
                + _met(r_e["estimate"] >= TARGET_RATIO_OOF, f"missed by {TARGET_RATIO_OOF - r_e['estimate']:.3f}")
            )
    else:
        d = t["oof"]["metrics_json"].get("roc_auc_difference", {}).get("model-baseline")
        if d is None:
            lines.append("- boosted beats the strong baseline (OOF): no strong baseline in metrics.json")
        else:
            low = d["ci_low"] if d["ci_low"] is not None else d["estimate"]
            lines.append(
                f"- boosted beats the strong baseline, OOF: AUC difference {_ci(_metrics_ci(d))} "
                + _met(low > 0, f"missed (the CI's lower end is {low:.3f}, not above 0)")
            )
        if t["paired"] is not None:
            pd_ = t["paired"]["difference_boosted_minus_linear"]
            lines.append(
                f"- boosted beats the strong baseline, held-out (paired): AUC difference {_ci(pd_)} "
                + _met(pd_["ci"][0] > 0, f"missed (the CI's lower end is {pd_['ci'][0]:.3f}, not above 0)")
            )
            ed = (t["paired"].get("expected") or {}).get("boosted-linear")
            if ed is not None:
                lines.append(
                    f"- the same, expected (environment redrawn): {_ci(ed)} "
                    + _met(ed["ci"][0] > 0, f"missed (the CI's lower end is {ed['ci'][0]:.3f}, not above 0)")
                )
    lines += [
        f"- held-out ECE {_ci(e, 4)} against < {TARGET_ECE}: "
        + _met(e["estimate"] < TARGET_ECE, f"missed by {e['estimate'] - TARGET_ECE:.4f}")
        + f" (a perfectly calibrated model would show {floor['median']:.4f} here, 95th percentile {floor['p95']:.4f})",
        f"- held-out calibration slope {_ci(s, 2)} against {lo}-{hi}: "
        + (
            "met (point estimate)"
            if lo <= s["estimate"] <= hi
            else f"missed ({'above' if s['estimate'] > hi else 'below'})"
        ),
    ]
    return lines


def describe_architecture(tt: dict[str, Any]) -> str:
    st = tt["settings"]
    parts = [f"h2 {st.get('h2')} ({st.get('n_causal')} causal variants)"]
    if st.get("burden"):
        parts.append(f"burden {st['burden']}")
    if st.get("dominance"):
        parts.append(f"dominance {st['dominance']}")
    if st.get("epistasis"):
        parts.append(f"epistasis {st['epistasis']} ({st.get('n_epistatic_pairs')} pairs)")
    if st.get("gxage"):
        parts.append(f"gene x age {st['gxage']}")
    return f"{tt['architecture']}: " + " + ".join(parts) + f", K {st.get('prevalence')}"


def paired_lines(t: dict[str, Any]) -> list[str]:
    pr = t["paired"]
    if pr is None:
        return []
    d = pr["difference_boosted_minus_linear"]
    oof = t["oof"]["metrics_json"].get("roc_auc_difference", {}).get("model-baseline")
    b, li = pr["boosted"], pr["linear"]
    oof_text = f"{_ci(_metrics_ci(oof))}" if oof else "n/a"
    return [
        f"Paired, on the same {pr['n']:,} held-out people ({pr['n_cases']} cases; each model trained on the whole "
        "cohort, shown risks):",
        "",
        "| | boosted | strong linear baseline | difference boosted - linear (95% CI) | same, OOF (`metrics.json`) |",
        "|---|---|---|---|---|",
        f"| ROC AUC | {_ci(b['roc_auc'])} | {_ci(li['roc_auc'])} | {_ci(d)} | {oof_text} |",
        f"| AUC / ceiling | {_ci(b['ratio_to_ceiling'])} | {_ci(li['ratio_to_ceiling'])} | | |",
        f"| ECE | {_ci(b['ece'], 4)} | {_ci(li['ece'], 4)} | | |",
        f"| calibration slope | {_ci(b['slope'], 2)} | {_ci(li['slope'], 2)} | | |",
        *(
            [
                f"| expected ROC AUC (environment redrawn) | {_ci(pr['expected']['boosted'])} | "
                f"{_ci(pr['expected']['linear'])} | {_ci(pr['expected']['boosted-linear'])} | |"
            ]
            if pr.get("expected")
            else []
        ),
        "",
        f"The boosted model wins in {d['fraction_above_0']:.0%} of the paired resamples. "
        + (
            "Both folders trained the same models (equal OOF AUCs in their `metrics.json`)."
            if pr["same_training"]["equal"]
            else "**The two folders' trainings differ** (OOF AUCs in their `metrics.json`: "
            + "; ".join(
                f"{kind}'s folder: " + ", ".join(f"{k} {v:.4f}" for k, v in a.items())
                for kind, a in pr["same_training"]["oof_roc_auc"].items()
            )
            + "): the code changed between the runs, or the training is not deterministic."
        ),
        "",
    ]


def expected_lines(t: dict[str, Any]) -> list[str]:
    """The expected-AUC table of one trait (:func:`expected_aucs`)."""
    ex = t.get("expected")
    if not ex:
        return []
    cols = []
    if ex["heldout"] is not None:
        cols.append(("held-out (shipped)", ex["heldout"]["shipped"]))
    cols.append(("OOF (boosted)", ex["oof"]["model"]))
    if "linear_calibrated" in ex["oof"]:
        cols.append(("OOF (linear, calibrated)", ex["oof"]["linear_calibrated"]))
    if ex["heldout"] is not None:
        cols.append(("held-out: true liability", ex["heldout"]["truth"]))
    cols.append(("cohort: true liability", ex["oof"]["truth"]))
    st = ex["oof"]["settings"]
    return [
        f"Expected ROC AUC over {st['n_draws']} redraws of the environmental noise: the same people (their genotypes, "
        "age and sex) get new statuses as the simulator draws them, so one outcome draw's luck, most of the CI above "
        f"at this many cases, averages out; the CI resamples people ({st['n_boot']} resamples of "
        f"{st['draws_per_resample']} draws). 'True liability': the simulated genetic + covariate liability itself.",
        "",
        "| figure | " + " | ".join(n for n, _ in cols) + " |",
        "|---|" + "---|" * len(cols),
        "| expected ROC AUC | " + " | ".join(_ci(c) for _, c in cols) + " |",
        "| expected AUC / ceiling | " + " | ".join(_ci(c["ratio_to_ceiling"]) for _, c in cols) + " |",
        "",
    ]


def trait_section(variant: str, t: dict[str, Any]) -> list[str]:
    h, o, tt = t["heldout"], t["oof"], t["truth"]
    cols = [("held-out (shown risks)", h["figures"])]
    if h["figures_at_cohort_anchoring"] is not None:
        cols.append(("held-out, cohort anchoring", h["figures_at_cohort_anchoring"]))
    cols += [("OOF (model)", o["figures"]), ("OOF (baseline)", o["baseline_figures"])]
    if o.get("linear_calibrated_figures") is not None:
        cols.append(("OOF (baseline, calibrated)", o["linear_calibrated_figures"]))

    def row(name: str, get) -> str:
        return f"| {name} | " + " | ".join(get(c) for _, c in cols) + " |"

    reasons = "; ".join(f'{n} x "{r}"' for r, n in h["withheld_reasons"].items()) or "none"
    mj = o["metrics_json"]["model"]
    ship = t.get("shipped") or {}
    g_heldout = (
        f"{h['auc_of_true_genetic_value']:.3f}"
        if h["auc_of_true_genetic_value"] is not None
        else f"(not computable: patients_truth.tsv has no `{tt['column']}_genetic_value`)"
    )
    return [
        f"### {variant} / {t['trait']} (column `{tt['column']}`; {describe_architecture(tt)})",
        "",
        f"Wray ceiling (truth.json, genetic + covariate variance): **{tt['auc_ceiling']:.3f}** (genetic only "
        f"{tt['auc_ceiling_genetic']:.3f}). Shipped by `model.ship: rule`: **{ship.get('model', 'n/a')}** "
        f"({ship.get('reason', 'no reason recorded')}). The held-out column is that model's.",
        "",
        f"Trained on {o['n_trained_on']:,} people after QC ({o['n_cases']} cases, case fraction "
        f"{o['case_fraction']:.3f}); baseline features: {', '.join(o['baseline_features'] or [])}. "
        f"Withheld by `report.outlier_policy` (withhold): **{h['n_withheld']}** of {h['n_people']:,} held-out "
        f"people ({h['withheld_cases']} of them cases), left out; widened: {h['n_widened']}. Reasons: {reasons}.",
        "",
        "| figure | " + " | ".join(n for n, _ in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("people (cases)", lambda c: f"{c['n']:,} ({c['n_cases']})"),
        row("case fraction / mean risk", lambda c: f"{c['case_fraction']:.3f} / {c['mean_risk']:.3f}"),
        row("ROC AUC (95% CI)", lambda c: _ci(c["roc_auc"])),
        row("AUC / ceiling", lambda c: _ci(c["ratio_to_ceiling"])),
        row("ECE, 10 equal-mass bins", lambda c: _ci(c["ece"], 4)),
        row(
            "ECE if perfectly calibrated (median, p95)",
            lambda c: "{median:.4f}, {p95:.4f}".format(**c["ece_if_perfectly_calibrated"]),
        ),
        row("calibration slope", lambda c: _ci(c["slope"], 2)),
        row("calibration intercept", lambda c: _ci(c["intercept"], 2)),
        row("calibration-in-the-large", lambda c: _ci(c["calibration_in_the_large"], 2)),
        "",
        *expected_lines(t),
        f"The true genetic value ({tt['column']}'s own components) reaches AUC {g_heldout} in these held-out "
        f"people and {o['auc_of_true_genetic_value']:.3f} in the cohort. "
        f"`metrics.json`: boosted model AUC {_ci(_metrics_ci(mj['roc_auc']))}, ECE {mj['ece']['estimate']:.4f}.",
        "",
        *paired_lines(t),
        f"Against the #16 targets ({tt['architecture']}):",
        "",
        *verdicts(t),
        "",
    ]


def _seconds(wall: float | None) -> str:
    return "unknown (reused)" if wall is None or wall != wall else f"{wall:.0f} s"


def write_report(res: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f"{out.name}.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    runs = []
    for variant, v in res["variants"].items():
        parts = [f"{variant}: rule run {_seconds(v['run']['wall_s'])}"]
        parts += [
            f"paired `model.ship: {ship}` rerun {_seconds(r['wall_s'])} (retrained {', '.join(r['retrained'])})"
            for ship, r in v.get("paired_runs", {}).items()
        ]
        trains = [
            f"{t} {s:.0f} s"
            for t, s in {**v.get("train_model_s", {}), **v.get("train_model_s_paired", {})}.items()
            if s is not None
        ]
        if trains:
            parts.append("train_model " + ", ".join(trains))
        runs.append("; ".join(parts))
    loads = [v["run"].get("load_1min_mean") for v in res["variants"].values()]
    loads += [r.get("load_1min_mean") for v in res["variants"].values() for r in v.get("paired_runs", {}).values()]
    first = next(iter(next(iter(res["variants"].values()))["traits"].values()))
    loads_text = ["n/a" if x is None else str(x) for x in loads]
    n_heldout = first["heldout"]["n_people"]
    lines = [
        f"## heldout: {n_heldout:,} simulated held-out people through the patient path, next to the "
        "out-of-fold figures (issue #16 items 4-6)",
        "",
        f"{res['date']}, {res['machine']['cpus']} CPUs ({res['machine']['cpu_model']}) shared with other work: "
        f"load average {res['machine']['load_before']} before, {', '.join(loads_text)} mean during "
        f"the workflow runs, {res['machine']['load_after']} after. Command: `{res['command']}`. Code: "
        f"{res['code']}. Run time: simulation {_seconds(res['simulation']['wall_s'])}; workflow "
        f"(`snakemake --cores {res['cores']}`, cohort to the {n_heldout:,} patient reports): " + ". ".join(runs) + ".",
        "",
        f"One simulation: `config/demo.yaml`'s `simulate:` block (seed {res['simulation']['seed']}) with "
        f"{res['simulation']['n_cohort']:,} cohort people and {n_heldout:,} held-out people of the same population "
        "(CEU), written as ONE multi-sample batch VCF (the patient path prepares one file); every disease of it "
        "is trained and evaluated (traits " + ", ".join(res["traits"]) + "). The workflow runs with the demo's "
        "config (model settings unchanged; PGx off); traits[].prevalence = the simulated K, so shown risks are "
        "re-anchored to it (prior shift) while the OOF predictions are at the cohort's case fraction: the "
        "'cohort anchoring' column undoes the shift.",
        "",
        "CIs: AUC and ECE by a stratified percentile bootstrap (2,000 resamples; the ECE's is biased upwards, so "
        "its estimate can sit at the bottom of it); slope and intercepts are Wald intervals of the logistic "
        "regression of status on logit(risk); calibration-in-the-large is its intercept with logit(risk) as an "
        "offset (0 ideal). 'ECE if perfectly calibrated': the ECE of the same risks against outcomes drawn from "
        "them (2,000 draws), i.e. the ECE's sampling floor for this many people. OOF columns are recomputed from "
        "`results/evaluation/<trait>/oof_predictions.parquet`: 'model' is the boosted model (calibrated "
        "cross-fitted), 'baseline' the strong linear baseline's uncalibrated margin, 'baseline, calibrated' the "
        "same calibrated cross-fitted (what ships when the linear model ships).",
        "",
    ]
    if res.get("paired"):
        lines += [
            "Paired held-out comparison: the rule's run holds the held-out scores of the model it shipped; the "
            "other model's come from a copy of the finished results folder (`cp -a`, config differing only in "
            "`outdir` and `model.ship: boosted|linear`) in which snakemake reran `train_model` of the traits "
            "needing it (`--forcerun` of their training outputs, `--rerun-triggers mtime`: a changed "
            "`model.ship` alone reruns nothing in a copy, which has no Snakemake metadata) and what depends on "
            "it. Dry-run jobs of each rerun: "
            + "; ".join(
                f"{variant} {ship}: "
                + ", ".join(f"{k} {n}" for k, n in r["jobs"].items())
                + (
                    " (without --forcerun: "
                    + (", ".join(f"{k} {n}" for k, n in r["jobs_without_forcerun"].items()))
                    + ")"
                    if r["jobs_without_forcerun"]
                    else " (without --forcerun: nothing)"
                )
                for variant, v in res["variants"].items()
                for ship, r in v.get("paired_runs", {}).items()
            )
            + ". The difference's CI is a stratified paired percentile bootstrap (2,000 resamples, cases and "
            "controls drawn apart, both models scored on each draw).",
            "",
        ]
    for variant, v in res["variants"].items():
        lines += [f"## {variant}: {VARIANTS[variant]}", ""]
        for t in v["traits"].values():
            lines += trait_section(variant, t)
    lines += ["### What the numbers say", "", res.get("discussion", "(not written)"), ""]
    (out.parent / f"{out.name}.md").write_text("\n".join(lines))


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_before": round(os.getloadavg()[0], 2),
    }


def code_state(note: str | None) -> str:
    if note:
        return note
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True)
        state = head.stdout.strip() or "unknown"
        return f"git {state}" + (" with uncommitted changes" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/heldout"))
    parser.add_argument("--n-cohort", type=int, default=3000)
    parser.add_argument("--n-heldout", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configs", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--traits", help="comma-separated trait ids of config/demo.yaml (default: every trait)")
    parser.add_argument(
        "--paired",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score the held-out people with the model the rule did not ship (default: on)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep a finished simulation and runs; only re-score")
    parser.add_argument(
        "--model-setting",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="override a key of the demo config's model: section (repeatable), e.g. in_cohort_score_sizes=[50,5000]",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "heldout", help="writes OUT.json and OUT.md")
    parser.add_argument("--code", help="what code ran (default: the repository's git state)")
    parser.add_argument("--discussion", type=Path, help="a Markdown file: the 'what the numbers say' section")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    variants = [v.strip() for v in args.configs.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown --configs {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    for setting in args.model_setting:
        key, sep, value = setting.partition("=")
        if not sep:
            parser.error(f"--model-setting {setting!r}: expected KEY=VALUE")
        demo["model"] = {**(demo.get("model") or {}), key: yaml.safe_load(value)}
    columns = {t["id"]: t["column"] for t in demo["traits"]}
    trait_ids = [t.strip() for t in args.traits.split(",") if t.strip()] if args.traits else list(columns)
    unknown = sorted(set(trait_ids) - set(columns))
    if unknown or not trait_ids:
        parser.error(f"unknown --traits {', '.join(unknown)} (config/demo.yaml has: {', '.join(columns)})")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    mach = machine()
    runs_path = workdir / "runs.json"
    prev = json.loads(runs_path.read_text()) if args.reuse and runs_path.exists() else {}

    sim_dir = workdir / "sim"
    if args.reuse and (sim_dir / "patients_truth.tsv").exists():
        truth = pd.read_csv(sim_dir / "patients_truth.tsv", sep="\t", dtype={"patient_id": str})
        sim_wall = prev.get("simulation_wall_s")
    else:
        t0 = time.perf_counter()
        truth = simulate_cohort(demo, sim_dir, args.n_cohort, args.n_heldout)
        sim_wall = time.perf_counter() - t0
        log.info("simulated in %.0f s", sim_wall)
    sim_truth = json.loads((sim_dir / "truth.json").read_text())
    record: dict[str, Any] = {
        "simulation_wall_s": None if sim_wall is None else round(sim_wall, 1),
        "runs": dict(prev.get("runs", {})),
    }

    def save_record() -> None:
        runs_path.write_text(json.dumps(record, indent=1) + "\n")

    save_record()

    def finished(folder: Path) -> bool:
        return args.reuse and (folder / "patients" / "intake_check.json").exists()

    # A finished folder of an earlier bench (no runs.json) is re-scored too, its run times unknown.
    no_record = {"wall_s": None, "load_1min_mean": None, "note": "reused; no run record in runs.json"}

    out = {}
    for variant in variants:
        results = results_dir(workdir, variant)
        config = write_workflow_inputs(demo, workdir, truth, variant, trait_ids)
        if finished(results):
            run = record["runs"].get(variant, no_record)
        else:
            run = record["runs"][variant] = run_workflow(workdir, config, args.cores)
            save_record()
            log.info("%s: workflow in %.0f s", variant, run["wall_s"])
        entry: dict[str, Any] = {"run": run, "paired_runs": {}}
        entry["train_model_s"] = {t: train_seconds(results, t) for t in trait_ids}
        shipped = {t: shipped_model(results, t) for t in trait_ids}
        sources: dict[str, dict[str, Path]] = {t: {shipped[t]: results} for t in trait_ids}
        if args.paired:
            for ship in ("boosted", "linear"):
                retrain = [t for t in trait_ids if shipped[t] != ship]
                if not retrain:
                    continue
                key = f"{variant}/ship_{ship}"
                folder = results_dir(workdir, variant, ship)
                if finished(folder) and all(shipped_model(folder, t) == ship for t in retrain):
                    entry["paired_runs"][ship] = record["runs"].get(
                        key, {**no_record, "retrained": retrain, "jobs": {}, "jobs_without_forcerun": {}}
                    )
                else:
                    entry["paired_runs"][ship] = record["runs"][key] = run_paired_copy(
                        demo, workdir, truth, variant, trait_ids, ship, retrain, args.cores
                    )
                    save_record()
                for t in retrain:
                    sources[t][ship] = folder
            entry["train_model_s_paired"] = {
                f"{t} ({ship})": train_seconds(results_dir(workdir, variant, ship), t)
                for ship, r in entry["paired_runs"].items()
                for t in r["retrained"]
            }
        entry["traits"] = {
            t: score_trait(workdir, variant, t, columns[t], truth, sim_truth, sources[t] if args.paired else None)
            for t in trait_ids
        }
        out[variant] = entry
    save_record()

    res = {
        "command": "nice .venv/bin/python bench/heldout.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code": code_state(args.code),
        "machine": {**mach, "load_after": round(os.getloadavg()[0], 2)},
        "cores": args.cores,
        "simulation": {
            "seed": sim_truth.get("seed", demo["simulate"]["seed"]),
            "n_cohort": sim_truth.get("n_cohort", args.n_cohort),
            "wall_s": None if sim_wall is None else round(sim_wall, 1),
        },
        "traits": trait_ids,
        "paired": args.paired,
        "variants": out,
    }
    if args.discussion:
        res["discussion"] = args.discussion.read_text().strip()
    out_path = args.out if args.out.is_absolute() else Path.cwd() / args.out
    write_report(res, out_path)
    print((out_path.parent / f"{out_path.name}.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
