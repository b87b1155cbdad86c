"""Complete, valid examples of the report contracts (documentation, tests and the benchmark use them)."""

from __future__ import annotations

import math
import statistics

import numpy as np

from genorisk import __version__


def example_result(patient_id: str = "P0001", *, seed: int = 0) -> dict:
    """A complete, valid patient result with plausible values, varied by ``seed``.

    Cohort risk is logistic-normal around a prevalence of 10 %; the patient's
    percentile is read off those quantiles so the figures agree with each other.
    """
    rng = np.random.default_rng(seed)
    prevalence = 0.10
    ppf = statistics.NormalDist().inv_cdf
    z = np.array([ppf(min(max(p, 0.0005), 0.9995)) for p in np.linspace(0, 1, 101)])
    quantiles = 1 / (1 + np.exp(-(math.log(prevalence / (1 - prevalence)) - 0.25 + 0.8 * z)))
    pct = float(rng.uniform(1, 99))
    prob = float(np.interp(pct, np.arange(101), quantiles))
    width = float(rng.uniform(0.15, 0.35))
    labels = [
        ("prs", "Polygenic score PGS000001 (breast cancer)"),
        ("age", "Age 61 years"),
        ("sex", "Sex: female"),
        ("gene:BRCA2", "Rare damaging variants in BRCA2"),
        ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb"),
        ("pc1", "Ancestry component 1"),
        ("gene:APP", "Rare variants in APP"),
        ("epistasis", "Interaction of two chr21 loci"),
        ("region:chr21:15-16Mb", "Common variants near chr21:15.2 Mb"),
        ("pc2", "Ancestry component 2"),
        ("gene:SOD1", "Rare variants in SOD1"),
        ("burden", "Overall rare-variant burden"),
    ]
    drivers = []
    for group, label in labels:
        c = float(rng.normal(0, 0.3))
        drivers.append(
            {
                "group": group,
                "label": label,
                "contribution": round(c, 4),
                "direction": "raises risk" if c >= 0 else "lowers risk",
            }
        )
    n_var = [77, 313, 1_046]
    scores = []
    for i, n in enumerate(n_var):
        m = int(n * rng.uniform(0.7, 1.0))
        scores.append(
            {
                "id": f"PGS00000{i + 1}",
                "value": round(float(rng.normal(0, 1)), 5),
                "percentile": round(float(rng.uniform(0, 100)), 1),
                "n_variants": n,
                "n_matched": m,
                "match_rate": round(m / n, 6),
            }
        )
    return {
        "schema_version": "1",
        "patient_id": patient_id,
        "sample": f"{patient_id}_S{seed}",
        "vcf": f"{patient_id}.vcf.gz",
        "risk": {
            "probability": round(prob, 6),
            "interval": [round(prob * (1 - width), 6), round(min(1.0, prob * (1 + width)), 6)],
            "interval_level": 0.95,
            "percentile": round(pct, 2),
            "prevalence": prevalence,
        },
        "cohort_distribution": {"quantiles": [round(float(q), 6) for q in quantiles], "n": 2000},
        "drivers": drivers,
        "notable_variants": [
            {
                "chrom": "chr21",
                "pos": 33032083 + seed,
                "ref": "C",
                "alt": "T",
                "gene": "SOD1",
                "consequence": "missense_variant",
                "zygosity": "heterozygous",
                "population_af": 2.1e-05,
                "clinvar_significance": "Pathogenic",
                "clinvar_review_status": "criteria_provided,_multiple_submitters,_no_conflicts",
                "rsid": "rs121912438",
                "reason": "ClinVar pathogenic/likely pathogenic",
            },
            {
                "chrom": "chr21",
                "pos": 25891796,
                "ref": "G",
                "alt": "A",
                "gene": "APP",
                "consequence": "stop_gained",
                "zygosity": "heterozygous",
                "population_af": None,
                "clinvar_significance": None,
                "clinvar_review_status": None,
                "rsid": None,
                "reason": "rare predicted damaging",
            },
        ],
        "polygenic_scores": scores,
        "qc": {
            "call_rate": round(float(rng.uniform(0.97, 1.0)), 5),
            "model_variant_coverage": round(float(rng.uniform(0.93, 1.0)), 5),
            "n_model_variants_missing": int(rng.integers(0, 400)),
            "inferred_sex": "female",
            "recorded_sex": "female",
            "sex_check": "consistent",
            "ancestry_distance": round(float(rng.uniform(0, 2)), 3),
            "ancestry_outlier": False,
        },
        "model": {
            "name": "genorisk XGBoost demo (chr21)",
            "sha256": "3f" * 32,
            "trained_on": 1600,
            "auc": 0.781,
            "auc_ci": [0.752, 0.809],
            "auc_ceiling": 0.839,
            "intended_use": "Research demonstration on simulated data. Not for clinical decisions.",
            "limits": [
                "Trained on a simulated cohort of European-like ancestry; accuracy elsewhere is unknown.",
                "Uses chromosome 21 only.",
                "Calibrated to a prevalence of 10%.",
            ],
        },
        "warnings": [],
        "generated_by": {"genorisk": __version__},
    }


def example_cohort(*, seed: int = 0) -> dict:
    """A complete, valid cohort summary with plausible values (binormal ROC curves)."""
    rng = np.random.default_rng(seed)
    cdf = statistics.NormalDist().cdf
    fpr = np.linspace(0, 1, 51)
    ppf = statistics.NormalDist().inv_cdf

    def roc(d):
        return {
            "fpr": [round(float(f), 4) for f in fpr],
            "tpr": [0.0] + [round(cdf(d + ppf(float(f))), 4) for f in fpr[1:-1]] + [1.0],
        }

    pred = np.array([0.02, 0.04, 0.06, 0.08, 0.11, 0.15, 0.2, 0.27, 0.36, 0.5])
    return {
        "schema_version": "1",
        "cohort": {"name": "demo chr21 cohort", "n_samples": 2000, "n_cases": 204, "n_controls": 1796},
        "qc": {
            "n_samples": 2000,
            "n_passed": 1987,
            "failures": [
                {"reason": "call rate below 95%", "n": 7},
                {"reason": "sex mismatch", "n": 4},
                {"reason": "ancestry outlier", "n": 2},
            ],
            "call_rate": {"min": 0.912, "median": 0.996, "max": 1.0},
            "model_variant_coverage": {"min": 0.88, "median": 0.991, "max": 1.0},
            "sex_check": {"consistent": 1990, "mismatch": 4, "unknown": 6},
            "n_ancestry_outliers": 2,
        },
        "scores": [
            {"id": "PGS000001", "n_variants": 77, "n_matched": 74, "match_rate": round(74 / 77, 6), "used": True},
            {"id": "PGS000002", "n_variants": 313, "n_matched": 290, "match_rate": round(290 / 313, 6), "used": True},
            {
                "id": "PGS000003",
                "n_variants": 1046,
                "n_matched": 602,
                "match_rate": round(602 / 1046, 6),
                "used": False,
            },
        ],
        "model": example_result()["model"],
        "performance": {
            "evaluation": "5-fold cross-validation, out-of-fold predictions",
            "roc": roc(1.1),
            "calibration": {
                "predicted": [float(p) for p in pred],
                "observed": [round(float(min(1, max(0, p + rng.normal(0, 0.015)))), 4) for p in pred],
                "n": [200] * 10,
                "brier": 0.081,
            },
            "baselines": [
                {"name": "Logistic: PRS + age + sex", "auc": 0.742, "auc_ci": [0.711, 0.772], "roc": roc(0.92)},
                {"name": "PRS alone", "auc": 0.668, "auc_ci": [0.634, 0.701], "roc": roc(0.62)},
            ],
        },
        "feature_importance": [
            {"group": g, "label": label, "importance": round(float(v), 4)}
            for g, label, v in [
                ("prs", "Polygenic score PGS000001", 0.41),
                ("age", "Age", 0.33),
                ("gene:BRCA2", "Rare damaging variants in BRCA2", 0.12),
                ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb", 0.09),
                ("sex", "Sex", 0.05),
                ("epistasis", "Interaction of two chr21 loci", 0.04),
                ("pc1", "Ancestry component 1", 0.02),
            ]
        ],
        "warnings": ["PGS000003 matched 57.6% of its variants (below 75%) and was left out of the model."],
        "generated_by": {"genorisk": __version__},
    }
