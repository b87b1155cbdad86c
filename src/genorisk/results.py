"""The patient result record: what scoring writes and the report renders.

:func:`patient_result` joins the model's output for one patient
(:func:`genorisk.model.score_patients`) with the patient's QC and the model
card into one JSON-ready dict. Its shape is the report contract, described by
``src/genorisk/schemas/report.schema.json``. It holds this patient's data and
aggregate cohort figures only (risk quantiles), never another person's values.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError

RESULT_SCHEMA_VERSION = "1"


def _metric(metrics: Mapping[str, Any], name: str) -> tuple[float | None, list[float] | None]:
    """(estimate, [ci_low, ci_high]) of a model metric from ``metrics.json``."""
    entry = metrics.get("model", {}).get(name) or {}
    ci = [entry["ci_low"], entry["ci_high"]] if "ci_low" in entry else None
    return entry.get("estimate"), ci


def notable_variants(
    vcf: str | Path,
    sample: str,
    *,
    max_af: float = 0.01,
    male: bool | None = None,
    **resources: Any,
) -> list[dict[str, Any]]:
    """ClinVar pathogenic/likely pathogenic and rare damaging alleles a patient carries.

    The patient's non-reference sites (``bcftools view -s SAMPLE -c1``) are
    annotated with :func:`genorisk.annotate.annotate_table` and the same
    resources as the cohort (``gene_model``, ``clinvar``, ``population_af``,
    ``population_af_key``, ``dbsnp``, ``fasta``). An allele absent from the
    population resource counts as rare: for a report, an unknown frequency
    should not hide a damaging variant.
    """
    from .annotate import annotate_table
    from .features import is_pathogenic, rare_damaging
    from .genotypes import read_dosages

    with tempfile.TemporaryDirectory(prefix="genorisk-notable-") as tmp:
        carried = Path(tmp) / "carried.vcf.gz"
        proc = subprocess.run(
            ["bcftools", "view", "-s", sample, "-c1", "-Oz", "-o", str(carried), str(vcf)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise InputError(vcf, f"could not select sample {sample!r}: {proc.stderr.strip()}")
        subprocess.run(["tabix", "-f", "-p", "vcf", str(carried)], check=True, capture_output=True)
        table = annotate_table(carried, **resources)
        if table.empty:
            return []
        keep = rare_damaging(table, max_af=max_af, cohort_af=pd.Series(0.0, index=table.index))
        table = table[keep].reset_index(drop=True)
        if table.empty:
            return []
        _, dos = read_dosages(carried, table[["chrom", "pos", "ref", "alt"]], samples=[sample],
                              male=None if male is None else np.array([male]))
    pathogenic = is_pathogenic(table["clinvar_significance"])
    out = []
    for i, row in table.iterrows():
        d = dos[i, 0]
        if not d > 0:
            continue
        haploid_x = male and str(row["chrom"]).removeprefix("chr") == "X"
        zygosity = "hemizygous" if haploid_x else ("homozygous" if d >= 2 else "heterozygous")
        out.append({
            "chrom": str(row["chrom"]), "pos": int(row["pos"]), "ref": row["ref"], "alt": row["alt"],
            "gene": None if pd.isna(row["gene"]) else row["gene"],
            "consequence": row["consequence"] if pd.notna(row["consequence"]) else (
                None if pd.isna(row["region_class"]) else f"{row['region_class']} (position only; no FASTA)"),
            "zygosity": zygosity,
            "population_af": None if pd.isna(row["population_af"]) else float(row["population_af"]),
            "clinvar_significance": None if pd.isna(row["clinvar_significance"]) else row["clinvar_significance"],
            "clinvar_review_status": None if pd.isna(row["clinvar_review_status"]) else row["clinvar_review_status"],
            "rsid": None if pd.isna(row["rsid"]) else row["rsid"],
            "reason": "ClinVar pathogenic/likely pathogenic" if pathogenic[i] else "rare predicted damaging",
        })
    return out


def model_summary(card: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the model card a patient report shows."""
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
    """Aggregate cohort risk quantiles (0, 1, ..., 100 %) for the percentile plot."""
    q = cohort_risks["risk_quantiles"]
    step = (len(q) - 1) / (n_points - 1)
    return {"quantiles": [float(q[round(i * step)]) for i in range(n_points)], "n": int(cohort_risks["n_samples"])}


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
        ``{"validation": ..., "coverage": ...}`` from the patient_features step.
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
    for w in qc["validation"].get("warnings", [])[:5]:
        warnings.append(f"Input warning: {w}")
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
            {"id": s["id"], "value": s["value"], "percentile": None, "n_variants": s["n_variants"],
             "n_matched": s["n_matched"], "match_rate": s["match_rate"]}
            for s in coverage["polygenic_scores"]
        ] if coverage.get("polygenic_scores") else None,
        "qc": {
            "call_rate": coverage["call_rate"],
            "model_variant_coverage": coverage["coverage"],
            "n_model_variants_missing": coverage["n_missing"],
            "inferred_sex": None,
            "recorded_sex": patient.get("sex") or None,
            "sex_check": "unknown",
            "ancestry_distance": None,
            "ancestry_outlier": None,
        },
        "model": model_summary(card),
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }
