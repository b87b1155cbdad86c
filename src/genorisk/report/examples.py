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
        ("gene:APP", "Rare variants in APP"),
        ("epistasis", "Interaction of two chr21 loci"),
        ("region:chr21:15-16Mb", "Common variants near chr21:15.2 Mb"),
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
    return {
        "schema_version": "3",
        "patient_id": patient_id,
        "sample": f"{patient_id}_S{seed}",
        "vcf": f"{patient_id}.vcf.gz",
        "trait": {
            "id": "cad",
            "name": "coronary artery disease",
            "population": "UK adults aged 40-69",
            "time_frame": "by age 75",
            "prevalence": prevalence,
            "cohort_case_fraction": 0.102,
        },
        "risk": {
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
        },
        "cohort_distribution": {"quantiles": [round(float(q), 6) for q in quantiles], "n": 2000},
        "drivers": drivers,
        "ancestry_adjustment": {"contribution": -0.031, "odds_factor": round(math.exp(-0.031), 6)},
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
            "ancestry_threshold": 4.1,
            "ancestry_pcs": [round(float(x), 4) for x in rng.normal(0, 1, 5)],
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
        "schema_version": "2",
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
            "metrics": {
                name: {
                    "roc_auc": {"estimate": auc, "ci_low": auc - 0.03, "ci_high": auc + 0.03},
                    "pr_auc": {"estimate": 0.31, "ci_low": 0.27, "ci_high": 0.35},
                    "brier": {"estimate": 0.081, "ci_low": 0.077, "ci_high": 0.085},
                    "ece": {"estimate": 0.012, "ci_low": 0.006, "ci_high": 0.02},
                }
                for name, auc in (("model", 0.781), ("baseline", 0.742))
            },
            "auc_difference": {"estimate": 0.039, "ci_low": 0.012, "ci_high": 0.066},
        },
        "trait": {
            "id": "cad",
            "name": "coronary artery disease",
            "prevalence": 0.1,
            "population": "UK adults aged 40-69",
            "time_frame": "by age 75",
        },
        "ancestry_map": _example_ancestry_map(rng),
        "ancestry_limit": {
            "threshold": 4.1,
            "in_sample_threshold": 4.5,
            "outlier_rate": 0.005,
            "heldout_flag_rate": 0.005,
            "heldout_folds": 5,
            "method": "0.50% of the cohort's own people flagged, measured out of fold",
            "n_pcs": 5,
        },
        "risk_status": {"shown": 40, "widened": 0, "withheld": 2},
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
