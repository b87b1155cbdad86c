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
from typing import Any, Mapping, Sequence

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


#: Zygosity words of :func:`call_zygosity` (the report schema's enum).
ZYGOSITIES = ("heterozygous", "homozygous", "hemizygous")

_MITOCHONDRIA = frozenset({"MT", "M"})
_Y_CHROMOSOMES = frozenset({"Y", "24"})


def _par_regions(genome_build: str | None) -> tuple[tuple[int, int], ...]:
    """chrX PAR1/PAR2 of the build (both builds' when unknown, as QC's sex check does)."""
    from .qc import PAR_REGIONS_X  # GRCh37 PAR1, PAR2, then GRCh38 PAR1, PAR2

    build = (genome_build or "").lower()
    if build in ("grch37", "hg19", "b37"):
        return PAR_REGIONS_X[:2]
    if build in ("grch38", "hg38"):
        return PAR_REGIONS_X[2:]
    return PAR_REGIONS_X


def call_zygosity(
    chrom: str,
    pos: int,
    alleles: Sequence[int],
    allele_index: int,
    *,
    male: bool | None = None,
    genome_build: str | None = None,
) -> str | None:
    """Zygosity of one genotype call for one ALT allele, from the call itself.

    Parameters
    ----------
    chrom, pos : str, int
        Where the call is (``chr`` prefix optional; ``M``/``MT`` is the
        mitochondrion).
    alleles : sequence of int
        The call's allele indexes (0 = REF, k = k-th ALT), one per copy: a
        haploid call has one. Missing alleles (-1) make the call uncalled.
    allele_index : int
        The ALT allele asked about (1-based).
    male : bool, optional
        Recorded sex (True male, False female, None unknown).
    genome_build : str, optional
        ``GRCh37``/``GRCh38`` (or hg19/hg38) for the chrX PARs; None: a
        position inside either build's PARs counts as PAR.

    Returns
    -------
    str or None
        None when the call does not carry the allele (or is missing);
        otherwise, by the call's ploidy:

        * mitochondrion: ``hemizygous`` when every allele of the call is
          this ALT (haploid ``1``, or ``1/1`` from a diploid caller: one
          genome, homoplasmic), ``heterozygous`` when it is mixed (``0/1``
          from a diploid caller: heteroplasmy). The report schema's
          vocabulary has no plasmy words, so these two stand for
          homoplasmic and heteroplasmic;
        * haploid call elsewhere (male chrX outside the PARs, chrY):
          ``hemizygous``;
        * diploid (or higher) call: ``homozygous`` when every allele is this
          ALT, else ``heterozygous`` (``0/1``, ``1/2``). The PARs behave as
          autosomes. One exception, for a person recorded male: a homozygous
          diploid call on chrX outside the PARs or on chrY is reported
          ``hemizygous`` (a male has one copy there; callers that force
          diploid calls write it ``1/1``). A heterozygous call there is
          reported as called: it is a genotyping error or a sex mismatch,
          which the sex check reports.
    """
    alleles = [int(a) for a in alleles if int(a) != -2]  # -2: vector end of a shorter call
    if not alleles or any(a < 0 for a in alleles):
        return None
    copies = sum(a == allele_index for a in alleles)
    if copies == 0:
        return None
    all_copies = copies == len(alleles)
    c = str(chrom)
    c = c[3:] if c[:3].lower() == "chr" else c
    if c.upper() in _MITOCHONDRIA:
        return "hemizygous" if all_copies else "heterozygous"
    if len(alleles) == 1:
        return "hemizygous"
    if all_copies and male:
        in_par = any(lo <= int(pos) <= hi for lo, hi in _par_regions(genome_build))
        if c.upper() in _Y_CHROMOSOMES or (c.upper() in ("X", "23") and not in_par):
            return "hemizygous"
    return "homozygous" if all_copies else "heterozygous"


def _select_sample(vcf: str | Path, sample: str, out: Path, tmp: Path) -> None:
    """Write the non-reference sites of ``sample`` (``bcftools view -S -c1``) to ``out``, indexed.

    The name goes through a file (``-S``, one name per line), never the
    command line: ``-s`` splits names at commas and reads a leading ``^`` as
    "exclude", and both are valid in a sample name.
    """
    names = tmp / "samples.txt"
    names.write_text(sample + "\n")
    proc = subprocess.run(
        ["bcftools", "view", "-S", str(names), "-c1", "-Oz", "-o", str(out), str(vcf)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise InputError(vcf, f"could not select sample {sample!r}: {proc.stderr.strip()}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True, capture_output=True)


def notable_variants(
    vcf: str | Path,
    sample: str,
    *,
    max_af: float = 0.01,
    male: bool | None = None,
    genome_build: str | None = None,
    **resources: Any,
) -> list[dict[str, Any]]:
    """ClinVar pathogenic/likely pathogenic and rare damaging alleles a patient carries.

    The patient's non-reference sites (``bcftools view -S names.txt -c1``)
    are annotated with :func:`genorisk.annotate.annotate_table` and the same
    resources as the cohort (``gene_model``, ``clinvar``, ``population_af``,
    ``population_af_key``, ``dbsnp``, ``fasta``). An allele absent from the
    population resource counts as rare: for a report, an unknown frequency
    should not hide a damaging variant. Each variant's ``zygosity`` comes
    from the patient's call (its ploidy and alleles; see
    :func:`call_zygosity`), with ``male`` and ``genome_build`` only for the
    male chrX/chrY rule.
    """
    from cyvcf2 import VCF

    from .annotate import annotate_table
    from .features import is_pathogenic, rare_damaging

    with tempfile.TemporaryDirectory(prefix="genorisk-notable-") as tmp:
        carried = Path(tmp) / "carried.vcf.gz"
        _select_sample(vcf, sample, carried, Path(tmp))
        table = annotate_table(carried, **resources)
        if table.empty:
            return []
        keep = rare_damaging(table, max_af=max_af, cohort_af=pd.Series(0.0, index=table.index))
        table = table[keep].reset_index(drop=True)
        if table.empty:
            return []
        zygosity: list[str | None] = []
        reader = VCF(str(carried), lazy=True)
        try:
            for row in table.itertuples(index=False):
                z = None
                for rec in reader(f"{row.chrom}:{int(row.pos)}-{int(row.pos)}"):
                    if rec.POS == int(row.pos) and rec.REF == row.ref and row.alt in rec.ALT:
                        gt = rec.genotype.array()[0, :-1]
                        z = call_zygosity(row.chrom, row.pos, gt.tolist(), rec.ALT.index(row.alt) + 1,
                                          male=male, genome_build=genome_build)
                        break
                zygosity.append(z)
        finally:
            reader.close()
    pathogenic = is_pathogenic(table["clinvar_significance"])
    out = []
    for i, row in table.iterrows():
        if zygosity[i] is None:  # the other ALT of a record the patient carries, or a missing call
            continue
        out.append({
            "chrom": str(row["chrom"]), "pos": int(row["pos"]), "ref": row["ref"], "alt": row["alt"],
            "gene": None if pd.isna(row["gene"]) else row["gene"],
            "consequence": row["consequence"] if pd.notna(row["consequence"]) else (
                None if pd.isna(row["region_class"]) else f"{row['region_class']} (position only; no FASTA)"),
            "zygosity": zygosity[i],
            "population_af": None if pd.isna(row["population_af"]) else float(row["population_af"]),
            "clinvar_significance": None if pd.isna(row["clinvar_significance"]) else row["clinvar_significance"],
            "clinvar_review_status": None if pd.isna(row["clinvar_review_status"]) else row["clinvar_review_status"],
            "rsid": None if pd.isna(row["rsid"]) else row["rsid"],
            "reason": "ClinVar pathogenic/likely pathogenic" if pathogenic[i] else "rare predicted damaging",
        })
    return out


def patient_inputs(
    patient: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    genome_build: str | None = "GRCh38",
    annotation: Mapping[str, Any] | None = None,
    population_af_key: str = "AF",
    rare_max_af: float = 0.01,
    fasta: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Everything scoring needs from one patient's VCF, in one place.

    Validates the VCF (it must contain the sheet's sample), normalises it as
    the cohort was (:func:`genorisk.vcf.normalize_vcf`: split, left-align
    against ``fasta``, drop duplicates) into a temporary file, computes the
    patient's features from the cohort's ``schema``, finds notable variants
    when ``annotation`` resources are given (None: not configured), and infers
    sex from chrX. Returns the one-row feature frame (indexed by patient ID)
    and the patient's QC record (validation, coverage, notable variants, sex).
    """
    from .features import patient_features
    from .qc import infer_sex_single
    from .vcf import normalize_vcf, validate_vcf

    pid, sample = patient["patient_id"], patient["sample"]
    report = validate_vcf(patient["vcf"], genome_build=genome_build, require_samples=[sample])
    male = {"male": True, "female": False}.get(patient.get("sex"))
    with tempfile.TemporaryDirectory(prefix="genorisk-patient-") as tmp:
        vcf = Path(tmp) / "normalized.vcf.gz"
        normalization = normalize_vcf(patient["vcf"], vcf, fasta=fasta, validation=report)
        frame, coverage = patient_features(vcf, sample, schema, patient, male=male)
        notable = None
        if annotation:
            notable = notable_variants(vcf, sample, max_af=rare_max_af, male=male, genome_build=genome_build,
                                       population_af_key=population_af_key, **annotation)
        sex = infer_sex_single(vcf, sample)
    qc = {"validation": report.to_dict(), "normalization": normalization, "coverage": coverage,
          "notable_variants": notable, "sex": sex}
    # Rows are keyed by patient ID (unique in the sheet; sample names need not be).
    return frame.set_axis([pid], axis=0).rename_axis("sample_id"), qc


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
    recorded_sex = patient.get("sex") or None
    inferred_sex = (qc.get("sex") or {}).get("inferred_sex")
    if inferred_sex in ("male", "female") and recorded_sex in ("male", "female"):
        sex_check = "consistent" if inferred_sex == recorded_sex else "mismatch"
    else:
        sex_check = "unknown"
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
            "inferred_sex": inferred_sex if inferred_sex in ("male", "female") else None,
            "recorded_sex": recorded_sex,
            "sex_check": sex_check,
            "ancestry_distance": ancestry["distance"] if ancestry else None,
            "ancestry_outlier": ancestry["outlier"] if ancestry else None,
        },
        "model": model_summary(card),
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }


# ---------------------------------------------------------------------------
# Cohort summary (the cohort report's input; aggregate figures only)


def roc_points(y: np.ndarray, p: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """ROC curve (fpr, tpr) thinned to at most ``max_points`` points, from (0,0) to (1,1)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}


def calibration_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Mean predicted vs observed case fraction in ``n_bins`` equal-count bins of ``p``."""
    order = np.argsort(p, kind="stable")
    bins = [b for b in np.array_split(order, n_bins) if len(b)]
    return {
        "predicted": [round(float(p[b].mean()), 5) for b in bins],
        "observed": [round(float(y[b].mean()), 5) for b in bins],
        "n": [int(len(b)) for b in bins],
        "brier": round(float(np.mean((p - y) ** 2)), 6),
    }


def feature_importance(drivers_per_person: list[list[dict]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Mean |TreeSHAP contribution| (log-odds) per feature group over the cohort, largest first."""
    totals: dict[str, float] = {}
    for drivers in drivers_per_person:
        for d in drivers:
            totals[d["group"]] = totals.get(d["group"], 0.0) + abs(d["contribution"])
    n = max(len(drivers_per_person), 1)
    rows = [{"group": g, "label": labels.get(g, g), "importance": round(v / n, 6)} for g, v in totals.items()]
    return sorted(rows, key=lambda r: (-r["importance"], r["group"]))[:25]


def _distribution(values) -> dict[str, float] | None:
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
) -> dict[str, Any]:
    """The cohort report's input (``cohort_report.schema.json``): aggregates only, no per-person rows.

    ``oof`` holds the out-of-fold predictions (columns ``y``, ``model`` and
    the baselines'); ``patient_results`` the scored patients' results (for the
    distribution of their model-variant coverage).
    """
    metrics = card.get("metrics", {})
    y = oof["y"].to_numpy()
    baselines = []
    for key, label in [("baseline", "Logistic regression: " + ", ".join(metrics.get("baseline_features", [])))]:
        if key in oof and metrics.get(key):
            m = metrics[key]["roc_auc"]
            baselines.append({"name": label, "auc": m["estimate"], "auc_ci": [m["ci_low"], m["ci_high"]],
                              "roc": roc_points(y, oof[key].to_numpy())})
    failures: dict[str, int] = {}
    for reason, n in qc_summary.get("samples_excluded_by_reason", {}).items():
        failures[reason.replace("_", " ")] = int(n)
    sex = {"consistent": 0, "mismatch": 0, "unknown": 0, **qc_summary.get("sex_check", {})}
    scores = []
    warnings = []
    for f in schema["features"]:
        if f["kind"] == "pgs":
            d = f["definition"]
            scores.append({"id": d["score_id"], "n_variants": d["n_variants"], "n_matched": d["n_matched"],
                           "match_rate": d["match_rate"], "used": d["match_rate"] >= min_match_rate})
    if not len(scores):
        warnings.append("No polygenic score was configured; the model uses genotype dosages and covariates only.")
    n_cases = int(phenotypes["status"].sum())
    outliers = [r["qc"].get("ancestry_outlier") for r in patient_results]
    return {
        "schema_version": "1",
        "cohort": {"name": name, "n_samples": int(len(phenotypes)), "n_cases": n_cases,
                   "n_controls": int(len(phenotypes)) - n_cases},
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
        },
        "feature_importance": importance or None,
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }
