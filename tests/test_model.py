"""Tests of genorisk.model on cohorts simulated under the liability-threshold model.

Genotypes are drawn in Hardy-Weinberg equilibrium; liability = genetic value
(+ non-additive terms) + noise, scaled to the chosen variances; cases are the
top K of liability. The AUC ceiling of Wray et al. (2010) then says how good a
model can be, so "good enough" is measured, not guessed.
"""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from genorisk.errors import ConfigError, InputError
from genorisk.model import (
    ModelConfig,
    RankedPredictions,
    calibration_curve,
    cohort_percentile,
    dosage_ranking,
    evaluate_predictions,
    expected_calibration_error,
    is_pickle,
    load_model,
    save_model,
    score_patients,
    select_dosage_features,
    train_model,
    trait_training_rows,
    trend_test_statistic,
)
from genorisk.simulate import auc_ceiling

# Small, fast settings: the statistical claims hold at these sizes; the
# defaults (12 trials, 200 bootstraps) are for real cohorts.
FAST = dict(
    n_folds=5,
    n_trials=2,
    n_bootstrap=100,
    threads=1,
    max_bin=16,
    n_estimators=300,
    learning_rate=(0.1, 0.3),
    max_depth=(1, 4),
    early_stopping_rounds=20,
)


def _frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    index = pd.Index([f"S{i:05d}" for i in range(n)], name="sample_id")
    return pd.DataFrame({k: np.asarray(v, dtype=np.float32) for k, v in columns.items()}, index=index)


def _feature(name: str, kind: str, label: str, group: str, **definition) -> dict:
    return {"name": name, "kind": kind, "label": label, "group": group, "definition": definition}


def _hwe_genotypes(rng, n, m, maf_low=0.1, maf_high=0.5):
    maf = rng.uniform(maf_low, maf_high, m)
    return rng.binomial(2, maf, size=(n, m)).astype(np.float64), maf


def _standardise(g, maf):
    return (g - 2 * maf) / np.sqrt(2 * maf * (1 - maf))


def _scaled(v, var):
    return (v - v.mean()) / v.std() * np.sqrt(var)


def _dosage_schema(names, per_gene=10):
    return [
        _feature(
            c,
            "dosage",
            f"variant chr21:{5000000 + i} A>G",
            f"gene G{i // per_gene}",
            chrom="chr21",
            pos=5000000 + i,
            ref="A",
            alt="G",
        )
        for i, c in enumerate(names)
    ]


def simulate_additive(n, n_causal, n_null, h2, prevalence, seed):
    """Dosages of causal + null variants; additive liability with SNP heritability h2."""
    rng = np.random.default_rng(seed)
    g, maf = _hwe_genotypes(rng, n, n_causal + n_null)
    genetic = _scaled(_standardise(g[:, :n_causal], maf[:n_causal]) @ rng.normal(size=n_causal), h2)
    liability = genetic + rng.normal(size=n) * np.sqrt(1 - h2)
    y = (liability > norm.ppf(1 - prevalence)).astype(np.int8)
    names = [f"rs{i}" for i in range(n_causal + n_null)]
    X = _frame(dict(zip(names, g.T, strict=True)), n)
    return X, y, {"schema_version": 1, "features": _dosage_schema(names)}


def simulate_nonadditive(n, n_null, prevalence, seed, h2_add=0.2, h2_epi=0.2, h2_gxe=0.2, var_age=0.05):
    """A PGS carrying the additive part, age, and dosages with pure interactions.

    Epistasis is the product of two centred dosages and gene x age the product
    of a centred dosage and centred age: neither has an additive projection,
    so a logistic model on PGS + age cannot capture them.
    """
    rng = np.random.default_rng(seed)
    n_add = 20
    g, maf = _hwe_genotypes(rng, n, n_add + 3 + n_null, 0.2, 0.5)
    z = _standardise(g, maf)
    additive = _scaled(z[:, :n_add] @ rng.normal(size=n_add), h2_add)
    age = rng.normal(size=n)
    epistasis = _scaled(z[:, n_add] * z[:, n_add + 1], h2_epi)
    gene_by_age = _scaled(z[:, n_add + 2] * age, h2_gxe)
    explained = h2_add + h2_epi + h2_gxe + var_age
    liability = additive + epistasis + gene_by_age + _scaled(age, var_age) + rng.normal(size=n) * np.sqrt(1 - explained)
    y = (liability > norm.ppf(1 - prevalence)).astype(np.int8)
    dosage_names = [f"rs{i}" for i in range(g.shape[1] - n_add)]
    dosages = dict(zip(dosage_names, g[:, n_add:].T, strict=True))
    X = _frame({"pgs_PGS000001": additive, "age": age * 10 + 60, **dosages}, n)
    features = [
        _feature("pgs_PGS000001", "pgs", "polygenic score PGS000001", "polygenic score PGS000001", pgs_id="PGS000001"),
        _feature("age", "covariate", "age", "age", unit="years"),
    ] + _dosage_schema(dosage_names, 5)
    truth = {"h2": h2_add, "h2_total": explained, "prevalence": prevalence}
    return X, y, {"schema_version": 1, "features": features}, truth


