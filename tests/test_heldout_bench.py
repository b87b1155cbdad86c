"""bench/heldout.py: the per-trait truth, the workflow configs it writes and the paired AUC difference."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from genorisk.config import validate_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def heldout():
    spec = importlib.util.spec_from_file_location("bench_heldout", REPO / "bench" / "heldout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: truth.json as the simulator writes it for the demo's two diseases (the keys the bench reads).
TRUTH = {
    "auc_ceiling": 0.87,
    "auc_ceiling_genetic": 0.85,
    "case_fraction": 0.1,
    "config": {
        "h2": 0.4,
        "n_causal": 200,
        "burden": 0.05,
        "dominance": 0.0,
        "epistasis": 0.0,
        "gxage": 0.0,
        "prevalence": 0.1,
        "extra_traits": [
            {"column": "status_b", "h2": 0.15, "n_causal": 60, "epistasis": 0.0, "gxage": 0.1, "prevalence": 0.05},
            {"column": "status_c", "h2": 0.2, "n_causal": 60, "epistasis": 0.1, "gxage": 0.0, "prevalence": 0.05},
        ],
    },
    "traits": {
        "status_b": {"auc_ceiling": 0.80, "auc_ceiling_genetic": 0.78, "case_fraction": 0.05},
        "status_c": {"auc_ceiling": 0.75, "auc_ceiling_genetic": 0.74, "case_fraction": 0.05},
    },
}


def test_architecture_and_ceiling_come_from_the_simulation_config_of_each_column(heldout):
    first = heldout.trait_truth(TRUTH, "status")
    assert first["architecture"] == "additive" and first["auc_ceiling"] == 0.87
    gxage_only = heldout.trait_truth(TRUTH, "status_b")
    assert gxage_only["architecture"] == "epistatic" and gxage_only["auc_ceiling"] == 0.80
    epistasis_only = heldout.trait_truth(TRUTH, "status_c")
    assert epistasis_only["architecture"] == "epistatic" and epistasis_only["auc_ceiling_genetic"] == 0.74
    with pytest.raises(SystemExit, match="status_d"):
        heldout.trait_truth(TRUTH, "status_d")


def test_true_genetic_value_sums_only_the_traits_own_components(heldout):
    columns = ["liability", "additive", "burden", "covariates", "status_b_liability", "status_b_additive"]
    columns += ["status_b_epistasis", "status_b_gxage", "status_b_covariates"]
    assert heldout.genetic_value_columns(columns, "status") == ["additive", "burden"]
    assert heldout.genetic_value_columns(columns, "status_b") == [
        "status_b_additive",
        "status_b_epistasis",
        "status_b_gxage",
    ]


def test_paired_difference_is_zero_for_one_model_and_positive_for_a_better_one(heldout):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    informative = y + rng.normal(0, 1.0, size=400)
    noise = rng.normal(size=400)
    same = heldout.paired_auc_difference(y, informative, informative, np.random.default_rng(1), n_boot=200)
    assert same["estimate"] == 0 and same["ci"] == [0.0, 0.0]
    better = heldout.paired_auc_difference(y, informative, noise, np.random.default_rng(1), n_boot=200)
    assert better["ci"][0] > 0 and better["auc_a"] > better["auc_b"]
    assert better["estimate"] == pytest.approx(better["auc_a"] - better["auc_b"])
    worse = heldout.paired_auc_difference(y, noise, informative, np.random.default_rng(1), n_boot=200)
    assert worse["ci"][1] < 0 and worse["fraction_above_0"] < 0.05


@pytest.mark.parametrize("ship", ["rule", "boosted", "linear"])
def test_workflow_configs_hold_every_chosen_trait_and_differ_only_in_outdir_and_ship(heldout, tmp_path, ship):
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    truth = pd.DataFrame({"patient_id": ["H0001", "H0002"], "sex": ["female", "male"], "age": [50, 60]})
    ids = [t["id"] for t in demo["traits"]]
    rule = yaml.safe_load(heldout.write_workflow_inputs(demo, tmp_path, truth, "no_external_score", ids).read_text())
    cfg = yaml.safe_load(
        heldout.write_workflow_inputs(demo, tmp_path, truth, "no_external_score", ids, ship=ship).read_text()
    )
    validate_config(copy.deepcopy(cfg), source="heldout config")
    assert [t["id"] for t in cfg["traits"]] == ids and all(t["scores"] == [] for t in cfg["traits"])
    assert cfg["model"]["ship"] == ship and cfg["scores"] == []
    assert cfg["outdir"] == str(heldout.results_dir(tmp_path, "no_external_score", ship))
    differing = {k for k in cfg if cfg[k] != rule[k]}
    assert differing == (set() if ship == "rule" else {"outdir", "model"})
    assert {k: v for k, v in cfg["model"].items() if k != "ship"} == {
        k: v for k, v in rule["model"].items() if k != "ship"
    }
    demo_cfg = yaml.safe_load(heldout.write_workflow_inputs(demo, tmp_path, truth, "demo", ids[1:]).read_text())
    assert [t["id"] for t in demo_cfg["traits"]] == ids[1:] and len(demo_cfg["scores"]) == 1


def test_expected_auc_of_the_liability_matches_the_wray_ceiling_and_noise_gives_half(heldout):
    """Redrawing the environment of a normal liability: the liability's own expected AUC is the Wray
    ceiling (Wray et al. 2010) of its variance, a risk unrelated to it 0.5, and the difference's CI
    excludes 0."""
    from genorisk.simulate import auc_ceiling

    rng = np.random.default_rng(3)
    n, h2, prevalence = 4000, 0.4, 0.1
    fixed = rng.normal(0.0, np.sqrt(h2), n)
    threshold = float(heldout.norm.ppf(1 - prevalence))
    ceiling = auc_ceiling(h2, prevalence)
    out = heldout.expected_aucs(
        {"truth": fixed, "noise": rng.normal(size=n)},
        fixed,
        float(np.sqrt(1 - h2)),
        threshold,
        ceiling,
        seed=1,
        n_draws=60,
        n_boot=30,
    )
    assert abs(out["truth"]["estimate"] - ceiling) < 0.015
    assert out["truth"]["ci"][0] < out["truth"]["estimate"] < out["truth"]["ci"][1]
    assert abs(out["noise"]["estimate"] - 0.5) < 0.03
    assert out["truth-noise"]["ci"][0] > 0.2
    assert out["truth"]["ratio_to_ceiling"]["estimate"] == pytest.approx(out["truth"]["estimate"] / ceiling)


def test_outcome_model_recovers_the_simulators_covariate_component(heldout, tmp_path):
    """The covariate liability is linear in age and sex: its coefficients come back exactly; a
    covariate component that is not linear in them stops the bench."""
    rng = np.random.default_rng(0)
    age = rng.integers(40, 81, 500)
    sex = np.where(rng.random(500) < 0.5, "male", "female")
    design = heldout.covariate_design(age.astype(float), sex)
    coef = np.array([-0.1, 0.2, 0.05])
    sim = tmp_path / "sim"
    sim.mkdir()
    ids = [f"S{i}" for i in range(500)]
    pd.DataFrame({"sample_id": ids, "covariates": design @ coef}).to_csv(
        sim / "cohort_truth.tsv", sep="\t", index=False
    )
    pd.DataFrame({"sample_id": ids, "age": age, "sex": sex}).to_csv(sim / "phenotypes.tsv", sep="\t", index=False)
    truth = {"liability_threshold": 1.28, "variance_components": {"genetic_total": 0.4, "covariates": 0.05}}
    om = heldout.outcome_model(tmp_path, truth, "status")
    assert np.allclose(om["covariate_coef"], coef)
    assert om["env_sd"] == pytest.approx(np.sqrt(0.55)) and om["threshold"] == 1.28
    pd.DataFrame({"sample_id": ids, "covariates": (design @ coef) ** 2}).to_csv(
        sim / "cohort_truth.tsv", sep="\t", index=False
    )
    with pytest.raises(SystemExit, match="not linear"):
        heldout.outcome_model(tmp_path, truth, "status")
