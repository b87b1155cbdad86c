"""The patient result record: what scoring writes and the patient report renders.

One record per patient covers every trait. :func:`trait_result` joins one
trait's model output for the patient (:func:`genorisk.model.score_patients`)
with the patient's coverage of that trait's model (from
:func:`genorisk.intake.patient_inputs`) and the trait's bundle (model card,
cohort risks); :func:`combine_trait_results` adds the patient-level parts once
(QC, notable variants, warnings) to the traits' results, in trait order.
:func:`score_batch` does both for a batch from the traits' bundles. The shape
is the report contract, described by ``src/genorisk/schemas/report.schema.json``.
It holds this patient's data and aggregate cohort figures only (risk
quantiles), never another person's values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genorisk import __version__
from genorisk.model.artifact import baseline_comparison
from genorisk.model.calibration import prior_shift
from genorisk.model.config import DEFAULT_TRAIT
from genorisk.model.inputs import read_feature_matrix
from genorisk.model.score import score_patients
from genorisk.model.score_context import score_in_context

#: 2 (genorisk 0.3): trait, risk.status / withheld_reason / interval_note / prevalence_source / anchoring,
#: nullable risk numbers, ancestry_adjustment, polygenic score percentile / z / z_ancestry / method,
#: qc.ancestry_threshold / ancestry_pcs, new notable-variant reasons.
#: 3 (issue #15): the pharmacogenomics section (null here; the report step fills it in from pgx.json).
#: 4 (issue #13): several traits: "traits" (per trait: trait, risk, cohort_distribution, drivers,
#: ancestry_adjustment, polygenic_scores, model with its baseline, coverage); qc, notable variants and
#: warnings once per patient.
RESULT_SCHEMA_VERSION = "4"

#: Where reference calls for absent model variants came from (genorisk.callable), in the report's words.
REFERENCE_SOURCES = {
    "gvcf": "the gVCF's reference blocks",
    "bed": "the callable-regions BED given for this patient",
}


def _metric(metrics: Mapping[str, Any], name: str, model: str = "model") -> tuple[float | None, list[float] | None]:
    """(estimate, [ci_low, ci_high]) of a metric of ``model`` (a ``metrics.json`` key) from ``metrics.json``."""
    entry = (metrics.get(model) or {}).get(name) or {}
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
        ``name``, ``shipped`` (``"boosted"``, or ``"linear"`` when the strong
        baseline was published: ``metrics.json`` ``shipped``), ``sha256`` (of
        ``model.ubj``), ``trained_on`` (samples), ``auc`` and ``auc_ci``
        (cross-validated, of the shipped model), ``auc_ceiling`` (simulated
        cohorts, else None), ``intended_use`` and ``limits``.
    """
    metrics = card.get("metrics", {})
    shipped = metrics.get("shipped") or {}
    # The published model's own figures: the strong baseline's when it ships (ModelConfig.ship).
    auc, auc_ci = _metric(metrics, "roc_auc", shipped.get("metrics", "model"))
    truth = metrics.get("truth") or {}
    return {
        "name": card.get("model", "genorisk risk model")
        if shipped.get("model", "boosted") == "boosted"
        else "genorisk linear risk model (in-cohort polygenic score, covariates and PCs; no trees)",
        "shipped": shipped.get("model", "boosted"),
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


def ancestry_limit(card: Mapping[str, Any], outlier_rate: float | None, fallback: float | None) -> float | None:
    """The ancestry distance limit for ``outlier_rate``, from the held-out quantiles in the model card.

    Parameters
    ----------
    card : mapping
        ``model_card.json`` (its ``ancestry_limit``, see :func:`genorisk.ancestry.heldout_distances`).
    outlier_rate : float or None
        Config ``ancestry.outlier_rate``; None = the limit the model was fitted with.
    fallback : float or None
        The limit the patient's features were computed with.

    Returns
    -------
    float or None
        Interpolated between the stored upper quantiles of the held-out
        distances; ``fallback`` when the rate is the model's own or outside
        the stored range.
    """
    limit = card.get("ancestry_limit") or {}
    q = limit.get("heldout_quantiles")
    if outlier_rate is None or not q or abs(outlier_rate - limit.get("outlier_rate", -1)) < 1e-12:
        return limit.get("threshold", fallback) if q else fallback
    p = 1.0 - outlier_rate
    if not q["p"][0] <= p <= q["p"][-1]:
        return fallback
    return float(np.interp(p, q["p"], q["distance"]))


def is_ancestry_group(group: str) -> bool:
    """True for the driver group of the ancestry PCs (model inputs that adjust for ancestry, never a 'driver')."""
    return group.startswith("ancestry")


def split_ancestry_drivers(drivers: list[dict] | None) -> tuple[list[dict] | None, dict | None]:
    """Drivers without the ancestry PCs, and those PCs as one ``ancestry adjustment`` entry (or None)."""
    if drivers is None:
        return None, None
    anc = [d for d in drivers if is_ancestry_group(d["group"])]
    rest = [d for d in drivers if not is_ancestry_group(d["group"])]
    if not anc:
        return rest, None
    total = float(sum(d["contribution"] for d in anc))
    return rest, {"contribution": total, "odds_factor": float(np.exp(total))}


def model_baseline(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model against its baseline, from ``metrics.json`` (the model card's ``metrics``).

    Parameters
    ----------
    metrics : mapping
        ``metrics.json``: ``baseline`` (the logistic regression's metrics),
        ``baseline_features`` and ``roc_auc_difference["model-baseline"]``
        (paired bootstrap, see :func:`genorisk.model.metrics.evaluate_predictions`).

    Returns
    -------
    dict or None
        ``name`` (the baseline and its features), ``auc`` (its ROC AUC),
        ``difference`` (model minus baseline ROC AUC), ``difference_ci``
        ([low, high], or None without bootstrap) and ``beats_baseline`` (the
        CI's lower bound is above 0); None when the model was not compared
        with a baseline. The verdict is the model card's
        (:func:`genorisk.model.artifact.baseline_comparison`).
    """
    comparison = baseline_comparison(metrics)
    if comparison is None:
        return None
    return {
        "name": "Logistic regression: " + ", ".join(metrics.get("baseline_features", [])),
        **{k: comparison[k] for k in ("auc", "difference", "difference_ci", "beats_baseline")},
    }


def trait_result(
    scored: Mapping[str, Any],
    coverage: Mapping[str, Any],
    card: Mapping[str, Any],
    cohort_risks: Mapping[str, Any],
    *,
    trait: Mapping[str, Any] | None = None,
    prevalence: float | None = None,
    min_coverage: float = 0.9,
    outlier_policy: str = "withhold",
    outlier_rate: float | None = None,
    ancestry_pcs: Sequence[float] | None = None,
) -> dict[str, Any]:
    """One trait's part of a patient's result: the risk, its context and why it is shown, widened or withheld.

    Parameters
    ----------
    scored : mapping
        This patient's entry from :func:`genorisk.model.score_patients` with the trait's model.
    coverage : mapping
        The patient's coverage of the trait's model (``qc["coverage"][trait_id]``
        of :func:`genorisk.intake.patient_inputs`).
    card, cohort_risks : mapping
        ``model_card.json`` and ``cohort_risks.json`` of the trait's bundle.
    trait : mapping, optional
        The trait (``trait`` of the bundle's ``bundle.json``); default the model
        card's, else :data:`genorisk.model.DEFAULT_TRAIT`. With a prevalence
        that differs from the cohort's case fraction the risk, its interval
        and the cohort quantiles are re-anchored to it
        (:func:`genorisk.model.prior_shift`); percentiles do not change.
    prevalence : float, optional
        Overrides the trait's prevalence.
    min_coverage : float
        The model-coverage limit of the outlier policy (config
        ``report.min_model_variant_coverage``).
    outlier_policy : {"withhold", "widen"}
        For a patient beyond the ancestry limit or below ``min_coverage``:
        no risk number, or the risk with an interval widened to the middle
        95 % of the cohort's risks. A patient with no usable genotype data
        (0 % model coverage) never gets a risk number.
    outlier_rate : float, optional
        Config ``ancestry.outlier_rate`` (:func:`ancestry_limit`).
    ancestry_pcs : sequence of float, optional
        The patient's ancestry PCs under this trait's schema, for the
        ancestry-adjusted polygenic score Z.

    Returns
    -------
    dict
        ``trait``, ``risk``, ``cohort_distribution``, ``drivers``,
        ``ancestry_adjustment``, ``polygenic_scores``, ``model`` (with
        ``baseline``, :func:`model_baseline`) and ``coverage``.
    """
    if outlier_policy not in ("withhold", "widen"):
        raise ValueError(f"unknown outlier policy {outlier_policy!r} (withhold or widen)")
    data = card.get("metrics", {}).get("data", {})
    trait = dict(trait or card.get("trait") or DEFAULT_TRAIT)
    if prevalence is not None:
        trait["prevalence"] = prevalence
    n_samples, n_cases = data.get("n_samples"), data.get("n_cases")
    case_fraction = n_cases / n_samples if n_samples and n_cases is not None else None
    population_prevalence = trait.get("prevalence")

    def anchor(p):
        if population_prevalence is None or case_fraction is None or not 0 < case_fraction < 1:
            return np.asarray(p, dtype=np.float64)
        return prior_shift(p, case_fraction, population_prevalence)

    probability = float(anchor(scored["risk"]))
    interval = [float(x) for x in anchor(scored["risk_interval"])]
    distribution = cohort_distribution(cohort_risks)
    distribution["quantiles"] = [float(x) for x in anchor(distribution["quantiles"])]

    ancestry = coverage.get("ancestry")
    threshold = ancestry_limit(card, outlier_rate, ancestry["threshold"] if ancestry else None)
    is_outlier = bool(ancestry and threshold is not None and ancestry["distance"] > threshold)
    rate = (card.get("ancestry_limit") or {}).get("outlier_rate") if outlier_rate is None else outlier_rate
    n_model = int(coverage["n_model_variants"])
    beyond: list[str] = []
    if n_model and coverage["coverage"] <= 0:
        beyond.append(
            f"No usable genotype data: none of the model's {n_model:,} variants was called in this VCF "
            "(no overlapping sites, or every call missing), so no risk can be estimated."
        )
    elif coverage["coverage"] < min_coverage:
        beyond.append(
            f"Only {coverage['coverage']:.0%} of the model's {n_model:,} variants were called in this VCF "
            f"(minimum {min_coverage:.0%}): the model was not validated on data this incomplete."
        )
    if is_outlier:
        assert ancestry is not None and threshold is not None
        beyond.append(
            "This person lies at the edge of the training cohort's ancestry range (ancestry distance "
            f"{ancestry['distance']:.1f}; the limit {threshold:.1f} flags "
            + (f"about {rate:.1%} of" if rate else "few")
            + " people from the cohort's own population). The model's accuracy beyond that range was not measured."
        )
    no_data = bool(n_model and coverage["coverage"] <= 0)
    status, withheld_reason, interval_note = "shown", None, None
    percentile: float | None = scored["percentile"]
    shown_probability: float | None = probability
    shown_interval: list[float] | None = interval
    if beyond and (outlier_policy == "withhold" or no_data):
        status, withheld_reason = "withheld", " ".join(beyond) + " No risk number is shown."
        shown_probability = shown_interval = percentile = None
    elif beyond:
        q = distribution["quantiles"]
        lo, hi = np.interp([0.025, 0.975], np.linspace(0, 1, len(q)), q)
        shown_interval = [min(interval[0], float(lo)), max(interval[1], float(hi))]
        status = "widened"
        causes = ["the ancestry limit"] if is_outlier else []
        if coverage["coverage"] < min_coverage:
            causes.append("the model-coverage limit")
        interval_note = (
            f"This person is beyond {' and '.join(causes)} (see the problems listed above), so the interval is "
            "widened to include the middle 95% of the cohort's risks: it says how little this estimate can be "
            "trusted, not a measured precision."
        )
    drivers, ancestry_adjustment = split_ancestry_drivers(list(scored["drivers"]))
    context = cohort_risks.get("polygenic_scores")
    pcs = None if ancestry_pcs is None else [float(x) for x in ancestry_pcs]
    scores = None
    if coverage.get("polygenic_scores"):
        scores = [
            {
                "id": s["id"],
                "value": s["value"],
                **score_in_context(s["id"], s["value"], pcs, context),
                "n_variants": s["n_variants"],
                "n_matched": s["n_matched"],
                "match_rate": s["match_rate"],
            }
            for s in coverage["polygenic_scores"]
        ]
    return {
        "trait": {
            "id": trait["id"],
            "name": trait["name"],
            "population": trait.get("population"),
            "time_frame": trait.get("time_frame"),
            "prevalence": population_prevalence,
            "cohort_case_fraction": case_fraction,
        },
        "risk": {
            "status": status,
            "probability": shown_probability,
            "interval": shown_interval,
            "percentile": percentile,
            "interval_level": scored.get("interval_level"),
            "interval_note": interval_note,
            "withheld_reason": withheld_reason,
            # The average beside the patient: the population's prevalence, else the cohort's case fraction.
            "prevalence": population_prevalence if population_prevalence is not None else case_fraction,
            "prevalence_source": "population"
            if population_prevalence is not None
            else ("cohort case fraction" if case_fraction is not None else None),
            "anchoring": "prior shift" if population_prevalence is not None and case_fraction else "cohort",
        },
        "cohort_distribution": distribution,
        "drivers": drivers,
        "ancestry_adjustment": ancestry_adjustment,
        "polygenic_scores": scores,
        "model": {**model_summary(card), "baseline": model_baseline(card.get("metrics", {}))},
        "coverage": {
            "model_variant_coverage": coverage["coverage"],
            "n_model_variants": n_model,
            "n_model_variants_missing": coverage["n_missing"],
            "ancestry_threshold": threshold,
            "ancestry_outlier": is_outlier if ancestry else None,
            "n_reference_filled": coverage.get("n_reference_filled"),
            "reference_source": REFERENCE_SOURCES.get(coverage.get("reference_source") or ""),
        },
    }


def combine_trait_results(
    patient: Mapping[str, Any],
    qc: Mapping[str, Any],
    traits: Sequence[Mapping[str, Any]],
    *,
    ancestry_pcs: Sequence[float] | None = None,
) -> dict[str, Any]:
    """One patient's result: the traits' results (:func:`trait_result`) with the patient-level parts once.

    Parameters
    ----------
    patient : mapping
        The sample-sheet row (``patient_id``, ``vcf``, ``sample``, ``sex``...).
    qc : mapping
        The patient's QC record (``qc.json``, :func:`genorisk.intake.batch_patient_inputs`):
        ``validation``, ``sex``, ``notable_variants``, ``call_rate``, ``coverage``
        (trait id -> coverage) and ``cohort_qc``.
    traits : sequence of mapping
        The patient's :func:`trait_result` of each trait, in trait order.
    ancestry_pcs : sequence of float, optional
        The patient's ancestry PCs, shown in the QC (the first trait's with
        an ancestry model, as is the ancestry distance: the traits of one
        cohort share one).

    Returns
    -------
    dict
        ``schema_version``, ``patient_id``, ``sample``, ``vcf`` (file name
        only), ``traits``, ``notable_variants`` (None: annotation not
        configured; [] none found), ``qc`` (``call_rate``, ``inferred_sex``,
        ``recorded_sex``, ``sex_check``, ``sex_check_reason``,
        ``ancestry_distance``, ``ancestry_pcs``, ``cohort_range_check``),
        ``pharmacogenomics`` (None: the report step fills it in),
        ``warnings`` and ``generated_by``.
    """
    warnings: list[str] = []
    recorded_sex = patient.get("sex") or None
    sex_check, sex_check_reason = sex_check_outcome(recorded_sex, qc.get("sex") or {})
    inferred_sex = (qc.get("sex") or {}).get("inferred_sex")
    if sex_check == "mismatch":
        warnings.append(
            f"Recorded sex ({recorded_sex}) differs from the sex the chrX genotypes indicate ({inferred_sex}): "
            "the VCF may belong to someone else, or the record is wrong. Check before using this result."
        )
    for w in qc["validation"].get("warnings", [])[:5]:
        warnings.append(f"Input warning: {w}")
    range_check = qc.get("cohort_qc")
    for flag in (range_check or {}).get("flags", []):
        warnings.append(flag)
    coverages = list((qc.get("coverage") or {}).values())
    ancestry = next((c["ancestry"] for c in coverages if c.get("ancestry")), None)
    call_rate = qc.get("call_rate")
    if call_rate is None and coverages:  # a record without the all-traits call rate: the first trait's
        call_rate = coverages[0]["call_rate"]
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "patient_id": patient["patient_id"],
        "sample": patient["sample"],
        "vcf": Path(patient["vcf"]).name,
        "traits": [dict(t) for t in traits],
        # None = that stage is not configured (the report says so); [] = none found.
        "notable_variants": qc.get("notable_variants"),
        "qc": {
            "call_rate": call_rate,
            "inferred_sex": inferred_sex if inferred_sex in ("male", "female") else None,
            "recorded_sex": recorded_sex,
            "sex_check": sex_check,
            "sex_check_reason": sex_check_reason,
            "ancestry_distance": ancestry["distance"] if ancestry else None,
            "ancestry_pcs": None if ancestry_pcs is None else [float(x) for x in ancestry_pcs],
            "cohort_range_check": range_check,
        },
        # Called per batch by rule call_pharmacogenes; rule patient_reports puts each patient's in.
        "pharmacogenomics": None,
        "warnings": warnings,
        "generated_by": {"genorisk": __version__},
    }


def patient_result(
    patient: Mapping[str, Any],
    scored: Mapping[str, Any],
    qc: Mapping[str, Any],
    card: Mapping[str, Any],
    cohort_risks: Mapping[str, Any],
    *,
    notable_variants: list[dict] | None = None,
    ancestry_pcs: list[float] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """One patient's result with one trait: :func:`combine_trait_results` of one :func:`trait_result`.

    Parameters
    ----------
    patient : mapping
        The sample-sheet row.
    scored : mapping
        This patient's entry from :func:`genorisk.model.score_patients`.
    qc : mapping
        The patient's QC record, its ``coverage`` that of this one trait's model.
    card, cohort_risks : mapping
        ``model_card.json`` and ``cohort_risks.json`` of the model.
    notable_variants : list of dict, optional
        ClinVar and rare variants found; default ``qc["notable_variants"]``.
    ancestry_pcs : list of float, optional
        The patient's ancestry PCs.
    **options
        Keyword arguments of :func:`trait_result` (``trait``, ``prevalence``,
        ``min_coverage``, ``outlier_policy``, ``outlier_rate``).
    """
    one = trait_result(scored, qc["coverage"], card, cohort_risks, ancestry_pcs=ancestry_pcs, **options)
    record = dict(qc, coverage={one["trait"]["id"]: qc["coverage"]})
    if notable_variants is not None:
        record["notable_variants"] = notable_variants
    return combine_trait_results(patient, record, [one], ancestry_pcs=ancestry_pcs)


def score_batch(
    patients: Sequence[Mapping[str, Any]],
    bundles: Sequence[Any],
    features: Sequence[str | Path],
    qc: Mapping[str, Mapping[str, Any]],
    *,
    outlier_policy: str = "withhold",
    outlier_rate: float | None = None,
    min_coverage: float = 0.9,
) -> list[dict[str, Any]]:
    """The results of a batch of patients for every trait, from the traits' bundles alone.

    Parameters
    ----------
    patients : sequence of mapping
        The batch's sample-sheet rows, in order.
    bundles : sequence of Bundle
        Per trait, in trait order, its :func:`genorisk.model.bundle.load_bundle`
        (``manifest``, ``model``, ``card``, ``cohort_risks``): the trait's
        settings come from the bundle's ``bundle.json``, not the config.
    features : sequence of path
        Per trait, the batch's feature table under that trait's schema
        (``features.<trait>.parquet``).
    qc : mapping
        ``qc.json``: per accepted patient ID, the QC record. Refused patients
        (``refused.json``) have none, and get no result.
    outlier_policy, outlier_rate, min_coverage
        As for :func:`trait_result`.

    Returns
    -------
    list of dict
        One :func:`combine_trait_results` per accepted patient, batch order.
    """
    if len(bundles) != len(features):
        raise ValueError(f"{len(bundles)} bundles but {len(features)} feature tables: one of each per trait")
    per_trait: list[tuple[Any, dict[str, dict[str, Any]], Any]] = []
    for bundle, path in zip(bundles, features, strict=True):
        table = read_feature_matrix(path)
        scored = {s["sample_id"]: s for s in score_patients(bundle.model, table, path=str(path))} if len(table) else {}
        per_trait.append((bundle, scored, table))
    results = []
    for patient in patients:
        pid = patient["patient_id"]
        if pid not in qc:
            continue
        parts, shown_pcs = [], None
        for bundle, scored, table in per_trait:
            trait = bundle.manifest["trait"]
            pc_columns = [f["name"] for f in bundle.model.schema["features"] if f["kind"] == "pc"]
            pcs = table.loc[pid, pc_columns].astype(float).tolist() if pc_columns else None
            if shown_pcs is None:
                shown_pcs = pcs
            parts.append(
                trait_result(
                    scored[pid],
                    qc[pid]["coverage"][trait["id"]],
                    bundle.card,
                    bundle.cohort_risks,
                    trait=trait,
                    min_coverage=min_coverage,
                    outlier_policy=outlier_policy,
                    outlier_rate=outlier_rate,
                    ancestry_pcs=pcs,
                )
            )
        results.append(combine_trait_results(patient, qc[pid], parts, ancestry_pcs=shown_pcs))
    return results
