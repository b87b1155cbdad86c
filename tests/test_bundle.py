"""Tests of genorisk.model.bundle: a trait's bundle written from a tiny trained model, checked and tampered with.

The model is trained for real (XGBoost, a few rounds) on a small simulated
cohort; the bundle files are then changed the ways a careless copy or an
attacker would, and each change must be refused naming the file.
"""

from __future__ import annotations

import base64
import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from genorisk.errors import ConfigError, InputError
from genorisk.model import ModelConfig, save_model, score_patients, train_model
from genorisk.model.artifact import baseline_comparison
from genorisk.model.bundle import (
    BUNDLE_CONTENT,
    BUNDLE_MANIFEST,
    RUN_SETTINGS,
    agreed_settings,
    bundle_settings,
    cohort_reference,
    default_settings,
    load_bundle,
    manifest_sha256,
    read_bundle_manifest,
    scan_for_individual_data,
    verify_bundle,
    write_bundle,
)

N_PEOPLE = 300
N_VARIANTS = 24
TINY = dict(
    n_folds=3,
    n_trials=1,
    n_bootstrap=20,
    threads=1,
    max_bin=16,
    n_estimators=40,
    early_stopping_rounds=5,
)
TRAIT = {
    "id": "toy_disease",
    "name": "Toy disease",
    "column": "status",
    "prevalence": 0.1,
    "population": "simulated adults",
    "time_frame": "lifetime",
    "covariates": ["age", "sex"],
    "scores": [],
}


def _cohort():
    """Dosages of a few variants (the first four causal), age and sex; 0/1 outcome."""
    rng = np.random.default_rng(5)
    g = rng.binomial(2, rng.uniform(0.1, 0.5, N_VARIANTS), size=(N_PEOPLE, N_VARIANTS)).astype(np.float32)
    age = rng.normal(60, 8, N_PEOPLE).astype(np.float32)
    sex = rng.integers(0, 2, N_PEOPLE).astype(np.float32)
    liability = g[:, :4].sum(axis=1) + 0.05 * (age - 60) + rng.normal(size=N_PEOPLE)
    y = (liability > np.quantile(liability, 0.75)).astype(np.int8)
    ids = pd.Index([f"COH{i:05d}" for i in range(N_PEOPLE)], name="sample_id")
    names = [f"v_chr21_{5000000 + i}_A_G" for i in range(N_VARIANTS)]
    X = pd.DataFrame(g, columns=names, index=ids)
    X["age"], X["sex_male"] = age, sex
    features = [
        {
            "name": n,
            "kind": "dosage",
            "label": f"variant chr21:{5000000 + i} A>G",
            "group": f"variant chr21:{5000000 + i} A>G",
            "definition": {"chrom": "chr21", "pos": 5000000 + i, "ref": "A", "alt": "G"},
        }
        for i, n in enumerate(names)
    ] + [
        {"name": "age", "kind": "covariate", "label": "age", "group": "age", "definition": {"column": "age"}},
        {
            "name": "sex_male",
            "kind": "covariate",
            "label": "sex (male)",
            "group": "sex",
            "definition": {"column": "sex", "encoding": "male=1, female=0, unknown=missing"},
        },
    ]
    return X, y, {"schema_version": 1, "features": features}


@pytest.fixture(scope="module")
def cohort():
    return _cohort()


@pytest.fixture(scope="module")
def model_dir(cohort, tmp_path_factory):
    X, y, schema = cohort
    model = train_model(X, y, schema, ModelConfig(**TINY))
    return save_model(model, tmp_path_factory.mktemp("training") / "model", trait=TRAIT)


def _sites():
    return pd.DataFrame(
        {
            "chrom": ["chr21"] * N_VARIANTS,
            "pos": [5000000 + i for i in range(N_VARIANTS)],
            "ref": ["A"] * N_VARIANTS,
            "alt": ["G"] * N_VARIANTS,
            "call_rate": np.ones(N_VARIANTS),  # a QC column the bundle must not carry
        }
    )


def _reference():
    qc_summary = {
        "n_samples": N_PEOPLE,
        "thresholds": {"min_sample_call_rate": 0.95, "heterozygosity_sd": 3.0},
        "samples_excluded_by_reason": {"het_outlier": 2},
    }
    sample_qc = pd.DataFrame({"sample": [f"COH{i:05d}" for i in range(10)], "het_rate": np.linspace(0.1, 0.2, 10)})
    return cohort_reference(qc_summary, sample_qc)


