"""The interaction screen (genorisk.model.interactions) and its terms in the trees, artifact and scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm
from test_model import FAST, _feature, _frame, _hwe_genotypes, _scaled, _standardise

from genorisk.errors import InputError
from genorisk.model import ModelConfig, load_model, save_model, score_patients, train_model
from genorisk.model.interactions import (
    InteractionTerm,
    interaction_matrix,
    screen_interactions,
    terms_from_dict,
    terms_to_dict,
)
from genorisk.model.select import dosage_ranking


def _cohort(n, seed, *, epistasis=0.15, gxage=0.15, null=False):
    """30 variants, the first 10 additive; rs0 x rs1 epistasis and rs2 x age (both centred: no additive part)."""
    rng = np.random.default_rng(seed)
    g, maf = _hwe_genotypes(rng, n, 30, 0.2, 0.5)
    z = _standardise(g, maf)
    age = rng.normal(size=n)
    sex = rng.integers(0, 2, n)
    liability = _scaled(z[:, :10] @ rng.normal(size=10), 0.25) + rng.normal(size=n) * 0.6
    if epistasis:
        liability += _scaled(z[:, 0] * z[:, 1], epistasis)
    if gxage:
        liability += _scaled(z[:, 2] * age, gxage)
    y = (liability > np.quantile(liability, 0.8)).astype(np.int8)
    if null:
        y = rng.permutation(y)
    names = [f"rs{i}" for i in range(30)]
    X = _frame({"age": 60 + 10 * age, "sex": sex, **dict(zip(names, g.T, strict=True))}, n)
    features = [
        _feature("age", "covariate", "age", "age", unit="years"),
        _feature("sex", "covariate", "sex", "sex", coding="0 female, 1 male"),
    ] + [
        _feature(c, "dosage", f"variant chr21:{5000000 + i} A>G", f"gene G{i}", chrom="chr21", pos=5000000 + i)
        for i, c in enumerate(names)
    ]
    return X, y, {"schema_version": 1, "features": features}


def _screen(X, y, schema, **kw):
    kinds = [f["kind"] for f in schema["features"]]
    data = X.to_numpy(np.float32)
    rows = np.arange(len(y))
    ranking = dosage_ranking(data, y, kinds, rows=rows)
    return screen_interactions(
        data,
        y,
        ranking,
        rows,
        names=list(X.columns),
        covariate_columns=[0, 1],
        top=kw.pop("top", 20),
        max_terms=kw.pop("max_terms", 10),
        **kw,
    )


def test_the_screen_finds_the_planted_pair_and_gene_by_age():
    X, y, schema = _cohort(3000, seed=1)
    terms, info = _screen(X, y, schema)
    found = {frozenset(t.features) for t in terms}
    assert frozenset({"rs0", "rs1"}) in found and frozenset({"rs2", "age"}) in found
    # The top 20 dosages crossed with all 30 (each pair once, no squares: 20 x 30 - 210) and
    # with age and sex (40), and their 20 heterozygote indicators.
    assert info["candidates"] == 20 * 30 - 210 + 40 + 20
    assert info["threshold_z"] == pytest.approx(norm.isf(0.05 / (2 * 450)), abs=1e-3)
    assert all(abs(t.z) > info["threshold_z"] for t in terms)
    assert [abs(t.z) for t in terms] == sorted((abs(t.z) for t in terms), reverse=True)
    assert _screen(X, y, schema, max_terms=1)[0] == terms[:1]


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_no_term_passes_on_a_permuted_outcome(seed):
    """The Bonferroni threshold holds the family-wise error near 5%; a lenient one lets noise through."""
    X, y, schema = _cohort(3000, seed=seed, null=True)
    assert _screen(X, y, schema)[0] == []
    assert len(_screen(X, y, schema, alpha=100.0)[0]) > 0


def test_rare_variants_are_not_screened():
    """Products of rare variants have a few co-carriers and a z far from normal: such runs passed
    terms on permuted outcomes in 10 of 10 (MAF 0.01-0.05, 5 % cases) before MIN_MAF."""
    passed = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        n = 3000
        rare, _ = _hwe_genotypes(rng, n, 200, 0.01, 0.04)
        common, _ = _hwe_genotypes(rng, n, 100, 0.1, 0.5)
        y = (rng.random(n) < 0.05).astype(np.int8)
        names = [f"rs{i}" for i in range(300)]
        X = _frame(
            {
                "age": rng.normal(60, 10, n),
                "sex": rng.integers(0, 2, n),
                **dict(zip(names, np.hstack([rare, common]).T, strict=True)),
            },
            n,
        )
        schema = {
            "schema_version": 1,
            "features": _cohort(10, seed=0)[2]["features"][:2] + [_feature(c, "dosage", c, c) for c in names],
        }
        terms, info = _screen(X, y, schema, top=50)
        passed += bool(terms)
        # Only common variants were screened: 50 of them crossed with the 100 common ones.
        assert info["candidates"] == 50 * 100 - 50 * 51 // 2 + 50 * 2 + 50
    assert passed <= 1


def test_a_term_is_plain_data_and_missing_inputs_stay_missing():
    term = InteractionTerm("product", ("a", "b"), (1.0, 2.0), (0.5, 2.0), z=5.0)
    got = term.values([np.array([2.0, np.nan, 1.0]), np.array([4.0, 1.0, 2.0])])
    np.testing.assert_allclose(got, [2.0, np.nan, 0.0])
    het = InteractionTerm("heterozygote", ("a",), (1.0,), (0.5,), z=-4.5)
    np.testing.assert_array_equal(het.values([np.array([0.0, 1.0, 2.0, np.nan, 0.9])]), [0, 1, 0, np.nan, 1])
    assert terms_from_dict(json.loads(json.dumps(terms_to_dict([term, het])))) == [term, het]
    assert term.label({"a": "A", "b": "B"}) == "interaction of A and B"
    data = np.array([[2.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(interaction_matrix([term], data, {"a": 0, "b": 1})[:, 0], [2.0, 2.0])
    with pytest.raises(InputError, match="m/interactions.json.*malformed interaction term"):
        terms_from_dict({"terms": [{"kind": "product", "features": ["a"]}]}, path="m/interactions.json")
    with pytest.raises(InputError, match="scales positive"):
        terms_from_dict({"terms": [{**term.to_dict(), "scales": [0.0, 1.0]}]})


@pytest.mark.integration
def test_the_trees_use_the_screened_terms_through_the_artifact_and_scoring(tmp_path):
    X, y, schema = _cohort(3000, seed=5)
    model = train_model(X, y, schema, ModelConfig(**{**FAST, "max_depth": (2, 4)}))
    m = model.metrics
    found = {frozenset(t.features) for t in model.interactions}
    assert frozenset({"rs0", "rs1"}) in found and frozenset({"rs2", "age"}) in found
    assert all(len(f["terms"]) > 0 for f in m["interaction_screen"]["per_fold"])
    # Without the terms the trees are level with the strong baseline at this size; with them they beat it.
    assert m["roc_auc_difference"]["model-baseline"]["ci_low"] > 0 and m["shipped"]["model"] == "boosted"
    assert model.feature_names[-len(model.interactions) :] == [t.name for t in model.interactions]

    save_model(model, tmp_path / "m")
    card = (tmp_path / "m" / "model_card.md").read_text()
    assert "Interaction screen:" in card and model.interactions[0].name in card
    loaded = load_model(tmp_path / "m")
    assert loaded.interactions == model.interactions
    patients = X.iloc[:30].copy()
    patients.iloc[0, patients.columns.get_loc("rs0")] = np.nan  # a missing input: its terms are missing
    column_of = {c: j for j, c in enumerate(patients.columns)}
    values = interaction_matrix(loaded.interactions, patients.to_numpy(np.float32), column_of)
    uses_rs0 = np.array(["rs0" in t.features for t in loaded.interactions])
    assert uses_rs0.any() and np.isnan(values[0, uses_rs0]).all() and not np.isnan(values[1:]).any()
    before = score_patients(model, patients, top_n=10_000)
    after = score_patients(loaded, patients, top_n=10_000)
    assert [s["margin"] for s in after] == pytest.approx([s["margin"] for s in before], abs=1e-6)
    # Scoring computes the terms as training did: the booster on the training matrix's rows (the
    # features' columns, then the terms) gives the scored margins.
    import xgboost as xgb

    base = model.feature_names[: -len(model.interactions)]
    train_rows = np.column_stack(
        [
            X[base].iloc[1:30].to_numpy(np.float32),
            interaction_matrix(model.interactions, X.iloc[1:30].to_numpy(np.float32), column_of),
        ]
    )
    direct = model.booster.predict(xgb.DMatrix(train_rows, feature_names=model.feature_names), output_margin=True)
    assert [s["margin"] for s in after[1:]] == pytest.approx(direct.tolist(), abs=1e-5)
    for s in after:  # the drivers and the bias add up to the margin
        assert sum(d["contribution"] for d in s["drivers"]) + s["baseline_margin"] == pytest.approx(
            s["margin"], abs=1e-4
        )
    labels = {d["label"] for s in after for d in s["drivers"]}
    assert any(label.startswith("interaction of ") for label in labels)

    (tmp_path / "m" / "interactions.json").write_text(json.dumps({"terms": []}))
    with pytest.raises(InputError, match="interactions.json: SHA-256 differs"):
        load_model(tmp_path / "m")


@pytest.mark.integration
def test_the_screen_can_be_turned_off():
    X, y, schema = _cohort(1500, seed=6)
    model = train_model(X, y, schema, ModelConfig(**{**FAST, "interaction_screen": 0, "n_bootstrap": 0}))
    assert model.interactions == [] and "interaction_screen" not in model.metrics
    assert set(model.feature_names) <= {f["name"] for f in schema["features"]}


def test_the_sums_do_not_depend_on_the_row_chunks(monkeypatch):
    from genorisk.model import interactions

    X, y, schema = _cohort(2500, seed=8)
    one = _screen(X, y, schema)
    monkeypatch.setattr(interactions, "ROW_CHUNK", 97)
    chunked = _screen(X, y, schema)
    assert [t.name for t in chunked[0]] == [t.name for t in one[0]] and chunked[0]
    assert [t.z for t in chunked[0]] == pytest.approx([t.z for t in one[0]], abs=1e-3)


def test_a_partner_without_a_marginal_effect_is_found_through_a_top_variant():
    """rs25 has no additive effect (not among the top 3) yet its pair with rs0 is screened."""
    rng = np.random.default_rng(7)
    n = 3000
    g, maf = _hwe_genotypes(rng, n, 30, 0.2, 0.5)
    z = _standardise(g, maf)
    liability = _scaled(z[:, :3] @ [1.0, 0.8, 0.6], 0.3) + _scaled(z[:, 0] * z[:, 25], 0.15) + rng.normal(size=n) * 0.7
    y = (liability > np.quantile(liability, 0.8)).astype(np.int8)
    names = [f"rs{i}" for i in range(30)]
    X = _frame({"age": rng.normal(60, 10, n), "sex": rng.integers(0, 2, n), **dict(zip(names, g.T, strict=True))}, n)
    _, _, schema = _cohort(10, seed=0)
    terms, _ = _screen(X, y, schema, top=3)
    assert frozenset({"rs0", "rs25"}) in {frozenset(t.features) for t in terms}
    kinds = [f["kind"] for f in schema["features"]]
    assert "rs25" not in [X.columns[c] for c in dosage_ranking(X.to_numpy(np.float32), y, kinds)[:3]]


@pytest.mark.integration
def test_the_bench_reports_trees_screened_trees_and_the_oracle(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "interaction_screen.py"
    spec = importlib.util.spec_from_file_location("bench_interaction_screen", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--sizes", "1000", "--architectures", "non-additive", "--scores", "without", "--trials", "1"]
    assert bench.main([*args, "--results-dir", str(tmp_path), "--out", "screen"]) == 0
    row = json.loads((tmp_path / "screen.json").read_text())["rows"][0]
    assert set(row["minus_strong"]) == {"trees", "screened", "oracle"}
    # The oracle knows the true terms: it must gain over the strong baseline; the recall counts 6 screens.
    assert row["minus_strong"]["oracle"]["ci_low"] > 0 and row["recall"]["screens"] == 6
    assert "| without | non-additive | 1,000 |" in (tmp_path / "screen.md").read_text()
