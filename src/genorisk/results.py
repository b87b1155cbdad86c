"""The patient result record: what scoring writes and the patient report renders.

:func:`patient_result` joins the model's output for one patient
(:func:`genorisk.model.score_patients`) with the patient's QC
(:func:`genorisk.intake.patient_inputs`) and the model card into one JSON-ready
dict. Its shape is the report contract, described by
``src/genorisk/schemas/report.schema.json``. It holds this patient's data and
aggregate cohort figures only (risk quantiles), never another person's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genorisk import __version__

RESULT_SCHEMA_VERSION = "1"

#: Where reference calls for absent model variants came from (genorisk.callable), in the report's words.
REFERENCE_SOURCES = {
    "gvcf": "the gVCF's reference blocks",
    "bed": "the callable-regions BED given for this patient",
}


def _metric(metrics: Mapping[str, Any], name: str) -> tuple[float | None, list[float] | None]:
    """(estimate, [ci_low, ci_high]) of a model metric from ``metrics.json``."""
    entry = metrics.get("model", {}).get(name) or {}
    ci = [entry["ci_low"], entry["ci_high"]] if "ci_low" in entry else None
    return entry.get("estimate"), ci


def model_summary(card: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the model card a report shows.

    Parameters
    ----------
    card : mapping
        ``model_card.json``.

    Returns
    -------
    dict
        ``name``, ``sha256`` (of ``model.ubj``), ``trained_on`` (samples),
        ``auc`` and ``auc_ci`` (cross-validated), ``auc_ceiling`` (simulated
        cohorts, else None), ``intended_use`` and ``limits``.
    """
    metrics = card.get("metrics", {})
    auc, auc_ci = _metric(metrics, "roc_auc")
    truth = metrics.get("truth") or {}
    return {
        "name": card.get("model", "genorisk risk model"),
        "sha256": card.get("files_sha256", {}).get("model.ubj", ""),
        "trained_on": int(metrics.get("data", {}).get("n_samples", 0)),
        "auc": auc,
        "auc_ci": auc_ci,
        "auc_ceiling": truth.get("auc_ceiling"),
        "intended_use": card.get("intended_use", ""),
        "limits": list(card.get("limits", [])),
    }


def cohort_distribution(cohort_risks: Mapping[str, Any], n_points: int = 101) -> dict[str, Any]:
    """Aggregate cohort risk quantiles for the percentile plot.

    Parameters
    ----------
    cohort_risks : mapping
        ``cohort_risks.json`` (``risk_quantiles``, ``n_samples``).
    n_points : int
        Quantiles kept, evenly spaced (101: 0, 1, ..., 100 %).

    Returns
    -------
    dict
        ``quantiles`` (list of float) and ``n`` (cohort size).
    """
    q = cohort_risks["risk_quantiles"]
    step = (len(q) - 1) / (n_points - 1)
    return {"quantiles": [float(q[round(i * step)]) for i in range(n_points)], "n": int(cohort_risks["n_samples"])}


def sex_check_outcome(recorded_sex: str | None, inferred: Mapping[str, Any]) -> tuple[str, str | None]:
    """The sex check's outcome and, when it did not run or could not conclude, why.

    Parameters
    ----------
    recorded_sex : str or None
        ``male``/``female`` from the sample sheet, or None.
    inferred : mapping
        :func:`genorisk.qc.infer_sex_single`'s record (``inferred_sex``,
        ``n_sites``, ``het_fraction``).

    Returns
    -------
    (str, str or None)
        ``consistent``, ``mismatch`` or ``not checked``; the reason in words
        for ``not checked`` (None otherwise).
    """
    inferred_sex = inferred.get("inferred_sex")
    n_sites = inferred.get("n_sites")
    if inferred_sex in ("male", "female") and recorded_sex in ("male", "female"):
        return ("consistent" if inferred_sex == recorded_sex else "mismatch"), None
    if inferred_sex not in ("male", "female"):
        if not n_sites:
            why = "this VCF has no non-reference chrX genotypes outside the pseudo-autosomal regions (no chrX data)"
        elif n_sites < 50:
            why = (
                f"this VCF has only {n_sites} non-reference chrX genotypes outside the pseudo-autosomal regions "
                "(50 needed)"
            )
        else:
            why = (
                f"the chrX genotypes are inconclusive ({inferred.get('het_fraction', 0):.0%} of {n_sites} "
                "non-reference calls heterozygous, between the male and the female range)"
            )
        return "not checked", why
    return "not checked", "no sex was recorded in the sample sheet"


