#!/usr/bin/env python3
"""Held-out truth: 1,000 simulated people scored through the patient path, next to the OOF figures.

Usage::

    nice .venv/bin/python bench/heldout.py [--workdir /tmp/heldout] [--n-cohort 3000]
        [--n-heldout 1000] [--cores 2] [--reuse]

Issue #16 item 4. Steps:

1. **Simulate** (in this process, :func:`genorisk.simulate.simulate`) the demo's
   cohort from ``config/demo.yaml``'s ``simulate:`` block (``--n-cohort``
   people; its own folder ``WORKDIR/sim``) plus ``--n-heldout`` held-out people
   of the cohort's population, written as ONE multi-sample batch VCF
   (``heldout.vcf.gz``: every sheet row names the same file,
   :func:`genorisk.simulate.run.patient_vcf_groups`), so the patient path
   prepares one file. Their truth (liability, genetic value, status, age,
   sex) is the simulation's ``patients_truth.tsv``.
2. **Run the workflow** (``snakemake --cores N``) on a copy of the demo config
   without its ``simulate:`` block (the files exist), pointed at those files,
   with a patient sheet giving each held-out person's recorded age and sex,
   PGx off (``pgx.enabled: false``), ``outdir: WORKDIR/results``. The model
   and its settings are the demo's; traits[].prevalence stays 0.1 (the
   simulated prevalence), so each shown risk is re-anchored to it.
3. **Score**: each held-out person's ``risk`` from
   ``results/patients/<id>/report.json``. Risks withheld by
   ``report.outlier_policy`` are counted and left out. Against the true
   status: ROC AUC (stratified bootstrap CI), ECE (10 equal-mass bins, the
   model's own :func:`genorisk.model.metrics.expected_calibration_error`),
   calibration slope and intercept (logistic regression of status on
   logit(risk); Wald CIs) and calibration-in-the-large, the Wray ceiling from
   ``truth.json`` (``auc_ceiling``) and the ratio to it; the same from the
   model's out-of-fold predictions (``results/evaluation/<trait>/oof_predictions.parquet``,
   ``results/model/<trait>/metrics.json``), side by side.

``--reuse`` keeps a finished simulation and workflow run in ``--workdir`` and
only re-scores. Writes ``bench/results/heldout.json`` and ``.md``.
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
# Workflow configs run on the same simulation, each in its own outdir.
VARIANTS = {
    "demo": "the demo's config, with its simulated external PGS (weights of a 100,000-person GWAS)",
    "no_external_score": "the same without the external score (`scores: []`, the setting of #16's targets; "
    "the baseline is covariates + PCs)",
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


#: The one trait the benchmark trains (config/demo.yaml's first).
TRAIT_ID = "demo_disease"


def results_dir(workdir: Path, variant: str) -> Path:
    """The workflow's ``outdir`` of one variant."""
    return workdir / ("results" if variant == "demo" else f"results_{variant}")


def write_workflow_inputs(demo: dict[str, Any], workdir: Path, truth: pd.DataFrame, variant: str) -> Path:
    """The variant's config (the demo's, pointed at the simulated files) and the patient sheet; returns the config."""
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
    cfg["outdir"] = str(results_dir(workdir, variant))
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
    # The first disease only (additive, status): its held-out labels are patients_truth.tsv's status.
    cfg["traits"] = [dict(demo["traits"][0], scores=None)]
    cfg["ancestry"] = dict(demo["ancestry"], reference_panel=str(sim / "ancestry_panel.vcf.gz"))
    cfg["pgx"] = {"enabled": False}
    cfg["report"] = dict(demo.get("report", {}), cohort_name="held-out benchmark cohort (simulated)")
    path = workdir / f"config.{variant}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_workflow(workdir: Path, config: Path, cores: int) -> dict[str, Any]:
    """``snakemake --cores`` in ``workdir``; wall time and the load average sampled every 15 s."""
    argv = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--configfile", str(config), "--cores", str(cores)]
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