@pytest.fixture(scope="module")
def additive_cohort():
    return simulate_additive(3000, 10, 190, h2=0.5, prevalence=0.2, seed=11)


@pytest.fixture(scope="module")
def additive_model(additive_cohort):
    X, y, schema = additive_cohort
    return train_model(X, y, schema, ModelConfig(**FAST), truth={"h2": 0.5, "prevalence": 0.2})


# --- configuration ---------------------------------------------------------


def test_config_defaults_and_unknown_keys():
    # Types, bounds, enums and relations live in the config schema only;
    # from_dict checks a mapping against it and names the key.
    assert ModelConfig.from_dict({}) == ModelConfig()
    cfg = ModelConfig.from_dict({"n_trials": 3, "max_depth": [2, 3], "calibration": "platt"})
    assert cfg.max_depth == (2, 3) and cfg.calibration == "platt"
    with pytest.raises(ConfigError, match=r"config.yaml: key model.n_trails: unknown key"):
        ModelConfig.from_dict({"n_trails": 3}, source="config.yaml")
    with pytest.raises(ConfigError, match=r"config.yaml: key model.learning_rate"):
        ModelConfig.from_dict({"learning_rate": [0.3, 0.1]}, source="config.yaml")
    with pytest.raises(ConfigError, match=r"model.min_dosage_features"):
        ModelConfig.from_dict({"min_dosage_features": 20, "max_dosage_features": 10})
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()
    assert ModelConfig.from_dict({"linear_offset": False}).linear_offset == "never"
    assert ModelConfig.from_dict({"linear_offset": True}).linear_offset == "always"


def test_calibration_curve_and_ece_share_bins():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1005)
    p = np.round(rng.uniform(0, 1, 1005), 2)  # ties, and n not a multiple of the bin count
    curve = calibration_curve(y, p, n_bins=10)
    ece = sum(n * abs(pr - ob) for n, pr, ob in zip(curve["n"], curve["predicted"], curve["observed"], strict=True))
    assert sum(curve["n"]) == 1005
    assert ece / 1005 == pytest.approx(expected_calibration_error(y, p, n_bins=10), abs=1e-4)
    # A tie never straddles two bins.
    edges = np.cumsum([0] + curve["n"])
    order = np.sort(p)
    assert all(order[e - 1] < order[e] for e in edges[1:-1])


# --- building blocks ---------------------------------------------------------


def test_trend_statistic_equals_cochran_armitage_textbook_formula():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    d = rng.binomial(2, 0.3, size=(n, 5)).astype(float) + y[:, None] * rng.binomial(1, 0.2, size=(n, 5))
    d = np.clip(d, 0, 2)
    got = trend_test_statistic(d, y)
    for j in range(5):
        # Cochran-Armitage with weights 0, 1, 2 from the 2 x 3 table
        # (Agresti's form, variance with N, the score test).
        t = np.arange(3)
        cases = np.array([np.sum((d[:, j] == k) & (y == 1)) for k in t])
        totals = np.array([np.sum(d[:, j] == k) for k in t])
        n_cases = y.sum()
        p = n_cases / n
        num = np.sum(t * (cases - totals * p)) ** 2
        var = p * (1 - p) * (np.sum(t**2 * totals) - np.sum(t * totals) ** 2 / n)
        assert got[j] == pytest.approx(num / var, rel=1e-10)
    # Monomorphic columns score 0; NaN is mean-imputed, not propagated.
    d2 = np.column_stack([np.ones(n), d[:, 0]])
    d2[::7, 1] = np.nan
    stat = trend_test_statistic(d2, y)
    assert stat[0] == 0 and np.isfinite(stat[1])


def test_select_dosage_features_keeps_non_dosage_and_top_k():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    X = rng.binomial(2, 0.4, size=(300, 30)).astype(float)
    X[:, 7] += y  # strongest association
    kinds = ["covariate", "pgs"] + ["dosage"] * 28
    cols = select_dosage_features(X, y, kinds, 3)
    assert len(cols) == 5 and {0, 1, 7} <= set(cols) and list(cols) == sorted(cols)
    assert list(select_dosage_features(X, y, kinds, 0)) == [0, 1]
    # Ranking on a row subset in place equals ranking a copy of those rows.
    rows = np.arange(0, 300, 3)
    assert np.array_equal(dosage_ranking(X, y, kinds, rows=rows), dosage_ranking(X[rows], y[rows], kinds))
    assert np.allclose(
        trend_test_statistic(X, y, columns=np.array([7, 9])), trend_test_statistic(X, y)[[7, 9]], rtol=1e-12, atol=0
    )


def test_ranked_metrics_match_scikit_learn_with_weights_and_ties():
    rng = np.random.default_rng(2)
    for _ in range(10):
        y = rng.integers(0, 2, 300)
        p = np.round(rng.random(300) * (1 + 0.5 * y), 1)  # many ties
        w = rng.multinomial(300, np.full(300, 1 / 300)).astype(float)
        auc, ap = RankedPredictions(y, p).roc_pr_auc(w)
        assert auc == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
        assert ap == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-12)


def test_ece_known_values():
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0]), n_bins=2) == 0.0
    # Two bins: predictions 0.5 for outcomes 0,0 -> |0.5 - 0| and 0.5 for 1,1.
    assert expected_calibration_error(y, np.array([0.4, 0.4, 0.6, 0.6]), n_bins=2) == pytest.approx(0.4)


def test_bootstrap_ci_brackets_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(3)
    widths = []
    for n in (400, 4000):
        y = rng.integers(0, 2, n)
        p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, n), 0, 1)
        m = evaluate_predictions(y, {"m": p}, n_bootstrap=100, seed=0)["m"]["roc_auc"]
        assert m["ci_low"] <= m["estimate"] <= m["ci_high"]
        widths.append(m["ci_high"] - m["ci_low"])
    assert widths[1] < widths[0] / 2  # ~1/sqrt(10)


def test_cohort_percentile():
    q = np.quantile(np.linspace(0, 1, 1001), np.linspace(0, 1, 1001))
    assert cohort_percentile(q, np.array([0.0, 0.25, 0.5, 1.0, 2.0, -1.0])) == pytest.approx(
        [0.0, 25.0, 50.0, 100.0, 100.0, 0.0]
    )
    plateau = np.r_[np.zeros(500), np.ones(501)]  # half the cohort at 0, half at 1
    assert cohort_percentile(plateau, np.array([0.0, 1.0])) == pytest.approx([24.95, 75.0])


# --- the statistical claims ------------------------------------------------


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_no_leakage_on_noise_phenotype(seed):
    """2,500 noise dosages, 500 people: in-fold filtering keeps CV AUC at chance.

    Filtering the same columns on all rows before CV (the classic leak) makes
    the same model look predictive, which shows the test can fail. The CV AUC
    of one noise cohort of 500 has an SD of about 0.035, so three cohorts are
    checked, each within 0.5 +- 0.1.
    """
    rng = np.random.default_rng(seed)
    n, m, n_genes = 500, 2500, 60
    g, _ = _hwe_genotypes(rng, n, m)
    y = (rng.random(n) < 0.3).astype(np.int8)
    names = [f"rs{i}" for i in range(m)]
    # Noise gene burdens too: counts of rare alleles in 60 genes (the in-cohort gene-burden score).
    burden = rng.binomial(10, 0.01, size=(n, n_genes))
    genes = [f"burden_G{i}" for i in range(n_genes)]
    X = _frame({**dict(zip(names, g.T, strict=True)), **dict(zip(genes, burden.T, strict=True))}, n)
    burden_schema = [_feature(c, "burden", f"rare coding variants in G{i}", f"gene G{i}") for i, c in enumerate(genes)]
    schema = {"schema_version": 1, "features": _dosage_schema(names) + burden_schema}
    config = ModelConfig(**{**FAST, "max_dosage_features": 30, "n_bootstrap": 0, "max_depth": (2, 3)})
    metrics = train_model(X, y, schema, config).metrics
    honest = metrics["model_uncalibrated"]["roc_auc"]["estimate"]
    assert abs(honest - 0.5) < 0.1
    # The in-cohort scores too: ridges over the top 30 of the 2,500 noise variants and over the top
    # genes of the 60 noise burdens, by the in-fold rankings.
    assert metrics["baseline_features"][0] == "in-cohort polygenic score"
    assert all("burden" in f for f in metrics["in_cohort_score"]["per_fold"])
    assert abs(metrics["baseline"]["roc_auc"]["estimate"] - 0.5) < 0.1

    leaked_cols = select_dosage_features(g, y, ["dosage"] * m, 30)
    leaked_schema = {"schema_version": 1, "features": [schema["features"][c] for c in leaked_cols]}
    leaked = train_model(X.iloc[:, leaked_cols], y, leaked_schema, config)
    assert leaked.metrics["model_uncalibrated"]["roc_auc"]["estimate"] > 0.65