def patient_result(
    patient: Mapping[str, Any],
    scored: Mapping[str, Any],
    qc: Mapping[str, Any],
    card: Mapping[str, Any],
    cohort_risks: Mapping[str, Any],
    *,
    min_coverage: float = 0.9,
    prevalence: float | None = None,
    notable_variants: list[dict] | None = None,
) -> dict[str, Any]:
    """Build one patient's result record.

    Parameters
    ----------
    patient : mapping
        The sample-sheet row (``patient_id``, ``vcf``, ``sample``, ``sex``...).
    scored : mapping
        This patient's entry from :func:`genorisk.model.score_patients`.
    qc : mapping
        The patient's QC record from :func:`genorisk.intake.patient_inputs`
        (``validation``, ``coverage``, ``sex``...).
    card, cohort_risks : mapping
        ``model_card.json`` and ``cohort_risks.json`` of the model.
    min_coverage : float
        Below this fraction of model variants called, the result carries a
        warning that it should not be relied on.
    notable_variants : list of dict, optional
        ClinVar and rare damaging variants found; None when annotation is
        not configured.
    """
    coverage = qc["coverage"]
    warnings: list[str] = []
    if coverage["coverage"] < min_coverage:
        warnings.append(
            f"Only {coverage['coverage']:.0%} of the model's {coverage['n_model_variants']} variants were "
            f"called in this VCF (minimum {min_coverage:.0%}); the risk estimate may be unreliable."
        )
    recorded_sex = patient.get("sex") or None
    sex_check, sex_check_reason = sex_check_outcome(recorded_sex, qc.get("sex") or {})
    inferred_sex = (qc.get("sex") or {}).get("inferred_sex")
    if sex_check == "mismatch":
        warnings.append(
            f"Recorded sex ({recorded_sex}) differs from the sex the chrX genotypes indicate ({inferred_sex}): "
            "the VCF may belong to someone else, or the record is wrong. Check before using this result."
        )
    ancestry = coverage.get("ancestry")
    if ancestry and ancestry["outlier"]:
        warnings.append(
            f"This person's genetic ancestry lies outside the training cohort's (distance "
            f"{ancestry['distance']:.1f} against a cohort limit of {ancestry['threshold']:.1f} in ancestry "
            "component space); the model was not trained on people like them and its risk may not transfer."
        )
    for w in qc["validation"].get("warnings", [])[:5]:
        warnings.append(f"Input warning: {w}")
    range_check = qc.get("cohort_qc")
    for flag in (range_check or {}).get("flags", []):
        warnings.append(flag)
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "patient_id": patient["patient_id"],
        "sample": patient["sample"],
        "vcf": Path(patient["vcf"]).name,
        "risk": {
            "probability": scored["risk"],
            "interval": list(scored["risk_interval"]),
            "percentile": scored["percentile"],
            "interval_level": scored.get("interval_level"),
            "prevalence": prevalence,
        },
        "cohort_distribution": cohort_distribution(cohort_risks),
        "drivers": list(scored["drivers"]),
        # None = that stage is not configured (the report says so); [] = none found.
        "notable_variants": notable_variants,
        "polygenic_scores": [
            {
                "id": s["id"],
                "value": s["value"],
                "percentile": None,
                "n_variants": s["n_variants"],
                "n_matched": s["n_matched"],
                "match_rate": s["match_rate"],
            }
            for s in coverage["polygenic_scores"]
        ]
        if coverage.get("polygenic_scores")
        else None,
        "qc": {
            "call_rate": coverage["call_rate"],
            "model_variant_coverage": coverage["coverage"],
            "n_model_variants_missing": coverage["n_missing"],
            "inferred_sex": inferred_sex if inferred_sex in ("male", "female") else None,
            "recorded_sex": recorded_sex,
            "sex_check": sex_check,
            "sex_check_reason": sex_check_reason,
            "ancestry_distance": ancestry["distance"] if ancestry else None,
            "ancestry_outlier": ancestry["outlier"] if ancestry else None,
            "n_model_variants": int(coverage["n_model_variants"]),
            "n_reference_filled": coverage.get("n_reference_filled"),
            "reference_source": REFERENCE_SOURCES.get(coverage.get("reference_source") or ""),
            "cohort_range_check": range_check,
        },
        "model": model_summary(card),
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }
