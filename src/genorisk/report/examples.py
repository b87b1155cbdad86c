"""Complete, valid examples of the report contracts (documentation, tests and the benchmark use them)."""

from __future__ import annotations

import math
import statistics

import numpy as np

from genorisk import __version__

#: The traits of :func:`example_result`: an additive one with a polygenic score, and one with a gene x age
#: part, no score and a model that does not beat its baseline.
EXAMPLE_TRAITS = (
    {
        "id": "cad",
        "name": "coronary artery disease",
        "population": "UK adults aged 40-69",
        "time_frame": "by age 75",
        "prevalence": 0.10,
        "cohort_case_fraction": 0.102,
    },
    {
        "id": "t2d",
        "name": "type 2 diabetes",
        "population": "UK adults aged 40-69",
        "time_frame": "within 10 years",
        "prevalence": 0.05,
        "cohort_case_fraction": 0.21,
    },
)


def _example_quantiles(prevalence: float) -> np.ndarray:
    """Cohort risk quantiles, logistic-normal around ``prevalence``."""
    ppf = statistics.NormalDist().inv_cdf
    z = np.array([ppf(min(max(p, 0.0005), 0.9995)) for p in np.linspace(0, 1, 101)])
    return 1 / (1 + np.exp(-(math.log(prevalence / (1 - prevalence)) - 0.25 + 0.8 * z)))


def _example_drivers(rng: np.random.Generator, labels: list[tuple[str, str]]) -> list[dict]:
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
    return drivers


def _example_scores(rng: np.random.Generator) -> list[dict]:
    scores = []
    for i, n in enumerate([77, 313, 1_046]):
        m = int(n * rng.uniform(0.7, 1.0))
        scores.append(
            {
                "id": f"PGS00000{i + 1}",
                "value": round(float(rng.normal(0, 1)), 5),
                "percentile": round(float(rng.uniform(0, 100)), 1),
                "z": round(float(rng.normal(0, 1)), 4),
                "z_ancestry": round(float(rng.normal(0, 1)), 4),
                "method": "percentile and Z against the training cohort's score distribution",
                "ancestry_method": "Z_norm2 (pgsc_calc): mean and variance of the score regressed on the "
                "ancestry PCs of the reference panel",
                "n_variants": n,
                "n_matched": m,
                "match_rate": round(m / n, 6),
            }
        )
    return scores


def _example_risk(rng: np.random.Generator, quantiles: np.ndarray, prevalence: float) -> dict:
    pct = float(rng.uniform(1, 99))
    prob = float(np.interp(pct, np.arange(101), quantiles))
    width = float(rng.uniform(0.15, 0.35))
    return {
        "status": "shown",
        "probability": round(prob, 6),
        "interval": [round(prob * (1 - width), 6), round(min(1.0, prob * (1 + width)), 6)],
        "interval_level": 0.95,
        "percentile": round(pct, 2),
        "prevalence": prevalence,
        "prevalence_source": "population",
        "anchoring": "prior shift",
        "withheld_reason": None,
        "interval_note": None,
    }


def example_trait_result(trait: dict, *, seed: int = 0, withheld: bool = False) -> dict:
    """One valid entry of a result's ``traits`` list for ``trait`` (an :data:`EXAMPLE_TRAITS` item).

    The first example trait has three polygenic scores and a model that beats
    its baseline; any other has no score, a gene x age driver and a model that
    does not beat its baseline. ``withheld``: the risk is withheld because
    the patient's VCF covers too little of that trait's model.
    """
    rng = np.random.default_rng([seed, sum(map(ord, trait["id"]))])
    first = trait["id"] == EXAMPLE_TRAITS[0]["id"]
    quantiles = _example_quantiles(trait["prevalence"])
    if first:
        labels = [
            ("prs", "Polygenic score PGS000001 (breast cancer)"),
            ("age", "Age 61 years"),
            ("sex", "Sex: female"),
            ("gene:BRCA2", "Rare damaging variants in BRCA2"),
            ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb"),
            ("gene:APP", "Rare variants in APP"),
            ("epistasis", "Interaction of two chr21 loci"),
            ("region:chr21:15-16Mb", "Common variants near chr21:15.2 Mb"),
            ("gene:SOD1", "Rare variants in SOD1"),
            ("burden", "Overall rare-variant burden"),
        ]
    else:
        labels = [
            ("age", "Age 61 years"),
            ("gxa", "Variants near chr21:40.1 Mb, by age"),
            ("epistasis", "Interaction of two chr21 loci"),
            ("sex", "Sex: female"),
            ("burden", "Overall rare-variant burden"),
        ]
    n_model = 4_812 if first else 412
    coverage = round(float(rng.uniform(0.93, 1.0)), 5) if not withheld else 0.62
    risk = _example_risk(rng, quantiles, trait["prevalence"])
    if withheld:
        risk.update(
            status="withheld",
            probability=None,
            interval=None,
            percentile=None,
            withheld_reason=f"Only 62% of the model's {n_model:,} variants were called in this VCF (minimum 90%): "
            "the model was not validated on data this incomplete. No risk number is shown.",
        )
    if first:
        model = {
            "name": "genorisk XGBoost demo (chr21): coronary artery disease",
            "shipped": "boosted",
            "sha256": "3f" * 32,
            "trained_on": 1600,
            "auc": 0.781,
            "auc_ci": [0.752, 0.809],
            "auc_ceiling": 0.839,
            "baseline": {
                "name": "Logistic regression: pgs_PGS000001, pc1, pc2, age, sex_male",
                "auc": 0.742,
                "difference": 0.039,
                "difference_ci": [0.012, 0.066],
                "beats_baseline": True,
            },
        }
    else:
        model = {
            # The boosted model did not beat the strong baseline: the linear model ships (issue #16).
            "name": "genorisk linear risk model (in-cohort polygenic score, covariates and PCs; no trees)",
            "shipped": "linear",
            "sha256": "a7" * 32,
            "trained_on": 1600,
            "auc": 0.69,
            "auc_ci": [0.655, 0.722],
            "auc_ceiling": 0.771,
            "baseline": {
                "name": "Logistic regression: in-cohort polygenic score, pc1, pc2, age, sex_male",
                "auc": 0.69,
                "difference": 0.011,
                "difference_ci": [-0.012, 0.034],
                "beats_baseline": False,
            },
        }
    model.update(
        intended_use="Research demonstration on simulated data. Not for clinical decisions.",
        limits=[
            "Trained on a simulated cohort of European-like ancestry; accuracy elsewhere is unknown.",
            "Uses chromosome 21 only.",
            f"Calibrated to a prevalence of {trait['prevalence']:.0%}.",
        ],
    )
    return {
        "trait": dict(trait),
        "risk": risk,
        "cohort_distribution": {"quantiles": [round(float(q), 6) for q in quantiles], "n": 2000},
        "drivers": _example_drivers(rng, labels),
        "ancestry_adjustment": {"contribution": -0.031, "odds_factor": round(math.exp(-0.031), 6)},
        "polygenic_scores": _example_scores(rng) if first else None,
        "model": model,
        "coverage": {
            "model_variant_coverage": coverage,
            "n_model_variants": n_model,
            "n_model_variants_missing": int(round((1 - coverage) * n_model)),
            "ancestry_threshold": 4.1,
            "ancestry_outlier": False,
            "n_reference_filled": None,
            "reference_source": None,
        },
    }


def example_result(patient_id: str = "P0001", *, seed: int = 0, withheld: bool = True) -> dict:
    """A complete, valid patient result (schema 4) with plausible values, varied by ``seed``.

    Two traits (:data:`EXAMPLE_TRAITS`): coronary artery disease, shown, whose
    model beats its baseline, and type 2 diabetes, whose model does not and
    whose risk is withheld (too little of its model covered) unless
    ``withheld`` is False. Cohort risk is logistic-normal around each trait's
    prevalence; the patient's percentile is read off those quantiles so the
    figures agree with each other.
    """
    rng = np.random.default_rng(seed)
    traits = [
        example_trait_result(EXAMPLE_TRAITS[0], seed=seed),
        example_trait_result(EXAMPLE_TRAITS[1], seed=seed, withheld=withheld),
    ]
    return {
        "schema_version": "4",
        "patient_id": patient_id,
        "sample": f"{patient_id}_S{seed}",
        "vcf": f"{patient_id}.vcf.gz",
        "traits": traits,
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
        "qc": {
            "call_rate": round(float(rng.uniform(0.97, 1.0)), 5),
            "inferred_sex": "female",
            "recorded_sex": "female",
            "sex_check": "consistent",
            "sex_check_reason": None,
            "ancestry_distance": round(float(rng.uniform(0, 2)), 3),
            "ancestry_pcs": [round(float(x), 4) for x in rng.normal(0, 1, 5)],
            "cohort_range_check": None,
        },
        "pharmacogenomics": example_pharmacogenomics(),
        "warnings": [],
        "generated_by": {"genorisk": __version__},
    }