def test_additive_architecture_reaches_ceiling(additive_model):
    truth = additive_model.metrics["truth"]
    assert truth["auc_ceiling"] == pytest.approx(auc_ceiling(0.5, 0.2))
    assert truth["auc_over_ceiling"] >= 0.9
    # No pgs/covariate features in this cohort: the strong baseline is the in-cohort score alone.
    assert additive_model.metrics["baseline_features"] == ["in-cohort polygenic score"]


def test_nonadditive_architecture_beats_linear_baseline():
    X, y, schema, truth = simulate_nonadditive(3000, 50, prevalence=0.2, seed=2)
    model = train_model(X, y, schema, ModelConfig(**{**FAST, "max_depth": (2, 4)}), truth=truth)
    m = model.metrics
    assert m["baseline_features"] == ["in-cohort polygenic score", "pgs_PGS000001", "age"]
    base = m["baseline"]["roc_auc"]
    diff = m["roc_auc_difference"]["model-baseline"]
    assert diff["estimate"] > base["ci_high"] - base["ci_low"]
    assert diff["ci_low"] > 0
    assert m["truth"]["auc_ceiling"] == pytest.approx(auc_ceiling(truth["h2_total"], 0.2))


def test_calibration_reduces_ece(additive_model):
    m = additive_model.metrics
    # Balanced class weights inflate raw probabilities; the cross-fitted
    # calibrator (never evaluated on its own training rows) must undo it.
    assert m["model"]["ece"]["ci_high"] < m["model_uncalibrated"]["ece"]["ci_low"]
    assert m["model"]["ece"]["estimate"] < 0.05
    assert m["model"]["brier"]["estimate"] < m["model_uncalibrated"]["brier"]["estimate"]


def test_platt_calibration_runs(additive_cohort):
    X, y, schema = additive_cohort
    config = ModelConfig(**{**FAST, "calibration": "platt", "n_trials": 1, "n_bootstrap": 20, "n_folds": 3})
    model = train_model(X.iloc[:1000], y[:1000], schema, config)
    assert model.calibrator.method == "platt" and model.calibrator.a > 0
    assert model.metrics["model"]["ece"]["estimate"] < model.metrics["model_uncalibrated"]["ece"]["estimate"]


# --- artifact ------------------------------------------------------------------


def test_artifact_round_trip(additive_model, additive_cohort, tmp_path):
    X, _, _ = additive_cohort
    patients = X.iloc[:50]
    save_model(additive_model, tmp_path / "m", training_data_sha256="ab" * 32)
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == [
        "calibrator.json",
        "cohort_risks.json",
        "features.schema.json",
        "interactions.json",
        "linear_offset.json",
        "metrics.json",
        "model.ubj",
        "model_card.json",
        "model_card.md",
    ]
    assert not any(is_pickle(p) for p in (tmp_path / "m").iterdir())
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["training_data_sha256"] == "ab" * 32 and card["versions"]["xgboost"]
    assert "Intended use" in (tmp_path / "m" / "model_card.md").read_text()

    loaded = load_model(tmp_path / "m")
    before = score_patients(additive_model, patients)
    after = score_patients(loaded, patients)
    assert [r["sample_id"] for r in after] == list(patients.index)
    for a, b in zip(before, after, strict=True):
        assert a["risk"] == pytest.approx(b["risk"], abs=1e-12)
        assert a["risk_interval"] == pytest.approx(b["risk_interval"], abs=1e-12)
        assert a["percentile"] == pytest.approx(b["percentile"], abs=1e-9)
        assert a["drivers"] == b["drivers"]
        assert a["risk_interval"][0] <= a["risk"] <= a["risk_interval"][1]
        assert 0 <= a["percentile"] <= 100
    # Higher margin, higher (or equal) calibrated risk and percentile.
    order = np.argsort([r["margin"] for r in after])
    risks = np.array([after[i]["risk"] for i in order])
    assert np.all(np.diff(risks) >= -1e-12)


