"""The cohort summary: the cohort report's input, aggregate figures only.

:func:`cohort_summary` gathers the cohort-level parts once (the cohort's QC
counts, the ancestry map, every polygenic score's match rate, the patients of
the run) and one section per trait (:func:`trait_summary`: the trait, its
cases and controls, the model against its baseline, ROC, precision-recall and
calibration curves from the out-of-fold predictions, PR AUC, ECE and Brier
score, feature importance, the trait's scores and its patients' coverage and
risk status) into the dict that ``src/genorisk/schemas/cohort_report.schema.json``
(schema 3) describes. It never holds a per-person row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk import __version__
from genorisk.model.metrics import calibration_curve, roc_points
from genorisk.results import model_summary

#: 3 (issue #13): per-trait sections (``traits``), cohort-level QC, scores and ancestry map once, PR curves.
#: 2 (0.3): trait, performance.metrics and auc_difference, ancestry_map, ancestry_limit, risk_status.
COHORT_SCHEMA_VERSION = "3"


def _distribution(values: Iterable[float | None]) -> dict[str, float] | None:
    """Min, median and max of the non-None values; None when there are none."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(values):
        return None
    return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}


def pr_points(y: np.ndarray, p: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """Precision-recall curve thinned to at most ``max_points`` points, recall from 0 to 1.

    Parameters
    ----------
    y : ndarray, shape (n,)
        0/1 outcomes (at least one case).
    p : ndarray, float, shape (n,)
        Scores (higher = more likely a case).
    max_points : int
        Points kept, evenly spaced along the curve's thresholds.

    Returns
    -------
    dict
        ``recall`` (non-decreasing) and ``precision``, lists of floats rounded
        to 5 decimals, and ``case_fraction`` (the precision of chance).
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    precision, recall = precision[::-1], recall[::-1]  # recall from 0 up
    if len(recall) > max_points:
        keep = np.unique(np.linspace(0, len(recall) - 1, max_points).round().astype(int))
        precision, recall = precision[keep], recall[keep]
    curve: dict[str, Any] = {
        "recall": [round(float(v), 5) for v in recall],
        "precision": [round(float(v), 5) for v in precision],
        "case_fraction": round(float(np.mean(y)), 6),
    }
    return curve


def _score_entry(d: Mapping[str, Any], min_match_rate: float) -> dict[str, Any]:
    return {
        "id": d["score_id"],
        "n_variants": int(d["n_variants"]),
        "n_matched": int(d["n_matched"]),
        "match_rate": float(d["match_rate"]),
        "used": bool(d["match_rate"] >= min_match_rate),
    }


def _trait_scores(schema: Mapping[str, Any], min_match_rate: float) -> list[dict[str, Any]]:
    """The trait's polygenic scores (its feature schema's pgs features) with their match rates."""
    return [_score_entry(f["definition"], min_match_rate) for f in schema["features"] if f["kind"] == "pgs"]


def _trait_entries(patient_results: Sequence[Mapping[str, Any]], trait_id: str) -> list[Mapping[str, Any]]:
    """Every patient's result for one trait (schema 4 ``traits`` entries)."""
    return [e for r in patient_results for e in r["traits"] if e["trait"]["id"] == trait_id]


def trait_summary(
    *,
    phenotypes: pd.DataFrame,
    schema: Mapping[str, Any],
    card: Mapping[str, Any],
    oof: pd.DataFrame,
    importance: list[dict[str, Any]] | None,
    patient_results: Sequence[Mapping[str, Any]],
    min_match_rate: float,
    trait_id: str | None = None,
) -> dict[str, Any]:
    """One trait's section of the cohort summary (aggregates only).

    Parameters
    ----------
    phenotypes : pandas.DataFrame
        The cohort's phenotype table (:func:`genorisk.config.read_phenotypes`),
        with the trait's column (``card["trait"]["column"]``).
    schema, card : mapping
        The trait's ``features.schema.json`` and ``model_card.json``.
    oof : pandas.DataFrame
        Out-of-fold predictions: ``y``, ``model`` and the baseline's (``baseline``).
    importance : list of dict or None
        ``feature_importance.json``.
    patient_results : sequence of mapping
        The run's patient results (schema 4); this trait's entries give the
        model-coverage distribution, the ancestry flags and the risk status counts.
    min_match_rate : float
        A score below it was not used.
    trait_id : str, optional
        The trait's id (rule param); must agree with the model card's.

    Raises
    ------
    ValueError
        If ``trait_id`` is not the model card's trait.
    """
    metrics = card.get("metrics", {})
    trait = dict(card.get("trait") or {})
    tid = trait.get("id", trait_id or "status")
    if trait_id is not None and tid != trait_id:
        raise ValueError(f"the model card is for trait {tid!r}, expected {trait_id!r}")
    y = oof["y"].to_numpy()
    baselines = []
    if "baseline" in oof and metrics.get("baseline"):
        m = metrics["baseline"]["roc_auc"]
        baselines.append(
            {
                "name": "Logistic regression: " + ", ".join(metrics.get("baseline_features", [])),
                "auc": m["estimate"],
                "auc_ci": [m["ci_low"], m["ci_high"]],
                "roc": roc_points(y, oof["baseline"].to_numpy()),
                "pr": pr_points(y, oof["baseline"].to_numpy()),
            }
        )
    column = trait.get("column", "status")
    status = pd.Series(pd.to_numeric(pd.Series(phenotypes[column]), errors="coerce")) if column in phenotypes else None
    known = status.dropna() if status is not None else pd.Series(dtype=float)
    n_cases = int((known == 1).sum())
    entries = _trait_entries(patient_results, tid)
    outliers = [e["coverage"].get("ancestry_outlier") for e in entries]
    scores = _trait_scores(schema, min_match_rate)
    warnings = []
    if not scores:
        warnings.append(
            "No polygenic score was configured for this trait; its model uses genotype dosages and covariates only."
        )
    warnings += [
        f"Polygenic score {s['id']} matched {s['match_rate']:.1%} of its variants (below {min_match_rate:.0%}) "
        "and was left out of this trait's model."
        for s in scores
        if not s["used"]
    ]
    return {
        "trait": {
            "id": tid,
            "name": trait.get("name", "the condition"),
            "prevalence": trait.get("prevalence"),
            "population": trait.get("population"),
            "time_frame": trait.get("time_frame"),
        },
        "cohort": {"n_samples": int(len(known)), "n_cases": n_cases, "n_controls": int(len(known)) - n_cases},
        "model": model_summary(card),
        "performance": {
            "evaluation": f"{card.get('config', {}).get('n_folds', '?')}-fold stratified cross-validation; "
            "out-of-fold predictions, calibrated across folds",
            "roc": roc_points(y, oof["model"].to_numpy()),
            "pr": pr_points(y, oof["model"].to_numpy()),
            "calibration": calibration_curve(y, oof["model"].to_numpy()),
            "baselines": baselines,
            "metrics": {name: _metric_set(metrics.get(name)) for name in ("model", "baseline")},
            "auc_difference": _estimate(metrics.get("roc_auc_difference", {}).get("model-baseline")),
        },
        "scores": scores or None,
        "feature_importance": importance or None,
        "ancestry_limit": _limit(card.get("ancestry_limit")),
        "patients": {
            "model_variant_coverage": _distribution(e["coverage"]["model_variant_coverage"] for e in entries),
            "n_ancestry_outliers": sum(bool(o) for o in outliers) if any(o is not None for o in outliers) else None,
            "risk_status": {
                s: sum(e["risk"].get("status", "shown") == s for e in entries) for s in ("shown", "widened", "withheld")
            },
        },
        "warnings": warnings,
    }


def cohort_summary(
    *,
    name: str,
    phenotypes: pd.DataFrame,
    qc_summary: Mapping[str, Any],
    sample_qc: pd.DataFrame,
    traits: Sequence[Mapping[str, Any]],
    patient_results: list[Mapping[str, Any]],
    min_match_rate: float,
    refused_patients: list[Mapping[str, Any]] | None = None,
    score_audit: pd.DataFrame | None = None,
    cohort_pcs: np.ndarray | None = None,
    reference_pcs: np.ndarray | None = None,
) -> dict[str, Any]:
    """The cohort report's input (``cohort_report.schema.json``, schema 3): aggregates only, no per-person rows.

    Parameters
    ----------
    name : str
        The cohort's name (config ``report.cohort_name``).
    phenotypes : pandas.DataFrame
        The phenotype table, with every trait's column.
    qc_summary, sample_qc
        The cohort QC's summary and per-sample table (only aggregates are kept).
    traits : sequence of mapping
        Per trait, in trait order: ``schema``, ``card``, ``oof``, ``importance``
        and optionally ``id`` (see :func:`trait_summary`).
    patient_results : list of mapping
        The run's patient results (schema 4): their positions on the ancestry
        map (``qc.ancestry_pcs``, points without IDs) and, per trait, coverage
        and risk status.
    min_match_rate : float
        Config ``features.min_match_rate``.
    refused_patients : list of mapping, optional
        :func:`genorisk.patient_files.refusal` records of patients whose VCF
        was refused: the one exception to "no per-person rows", a line each
        (patient ID, sample-sheet line, file name, record, problem; no
        genotype, no result), so whoever runs the cohort sees who got no
        report and why.
    score_audit : pandas.DataFrame, optional
        :func:`genorisk.scores.audit_reason_counts` of every score's audit
        (indexed by score id): the cohort-level score table (match rates and
        unmatched variants by reason), whichever trait uses the score.
    cohort_pcs, reference_pcs : ndarray, optional
        The cohort's ancestry PC1/PC2 (become a 2-D histogram, never points)
        and the reference panel's (points without IDs).

    Returns
    -------
    dict
        ``schema_version``, ``cohort``, ``qc``, ``scores``, ``ancestry_map``,
        ``patients``, ``traits`` (one :func:`trait_summary` each),
        ``warnings`` and ``generated_by``.
    """
    if not traits:
        raise ValueError("cohort_summary needs at least one trait")
    sections = [
        trait_summary(
            phenotypes=phenotypes,
            schema=t["schema"],
            card=t["card"],
            oof=t["oof"],
            importance=t.get("importance"),
            patient_results=patient_results,
            min_match_rate=min_match_rate,
            trait_id=t.get("id"),
        )
        for t in traits
    ]
    failures: dict[str, int] = {}
    for reason, n in qc_summary.get("samples_excluded_by_reason", {}).items():
        failures[reason.replace("_", " ")] = int(n)
    sex = {"consistent": 0, "mismatch": 0, "unknown": 0, **qc_summary.get("sex_check", {})}
    scores = _cohort_scores(sections, score_audit, min_match_rate)
    warnings = []
    if not scores:
        warnings.append("No polygenic score was configured; the models use genotype dosages and covariates only.")
    return {
        "schema_version": COHORT_SCHEMA_VERSION,
        "cohort": {"name": name, "n_samples": int(len(phenotypes)), "n_traits": len(sections)},
        "qc": {
            "n_samples": int(qc_summary.get("n_samples", len(phenotypes))),
            "n_passed": int(qc_summary.get("n_samples", len(phenotypes)) - qc_summary.get("n_samples_excluded", 0)),
            "failures": [{"reason": r, "n": n} for r, n in sorted(failures.items())],
            "call_rate": _distribution(sample_qc["call_rate"]) if "call_rate" in sample_qc else None,
            "sex_check": {k: int(v) for k, v in sex.items() if k in ("consistent", "mismatch", "unknown")},
        },
        "scores": scores or None,
        "ancestry_map": _ancestry_map(cohort_pcs, reference_pcs, patient_results),
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
        "traits": sections,
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }


def _cohort_scores(
    sections: Sequence[Mapping[str, Any]], score_audit: pd.DataFrame | None, min_match_rate: float
) -> list[dict[str, Any]]:
    """Every score of the run once: match rate, the traits that use it, unmatched variants by reason."""
    used_by: dict[str, list[str]] = {}
    from_schemas: dict[str, dict[str, Any]] = {}
    for s in sections:
        for score in s["scores"] or []:
            used_by.setdefault(score["id"], []).append(s["trait"]["id"])
            from_schemas.setdefault(score["id"], score)
    ids = list(dict.fromkeys([*(score_audit.index if score_audit is not None else []), *from_schemas]))
    out = []
    for score_id in ids:
        if score_audit is not None and score_id in score_audit.index:
            row = score_audit.loc[score_id]
            entry = _score_entry(
                {
                    "score_id": score_id,
                    "n_variants": row["n_variants"],
                    "n_matched": row["n_matched"],
                    "match_rate": row["match_rate"],
                },
                min_match_rate,
            )
            entry["unmatched"] = _unmatched(score_audit, score_id)
        else:
            entry = dict(from_schemas[score_id])
        entry["traits"] = used_by.get(score_id, [])
        out.append(entry)
    return out


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