@pytest.fixture()
def bundle(model_dir, tmp_path):
    folder = tmp_path / "model" / TRAIT["id"]
    write_bundle(folder, TRAIT, model_dir=model_dir, cohort_reference=_reference(), cohort_sites=_sites())
    return folder


def _rehash(folder, manifest):
    """Rewrite bundle.json consistently, as someone covering their tracks would."""
    manifest["bundle_sha256"] = manifest_sha256(manifest)
    (folder / BUNDLE_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def test_written_bundle_verifies_and_loads(bundle, cohort):
    X, _, _ = cohort
    names = sorted(p.name for p in bundle.iterdir())
    assert names == sorted((*BUNDLE_CONTENT, BUNDLE_MANIFEST))
    manifest = verify_bundle(bundle)
    assert manifest["format"] == "genorisk-bundle" and manifest["format_version"] == 2
    # No settings given: the config's defaults, as a training run that leaves them unset.
    assert (
        manifest["settings"]
        == default_settings()
        == {
            "genome_build": "GRCh38",
            "features.burden_max_af": 0.01,
            "features.min_match_rate": 0.75,
            "ancestry.outlier_rate": 0.005,
        }
    )
    assert manifest["trait"] == TRAIT
    assert manifest["covariates"] == ["age", "sex"]  # source columns, not feature names
    assert set(manifest["files"]) == set(BUNDLE_CONTENT)
    assert manifest["bundle_sha256"] == manifest_sha256(manifest)
    assert not list(bundle.parent.glob(".*publishing"))  # the staging folder is gone

    loaded = load_bundle(bundle)
    assert loaded.trait == TRAIT and loaded.folder == bundle
    assert loaded.cohort_reference["format_version"] == 1
    assert loaded.cohort_reference["n_samples"] == N_PEOPLE
    assert loaded.cohort_reference["sample_ranges"]["n_excluded"] == 2
    assert loaded.card["trait"]["name"] == "Toy disease"
    sites = loaded.cohort_sites()
    assert list(sites.columns) == ["chrom", "pos", "ref", "alt"]
    pd.testing.assert_frame_equal(sites, _sites()[["chrom", "pos", "ref", "alt"]])
    risks = [r["risk"] for r in score_patients(loaded.model, X.iloc[:20])]
    assert all(0 < r < 1 for r in risks)


def test_rewriting_a_bundle_keeps_it_valid(bundle, model_dir):
    before = read_bundle_manifest(bundle)
    write_bundle(bundle, TRAIT, model_dir=model_dir, cohort_reference=_reference(), cohort_sites=_sites())
    assert verify_bundle(bundle) == before


@pytest.mark.parametrize(
    "tamper, named, problem",
    [
        ("model_byte", "model.ubj", "SHA-256 differs from bundle.json"),
        ("schema", "features.schema.json", "SHA-256 differs from bundle.json"),
        ("parquet", "cohort_variants.parquet", "SHA-256 differs from bundle.json"),
        ("manifest_hash", "bundle.json", "bundle_sha256 does not match"),
        ("manifest_trait", "bundle.json", "bundle_sha256 does not match"),
        ("rehashed_file_hash", "calibrator.json", "SHA-256 differs from bundle.json"),
        ("removed", "cohort_reference.json", "listed in bundle.json but missing"),
        ("unlisted", "notes.txt", "not listed in bundle.json"),
        ("pickle_added", "extra.pkl", "is a Python pickle"),
        ("pickle_as_model", "model.ubj", "is a Python pickle"),
        ("manifest_removed", "bundle.json", "bundle.json is missing"),
    ],
)
def test_tampered_bundle_is_refused_naming_the_file(bundle, tamper, named, problem):
    manifest = json.loads((bundle / BUNDLE_MANIFEST).read_text())
    if tamper == "model_byte":
        data = bytearray((bundle / "model.ubj").read_bytes())
        data[len(data) // 2] ^= 0x01
        (bundle / "model.ubj").write_bytes(bytes(data))
    elif tamper == "schema":
        schema = json.loads((bundle / "features.schema.json").read_text())
        schema["features"][0]["definition"]["alt"] = "T"
        (bundle / "features.schema.json").write_text(json.dumps(schema))
    elif tamper == "parquet":
        sites = pd.read_parquet(bundle / "cohort_variants.parquet")
        sites.loc[0, "pos"] += 1
        sites.to_parquet(bundle / "cohort_variants.parquet", index=False)
    elif tamper == "manifest_hash":
        manifest["files"]["model.ubj"] = "0" * 64
        (bundle / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    elif tamper == "manifest_trait":
        manifest["trait"]["prevalence"] = 0.5
        (bundle / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    elif tamper == "rehashed_file_hash":
        manifest["files"]["calibrator.json"] = "0" * 64
        _rehash(bundle, manifest)
    elif tamper == "removed":
        (bundle / "cohort_reference.json").unlink()
    elif tamper == "unlisted":
        (bundle / "notes.txt").write_text("hello\n")
    elif tamper == "pickle_added":
        (bundle / "extra.pkl").write_bytes(pickle.dumps({"booster": [1, 2, 3]}))
    elif tamper == "pickle_as_model":
        (bundle / "model.ubj").write_bytes(pickle.dumps({"booster": [1, 2, 3]}, protocol=0))
    elif tamper == "manifest_removed":
        (bundle / BUNDLE_MANIFEST).unlink()
    with pytest.raises(InputError, match=problem) as err:
        verify_bundle(bundle)
    assert err.value.path == str(bundle / named)
    with pytest.raises(InputError):
        load_bundle(bundle)


def test_a_half_written_publish_is_refused(bundle, model_dir):
    # A newer publish that renamed a changed file in, then died before its bundle.json.
    (bundle / "metrics.json").write_text((bundle / "metrics.json").read_text().replace("{", "{ ", 1))
    with pytest.raises(InputError, match="metrics.json: SHA-256 differs.*tampered or incomplete"):
        verify_bundle(bundle)
    # A publish killed before its first rename leaves only its staging folder, which the next one sweeps.
    stale = bundle.parent / f".{bundle.name}.x1y2.publishing"
    stale.mkdir()
    (stale / "model.ubj").write_bytes(b"{")
    write_bundle(bundle, TRAIT, model_dir=model_dir, cohort_reference=_reference(), cohort_sites=_sites())
    verify_bundle(bundle)
    assert not stale.exists()


def test_a_failed_publish_leaves_the_bundle_in_use(bundle, model_dir, tmp_path):
    broken = tmp_path / "broken_model"
    shutil.copytree(model_dir, broken)
    (broken / "calibrator.json").write_text("{}")
    with pytest.raises(InputError, match="calibrator.json: SHA-256 differs"):
        write_bundle(bundle, TRAIT, model_dir=broken, cohort_reference=_reference(), cohort_sites=_sites())
    with pytest.raises(InputError, match="lack column"):
        write_bundle(
            bundle, TRAIT, model_dir=model_dir, cohort_reference=_reference(), cohort_sites=_sites().drop(columns="alt")
        )
    verify_bundle(bundle)
    assert not list(bundle.parent.glob(".*publishing"))


def test_scan_finds_nothing_in_a_real_bundle(bundle, cohort):
    X, _, _ = cohort
    assert scan_for_individual_data(bundle, X.index) == []


def test_scan_finds_planted_individual_data(bundle, cohort):
    X, _, _ = cohort
    ids = list(X.index)
    reference = json.loads((bundle / "cohort_reference.json").read_text())
    reference["excluded"] = [ids[7]]
    (bundle / "cohort_reference.json").write_text(json.dumps(reference))
    risks = json.loads((bundle / "cohort_risks.json").read_text())
    risks["oof"] = [0.1] * N_PEOPLE
    risks["packed_f32"] = base64.b64encode(np.zeros(N_PEOPLE, np.float32).tobytes()).decode()
    (bundle / "cohort_risks.json").write_text(json.dumps(risks))
    pd.DataFrame({"risk": np.zeros(N_PEOPLE)}, index=pd.Index(ids, name="sample_id")).to_parquet(
        bundle / "predictions.parquet"
    )
    (bundle / "model.ubj").write_bytes((bundle / "model.ubj").read_bytes() + b"S" + bytes([8]) + ids[3].encode())
    problems = "\n".join(scan_for_individual_data(bundle, ids))
    assert f"cohort_reference.json: 1 cohort sample ID(s): {ids[7]}" in problems
    assert f"cohort_risks.json: oof: an array of {N_PEOPLE} values" in problems
    assert "cohort_risks.json: packed_f32: base64" in problems
    assert "predictions.parquet: per-person column(s) risk, sample_id" in problems
    assert f"predictions.parquet: {N_PEOPLE} rows" in problems
    assert f"predictions.parquet: {N_PEOPLE} cohort sample ID(s)" in problems
    assert f"model.ubj: 1 cohort sample ID(s): {ids[3]}" in problems


def test_scan_looks_for_other_sizes(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"x": list(range(12))}))
    assert scan_for_individual_data(tmp_path, ["A1", "A2"]) == []
    assert scan_for_individual_data(tmp_path, ["A1", "A2"], sizes=[12]) == [
        f"{tmp_path / 'a.json'}: x: an array of 12 values, the cohort's size"
    ]


def test_model_card_says_whether_the_model_beats_its_baseline(bundle):
    card = json.loads((bundle / "model_card.json").read_text())
    md = (bundle / "model_card.md").read_text()
    assert md.startswith("# Model card: genorisk gradient-boosted risk model for Toy disease")
    comparison = card["baseline_comparison"]
    assert comparison == baseline_comparison(card["metrics"])
    assert comparison["statement"] in md
    lo, hi = comparison["difference_ci"]
    assert comparison["beats_baseline"] == (lo > 0)


def test_baseline_comparison_in_words():
    def metrics(estimate, lo, hi):
        return {
            "baseline": {"roc_auc": {"estimate": 0.80, "ci_low": 0.78, "ci_high": 0.82}},
            "baseline_features": ["pgs_X", "age"],
            "roc_auc_difference": {"model-baseline": {"estimate": estimate, "ci_low": lo, "ci_high": hi}},
        }

    tie = baseline_comparison(metrics(0.0007563, -0.0122690, 0.0132233))
    assert tie["statement"] == "did not beat the logistic baseline: AUC difference +0.001, 95% CI -0.012 to +0.013."
    assert tie["beats_baseline"] is False and tie["name"] == "logistic baseline (pgs_X, age)"
    win = baseline_comparison(metrics(0.05, 0.02, 0.08))
    assert win["beats_baseline"] is True
    assert win["statement"] == "beats the logistic baseline: AUC difference +0.050, 95% CI +0.020 to +0.080."
    no_ci = baseline_comparison(metrics(0.05, None, None))
    assert no_ci["beats_baseline"] is False and no_ci["difference_ci"] is None
    assert no_ci["statement"].startswith("not shown to beat the logistic baseline")
    assert baseline_comparison({"baseline": None}) is None


#: A training run's settings, none at its default.
TRAINED_WITH = {
    "genome_build": "GRCh37",
    "features.burden_max_af": 0.05,
    "features.min_match_rate": 0.6,
    "ancestry.outlier_rate": 0.02,
}


def _publish(model_dir, folder, trait_id, settings):
    trait = {**TRAIT, "id": trait_id}
    write_bundle(
        folder, trait, model_dir=model_dir, cohort_reference=_reference(), cohort_sites=_sites(), settings=settings
    )
    return folder


def test_settings_round_trip_and_are_covered_by_the_hash(model_dir, tmp_path):
    folder = _publish(model_dir, tmp_path / "a", "toy_disease", TRAINED_WITH)
    assert verify_bundle(folder)["settings"] == TRAINED_WITH
    assert load_bundle(folder).manifest["settings"] == TRAINED_WITH
    assert bundle_settings(folder) == TRAINED_WITH and list(bundle_settings(folder)) == list(RUN_SETTINGS)
    manifest = json.loads((folder / BUNDLE_MANIFEST).read_text())
    manifest["settings"]["features.burden_max_af"] = 0.01
    (folder / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="bundle_sha256 does not match"):
        verify_bundle(folder)


def test_settings_are_checked_when_published(model_dir, tmp_path):
    folder = tmp_path / "b"
    missing = {k: v for k, v in TRAINED_WITH.items() if k != "ancestry.outlier_rate"}
    with pytest.raises(InputError, match="settings lacks ancestry.outlier_rate"):
        _publish(model_dir, folder, "toy_disease", missing)
    with pytest.raises(InputError, match="settings has unknown features.min_maf"):
        _publish(model_dir, folder, "toy_disease", {**TRAINED_WITH, "features.min_maf": 0.01})
    with pytest.raises(InputError, match="settings features.burden_max_af is '0.05', not a number from 0 to 1"):
        _publish(model_dir, folder, "toy_disease", {**TRAINED_WITH, "features.burden_max_af": "0.05"})
    assert not folder.exists()


def test_a_score_only_run_takes_the_bundles_settings(model_dir, tmp_path):
    folders = {t: _publish(model_dir, tmp_path / t, t, TRAINED_WITH) for t in ("toy_disease", "toy_interaction")}
    # The config as written leaves them out (validated, it holds the defaults): the bundles' apply.
    defaults = {
        "genome_build": "GRCh37",
        "features": {"burden_max_af": 0.01, "min_match_rate": 0.75},
        "ancestry": {"outlier_rate": 0.005},
    }
    given = {"genome_build": "GRCh37", "features": {}}
    assert agreed_settings(folders, defaults, given=given) == TRAINED_WITH
    # The same values given again are accepted.
    again = {"genome_build": "GRCh37", "features": {"burden_max_af": 0.05}, "ancestry": {"outlier_rate": 0.02}}
    assert agreed_settings(folders, {**defaults, **again}, given=again) == TRAINED_WITH


def test_bundles_that_disagree_are_refused_naming_them(model_dir, tmp_path):
    a = _publish(model_dir, tmp_path / "a", "toy_disease", TRAINED_WITH)
    b = _publish(model_dir, tmp_path / "b", "toy_interaction", {**TRAINED_WITH, "features.burden_max_af": 0.01})
    config = {"genome_build": "GRCh37"}
    with pytest.raises(ConfigError) as err:
        agreed_settings({"toy_disease": a, "toy_interaction": b}, config, given=config, source="score.yaml")
    assert str(err.value) == (
        "score.yaml: key bundles: the bundles were trained with different features.burden_max_af "
        f"(0.05 in {a}; 0.01 in {b}); a score-only run applies one value to every patient: "
        "score these bundles in separate runs"
    )


def test_a_config_value_other_than_the_bundles_is_refused(model_dir, tmp_path):
    folders = {"toy_disease": _publish(model_dir, tmp_path / "a", "toy_disease", TRAINED_WITH)}
    given = {"genome_build": "GRCh37", "ancestry": {"outlier_rate": 0.005}}
    with pytest.raises(ConfigError) as err:
        agreed_settings(folders, given, given=given, source="score.yaml")
    assert str(err.value) == (
        "score.yaml: key ancestry.outlier_rate: ancestry.outlier_rate is 0.005 but the bundles were trained "
        f"with 0.02 ({folders['toy_disease']}): leave ancestry.outlier_rate out (a score-only run takes it "
        "from the bundles)"
    )
    # genome_build is compared even at its default: the patients' VCFs and resources are in the config's build.
    with pytest.raises(ConfigError, match=r'key genome_build: genome_build is "GRCh38" \(the default\) but .*"GRCh37"'):
        agreed_settings(folders, {"genome_build": "GRCh38"}, given={})


def test_a_format_version_1_bundle_is_refused_with_the_fix(bundle):
    manifest = json.loads((bundle / BUNDLE_MANIFEST).read_text())
    manifest["format_version"] = 1
    del manifest["settings"]
    _rehash(bundle, manifest)
    for read in (verify_bundle, bundle_settings):
        with pytest.raises(InputError, match="format_version 1 records no training settings .*publish it again") as err:
            read(bundle)
        assert err.value.path == str(bundle / BUNDLE_MANIFEST)
    assert read_bundle_manifest(bundle)["trait"]["id"] == TRAIT["id"]  # start-up still finds the trait
    with pytest.raises(ConfigError, match=r"key bundles\[0\]: .*format_version 1"):
        agreed_settings({TRAIT["id"]: bundle}, {"genome_build": "GRCh38"})


def test_the_outlier_rate_must_be_the_model_cards(model_dir, tmp_path):
    with_limit = tmp_path / "model"
    shutil.copytree(model_dir, with_limit)
    card = json.loads((with_limit / "model_card.json").read_text())
    card["ancestry_limit"] = {"threshold": 4.2, "outlier_rate": 1 - (1 - 0.02)}  # as fitted: 0.020000000000000018
    (with_limit / "model_card.json").write_text(json.dumps(card))
    assert bundle_settings(_publish(with_limit, tmp_path / "a", "toy_disease", TRAINED_WITH)) == TRAINED_WITH
    with pytest.raises(
        InputError, match="set with outlier_rate 0.02.*not the settings' ancestry.outlier_rate 0.005"
    ) as err:
        _publish(with_limit, tmp_path / "b", "toy_disease", {**TRAINED_WITH, "ancestry.outlier_rate": 0.005})
    assert err.value.path == str(with_limit / "model_card.json")