def _example_gene(gene: str, chromosome: str, n_positions: int, diplotypes: list[tuple], **fields) -> dict:
    rows = [
        {
            "name": "/".join(haplotypes),
            "haplotypes": list(haplotypes),
            "score": score,
            "functions": list(functions),
            "activity_values": None,
            "phenotype": phenotype,
            "activity_score": None,
        }
        for haplotypes, functions, phenotype, score in diplotypes
    ]
    phenotypes = {d["phenotype"] for d in rows}
    entry = {
        "gene": gene,
        "chromosome": chromosome,
        "status": "called",
        "reason": None,
        "diplotypes": rows,
        "phenotype": (phenotypes.pop() if len(phenotypes) == 1 else "Indeterminate") if rows else None,
        "activity_score": None,
        "phased": False,
        "n_positions": n_positions,
        "n_reference_from_callable": 0,
        "missing_positions": [],
        "absent_positions": [],
        "ref_mismatches": [],
        "missing_amp1_positions": [],
        "extra_positions": [],
        "definitions_version": "2025-04-01",
    }
    entry.update(fields)
    return entry


def example_pharmacogenomics() -> dict:
    """A valid ``pharmacogenomics`` section: CYP2C19 ``*2/*17`` (clopidogrel), a partial tie, an uncalled gene.

    The drug table is the bundled CPIC table's (:func:`genorisk.pgx.guidance.guidance_for`).
    """
    from genorisk.pgx.definitions import STRUCTURAL_GENES
    from genorisk.pgx.guidance import RESEARCH_USE, guidance_for

    genes = [
        _example_gene(
            "CYP2C19",
            "chr10",
            33,
            [(("*2", "*17"), ("No function", "Increased function"), "Intermediate Metabolizer", 3)],
        ),
        _example_gene("CYP2C9", "chr10", 61, [(("*1", "*1"), ("Normal function",) * 2, "Normal Metabolizer", 2)]),
        _example_gene(
            "SLCO1B1",
            "chr12",
            56,
            [
                (("*1", "*1"), ("Normal function",) * 2, "Normal Function", 1),
                (("*1", "*5"), ("Normal function", "No function"), "Decreased Function", 1),
            ],
            status="partial",
            reason="1 of 56 positions not called",
            missing_positions=[{"position": 21178615, "rsid": "rs4149056"}],
            missing_amp1_positions=[{"position": 21178615, "rsid": "rs4149056"}],
        ),
        _example_gene(
            "TPMT",
            "chr6",
            42,
            [],
            status="not_called",
            reason="3 of 42 definition positions are absent from the VCF and no gVCF reference block or "
            "callable-regions BED says they were sequenced: rs1800462, rs1800460, rs1142345",
            absent_positions=[
                {"position": 18143724, "rsid": "rs1800462"},
                {"position": 18138997, "rsid": "rs1800460"},
                {"position": 18130687, "rsid": "rs1142345"},
            ],
        ),
        _example_gene(
            "VKORC1", "chr16", 1, [(("rs9923231 reference (C)", "rs9923231 variant (T)"), (), "-1639 AG", 2)]
        ),
    ]
    return {
        "status": "called",
        "reason": None,
        "error": None,
        "genome_build": "GRCh38",
        "definitions": {
            "source": "PharmCAT named-allele definitions and phenotype mappings (PharmGKB/PharmCAT)",
            "license": "MPL-2.0 (PharmCAT); allele and phenotype data from CPIC (CC0) and PharmVar",
            "build": "GRCh38",
            "version": "2025-04-01",
        },
        "genes": genes,
        "not_attempted": [{"gene": "CYP2D6", "reason": STRUCTURAL_GENES["CYP2D6"]}],
        "drugs": guidance_for({g["gene"]: g["phenotype"] for g in genes}),
        "research_use": RESEARCH_USE,
    }