def test_load_refuses_pickles_whatever_their_name(additive_model, tmp_path):
    good = save_model(additive_model, tmp_path / "good")
    for protocol, name in ((pickle.HIGHEST_PROTOCOL, "model.ubj"), (0, "notes.txt"), (2, "calibrator.json")):
        bad = tmp_path / f"bad{protocol}"
        shutil.copytree(good, bad)
        (bad / name).write_bytes(pickle.dumps({"booster": [1, 2, 3]}, protocol=protocol))
        assert is_pickle(bad / name)
        with pytest.raises(InputError, match=rf"{name}: is a Python pickle"):
            load_model(bad)


def test_load_refuses_changed_files(additive_model, tmp_path):
    out = save_model(additive_model, tmp_path / "m")
    cal = json.loads((out / "calibrator.json").read_text())
    cal["ci_level"] = 0.5
    (out / "calibrator.json").write_text(json.dumps(cal))
    with pytest.raises(InputError, match=r"calibrator.json: SHA-256 differs"):
        load_model(out)


def test_scoring_refuses_schema_mismatch(additive_model, additive_cohort):
    X, _, schema = additive_cohort
    patients = X.iloc[:5]
    with pytest.raises(InputError, match=r"missing 'rs3'"):
        score_patients(additive_model, patients.drop(columns="rs3"))
    swapped = patients[["rs1", "rs0"] + list(patients.columns[2:])]
    with pytest.raises(InputError, match=r"order differs .* position 0 \(got 'rs1', expected 'rs0'\)"):
        score_patients(additive_model, swapped)
    other = json.loads(json.dumps(schema))
    other["features"][5]["definition"]["alt"] = "T"
    with pytest.raises(InputError, match=r"definitions differ .* 'rs5'"):
        score_patients(additive_model, patients, schema=other)
    assert len(score_patients(additive_model, patients, schema=schema)) == 5


def test_train_refuses_bad_input(additive_cohort):
    X, y, schema = additive_cohort
    with pytest.raises(InputError, match=r"labels must be 0/1"):
        train_model(X, np.where(y == 1, 2, 0), schema, ModelConfig(**FAST))
    bad = json.loads(json.dumps(schema))
    bad["features"][0]["name"] = "rs0[1]"
    with pytest.raises(InputError, match=r"features\[0\] \(rs0\[1\]\): name contains"):
        train_model(X, y, bad, ModelConfig(**FAST))


# ------------------------------------------------- several traits (issue #13 item 1)


def test_a_trait_without_a_score_trains_on_its_labelled_people():
    """Unknown (empty) values are left out; an epistatic trait with no pgs feature trains, baseline on age + PCs."""
    X, y, schema, truth = simulate_nonadditive(1500, 30, 0.15, seed=5)
    rng = np.random.default_rng(5)
    # Like a trait with "scores: []": no pgs feature; the cohort's PCs are features of every trait.
    X = X.drop(columns="pgs_PGS000001").assign(pc1=rng.normal(size=len(X)).astype(np.float32))
    features = [f for f in schema["features"] if f["kind"] != "pgs"]
    features.append(_feature("pc1", "pc", "ancestry component 1", "ancestry (PCs)", component=1))
    schema = {"schema_version": 1, "features": features}
    known = rng.random(len(X)) > 0.15
    phenotypes = pd.DataFrame({"status_b": np.where(known, y, np.nan), "age": X["age"]}, index=X.index)
    X_trait, y_trait = trait_training_rows(X, phenotypes, "status_b", path="phenotypes.tsv")
    assert list(X_trait.index) == list(X.index[known])
    np.testing.assert_array_equal(y_trait, y[known])
    model = train_model(X_trait, y_trait, schema, ModelConfig(**FAST), truth=truth)
    m = model.metrics
    assert m["data"]["n_samples"] == known.sum() and m["data"]["n_cases"] == y[known].sum()
    assert m["baseline_features"] == ["in-cohort polygenic score", "age", "pc1"] and m["baseline"] is not None
    # The strong baseline has the in-cohort score: the shipped model follows the pre-set rule.
    diff = m["roc_auc_difference"]["model-baseline"]
    assert m["shipped"]["model"] == ("boosted" if diff["ci_low"] > 0 else "linear")
    assert m["truth"]["auc_ceiling"] > max(m["model"]["roc_auc"]["estimate"], m["baseline"]["roc_auc"]["estimate"])


