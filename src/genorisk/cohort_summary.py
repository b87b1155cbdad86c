"""The cohort summary: the cohort report's input, aggregate figures only.

:func:`cohort_summary` gathers the cohort's QC counts, the polygenic scores'
match rates, the cross-validated performance (ROC and calibration curves from
:mod:`genorisk.model.metrics`) and the feature importance into the dict that
``src/genorisk/schemas/cohort_report.schema.json`` describes. It never holds a
per-person row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk import __version__
from genorisk.model.metrics import calibration_curve, roc_points
from genorisk.results import model_summary


def _distribution(values: Iterable[float | None]) -> dict[str, float] | None:
    """Min, median and max of the non-None values; None when there are none."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(values):
        return None
    return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}


def cohort_summary(
    *,
    name: str,
    phenotypes: pd.DataFrame,
    qc_summary: Mapping[str, Any],
    sample_qc: pd.DataFrame,
    schema: Mapping[str, Any],
    card: Mapping[str, Any],
    oof: pd.DataFrame,
    importance: list[dict[str, Any]],
    patient_results: list[Mapping[str, Any]],
    min_match_rate: float,
    refused_patients: list[Mapping[str, Any]] | None = None,
    score_audit: pd.DataFrame | None = None,
    cohort_pcs: np.ndarray | None = None,
    reference_pcs: np.ndarray | None = None,
) -> dict[str, Any]:
    """The cohort report's input (``cohort_report.schema.json``): aggregates only, no per-person rows.

    ``oof`` holds the out-of-fold predictions (columns ``y``, ``model`` and
    the baselines'); ``patient_results`` the scored patients' results (for the
    distribution of their model-variant coverage). ``refused_patients`` are
    the :func:`genorisk.patient_files.refusal` records of patients whose VCF was
    refused: the one exception to "no per-person rows", a line each (patient
    ID, sample-sheet line, file name, record, problem; no genotype, no
    result), so whoever runs the cohort sees who got no report and why.
    ``score_audit`` (:func:`genorisk.scores.audit_reason_counts` of the
    ``results/scores/<score>.audit.tsv`` files, indexed by score id) adds each
    score's unmatched variants by reason, next to its match rate.
    ``cohort_pcs`` (the cohort's ancestry PC1 and PC2) become a 2-D
    histogram, never points; ``reference_pcs`` (the public reference panel)
    and the patients' PCs (from their results) are points without IDs.
    """
    metrics = card.get("metrics", {})
    y = oof["y"].to_numpy()
    baselines = []
    for key, label in [("baseline", "Logistic regression: " + ", ".join(metrics.get("baseline_features", [])))]:
        if key in oof and metrics.get(key):
            m = metrics[key]["roc_auc"]
            baselines.append(
                {
                    "name": label,
                    "auc": m["estimate"],
                    "auc_ci": [m["ci_low"], m["ci_high"]],
                    "roc": roc_points(y, oof[key].to_numpy()),
                }
            )
    failures: dict[str, int] = {}
    for reason, n in qc_summary.get("samples_excluded_by_reason", {}).items():
        failures[reason.replace("_", " ")] = int(n)
    sex = {"consistent": 0, "mismatch": 0, "unknown": 0, **qc_summary.get("sex_check", {})}
    scores = []
    warnings = []
    for f in schema["features"]:
        if f["kind"] == "pgs":
            d = f["definition"]
            scores.append(
                {
                    "id": d["score_id"],
                    "n_variants": d["n_variants"],
                    "n_matched": d["n_matched"],
                    "match_rate": d["match_rate"],
                    "used": d["match_rate"] >= min_match_rate,
                    **({"unmatched": _unmatched(score_audit, d["score_id"])} if score_audit is not None else {}),
                }
            )
    if not len(scores):
        warnings.append("No polygenic score was configured; the model uses genotype dosages and covariates only.")
    trait = card.get("trait") or {}
    n_cases = int(phenotypes[trait.get("column", "status")].sum())
    outliers = [r["qc"].get("ancestry_outlier") for r in patient_results]
    return {
        "schema_version": "2",
        "cohort": {
            "name": name,
            "n_samples": int(len(phenotypes)),
            "n_cases": n_cases,
            "n_controls": int(len(phenotypes)) - n_cases,
        },
        "qc": {
            "n_samples": int(qc_summary.get("n_samples", len(phenotypes))),
            "n_passed": int(qc_summary.get("n_samples", len(phenotypes)) - qc_summary.get("n_samples_excluded", 0)),
            "failures": [{"reason": r, "n": n} for r, n in sorted(failures.items())],
            "call_rate": _distribution(sample_qc["call_rate"]) if "call_rate" in sample_qc else None,
            "model_variant_coverage": _distribution(r["qc"]["model_variant_coverage"] for r in patient_results),
            "sex_check": {k: int(v) for k, v in sex.items() if k in ("consistent", "mismatch", "unknown")},
            "n_ancestry_outliers": sum(bool(o) for o in outliers) if any(o is not None for o in outliers) else None,
        },
        "scores": scores or None,
        "model": model_summary(card),
        "performance": {
            "evaluation": f"{card.get('config', {}).get('n_folds', '?')}-fold stratified cross-validation; "
            "out-of-fold predictions, calibrated across folds",
            "roc": roc_points(y, oof["model"].to_numpy()),
            "calibration": calibration_curve(y, oof["model"].to_numpy()),
            "baselines": baselines,
            "metrics": {name: _metric_set(metrics.get(name)) for name in ("model", "baseline")},
            "auc_difference": _estimate(metrics.get("roc_auc_difference", {}).get("model-baseline")),
        },
        "trait": {k: trait.get(k) for k in ("id", "name", "prevalence", "population", "time_frame")} if trait else None,
        "ancestry_map": _ancestry_map(cohort_pcs, reference_pcs, patient_results),
        "ancestry_limit": _limit(card.get("ancestry_limit")),
        "risk_status": {
            status: sum(r["risk"].get("status", "shown") == status for r in patient_results)
            for status in ("shown", "widened", "withheld")
        },
        "feature_importance": importance or None,
        "patients": {
            "n_reported": len(patient_results),
            "n_flagged_qc": sum(bool((r["qc"].get("cohort_range_check") or {}).get("flags")) for r in patient_results),
            "refused": [
                {
                    "patient_id": e["patient_id"],
                    "sheet_line": e.get("sheet_line"),
                    "file": Path(e["file"]).name,
                    "record": e.get("record"),
                    "problem": e["problem"],
                }
                for e in refused_patients or []
            ],
        },
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }


def _unmatched(score_audit: pd.DataFrame, score_id: str) -> list[dict[str, Any]]:
    """The score's unmatched variants by reason (reasons with none left out), from its audit."""
    from genorisk.scores import UNMATCHED_REASONS

    if score_id not in score_audit.index:
        return []
    row = score_audit.loc[score_id, list(UNMATCHED_REASONS)].astype(int)
    counts = {r: int(n) for r, n in zip(UNMATCHED_REASONS, row.to_numpy(), strict=True)}
    return [{"reason": r, "n": n} for r, n in counts.items() if n]


def _estimate(entry: Mapping[str, Any] | None) -> dict[str, float] | None:
    """``{"estimate", "ci_low", "ci_high"}`` of a metrics.json entry, or None."""
    if not entry or entry.get("estimate") is None:
        return None
    return {k: float(entry[k]) for k in ("estimate", "ci_low", "ci_high") if entry.get(k) is not None}


def _metric_set(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """ROC AUC, PR AUC, Brier and ECE (each estimate and CI) of one model's metrics.json entry."""
    if not entry:
        return None
    return {name: _estimate(entry.get(name)) for name in ("roc_auc", "pr_auc", "brier", "ece")}


def _limit(limit: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ancestry limit as the model card states it (no per-person value)."""
    if not limit:
        return None
    keys = ("threshold", "in_sample_threshold", "outlier_rate", "heldout_flag_rate", "heldout_folds", "method", "n_pcs")
    return {k: limit[k] for k in keys if k in limit}


def _ancestry_map(
    cohort_pcs: np.ndarray | None, reference_pcs: np.ndarray | None, patient_results: list[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """PC1 x PC2: the cohort as a 24 x 24 histogram, the reference panel and the patients as points (no IDs)."""
    if cohort_pcs is None or len(cohort_pcs) == 0 or np.asarray(cohort_pcs).shape[1] < 2:
        return None
    xy = np.asarray(cohort_pcs, dtype=float)[:, :2]
    counts, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=24)
    patients = sorted(
        [round(float(p[0]), 5), round(float(p[1]), 5)]
        for r in patient_results
        if (p := r["qc"].get("ancestry_pcs")) and len(p) >= 2
    )  # sorted: the order of the points says nothing about who is who
    return {
        "pcs": ["PC1", "PC2"],
        "cohort_density": {
            "x_edges": [float(v) for v in xe],
            "y_edges": [float(v) for v in ye],
            "counts": [[int(c) for c in row] for row in counts],
        },
        "reference": None
        if reference_pcs is None
        else [[round(float(a), 5), round(float(b), 5)] for a, b in np.asarray(reference_pcs, dtype=float)[:, :2]],
        "patients": patients,
    }