def _example_curves(rng: np.random.Generator, d: float, case_fraction: float) -> tuple[dict, dict]:
    """Binormal ROC and PR curves with separation ``d`` (in SDs) at ``case_fraction``."""
    cdf = statistics.NormalDist().cdf
    ppf = statistics.NormalDist().inv_cdf
    fpr = np.linspace(0, 1, 51)
    tpr = np.array([0.0] + [cdf(d + ppf(float(f))) for f in fpr[1:-1]] + [1.0])
    roc = {"fpr": [round(float(f), 4) for f in fpr], "tpr": [round(float(v), 4) for v in tpr]}
    order = np.argsort(tpr, kind="stable")
    recall = tpr[order][1:]
    fp = fpr[order][1:]
    precision = recall * case_fraction / (recall * case_fraction + fp * (1 - case_fraction))
    pr = {
        "recall": [0.0] + [round(float(v), 4) for v in recall],
        "precision": [1.0] + [round(float(v), 4) for v in precision],
        "case_fraction": case_fraction,
    }
    return roc, pr


def _example_trait_section(rng: np.random.Generator, k: int) -> dict:
    """A trait section of :func:`example_cohort`: the first trait beats its baseline, the second does not."""
    trait = EXAMPLE_TRAITS[k]
    card = example_trait_result(trait)["model"]
    base = card["baseline"]
    n_cases = 204 if k == 0 else 410
    case_fraction = round(n_cases / 2000, 4)
    roc, pr = _example_curves(rng, 1.1 if k == 0 else 0.75, case_fraction)
    base_roc, base_pr = _example_curves(rng, 0.92 if k == 0 else 0.71, case_fraction)
    pred = np.array([0.02, 0.04, 0.06, 0.08, 0.11, 0.15, 0.2, 0.27, 0.36, 0.5]) * (1 if k == 0 else 1.6)
    metric = {
        "model": (card["auc"], card["auc_ci"]),
        "baseline": (base["auc"], [round(base["auc"] - 0.031, 3), round(base["auc"] + 0.03, 3)]),
    }
    ci = base["difference_ci"]
    return {
        "trait": {key: trait[key] for key in ("id", "name", "prevalence", "population", "time_frame")},
        "cohort": {"n_samples": 2000, "n_cases": n_cases, "n_controls": 2000 - n_cases},
        "model": card,
        "performance": {
            "evaluation": "5-fold cross-validation, out-of-fold predictions",
            "roc": roc,
            "pr": pr,
            "calibration": {
                "predicted": [round(float(p), 4) for p in pred],
                "observed": [round(float(min(1, max(0, p + rng.normal(0, 0.015)))), 4) for p in pred],
                "n": [200] * 10,
                "brier": 0.081 if k == 0 else 0.152,
            },
            "baselines": [
                {
                    "name": base["name"],
                    "auc": base["auc"],
                    "auc_ci": metric["baseline"][1],
                    "roc": base_roc,
                    "pr": base_pr,
                },
            ]
            + ([{"name": "PRS alone", "auc": 0.668, "auc_ci": [0.634, 0.701]}] if k == 0 else []),
            "metrics": {
                name: {
                    "roc_auc": {"estimate": auc, "ci_low": auc_ci[0], "ci_high": auc_ci[1]},
                    "pr_auc": {"estimate": 0.31 if k == 0 else 0.29, "ci_low": 0.27, "ci_high": 0.35},
                    "brier": {"estimate": 0.081, "ci_low": 0.077, "ci_high": 0.085},
                    "ece": {"estimate": 0.012, "ci_low": 0.006, "ci_high": 0.02},
                }
                for name, (auc, auc_ci) in metric.items()
            },
            "auc_difference": {"estimate": base["difference"], "ci_low": ci[0], "ci_high": ci[1]},
        },
        "scores": [
            {"id": "PGS000001", "n_variants": 77, "n_matched": 74, "match_rate": round(74 / 77, 6), "used": True},
            {"id": "PGS000002", "n_variants": 313, "n_matched": 290, "match_rate": round(290 / 313, 6), "used": True},
        ]
        if k == 0
        else None,
        "feature_importance": [
            {"group": g, "label": label, "importance": round(float(v), 4)}
            for g, label, v in (
                [
                    ("prs", "Polygenic score PGS000001", 0.41),
                    ("age", "Age", 0.33),
                    ("gene:BRCA2", "Rare damaging variants in BRCA2", 0.12),
                    ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb", 0.09),
                    ("sex", "Sex", 0.05),
                    ("epistasis", "Interaction of two chr21 loci", 0.04),
                    ("pc1", "Ancestry component 1", 0.02),
                ]
                if k == 0
                else [
                    ("age", "Age", 0.38),
                    ("gxa", "Variants near chr21:40.1 Mb, by age", 0.17),
                    ("epistasis", "Interaction of two chr21 loci", 0.11),
                    ("sex", "Sex", 0.03),
                ]
            )
        ],
        "ancestry_limit": {
            "threshold": 4.1,
            "in_sample_threshold": 4.5,
            "outlier_rate": 0.005,
            "heldout_flag_rate": 0.005,
            "heldout_folds": 5,
            "method": "0.50% of the cohort's own people flagged, measured out of fold",
            "n_pcs": 5,
        },
        "patients": {
            "model_variant_coverage": {"min": 0.88, "median": 0.991, "max": 1.0}
            if k == 0
            else {"min": 0.62, "median": 0.97, "max": 1.0},
            "n_ancestry_outliers": 2,
            "risk_status": {"shown": 40, "widened": 0, "withheld": 2}
            if k == 0
            else {"shown": 39, "widened": 0, "withheld": 3},
        },
        "warnings": []
        if k == 0
        else ["No polygenic score was configured for this trait; its model uses genotype dosages and covariates only."],
    }