def read_heldout_risks(results: Path, ids: list[str]) -> pd.DataFrame:
    """Each held-out person's shown risk, its status (shown/withheld/widened) and anchoring."""
    rows = []
    for pid in ids:
        path = results / "patients" / pid / "report.json"
        if not path.exists():
            rows.append({"patient_id": pid, "status_shown": "no report", "risk": np.nan})
            continue
        risk = json.loads(path.read_text())["traits"][0]["risk"]  # the one trait (schema 4)
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


def score(workdir: Path, variant: str, truth: pd.DataFrame) -> dict[str, Any]:
    """The held-out and OOF figures of one variant's run."""
    results = results_dir(workdir, variant)
    sim_truth = json.loads((workdir / "sim" / "truth.json").read_text())
    ceiling = float(sim_truth["auc_ceiling"])
    risks = read_heldout_risks(results, truth["patient_id"].tolist())
    merged = truth.merge(risks, on="patient_id", how="left")
    shown = merged["risk"].notna().to_numpy()
    y = merged["status"].to_numpy(dtype=int)
    p = merged["risk"].to_numpy(dtype=float)
    trait = TRAIT_ID
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
    # The truth's own predictor (the true genetic value) in the same people: what any model could reach there.
    cohort_truth = pd.read_csv(workdir / "sim" / "cohort_truth.tsv", sep="\t").set_index("sample_id")
    # The first disease's genetic components (a second simulated disease adds status_b_* columns).
    genetic_cols = [c for c in ("additive", "burden", "dominance", "epistasis", "gxage") if c in cohort_truth.columns]
    cohort_g = cohort_truth.loc[oof.index, genetic_cols].sum(axis=1).to_numpy()
    reasons = withheld["withheld_reason"].fillna(withheld["status_shown"]).map(reason_kind)
    return {
        "config": variant,
        "heldout": {
            "n_people": int(len(merged)),
            "n_withheld": int((~shown).sum()),
            "withheld_reasons": reasons.value_counts().to_dict(),
            "withheld_cases": int(withheld["status"].sum()),
            "n_widened": int((merged["status_shown"] == "widened").sum()),
            "anchoring": sorted(anchorings),
            "prevalence_shown": sorted(prevalences),
            "auc_of_true_genetic_value": float(roc_auc_score(y[shown], merged["genetic_value"].to_numpy()[shown])),
            "figures": heldout,
            "figures_at_cohort_anchoring": heldout_cohort_anchor,
        },
        "oof": {
            "n_trained_on": metrics["data"]["n_samples"],
            "n_cases": metrics["data"]["n_cases"],
            "n_features": metrics["data"].get("n_features"),
            "baseline_features": metrics.get("baseline_features"),
            "case_fraction": cohort_rate,
            "auc_of_true_genetic_value": float(roc_auc_score(y_oof, cohort_g)),
            "figures": oof_fig,
            "baseline_figures": oof_baseline,
            "metrics_json": {k: metrics[k] for k in ("model", "baseline", "roc_auc_difference") if k in metrics},
            "evaluation": metrics.get("evaluation"),
        },
    }


# --- report ------------------------------------------------------------------------------


def _ci(d: dict[str, Any], digits: int = 3) -> str:
    return f"{d['estimate']:.{digits}f} ({d['ci'][0]:.{digits}f}-{d['ci'][1]:.{digits}f})"


def _metrics_ci(d: dict[str, float]) -> dict[str, Any]:
    """A metrics.json figure (estimate, ci_low, ci_high) as estimate + ci."""
    return {"estimate": d["estimate"], "ci": [d["ci_low"], d["ci_high"]]}