def test_trait_training_rows_refuses_bad_phenotypes():
    X = _frame({"age": np.arange(6)}, 6)
    phenotypes = pd.DataFrame({"status_b": [0, 1, np.nan, 1, 0, 1]}, index=X.index)
    with pytest.raises(InputError, match="no trait column 'status_c'"):
        trait_training_rows(X, phenotypes, "status_c", path="p.tsv")
    with pytest.raises(InputError, match="person 'S00005' has no phenotype row"):
        trait_training_rows(X, phenotypes.iloc[:5], "status_b", path="p.tsv")
    with pytest.raises(InputError, match="must be 0 or 1, got 2"):
        trait_training_rows(X, phenotypes.assign(status_b=[0, 1, 2, 1, 0, 1]), "status_b", path="p.tsv")
    with pytest.raises(InputError, match="no person .* has a 0/1 value"):
        trait_training_rows(X, phenotypes.assign(status_b=np.nan), "status_b", path="p.tsv")


# ------------------------------------------------- absolute risk (issue #13 item 2)


def test_prior_shift_recovers_population_risk_from_a_case_enriched_cohort():
    """Calibrated on a 1:2 case-control sample of a 5 % prevalence population, re-anchored risk is the population's.

    The population is simulated by genorisk.simulate's liability-threshold
    model; the true risk of a person with predictor s (genetic + covariate
    liability) is P(liability > T | s) = 1 - Phi((T - s) / sqrt(1 - var(s))).
    """
    from genorisk.model import Calibrator, prior_shift
    from genorisk.simulate.config import SimulationConfig
    from genorisk.simulate.phenotype import draw_phenotype

    rng = np.random.default_rng(7)
    n, m = 120_000, 300
    af = rng.uniform(0.05, 0.5, m)
    dos = rng.binomial(2, af[:, None], size=(m, n)).astype(np.float32)
    cfg = SimulationConfig(prevalence=0.05, h2=0.5, n_causal=100, burden_genes=0, burden=0.0)
    pheno = draw_phenotype(
        rng, cfg, dos, af, np.full(m, "", dtype=object), slice(0, n), pd.DataFrame(), np.zeros(0, dtype=int)
    )
    s = pheno.genetic + pheno.components["covariates"]
    true_risk = 1 - norm.cdf((pheno.threshold - s) / np.sqrt(1 - s[:n].var()))
    y = pheno.status
    # Case-enriched cohort from the first half: every case, two controls per case.
    half = n // 2
    cases = np.flatnonzero(y[:half] == 1)
    controls = rng.choice(np.flatnonzero(y[:half] == 0), size=2 * len(cases), replace=False)
    cohort = np.concatenate([cases, controls])
    case_fraction = len(cases) / len(cohort)
    assert 0.3 < case_fraction < 0.35 and abs(y.mean() - 0.05) < 0.003
    cal = Calibrator.fit(s[cohort], y[cohort], "isotonic")
    # Scored: the population's other half, never seen.
    held = np.arange(half, n)
    raw = cal.predict(s[held])
    anchored = prior_shift(raw, case_fraction, 0.05)
    # Mean risk per decile of true risk (averages out the isotonic steps of a 9,000-person cohort).
    truth = true_risk[held]
    decile = np.clip(np.searchsorted(np.quantile(truth, np.linspace(0, 1, 11)), truth, side="right") - 1, 0, 9)

    def by_decile(p):
        return np.array([p[decile == i].mean() for i in range(10)])

    err_anchored = np.abs(by_decile(anchored) - by_decile(truth)).max()
    err_raw = np.abs(by_decile(raw) - by_decile(truth)).max()
    # Measured: 0.0053 re-anchored (top decile, mean risk 0.32) against 0.47 without the correction.
    assert err_anchored < 0.01, err_anchored
    assert err_raw > 0.3, err_raw
    assert abs(anchored.mean() - 0.05) < 0.003
    # Monotone, so every percentile is unchanged; the identity when the prevalences agree.
    order = np.argsort(raw, kind="stable")
    assert (np.diff(anchored[order]) >= -1e-15).all()
    np.testing.assert_allclose(prior_shift(raw, 0.2, 0.2), raw)
    with pytest.raises(ValueError):
        prior_shift(raw, 0.0, 0.05)