def example_cohort(*, seed: int = 0) -> dict:
    """A complete, valid cohort summary (schema 3) with plausible values: the two :data:`EXAMPLE_TRAITS`."""
    rng = np.random.default_rng(seed)
    return {
        "schema_version": "3",
        "cohort": {"name": "demo chr21 cohort", "n_samples": 2000, "n_traits": 2},
        "qc": {
            "n_samples": 2000,
            "n_passed": 1987,
            "failures": [
                {"reason": "call rate below 95%", "n": 7},
                {"reason": "sex mismatch", "n": 4},
                {"reason": "ancestry outlier", "n": 2},
            ],
            "call_rate": {"min": 0.912, "median": 0.996, "max": 1.0},
            "sex_check": {"consistent": 1990, "mismatch": 4, "unknown": 6},
        },
        "scores": [
            {
                "id": "PGS000001",
                "n_variants": 77,
                "n_matched": 74,
                "match_rate": round(74 / 77, 6),
                "used": True,
                "unmatched": [{"reason": "not in target", "n": 3}],
                "traits": ["cad"],
            },
            {
                "id": "PGS000002",
                "n_variants": 313,
                "n_matched": 290,
                "match_rate": round(290 / 313, 6),
                "used": True,
                "unmatched": [{"reason": "not in target", "n": 20}, {"reason": "strand-ambiguous dropped", "n": 3}],
                "traits": ["cad"],
            },
            {
                "id": "PGS000003",
                "n_variants": 1046,
                "n_matched": 602,
                "match_rate": round(602 / 1046, 6),
                "used": False,
                "unmatched": [{"reason": "not in target", "n": 444}],
                "traits": [],
            },
        ],
        "ancestry_map": _example_ancestry_map(rng),
        "patients": {"n_reported": 42, "n_flagged_qc": 1, "refused": []},
        "traits": [_example_trait_section(rng, 0), _example_trait_section(rng, 1)],
        "warnings": ["PGS000003 matched 57.6% of its variants (below 75%) and was left out of the model."],
        "generated_by": {"genorisk": __version__},
    }


def _example_ancestry_map(rng: np.random.Generator) -> dict:
    """A cohort density around the origin, a three-population reference panel and a few patients."""
    cohort = rng.normal(0, 1, (2000, 2))
    counts, xe, ye = np.histogram2d(cohort[:, 0], cohort[:, 1], bins=24)
    centres = [(0.0, 0.0), (9.0, 1.0), (2.0, 8.0)]
    reference = [
        [round(float(cx + rng.normal()), 4), round(float(cy + rng.normal()), 4)]
        for cx, cy in centres
        for _ in range(30)
    ]
    patients = sorted([[round(float(x), 4), round(float(y), 4)] for x, y in rng.normal(0, 1, (5, 2))] + [[9.2, 0.7]])
    return {
        "pcs": ["PC1", "PC2"],
        "cohort_density": {
            "x_edges": [float(v) for v in xe],
            "y_edges": [float(v) for v in ye],
            "counts": [[int(c) for c in row] for row in counts],
        },
        "reference": reference,
        "patients": patients,
    }