def verdicts(v: dict[str, Any]) -> list[str]:
    """One line per #16 target: the figure, its CI and met or missed by how much."""
    h, o = v["heldout"]["figures"], v["oof"]["figures"]
    r_h, r_o = h["ratio_to_ceiling"], o["ratio_to_ceiling"]
    e, s = h["ece"], h["slope"]
    lo, hi = TARGET_SLOPE
    floor = h["ece_if_perfectly_calibrated"]
    return [
        f"- held-out AUC / ceiling {_ci(r_h)} against >= {TARGET_RATIO_HELDOUT}: "
        + (
            "met"
            if r_h["estimate"] >= TARGET_RATIO_HELDOUT
            else f"missed by {TARGET_RATIO_HELDOUT - r_h['estimate']:.3f}"
        ),
        f"- OOF AUC / ceiling {_ci(r_o)} against >= {TARGET_RATIO_OOF}: "
        + ("met" if r_o["estimate"] >= TARGET_RATIO_OOF else f"missed by {TARGET_RATIO_OOF - r_o['estimate']:.3f}"),
        f"- held-out ECE {_ci(e, 4)} against < {TARGET_ECE}: "
        + ("met" if e["estimate"] < TARGET_ECE else f"missed by {e['estimate'] - TARGET_ECE:.4f}")
        + f" (a perfectly calibrated model would show {floor['median']:.4f} here, 95th percentile {floor['p95']:.4f})",
        f"- held-out calibration slope {_ci(s, 2)} against {lo}-{hi}: "
        + (
            "met (point estimate)"
            if lo <= s["estimate"] <= hi
            else f"missed ({'above' if s['estimate'] > hi else 'below'})"
        ),
    ]


def variant_section(v: dict[str, Any]) -> list[str]:
    h, o = v["heldout"], v["oof"]
    cols = [("held-out (shown risks)", h["figures"])]
    if h["figures_at_cohort_anchoring"] is not None:
        cols.append(("held-out, cohort anchoring", h["figures_at_cohort_anchoring"]))
    cols += [("OOF (model)", o["figures"]), ("OOF (baseline)", o["baseline_figures"])]

    def row(name: str, get) -> str:
        return f"| {name} | " + " | ".join(get(c) for _, c in cols) + " |"

    reasons = "; ".join(f'{n} x "{r}"' for r, n in h["withheld_reasons"].items()) or "none"
    mj = o["metrics_json"]["model"]
    return [
        f"### {v['config']}: {VARIANTS[v['config']]}",
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
        f"The true genetic value reaches AUC {h['auc_of_true_genetic_value']:.3f} in these held-out people and "
        f"{o['auc_of_true_genetic_value']:.3f} in the cohort. "
        f"`metrics.json`: model AUC {_ci(_metrics_ci(mj['roc_auc']))}, "
        f"ECE {mj['ece']['estimate']:.4f}.",
        "",
        "Against the #16 targets (additive):",
        "",
        *verdicts(v),
        "",
    ]


