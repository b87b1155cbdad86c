"""Results schema 4: one result per patient, a result per trait, patient-level parts once; scored from bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.model.score_context import score_distribution
from genorisk.patient_checks import check_against_cohort
from genorisk.report import schema as report_schema
from genorisk.results import (
    RESULT_SCHEMA_VERSION,
    combine_trait_results,
    model_baseline,
    patient_result,
    score_batch,
    trait_result,
)

TRAIT_KEYS = [
    "trait",
    "risk",
    "cohort_distribution",
    "drivers",
    "ancestry_adjustment",
    "polygenic_scores",
    "model",
    "coverage",
]
COVERAGE_KEYS = [
    "model_variant_coverage",
    "n_model_variants",
    "n_model_variants_missing",
    "ancestry_threshold",
    "ancestry_outlier",
    "n_reference_filled",
    "reference_source",
]
QC_KEYS = [
    "call_rate",
    "inferred_sex",
    "recorded_sex",
    "sex_check",
    "sex_check_reason",
    "ancestry_distance",
    "ancestry_pcs",
    "cohort_range_check",
]


def metrics(difference_ci_low: float | None) -> dict:
    out = {
        "data": {"n_samples": 1000, "n_cases": 300},
        "model": {"roc_auc": {"estimate": 0.8, "ci_low": 0.77, "ci_high": 0.83}},
        "baseline": None,
        "baseline_features": ["pgs_PGS1", "pc1", "age"],
    }
    if difference_ci_low is not None:
        out["baseline"] = {"roc_auc": {"estimate": 0.78, "ci_low": 0.75, "ci_high": 0.81}}
        out["roc_auc_difference"] = {"model-baseline": {"estimate": 0.02, "ci_low": difference_ci_low, "ci_high": 0.04}}
    return out


def coverage(fraction: float = 0.99, distance: float = 2.0) -> dict:
    return {
        "n_model_variants": 1000,
        "n_missing": int(round((1 - fraction) * 1000)),
        "n_reference_filled": 0,
        "reference_source": None,
        "n_uncalled": 0,
        "coverage": fraction,
        "call_rate": 0.99,
        "polygenic_scores": [{"id": "PGS1", "value": 1.5, "n_variants": 100, "n_matched": 90, "match_rate": 0.9}],
        "ancestry": {"distance": distance, "outlier": False, "threshold": 4.5},
    }


def inputs(trait_id: str, prevalence: float, difference_ci_low: float | None) -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(0)
    scored = {
        "risk": 0.3,
        "risk_interval": [0.25, 0.35],
        "interval_level": 0.95,
        "percentile": 80.0,
        "drivers": [
            {"group": "polygenic score PGS1", "label": "PGS1", "contribution": 0.4, "direction": "raises risk"},
            {"group": "ancestry (PCs)", "label": "PC1-PC2", "contribution": 1.7, "direction": "raises risk"},
        ],
    }
    card = {
        "metrics": metrics(difference_ci_low),
        "files_sha256": {"model.ubj": "ab" * 32},
        "intended_use": "Research.",
        "trait": {"id": trait_id, "name": f"card name of {trait_id}", "prevalence": prevalence},
        "ancestry_limit": {"threshold": 4.0, "outlier_rate": 0.005},
    }
    risks = {
        "risk_quantiles": np.sort(rng.beta(2, 5, 1001)).tolist(),
        "n_samples": 1000,
        "polygenic_scores": {
            "PGS1": {"cohort": score_distribution(rng.normal(0, 1, 5000)), "ancestry": None, "method": "cohort"}
        },
    }
    return scored, card, risks


PATIENT = {"patient_id": "P1", "sample": "S1", "vcf": "/data/p1.vcf.gz", "sex": "female"}


def test_model_baseline_says_whether_the_model_beats_it():
    beats = model_baseline(metrics(0.005))
    assert beats == {
        "name": "Logistic regression: pgs_PGS1, pc1, age",
        "auc": 0.78,
        "difference": 0.02,
        "difference_ci": [0.005, 0.04],
        "beats_baseline": True,
    }
    assert model_baseline(metrics(-0.012))["beats_baseline"] is False  # the CI includes 0
    assert model_baseline(metrics(None)) is None  # no baseline (no pgs/covariate/pc features)
    # Without bootstrap resamples there is no CI: not shown to beat it (was a TypeError on None > 0).
    no_ci = metrics(0.005)
    no_ci["roc_auc_difference"]["model-baseline"].update(ci_low=None, ci_high=None)
    assert model_baseline(no_ci) == {**beats, "difference_ci": None, "beats_baseline": False}


def test_two_traits_make_one_result_with_the_patient_parts_once():
    qc = {
        "validation": {"warnings": ["a header line was repaired"]},
        "sex": {"inferred_sex": "male", "n_sites": 400},  # recorded female: a mismatch, warned once
        "notable_variants": [],
        "call_rate": 0.985,
        "coverage": {"a": coverage(), "b": coverage(fraction=0.5)},
        "cohort_qc": check_against_cohort(
            {"fraction_sites_present": 1.0, "call_rate": 0.99, "het_rate": 0.5},
            {"min_call_rate": 0.95, "het_rate": [0.09, 0.11], "heterozygosity_sd": 3.0, "n_excluded": 2},
        ),
    }
    parts = []
    for trait_id, prevalence, ci_low in (("a", 0.05, 0.005), ("b", 0.2, -0.01)):
        scored, card, risks = inputs(trait_id, prevalence, ci_low)
        settings = {"id": trait_id, "name": f"disease {trait_id}", "prevalence": prevalence, "population": "UK"}
        parts.append(trait_result(scored, qc["coverage"][trait_id], card, risks, trait=settings, ancestry_pcs=[1, 2]))
    result = combine_trait_results(PATIENT, qc, parts, ancestry_pcs=[1, 2])
    assert list(result) == [
        "schema_version",
        "patient_id",
        "sample",
        "vcf",
        "traits",
        "notable_variants",
        "qc",
        "pharmacogenomics",
        "warnings",
        "generated_by",
    ]
    assert result["schema_version"] == RESULT_SCHEMA_VERSION == "4" and result["vcf"] == "p1.vcf.gz"
    assert result["pharmacogenomics"] is None and result["notable_variants"] == []
    assert list(result["qc"]) == QC_KEYS
    assert result["qc"]["call_rate"] == 0.985 and result["qc"]["ancestry_distance"] == 2.0
    assert result["qc"]["ancestry_pcs"] == [1.0, 2.0] and result["qc"]["sex_check"] == "mismatch"
    assert len(result["warnings"]) == 3 and sum("Recorded sex" in w for w in result["warnings"]) == 1
    a, b = result["traits"]
    for part in (a, b):
        assert list(part) == TRAIT_KEYS and list(part["coverage"]) == COVERAGE_KEYS
        assert [d["group"] for d in part["drivers"]] == ["polygenic score PGS1"]  # PCs: an adjustment
        assert part["ancestry_adjustment"]["contribution"] == 1.7
    # Each trait is named and anchored by its own settings (the bundle's, not the card's name).
    assert (a["trait"]["name"], b["trait"]["name"]) == ("disease a", "disease b")
    assert a["risk"]["prevalence"] == 0.05 and b["risk"]["prevalence"] == 0.2
    # The same cohort risks, re-anchored to a lower population prevalence for a than for b.
    assert a["cohort_distribution"]["quantiles"][50] < b["cohort_distribution"]["quantiles"][50]
    # The outlier policy is per trait: b's model is covered at 50 %, withheld; a's shown.
    assert a["risk"]["status"] == "shown" and b["risk"]["status"] == "withheld"
    assert "Only 50%" in b["risk"]["withheld_reason"] and b["coverage"]["model_variant_coverage"] == 0.5
    assert a["model"]["baseline"]["beats_baseline"] is True and b["model"]["baseline"]["beats_baseline"] is False
    assert a["model"]["auc"] == 0.8 and a["polygenic_scores"][0]["z"] is not None
    report_schema.validate_result(result)  # the report's schema 4


def test_patient_result_is_one_trait_combined():
    scored, card, risks = inputs("a", 0.05, 0.005)
    qc = {"validation": {"warnings": []}, "sex": {}, "notable_variants": None, "coverage": coverage()}
    one = patient_result(PATIENT, scored, qc, card, risks, outlier_policy="widen")
    settings = dict(card["trait"])
    part = trait_result(scored, coverage(), card, risks, trait=settings, outlier_policy="widen")
    assert one == combine_trait_results(PATIENT, dict(qc, coverage={"a": coverage()}), [part])
    assert one["traits"][0]["trait"]["name"] == "card name of a"  # no settings given: the card's
    assert one["qc"]["call_rate"] == 0.99  # no all-traits call rate in the record: the trait's
    with pytest.raises(ValueError, match="outlier policy"):
        trait_result(scored, coverage(), card, risks, outlier_policy="hide")


# ------------------------------------------------------------ scored from real bundles


def small_bundle(folder: Path, trait: dict, dosages: np.ndarray, labels: np.ndarray, columns: list[int]) -> Path:
    """Train a small model on ``columns`` of ``dosages`` and publish it as a bundle."""
    from genorisk.model import ModelConfig, save_model, train_model
    from genorisk.model.bundle import write_bundle

    names = [f"v{c}" for c in columns]
    ids = pd.Index([f"S{i:04d}" for i in range(len(labels))], name="sample_id")
    X = pd.DataFrame(dosages[:, columns], index=ids, columns=names)
    schema = {
        "schema_version": 1,
        "features": [
            {
                "name": f"v{c}",
                "kind": "dosage",
                "label": f"variant chr21:{5_000_000 + c} A>G",
                "group": f"gene G{c // 4}",
                "definition": {"chrom": "chr21", "pos": 5_000_000 + c, "ref": "A", "alt": "G", "cohort_af": 0.3},
            }
            for c in columns
        ],
    }
    config = ModelConfig.from_dict({"n_folds": 3, "n_trials": 1, "n_bootstrap": 20, "threads": 1})
    model = train_model(X, labels, schema, config)
    save_model(model, folder.with_name(folder.name + ".model"), trait=trait)
    sites = pd.DataFrame({"chrom": "chr21", "pos": 5_000_000 + np.arange(12), "ref": "A", "alt": "G"})
    reference = {"format_version": 1, "sample_ranges": {"min_call_rate": 0.95, "het_rate": None}, "n_samples": 400}
    write_bundle(
        folder,
        trait,
        model_dir=folder.with_name(folder.name + ".model"),
        cohort_reference=reference,
        cohort_sites=sites,
    )
    return folder


@pytest.mark.integration
def test_a_batch_is_scored_for_every_trait_from_the_bundles_alone(tmp_path):
    from genorisk.model import load_model, score_patients
    from genorisk.model.bundle import load_bundle

    rng = np.random.default_rng(3)
    n = 400
    dosages = rng.binomial(2, 0.3, size=(n, 12)).astype(np.float32)
    first = (dosages[:, :3].sum(axis=1) + rng.normal(size=n) > 2.5).astype(int)
    second = (dosages[:, 6] * dosages[:, 7] + rng.normal(size=n) > 1.5).astype(int)
    traits = [
        {"id": "additive", "name": "Additive disease", "column": "status", "prevalence": 0.1},
        {"id": "interaction", "name": "Interaction disease", "column": "status_b", "prevalence": 0.05},
    ]
    for t in traits:
        t.update(population="simulated", time_frame="lifetime", covariates=[], scores=[])
    folders = [
        small_bundle(tmp_path / "additive", traits[0], dosages, first, list(range(8))),
        small_bundle(tmp_path / "interaction", traits[1], dosages, second, list(range(4, 12))),
    ]
    bundles = [load_bundle(f) for f in folders]
    # Three patients, each trait's features from its own schema; P2 was refused (no qc record).
    patients = [{"patient_id": p, "sample": f"S_{p}", "vcf": f"/in/{p}.vcf.gz", "sex": ""} for p in ("P1", "P2", "P3")]
    genotypes = rng.binomial(2, 0.3, size=(2, 12)).astype(np.float32)
    paths, qc = [], {}
    for t, bundle in zip(traits, bundles, strict=True):
        names = [f["name"] for f in bundle.schema["features"]]
        columns = [int(name[1:]) for name in names]
        table = pd.DataFrame(genotypes[:, columns], index=pd.Index(["P1", "P3"], name="sample_id"), columns=names)
        paths.append(tmp_path / f"features.{t['id']}.parquet")
        table.to_parquet(paths[-1])
    for pid in ("P1", "P3"):
        per_trait = {
            t["id"]: dict(coverage(1.0), n_model_variants=8, ancestry=None, polygenic_scores=[]) for t in traits
        }
        qc[pid] = {"validation": {}, "sex": {}, "notable_variants": None, "call_rate": 1.0, "coverage": per_trait}
    results = score_batch(patients, bundles, paths, qc, outlier_policy="withhold", min_coverage=0.9)
    assert [r["patient_id"] for r in results] == ["P1", "P3"]
    for r in results:
        assert [t["trait"]["id"] for t in r["traits"]] == ["additive", "interaction"]
        assert [t["trait"]["name"] for t in r["traits"]] == ["Additive disease", "Interaction disease"]
        assert all(t["risk"]["status"] == "shown" and 0 < t["risk"]["probability"] < 1 for t in r["traits"])
        assert all(
            t["model"]["sha256"] == b.manifest["files"]["model.ubj"] for t, b in zip(r["traits"], bundles, strict=True)
        )
        report_schema.validate_result(r)
    # Each trait's risk is its own model's, re-anchored from its cohort's case fraction to its prevalence.
    from genorisk.model import prior_shift

    for k, (labels, t) in enumerate(zip((first, second), traits, strict=True)):
        model = load_model(folders[k])
        table = pd.read_parquet(paths[k])
        raw = score_patients(model, table)[0]["risk"]
        want = float(prior_shift(raw, labels.mean(), t["prevalence"]))
        assert results[0]["traits"][k]["risk"]["probability"] == pytest.approx(want)
    # The same inputs give the same bytes (the score-only run must reproduce the full run's results).
    again = score_batch(patients, [load_bundle(f) for f in folders], paths, qc)
    assert json.dumps(again) == json.dumps(results)
