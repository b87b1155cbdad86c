"""Plain-language wording of risks, and whether a patient's result can be relied on.

Quality thresholds behind the derived concerns (`QC_THRESHOLDS`, the
defaults; the workflow passes the config's ``report.min_call_rate``,
``report.min_model_variant_coverage`` and ``features.min_match_rate``, whose
schema defaults these equal):

* ``min_call_rate`` 0.95 - the usual per-sample call-rate filter of GWAS QC
  (0.95-0.98); below it so many genotypes are missing that the estimate rests
  on less of the genome than the model was validated with.
* ``min_model_variant_coverage`` 0.90 - with more than a tenth of the model's
  variants missing the patient is scored by a different model than the one
  that was validated.
* ``min_score_match_rate`` 0.75 - pgsc_calc's rule: a polygenic score is used
  only if at least 75 % of its variants match.
* sex-check mismatch and ancestry outlier flags are concerns whenever set.
"""

from __future__ import annotations

from collections.abc import Mapping

QC_THRESHOLDS: dict[str, float] = {
    "min_call_rate": 0.95,
    "min_model_variant_coverage": 0.90,
    "min_score_match_rate": 0.75,
}

#: Shown for a section whose value is null (the stage was not configured).
NOT_CONFIGURED = {
    "cohort_distribution": "No reference cohort was scored in this run, so the risk cannot be placed "
    "within a population distribution.",
    "drivers": "Explanations were not computed in this run.",
    "notable_variants": "Not assessed: variant annotation (ClinVar and population frequencies) was "
    "not configured for this run. Absence of a table does not mean absence of clinically relevant variants.",
    "polygenic_scores": "No polygenic scoring file was configured for the model of this disease.",
    "pharmacogenomics": "Not assessed: pharmacogenomics (pgx.enabled) was not part of this run. Absence of this "
    "section says nothing about how this person responds to medicines.",
}


def format_percent(p: float | None, digits: int = 1) -> str:
    """``0.1234 -> '12.3%'``; below 0.1 % -> ``'<0.1%'``; None -> ``'not available'``."""
    if p is None:
        return "not available"
    if 0 < p < 0.5 * 10 ** (-digits) / 100:
        return f"<{10 ** (-digits):g}%"
    return f"{100 * p:.{digits}f}%"


def natural_frequency(p: float) -> str:
    """Risk as a natural frequency: ``0.123 -> 'about 12 in 100'``, ``0.004 -> 'about 4 in 1,000'``."""
    if round(100 * p) >= 1:
        return f"about {round(100 * p)} in 100"
    if round(1000 * p) >= 1:
        return f"about {round(1000 * p)} in 1,000"
    return "fewer than 1 in 1,000"


def risk_in_words(p: float, name: str = "the condition", time_frame: str | None = None) -> str:
    """A sentence with the risk as a natural frequency.

    ``risk_in_words(0.123, "coronary artery disease", "by age 75")`` ->
    ``'Of 100 people with a result like this, about 12 would be expected to
    have coronary artery disease (time frame: by age 75).'``
    """
    what = f"{name}" + (f" (time frame: {time_frame})" if time_frame else "")
    if round(100 * p) >= 1:
        return f"Of 100 people with a result like this, about {round(100 * p)} would be expected to have {what}."
    if round(1000 * p) >= 1:
        return f"Of 1,000 people with a result like this, about {round(1000 * p)} would be expected to have {what}."
    return f"Fewer than 1 in 1,000 people with a result like this would be expected to have {what}."


def ordinal(n: float) -> str:
    """``1 -> '1st'``, ``22 -> '22nd'``, ``13 -> '13th'`` (rounded to an integer first)."""
    k = int(round(n))
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def describe_percentile(percentile: float) -> str:
    """``84.2 -> 'higher than about 84 of every 100 people'`` (bounded to 1..99 so it is never absolute)."""
    k = min(99, max(1, round(percentile)))
    return f"higher than about {k} of every 100 people"