def write_report(res: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "heldout.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    runs = "; ".join(f"{k} {v['run']['wall_s']:.0f} s" for k, v in res["variants"].items())
    first = next(iter(res["variants"].values()))
    n_heldout = first["heldout"]["n_people"]
    lines = [
        f"## heldout: {n_heldout:,} simulated held-out people through the patient path, next to the "
        "out-of-fold figures (issue #16 item 4)",
        "",
        f"{res['date']}, {res['machine']['cpus']} CPUs ({res['machine']['cpu_model']}) shared with other work: "
        f"load average {res['machine']['load_before']} before, "
        + ", ".join(f"{v['run'].get('load_1min_mean')}" for v in res["variants"].values())
        + f" mean during the workflow runs. Command: `{res['command']}`. Code: {res['code']}. "
        f"Run time: simulation {res['simulation']['wall_s']:.0f} s; workflow (`snakemake --cores {res['cores']}`, "
        f"cohort to the {n_heldout:,} patient reports) {runs}.",
        "",
        f"One simulation: `config/demo.yaml`'s `simulate:` block (seed {res['simulation']['seed']}, additive, "
        f"h2 0.4 + burden 0.05, K 0.1) with {res['simulation']['n_cohort']:,} cohort people and {n_heldout:,} "
        "held-out people of the same population (CEU), written as ONE multi-sample batch VCF (the patient path "
        "prepares one file). The workflow runs with the demo's config (model settings unchanged; PGx off); "
        "traits[].prevalence 0.1 = the simulated K, so shown risks are re-anchored to 0.1 (prior shift) while "
        "the OOF predictions are at the cohort's case fraction: the second column undoes the shift. "
        "Wray ceiling (truth.json `auc_ceiling`, genetic + covariate variance): "
        f"**{res['ceiling']['auc_ceiling']:.3f}** "
        f"(genetic only {res['ceiling']['auc_ceiling_genetic']:.3f}).",
        "",
        "CIs: AUC and ECE by a stratified percentile bootstrap (2,000 resamples; the ECE's is biased upwards, so "
        "its estimate can sit at the bottom of it); slope and intercepts are Wald intervals of the logistic "
        "regression of status on logit(risk); calibration-in-the-large is its intercept with logit(risk) as an "
        "offset (0 ideal). 'ECE if perfectly calibrated': the ECE of the same risks against outcomes drawn from "
        "them (2,000 draws), i.e. the ECE's sampling floor for this many people. OOF columns are recomputed from "
        "`results/evaluation/<trait>/oof_predictions.parquet`.",
        "",
    ]
    for v in res["variants"].values():
        lines += variant_section(v)
    lines += ["### What the numbers say", "", res.get("discussion", "(not written)"), ""]
    (RESULTS / "heldout.md").write_text("\n".join(lines))


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
    parser.add_argument("--reuse", action="store_true", help="keep a finished simulation and runs; only re-score")
    parser.add_argument("--code", help="what code ran (default: the repository's git state)")
    parser.add_argument("--discussion", type=Path, help="a Markdown file: the 'what the numbers say' section")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    variants = [v.strip() for v in args.configs.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown --configs {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    mach = machine()
    previous = RESULTS / "heldout.json"
    prev = json.loads(previous.read_text()) if args.reuse and previous.exists() else {}

    sim_dir = workdir / "sim"
    if args.reuse and (sim_dir / "patients_truth.tsv").exists():
        truth = pd.read_csv(sim_dir / "patients_truth.tsv", sep="\t", dtype={"patient_id": str})
        sim_wall = prev.get("simulation", {}).get("wall_s", float("nan"))
    else:
        t0 = time.perf_counter()
        truth = simulate_cohort(demo, sim_dir, args.n_cohort, args.n_heldout)
        sim_wall = time.perf_counter() - t0
        log.info("simulated in %.0f s", sim_wall)

    out = {}
    for variant in variants:
        config = write_workflow_inputs(demo, workdir, truth, variant)
        prev_run = prev.get("variants", {}).get(variant, {}).get("run")
        if args.reuse and (results_dir(workdir, variant) / "patients" / "intake_check.json").exists() and prev_run:
            run = prev_run
        else:
            run = run_workflow(workdir, config, args.cores)
            log.info("%s: workflow in %.0f s", variant, run["wall_s"])
        out[variant] = {**score(workdir, variant, truth), "run": run}

    sim_truth = json.loads((sim_dir / "truth.json").read_text())
    res = {
        "command": "nice .venv/bin/python bench/heldout.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code": code_state(args.code),
        "machine": {**mach, "load_after": round(os.getloadavg()[0], 2)},
        "cores": args.cores,
        "simulation": {"seed": demo["simulate"]["seed"], "n_cohort": args.n_cohort, "wall_s": round(sim_wall, 1)},
        "ceiling": {k: sim_truth[k] for k in ("auc_ceiling", "auc_ceiling_genetic", "case_fraction")},
        "variants": out,
    }
    if args.discussion:
        res["discussion"] = args.discussion.read_text().strip()
    write_report(res)
    print((RESULTS / "heldout.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
