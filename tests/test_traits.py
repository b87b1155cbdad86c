"""Two traits of one cohort: their features agree wherever they share a name (issue #13 item 1).

A small simulated cohort gets a second trait column with unknown (empty)
values; :func:`genorisk.features.cohort_features` is run once per trait, as
rule ``cohort_features`` runs it (the trait's column for the in-fold dosage
selection, its own covariates and scores). PCs, burden, carrier, covariate
and shared dosage features must then be defined identically, and computed
identically, on the same rows: every QC-passed person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_small_cohort

from genorisk.errors import InputError
from genorisk.features import cohort_features, select_dosage_variants, trait_labels
from genorisk.features.variants import InFoldSelection
from genorisk.model import outer_folds
from genorisk.model.select import dosage_ranking

KEYS = ["chrom", "pos", "ref", "alt"]
IN_FOLD = {"n_folds": 3, "seed": 7, "keep_per_fold": 25}


@pytest.fixture(scope="module")
def two_traits(tmp_path_factory):
    """The simulated cohort with ``status_b`` (about 20% unknown), a score file and an annotation table."""
    out = tmp_path_factory.mktemp("traits")
    vcf = simulate_small_cohort(out)
    phenotypes = pd.read_csv(out / "phenotypes.tsv", sep="\t", dtype={"sample_id": str}).set_index("sample_id")
    rng = np.random.default_rng(13)
    status_b = rng.binomial(1, 0.25, len(phenotypes)).astype(float)
    status_b[rng.random(len(phenotypes)) < 0.2] = np.nan
    phenotypes["status_b"] = status_b
    # Every allele of the file with its cohort frequency: the score takes common ones, the annotation rare ones.
    _, _, allele_freqs, _ = select_dosage_variants(
        vcf, list(phenotypes.index), min_maf=0.01, min_call_rate=0.95, male=(phenotypes["sex"] == "male").to_numpy()
    )
    snv = allele_freqs[(allele_freqs["ref"].str.len() == 1) & (allele_freqs["alt"].str.len() == 1)]
    common = snv[snv["af"].between(0.1, 0.9)].iloc[::7].head(40)
    score = out / "PGS_TWO.txt"
    with open(score, "w") as fh:
        fh.write("#pgs_id=PGS_TWO\n#genome_build=GRCh38\n")
        fh.write("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
        for r, w in zip(common.itertuples(), rng.normal(0, 0.1, len(common)), strict=True):
            fh.write(f"{r.chrom.removeprefix('chr')}\t{r.pos}\t{r.alt}\t{r.ref}\t{float(w)!r}\n")
    rare = snv[(snv["af"] > 0) & (snv["af"] < 0.05)].reset_index(drop=True)
    annotation = rare[KEYS].assign(
        allele_class="SNV",
        gene=np.where(np.arange(len(rare)) % 2 == 0, "GENEA", "GENEB"),
        region_class="CDS",
        consequence=None,
        clinvar_significance=np.where(np.arange(len(rare)) % 3 == 0, "Pathogenic", None),
        population_af=np.nan,
    )
    return vcf, phenotypes, score, annotation


def _features(two_traits, column, covariates, scores):
    vcf, phenotypes, _, annotation = two_traits
    return cohort_features(
        vcf,
        phenotypes,
        covariates=covariates,
        score_files=scores,
        annotation=annotation,
        consequences_computed=False,
        n_components=2,
        burden_max_af=0.05,
        burden_min_carriers=3,
        chunk_size=300,
        in_fold_selection=IN_FOLD,
        label_column=column,
    )


@pytest.fixture(scope="module")
def two_feature_sets(two_traits):
    """cohort_features of trait A (status, age + sex, one score) and trait B (status_b, age, no score)."""
    score = two_traits[2]
    return _features(two_traits, "status", ["age", "sex"], [score]), _features(two_traits, "status_b", ["age"], [])


@pytest.mark.integration
def test_two_traits_define_shared_features_identically(two_traits, two_feature_sets):
    phenotypes = two_traits[1]
    (feat_a, schema_a), (feat_b, schema_b) = two_feature_sets
    # Rows: every person, whatever their value in the trait's column.
    assert list(feat_a.index) == list(feat_b.index) == list(phenotypes.index)
    entries_a = {f["name"]: f for f in schema_a["features"]}
    entries_b = {f["name"]: f for f in schema_b["features"]}
    kinds_b = {f["kind"] for f in schema_b["features"]}
    assert {"pc", "burden", "carrier", "covariate", "dosage"} <= kinds_b
    # Each trait holds only its own scores and covariates.
    assert [n for n, f in entries_a.items() if f["kind"] == "pgs"] == ["pgs_PGS_TWO"]
    assert "pgs" not in kinds_b
    assert [n for n, f in entries_b.items() if f["kind"] == "covariate"] == ["age"]
    assert [n for n, f in entries_a.items() if f["kind"] == "covariate"] == ["age", "sex_male"]
    # Same name => same definition and same values, for every shared feature (dosages included:
    # their cohort_af is every person's, not the trait's labelled people's).
    shared = [n for n in entries_a if n in entries_b]
    assert {entries_b[n]["kind"] for n in shared} >= {"pc", "burden", "carrier", "covariate", "dosage"}
    for name in shared:
        assert entries_a[name] == entries_b[name], name
        np.testing.assert_array_equal(feat_a[name].to_numpy(), feat_b[name].to_numpy(), err_msg=name)
    assert schema_a["ancestry"] == schema_b["ancestry"]
    # The dosage selections are each trait's own (other labels); the filters are every person's.
    dosages_a = {n for n, f in entries_a.items() if f["kind"] == "dosage"}
    dosages_b = {n for n, f in entries_b.items() if f["kind"] == "dosage"}
    assert dosages_a != dosages_b
    counts_a, counts_b = schema_a["dosage_selection"], schema_b["dosage_selection"]
    assert counts_a["passed_filters"] == counts_b["passed_filters"]


@pytest.mark.integration
def test_training_on_the_labelled_rows_selects_as_from_every_allele(two_traits, two_feature_sets):
    """Trait B's kept dosages hold every ranking's top k of all passing alleles, over its labelled rows."""
    vcf, phenotypes, _, _ = two_traits
    feat_b, schema_b = two_feature_sets[1]
    labels = trait_labels(phenotypes, "status_b")
    known = ~np.isnan(labels)
    y = labels[known].astype(int)
    every, every_dosages, _, _ = select_dosage_variants(
        vcf, list(phenotypes.index), min_maf=0.01, min_call_rate=0.95, male=(phenotypes["sex"] == "male").to_numpy()
    )
    every_names = [f"v_{c}_{p}_{r}_{a}" for c, p, r, a in every[KEYS].itertuples(index=False)]
    kept = [f["name"] for f in schema_b["features"] if f["kind"] == "dosage"]
    assert len(kept) < len(every_names)  # the selection did drop alleles
    kept_dosages = feat_b.loc[known, kept].to_numpy()
    np.testing.assert_array_equal(kept_dosages, every_dosages[known][:, [every_names.index(n) for n in kept]])
    fold_of = outer_folds(y.astype(np.int8), IN_FOLD["n_folds"], IN_FOLD["seed"])
    rows = [np.flatnonzero(fold_of != f) for f in range(IN_FOLD["n_folds"])] + [np.arange(len(y))]
    k = IN_FOLD["keep_per_fold"]
    for j, r in enumerate(rows):
        want = dosage_ranking(every_dosages[known], y, ["dosage"] * len(every_names), rows=r)[:k]
        got = dosage_ranking(kept_dosages, y, ["dosage"] * len(kept), rows=r)[:k]
        assert [kept[c] for c in got] == [every_names[c] for c in want], f"ranking {j}"


@pytest.mark.integration
def test_unknown_people_do_not_move_the_selection(two_traits):
    """Whatever an unknown person's genotypes, the trait's in-fold selection is that of its labelled people."""
    vcf, phenotypes, _, _ = two_traits
    labels = trait_labels(phenotypes, "status_b")
    known = ~np.isnan(labels)
    assert 0 < (~known).sum() < len(labels) // 3
    _, dosages, _, _ = select_dosage_variants(
        vcf, list(phenotypes.index), min_maf=0.01, min_call_rate=0.95, male=(phenotypes["sex"] == "male").to_numpy()
    )
    d = dosages.T  # alleles x people, as the chunks give them
    with_unknown = InFoldSelection(labels, keep_dosages=False, **IN_FOLD)
    labelled_only = InFoldSelection(labels[known].astype(int), keep_dosages=False, **IN_FOLD)
    # The folds are training's folds of the labelled rows; unknown people are in none.
    np.testing.assert_array_equal(with_unknown.fold_of[known], outer_folds(labels[known].astype(np.int8), 3, 7))
    assert (with_unknown.fold_of[~known] == -1).all()
    stats = with_unknown.statistics_of(d)
    np.testing.assert_allclose(stats, labelled_only.statistics_of(d[:, known]), rtol=1e-9, atol=1e-12)
    # Scrambling the unknown people's genotypes changes nothing.
    scrambled = d.copy()
    scrambled[:, ~known] = np.random.default_rng(1).permutation(scrambled[:, ~known], axis=1)[:, ::-1]
    np.testing.assert_array_equal(with_unknown.statistics_of(scrambled), stats)


def test_unknown_labels_are_checked():
    y = np.array([0, 1, np.nan, 1, 0, 2, np.nan, 0])
    with pytest.raises(InputError, match="0/1"):
        InFoldSelection(y, n_folds=2, seed=0, keep_per_fold=3)
    y = np.array([0, 1, np.nan, 1, 1, np.nan, np.nan, np.nan])  # 4 known: 3 cases, 1 control
    with pytest.raises(InputError, match="2 cases and 2 controls, got 3 of 4"):
        InFoldSelection(y, n_folds=5, seed=0, keep_per_fold=3)
    with pytest.raises(InputError, match="trait column 'status_c'"):
        trait_labels(pd.DataFrame({"status": [0, 1]}), "status_c")
    assert trait_labels(pd.DataFrame({"status": [0, 1]}), "status").dtype.kind == "i"
