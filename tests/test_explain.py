"""Tests of genorisk.model.explain: TreeSHAP contributions, grouping and drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from genorisk.model import ModelConfig, load_model, save_model, score_patients, train_model
from genorisk.model.explain import (
    ExplanationError,
    FeatureGroups,
    add_linear_contributions,
    drivers_from_contributions,
    tree_contributions,
)


def _feature(name, kind, label, group):
    return {"name": name, "kind": kind, "label": label, "group": group, "definition": {"source": "test"}}


@pytest.fixture(scope="module")
def cohort():
    """1,500 people: age, a carrier flag of rare APP variants, PCs and null dosages.

    Liability = 0.5 age (standardised) + 1.5 x APP carrier + noise; PCs and
    the dosages of gene NUL carry nothing.
    """
    rng = np.random.default_rng(21)
    n = 1500
    age = rng.normal(60, 10, n)
    carrier = (rng.random(n) < 0.1).astype(float)
    pcs = rng.normal(size=(n, 3))
    null = rng.binomial(2, 0.3, size=(n, 6)).astype(float)
    null[rng.random(null.shape) < 0.02] = np.nan  # missing dosages
    liability = 0.5 * (age - 60) / 10 + 1.5 * carrier + rng.normal(size=n)
    y = (liability > np.quantile(liability, 0.75)).astype(np.int8)
    columns = {
        "age": age,
        "app_carrier": carrier,
        **{f"pc{i + 1}": pcs[:, i] for i in range(3)},
        **{f"nul_v{i}": null[:, i] for i in range(6)},
    }
    X = pd.DataFrame(columns, index=pd.Index([f"P{i}" for i in range(n)], name="sample_id")).astype(np.float32)
    features = [
        _feature("age", "covariate", "age", "age"),
        _feature("app_carrier", "carrier", "rare damaging variants in APP", "gene APP"),
    ]
    features += [_feature(f"pc{i + 1}", "pc", f"principal component {i + 1}", "ancestry (PCs)") for i in range(3)]
    features += [_feature(f"nul_v{i}", "dosage", f"variant chr21:{1000 + i} A>G", "gene NUL") for i in range(6)]
    return X, y, {"schema_version": 1, "features": features}


@pytest.fixture(scope="module")
def model(cohort):
    X, y, schema = cohort
    # The plain offset (age + PCs): the in-cohort score is covered in test_model.py and test_in_cohort.py.
    config = ModelConfig(
        n_folds=3, n_trials=1, n_bootstrap=20, threads=1, max_bin=32, n_estimators=200, in_cohort_score=False
    )
    return train_model(X, y, schema, config)


def test_contributions_sum_to_margin_and_mismatch_raises(model, cohort):
    X, _, _ = cohort
    assert model.offset is not None and model.offset.features == ["age", "pc1", "pc2", "pc3"]
    base_margin = model.offset.margin(X[model.offset.features].to_numpy())
    dmat = xgb.DMatrix(X[model.feature_names].to_numpy(), feature_names=model.feature_names, base_margin=base_margin)
    margin, contribs = tree_contributions(model.booster, dmat)
    assert contribs.shape == (len(X), len(model.feature_names) + 1)
    assert np.allclose(margin, model.booster.predict(dmat, output_margin=True), atol=1e-6)
    assert np.allclose(contribs.sum(axis=1), margin, atol=1e-4)
    assert np.isnan(X.to_numpy()).any()  # the check covered rows with missing values
    wrong = margin.copy()
    wrong[17] += 0.05
    with pytest.raises(ExplanationError, match=r"row 17 sum to .* margin is .* \(1 of 1500 rows"):
        tree_contributions(model.booster, dmat, margin=wrong)


def test_feature_groups_sum_like_pandas_groupby():
    schema = {
        "features": [
            _feature("a", "pc", "PC1", "ancestry (PCs)"),
            _feature("b", "covariate", "age", "age"),
            _feature("c", "pc", "PC2", "ancestry (PCs)"),
            _feature("d", "dosage", "variant x", "gene X"),
        ]
    }
    groups = FeatureGroups.from_schema(schema, ["a", "b", "c", "d"])
    assert groups.names == ["ancestry (PCs)", "age", "gene X"]
    assert groups.labels == ["ancestry (PCs)", "age", "variant x"]  # single-feature groups use the feature label
    contribs = np.random.default_rng(0).normal(size=(4, 4))
    expected = (
        pd.DataFrame(contribs, columns=["ancestry (PCs)", "age", "ancestry (PCs)", "gene X"])
        .T.groupby(level=0, sort=False)
        .sum()
        .T
    )
    assert np.allclose(groups.group(contribs), expected[groups.names].to_numpy())
    # Booster columns may be a subset of the schema (filtered dosages).
    assert FeatureGroups.from_schema(schema, ["b", "d"]).names == ["age", "gene X"]
    with pytest.raises(KeyError, match="'z'"):
        FeatureGroups.from_schema(schema, ["b", "z"])


def test_drivers_sorted_signed_and_cut():
    groups = FeatureGroups(names=["g0", "g1", "g2", "g3"], labels=["L0", "L1", "L2", "L3"], index=np.arange(4))
    drivers = drivers_from_contributions(np.array([0.1, -0.7, 0.0, 0.3]), groups, top_n=5)
    assert [d["group"] for d in drivers] == ["g1", "g3", "g0"]  # exact zero dropped
    assert drivers[0] == {"group": "g1", "label": "L1", "contribution": -0.7, "direction": "lowers risk"}
    assert drivers[1]["direction"] == "raises risk"
    assert len(drivers_from_contributions(np.array([0.1, -0.7, 0.0, 0.3]), groups, top_n=2)) == 2


def test_patient_drivers_name_the_true_cause(model, cohort):
    X, _, _ = cohort
    carriers = X[(X["app_carrier"] == 1) & (X["age"].between(55, 65))].iloc[:20]
    results = score_patients(model, carriers, top_n=20)
    top = [r["drivers"][0] for r in results]
    assert sum(d["group"] == "gene APP" for d in top) >= 18
    assert all(
        d["label"] == "rare damaging variants in APP" and d["direction"] == "raises risk"
        for d in top
        if d["group"] == "gene APP"
    )
    old = score_patients(model, X[(X["app_carrier"] == 0) & (X["age"] > 80)], top_n=20)
    assert len(old) >= 5
    assert all(r["drivers"][0]["group"] == "age" and r["drivers"][0]["direction"] == "raises risk" for r in old)
    # With every group listed, drivers + bias reproduce the margin.
    for r in results + old:
        total = r["baseline_margin"] + sum(d["contribution"] for d in r["drivers"])
        assert total == pytest.approx(r["margin"], abs=1e-4)


def test_scoring_in_batches_matches_one_batch(model, cohort):
    X, _, _ = cohort
    patients = X.iloc[:50]
    coverage = {sid: {"pgs_match_rate": 0.9} for sid in patients.index}
    whole = score_patients(model, patients, coverage=coverage)
    batched = score_patients(model, patients, coverage=coverage, batch_size=7)
    assert whole == batched
    assert whole[3]["coverage"] == {"pgs_match_rate": 0.9}
    assert whole[0]["n_missing_features"] == int(np.isnan(patients.iloc[0].to_numpy()).sum())


def test_linear_contributions_move_bias_to_features_keeping_sums():
    rng = np.random.default_rng(1)
    contribs = rng.normal(size=(6, 4))
    linear = rng.normal(size=(6, 2))
    out = add_linear_contributions(contribs, [2, 0], linear)
    assert np.allclose(out.sum(axis=1), contribs.sum(axis=1))
    assert np.allclose(out[:, 2] - contribs[:, 2], linear[:, 0])
    assert np.allclose(out[:, 0] - contribs[:, 0], linear[:, 1])
    assert np.allclose(out[:, 1], contribs[:, 1])


def test_offset_model_round_trip(model, cohort, tmp_path):
    X, _, _ = cohort
    patients = X.iloc[100:140]
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert loaded.offset is not None and np.array_equal(loaded.offset.coef, model.offset.coef)
    assert score_patients(loaded, patients) == score_patients(model, patients)
    # Scoring without the offset would be wrong: prove the margins differ from a bare predict.
    bare = loaded.booster.predict(
        xgb.DMatrix(patients[loaded.feature_names].to_numpy(), feature_names=loaded.feature_names), output_margin=True
    )
    scored = np.array([r["margin"] for r in score_patients(loaded, patients)])
    assert np.abs(bare - scored).max() > 0.1