def absent_variants_in_words(qc: Mapping) -> str:
    """How many of the model's variants the patient's VCF lacked, and why that matters, in words.

    Parameters
    ----------
    qc : mapping
        A trait result's ``coverage`` section (schema 4; the ``qc`` section
        before): ``n_model_variants_missing`` (absent from the VCF), and when
        present ``n_model_variants``, ``n_reference_filled`` and
        ``reference_source``.

    Returns
    -------
    str
        One or two sentences; results written before ``n_model_variants``
        existed get the count alone.
    """
    n_absent = int(qc["n_model_variants_missing"])
    total = qc.get("n_model_variants")
    of = f" of the model's {total:,} variants" if total is not None else " of the model's variants"
    filled = qc.get("n_reference_filled")
    source = qc.get("reference_source")
    fill_text = ""
    if filled:
        fill_text = (
            f" {filled:,} other absent variant{'s were' if filled != 1 else ' was'} filled in as homozygous reference "
            f"(no copy of the risk allele) from {source or 'the reference calls given'}."
        )
    if n_absent == 0:
        return f"All{of} were called in this VCF." + fill_text
    return (
        f"{n_absent:,}{of} {'were' if n_absent != 1 else 'was'} absent from this VCF and could not be filled in. "
        "The model treats an absent variant as unknown, not as 'no risk allele', so the estimate rests on fewer "
        "of the variants it was validated with and moves towards what is typical for the cohort. A VCF that lists "
        "variant sites only leaves every site where the person matches the reference absent; a gVCF, or a "
        "callable-regions BED from the sequencing lab, lets those sites count as reference calls." + fill_text
    )


def baseline_in_words(model: Mapping) -> str | None:
    """Whether a trait's model predicts better than its simpler baseline, in one sentence.

    ``'This model did not predict better than a simpler model (AUC 0.701 vs 0.690, difference +0.011,
    95% CI -0.012 to +0.034).'``; None when no baseline was evaluated or the model's AUC is unknown.
    """
    base = model.get("baseline")
    if not base or model.get("auc") is None:
        return None
    ci = base["difference_ci"]
    figures = f"AUC {model['auc']:.3f} vs {base['auc']:.3f}, difference {base['difference']:+.3f}" + (
        f", 95% CI {ci[0]:+.3f} to {ci[1]:+.3f}" if ci else ""
    )
    if model.get("shipped") == "linear":
        # model.auc is the linear model's own (it is the one published); the boosted one's is base + difference.
        boosted = base["auc"] + base["difference"]
        figures = f"AUC {boosted:.3f} vs {base['auc']:.3f}, difference {base['difference']:+.3f}" + (
            f", 95% CI {ci[0]:+.3f} to {ci[1]:+.3f}" if ci else ""
        )
        return (
            f"The gradient-boosted model did not predict better than the simpler linear model ({figures}), "
            "so this estimate comes from the linear model."
        )
    verb = "predicted better than" if base["beats_baseline"] else "did not predict better than"
    return f"This model {verb} a simpler model ({figures})."


def withheld_in_short(entry: Mapping, thresholds: Mapping[str, float] | None = None) -> str:
    """Why a trait's risk is withheld, in a few words for the summary table (its section gives the reason in full)."""
    t = {**QC_THRESHOLDS, **(thresholds or {})}
    cov = entry["coverage"]
    causes = []
    if cov["n_model_variants"] and cov["model_variant_coverage"] <= 0:
        return "no usable genotype data"
    if cov["model_variant_coverage"] < t["min_model_variant_coverage"]:
        causes.append(f"only {format_percent(cov['model_variant_coverage'], 0)} of the model's variants called")
    if cov["ancestry_outlier"]:
        causes.append("beyond the ancestry limit")
    return "; ".join(causes) or "see this disease's section"