# ------------------------------------------------- polygenic score in context (issue #13 item 3)


def test_ancestry_adjusted_z_removes_the_population_shift_of_a_score():
    """Z_norm2 fitted on a two-population reference: each population's scores get mean 0 and SD 1."""
    from genorisk.model import ancestry_adjusted_z, fit_ancestry_adjustment, score_distribution, score_in_context

    rng = np.random.default_rng(11)
    n = 400
    pop = np.repeat([0, 1], n)
    pcs = np.column_stack([np.where(pop == 1, 8.0, 0.0) + rng.normal(0, 1, 2 * n), rng.normal(0, 1, 2 * n)])
    # Population 1 has a higher mean and a wider spread of the score (allele frequency differences).
    scores = np.where(pop == 1, 2.0 + 1.8 * rng.normal(size=2 * n), rng.normal(size=2 * n))
    adj = fit_ancestry_adjustment(scores, pcs)
    assert adj["n_reference"] == 2 * n and adj["n_pcs"] == 2 and len(adj["var_coef"]) == 3
    z = ancestry_adjusted_z(scores, pcs, adj)
    for k in (0, 1):
        assert abs(z[pop == k].mean()) < 0.15 and 0.85 < z[pop == k].std() < 1.15, (k, z[pop == k].std())
    # Against the cohort (population 0) alone, population 1 looks shifted; adjusted, it does not.
    context = {
        "S": {"cohort": score_distribution(scores[pop == 0]), "ancestry": adj, "method": "m", "ancestry_method": "a"}
    }
    person = score_in_context("S", 2.0, pcs[pop == 1].mean(axis=0), context)
    assert person["z"] > 1.5 and person["percentile"] > 95 and abs(person["z_ancestry"]) < 0.2
    assert score_in_context("T", 2.0, None, context)["percentile"] is None


# ------------------------------------------- the in-cohort score and the ship rule (issue #16)


def test_a_linear_shipped_model_is_saved_scored_and_explained(additive_cohort, tmp_path):
    """ship: linear publishes the strong baseline as a 0-round booster: same artifact, exact drivers."""
    from genorisk.model import load_model, save_model
    from genorisk.model.in_cohort import IN_COHORT_GROUP

    X, y, schema = additive_cohort
    model = train_model(X, y, schema, ModelConfig(**{**FAST, "ship": "linear"}))
    assert model.metrics["shipped"]["model"] == "linear" and model.booster.num_boosted_rounds() == 0
    final = model.metrics["in_cohort_score"]["final"]
    assert final["n_variants"] > 0 and len(final["stack_coefficients"]) == len(final["sizes"]) + 1
    assert 0 < final["elastic_net"]["nonzero"] <= final["elastic_net"]["n_variants"]
    save_model(model, tmp_path / "m")
    card = (tmp_path / "m" / "model_card.md").read_text()
    assert "an elastic net over the top" in card and "non-zero weights of the top" in card
    loaded = load_model(tmp_path / "m")
    assert loaded.booster.num_boosted_rounds() == 0 and loaded.offset is not None
    patients = X.iloc[:20]
    scored = score_patients(loaded, patients, top_n=10_000)
    offset_x = patients[loaded.offset.features].to_numpy(dtype=np.float64)
    np.testing.assert_allclose([s["margin"] for s in scored], loaded.offset.margin(offset_x), rtol=1e-5, atol=1e-5)
    for s in scored:  # the drivers and the bias add up to the margin: the explanation is exact
        assert sum(d["contribution"] for d in s["drivers"]) + s["baseline_margin"] == pytest.approx(
            s["margin"], abs=1e-4
        )
    assert any(d["group"] == IN_COHORT_GROUP for s in scored for d in s["drivers"])