def assess_reliability(result: Mapping, thresholds: Mapping[str, float] | None = None) -> dict:
    """The ``report`` section: whether a result can be relied on, and why not.

    Parameters
    ----------
    result : mapping
        A validated patient result (schema 4).
    thresholds : mapping, optional
        Overrides of `QC_THRESHOLDS` (same keys).

    Returns
    -------
    dict
        ``{"reliable": bool, "concerns": [{"code", "message", "trait"}], "qc_thresholds": {...}}``.
        Patient-level concerns first (``trait`` null): the stage ``warnings``
        (code ``stage_warning``), ``low_call_rate`` and ``sex_mismatch``; then
        each trait's, in trait order (``trait``: its id; the message names the
        disease): ``risk_withheld`` (the reason, when no risk number is shown;
        it then stands for that trait's ancestry and coverage concerns, so the
        reason is given once), ``low_model_coverage``, ``ancestry_outlier``,
        ``model_not_evaluated`` and ``low_score_match``.
    """
    t = {**QC_THRESHOLDS, **(thresholds or {})}
    unknown = set(t) - set(QC_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown QC threshold(s): {', '.join(sorted(unknown))}")
    qc = result["qc"]
    concerns: list[dict] = []
    seen: set[str] = set()

    def add(code: str, message: str, trait: str | None = None) -> None:
        if message not in seen:
            seen.add(message)
            concerns.append({"code": code, "message": message, "trait": trait})

    for w in result["warnings"]:
        add("stage_warning", w)
    if qc["call_rate"] < t["min_call_rate"]:
        add(
            "low_call_rate",
            f"Genotype call rate is {format_percent(qc['call_rate'])}, below the "
            f"{format_percent(t['min_call_rate'], 0)} quality threshold: many genotypes are missing, so the "
            "estimates rest on less data than the models were validated with.",
        )
    if qc["sex_check"] == "mismatch":
        add(
            "sex_mismatch",
            f"Recorded sex ({qc['recorded_sex'] or 'not recorded'}) does not match the sex inferred "
            f"from the genotypes ({qc['inferred_sex'] or 'unknown'}): possible sample mix-up. Resolve before use.",
        )
    for entry in result["traits"]:
        trait_id, name, cov = entry["trait"]["id"], entry["trait"]["name"], entry["coverage"]
        disease = name[:1].upper() + name[1:]
        withheld = entry["risk"]["status"] == "withheld"
        if withheld:
            add("risk_withheld", f"{disease}: {entry['risk']['withheld_reason']}", trait_id)
        if cov["model_variant_coverage"] < t["min_model_variant_coverage"] and not withheld:
            add(
                "low_model_coverage",
                f"{disease}: only {format_percent(cov['model_variant_coverage'])} of the model's variants "
                f"were found in this sample ({cov['n_model_variants_missing']:,} missing; threshold "
                f"{format_percent(t['min_model_variant_coverage'], 0)}): the model was not validated on data like "
                "this.",
                trait_id,
            )
        if cov["ancestry_outlier"] and not withheld:
            dist = qc["ancestry_distance"]
            add(
                "ancestry_outlier",
                f"{disease}: this person lies at the edge of the training cohort's ancestry range"
                + (f" (ancestry distance {dist:.1f})" if dist is not None else "")
                + ": the model's accuracy beyond that range was not measured.",
                trait_id,
            )
        if entry["model"]["auc"] is None:
            add(
                "model_not_evaluated",
                f"{disease}: the model's accuracy was not evaluated on held-out data.",
                trait_id,
            )
        for s in entry["polygenic_scores"] or []:
            if s["match_rate"] < t["min_score_match_rate"]:
                add(
                    "low_score_match",
                    f"{disease}: polygenic score {s['id']} matched only {format_percent(s['match_rate'])} of its "
                    f"variants ({s['n_matched']:,} of {s['n_variants']:,}; threshold "
                    f"{format_percent(t['min_score_match_rate'], 0)}): that score is not reliable.",
                    trait_id,
                )
    return {"reliable": not concerns, "concerns": concerns, "qc_thresholds": t}
