"""Dosage selection inside the folds: the union of each ranking's top k, streamed, is what training selects.

``select_dosage_variants(..., labels=...)`` keeps only the alleles that
training's in-fold rankings (each outer fold's training rows, and all rows for
the final model) can select, instead of a dense column for every passing
allele. These tests check that ranking the union gives the same top k as
ranking every passing allele, that training on the union gives the same model,
that memory does not grow with the number of alleles, and that fold f's
selection never sees fold f's test labels.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_small_cohort

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.features.variants import InFoldSelection, select_dosage_variants
from genorisk.genotypes import DosageChunk
from genorisk.model import ModelConfig, outer_folds, train_model
from genorisk.model.select import dosage_ranking

REPO = Path(__file__).resolve().parents[1]
KEYS = ["chrom", "pos", "ref", "alt"]


# --- cohorts ---------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated_cohort(tmp_path_factory):
    """A small simulated cohort (400 people, 1 Mb of chr21, ~2,300 passing alleles) and its phenotypes."""
    out = tmp_path_factory.mktemp("sim")
    simulate_small_cohort(out)
    phenotypes = pd.read_csv(out / "phenotypes.tsv", sep="\t", dtype={"sample_id": str}).set_index("sample_id")
    return out / "cohort.vcf.gz", phenotypes


def _select(vcf, phenotypes, chunk_size=300, **labelled):
    """select_dosage_variants as cohort_features calls it (min_maf 0.01, min_call_rate 0.95, sexes)."""
    return select_dosage_variants(
        vcf,
        list(phenotypes.index),
        min_maf=0.01,
        min_call_rate=0.95,
        male=(phenotypes["sex"] == "male").to_numpy(),
        chunk_size=chunk_size,
        **labelled,
    )


def _synthetic_chunks(n, n_chunks, chunk_size, *, seed=0, missing=0.02, imputed=0.3, first_pos=1):
    """DosageChunks of a sorted chr21 slice, generated one at a time (no cohort in memory).

    Per chunk: hard calls at allele frequencies 0.02-0.5, a share of imputed-looking
    dosages (uniform in [0, 2], float32), missing calls, a monomorphic allele and an
    exact copy of the previous allele (tied statistics).
    """
    samples = [f"S{i}" for i in range(n)]
    for c in range(n_chunks):
        rng = np.random.default_rng([seed, c])
        af = rng.uniform(0.02, 0.5, chunk_size)
        d = rng.binomial(2, af[:, None], size=(chunk_size, n)).astype(np.float32)
        n_imputed = int(imputed * chunk_size)
        d[:n_imputed] = rng.uniform(0, 2, size=(n_imputed, n)).astype(np.float32)
        d[n_imputed] = 1.0
        d[n_imputed + 2] = d[n_imputed + 1]
        d[rng.random(d.shape) < missing] = np.nan
        pos = first_pos + 10 * (c * chunk_size + np.arange(chunk_size))
        variants = pd.DataFrame(
            {
                "chrom": pd.array(["21"] * chunk_size, dtype="str"),
                "pos": pos.astype(np.int64),
                "ref": pd.array(["A"] * chunk_size, dtype="str"),
                "alt": pd.array(["G"] * chunk_size, dtype="str"),
                "id": pd.array([None] * chunk_size, dtype="str"),
                "allele_index": np.ones(chunk_size, dtype=np.int32),
                "n_alt": np.ones(chunk_size, dtype=np.int32),
            }
        )
        called = ~np.isnan(d)
        yield DosageChunk(
            variants, d, samples, np.nansum(d, axis=1, dtype=np.float64), 2 * called.sum(axis=1).astype(np.int64)
        )


def _use_synthetic(monkeypatch, n, n_chunks, chunk_size, **kw):
    """Make select_dosage_variants read _synthetic_chunks instead of a VCF."""

    def fake(vcf, *, samples=None, male=None, chunk_size=20000, **_):
        return _synthetic_chunks(n, n_chunks, chunk_size, **kw)

    monkeypatch.setattr(genotypes, "iter_dosage_chunks", fake)
    return [f"S{i}" for i in range(n)]


def _rankings(dosages, y, n_folds, seed):
    """Training's rankings (train.py): each outer fold's training rows, then all rows."""
    kinds = ["dosage"] * dosages.shape[1]
    fold_of = outer_folds(y, n_folds, seed)
    out = [dosage_ranking(dosages, y, kinds, rows=np.flatnonzero(fold_of != f)) for f in range(n_folds)]
    return [*out, dosage_ranking(dosages, y, kinds)]


def _assert_same_top_k(all_variants, all_dosages, union_variants, union_dosages, y, k, n_folds, seed):
    """Every ranking's first k (in order, so every shorter prefix too) is the same allele list."""
    all_keys = list(all_variants[KEYS].itertuples(index=False, name=None))
    union_keys = list(union_variants[KEYS].itertuples(index=False, name=None))
    full = _rankings(all_dosages, y, n_folds, seed)
    union = _rankings(union_dosages, y, n_folds, seed)
    for j, (r_all, r_union) in enumerate(zip(full, union, strict=True)):
        want = [all_keys[c] for c in r_all[:k]]
        got = [union_keys[c] for c in r_union[:k]]
        assert got == want, f"ranking {j} (k={k})"


# --- (a) the union holds every ranking's top k -----------------------------


@pytest.mark.integration
@pytest.mark.parametrize("k", [1, 7, 40, 300])
def test_union_ranked_in_folds_gives_each_folds_top_k(simulated_cohort, k):
    vcf, phenotypes = simulated_cohort
    y = phenotypes["status"].to_numpy()
    variants, dosages, freqs, counts = _select(vcf, phenotypes)
    u_variants, u_dosages, u_freqs, u_counts = _select(vcf, phenotypes, labels=y, n_folds=3, seed=42, keep_per_fold=k)
    _assert_same_top_k(variants, dosages, u_variants, u_dosages, y, k, 3, 42)
    # The union is a genome-ordered subset of the passing alleles, with the very same columns.
    at = pd.MultiIndex.from_frame(variants[KEYS]).get_indexer(pd.MultiIndex.from_frame(u_variants[KEYS]))
    assert (at >= 0).all() and (np.diff(at) > 0).all()
    pd.testing.assert_frame_equal(u_variants, variants.iloc[at].reset_index(drop=True))
    assert u_dosages.dtype == np.float32 and u_dosages.tobytes() == np.ascontiguousarray(dosages[:, at]).tobytes()
    pd.testing.assert_frame_equal(u_freqs, freqs)
    assert {key: u_counts[key] for key in counts} == counts
    assert u_counts["passed_filters"] == dosages.shape[1]
    assert u_counts["selected_in_folds"] == len(u_variants)
    assert k <= len(u_variants) <= 4 * k + 8  # 3 folds + all rows; a few exact ties at the k-th place
    assert "passed_filters" not in counts  # without labels the counts (and the schema) are as before


@pytest.mark.parametrize("k", [1, 25, 120])
def test_union_with_missing_imputed_and_tied_dosages(monkeypatch, k):
    """Missing calls (mean-imputed in training), float32 imputed dosages, exact ties, chunk boundaries."""
    samples = _use_synthetic(monkeypatch, n=300, n_chunks=5, chunk_size=160, seed=3)
    y = (np.random.default_rng(1).random(300) < 0.35).astype(np.int8)
    y[np.random.default_rng(2).random(300) < 0.1] = 1  # some imbalance
    kw = dict(min_maf=0.01, min_call_rate=0.9)
    variants, dosages, _, _ = select_dosage_variants("synthetic.vcf", samples, **kw, chunk_size=160)
    u_variants, u_dosages, _, counts = select_dosage_variants(
        "synthetic.vcf", samples, **kw, chunk_size=160, labels=y, n_folds=4, seed=7, keep_per_fold=k
    )
    assert counts["passed_filters"] == dosages.shape[1] and len(u_variants) < dosages.shape[1]
    _assert_same_top_k(variants, dosages, u_variants, u_dosages, y, k, 4, 7)


# --- (b) training on the union is training on everything --------------------


@pytest.mark.integration
def test_training_on_union_equals_training_on_all_alleles(simulated_cohort):
    vcf, phenotypes = simulated_cohort
    y = phenotypes["status"].to_numpy()
    k = 30
    config = ModelConfig(
        n_folds=3, n_trials=3, n_bootstrap=20, threads=1, max_bin=16, n_estimators=150, early_stopping_rounds=10,
        max_dosage_features=k, min_dosage_features=2, in_cohort_score_sizes=(10, k), in_cohort_score_elastic_net=20,
        interaction_screen=1,  # reads the top 40 of each fold's ranking, within the 60 kept
    )  # fmt: skip
    full = _select(vcf, phenotypes)
    keep = config.dosage_columns_per_fold  # the trees' and the in-cohort score's top k, as the workflow keeps
    union = _select(vcf, phenotypes, labels=y, n_folds=config.n_folds, seed=config.seed, keep_per_fold=keep)

    def matrix(variants, dosages):
        names = [f"v_{c}_{p}_{r}_{a}" for c, p, r, a in variants[KEYS].itertuples(index=False)]
        X = pd.DataFrame(dosages, index=phenotypes.index, columns=names)
        X["age"] = phenotypes["age"].astype("float32")
        X["sex_male"] = (phenotypes["sex"] == "male").astype("float32")
        features = [
            {"name": n, "kind": "dosage", "label": n, "group": n, "definition": dict(zip(KEYS, v, strict=True))}
            for n, v in zip(names, variants[KEYS].itertuples(index=False), strict=True)
        ] + [
            {"name": c, "kind": "covariate", "label": c, "group": c, "definition": {"column": c}}
            for c in ("age", "sex_male")
        ]
        return X, {"schema_version": 1, "features": features}

    X_full, schema_full = matrix(*full[:2])
    X_union, schema_union = matrix(*union[:2])
    a = train_model(X_full, y, schema_full, config)
    b = train_model(X_union, y, schema_union, config)
    assert np.max(np.abs(a.oof_margin - b.oof_margin)) <= 1e-12
    assert a.feature_names == b.feature_names and a.n_rounds == b.n_rounds and a.params == b.params
    import xgboost as xgb

    d = xgb.DMatrix(X_union[a.feature_names].to_numpy(), feature_names=a.feature_names)
    np.testing.assert_allclose(a.booster.predict(d), b.booster.predict(d), rtol=0, atol=1e-12)
    ma, mb = dict(a.metrics), dict(b.metrics)
    for m in (ma, mb):
        m.pop("training_seconds")
        m["data"] = {key: v for key, v in m["data"].items() if key not in ("n_features", "n_dosage_features")}
    assert ma == mb
    assert a.metrics["data"]["n_dosage_features"] > 10 * b.metrics["data"]["n_dosage_features"]


# --- (c) memory flat in the number of alleles -------------------------------


@pytest.mark.integration
def test_selection_memory_is_flat_in_the_number_of_alleles(monkeypatch):
    """Peak traced memory (numpy buffers included) at 1x and 4x the alleles, 1,000 people, k = 50, 3 folds.

    A dense column costs 4,000 bytes per allele here; the labelled selection
    grows only by the allele-frequency table every caller gets (a small frame
    row per allele), not by columns.
    """
    n, chunk_size, k = 1000, 500, 50
    y = (np.random.default_rng(0).random(n) < 0.3).astype(np.int8)
    peaks = {}
    for tiles in (1, 4):
        samples = _use_synthetic(monkeypatch, n=n, n_chunks=4 * tiles, chunk_size=chunk_size, seed=5, missing=0.0)
        tracemalloc.start()
        try:
            variants, dosages, freqs, counts = select_dosage_variants(
                "synthetic.vcf", samples, min_maf=0.01, min_call_rate=0.9, chunk_size=chunk_size,
                labels=y, n_folds=3, seed=1, keep_per_fold=k,
            )  # fmt: skip
            peaks[tiles] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert counts["passed_filters"] > 0.9 * 4 * tiles * chunk_size and len(variants) <= 4 * k + 8
        del variants, dosages, freqs
    extra_alleles = 0.9 * 12 * chunk_size
    per_allele = (peaks[4] - peaks[1]) / extra_alleles
    print(
        f"peak traced memory: 1x {peaks[1] / 2**20:.1f} MiB, 4x {peaks[4] / 2**20:.1f} MiB, {per_allele:.0f} B/allele"
    )
    assert peaks[4] < 1.25 * peaks[1]
    assert per_allele < 0.1 * 4 * n  # a tenth of a dense float32 column


# --- (d) no leakage ----------------------------------------------------------


def _swap_test_labels(y, fold_of, f):
    """Swap the labels of adjacent rows that are both in fold f's test rows and differ.

    Each case/control keeps its rank within its class among the other rows, so
    the stratified fold assignment is unchanged while fold f's test labels change.
    """
    y = y.copy()
    i, swapped = 0, 0
    while i < len(y) - 1:
        if fold_of[i] == f and fold_of[i + 1] == f and y[i] != y[i + 1]:
            y[i], y[i + 1] = y[i + 1], y[i]
            swapped += 1
            i += 2
        else:
            i += 1
    return y, swapped


def test_fold_selection_does_not_see_its_test_labels():
    """Noise phenotype, 3,000 alleles: fold f's statistics and kept alleles ignore fold f's test labels."""
    n, n_folds, k = 400, 4, 40
    y = (np.random.default_rng(4).random(n) < 0.3).astype(np.int8)

    def run(labels):
        sel = InFoldSelection(labels, n_folds=n_folds, seed=9, keep_per_fold=k)
        for chunk in _synthetic_chunks(n, 6, 500, seed=8):
            sel.add(chunk.variants[KEYS], chunk.dosages)
        return sel

    before = run(y)
    for f in range(n_folds):
        y_swapped, swapped = _swap_test_labels(y, before.fold_of, f)
        assert swapped >= 5
        after = run(y_swapped)
        np.testing.assert_array_equal(after.fold_of, before.fold_of)

        def kept_for(sel, j):
            mask = sel.selected_by_ranking()[:, j]
            stats = pd.Series(sel.statistics[mask, j], index=pd.MultiIndex.from_frame(sel.variants.loc[mask, KEYS]))
            return stats.sort_index()

        pd.testing.assert_series_equal(kept_for(after, f), kept_for(before, f), check_exact=True)
        others = [j for j in range(n_folds + 1) if j != f]  # the other folds and the final model see those rows
        assert any(not kept_for(after, j).equals(kept_for(before, j)) for j in others)


# --- bad input and duplicates --------------------------------------------------


def test_duplicates_are_dropped_as_without_labels(monkeypatch):
    """An allele repeated at the same site, across a chunk boundary, is dropped (first kept) in both modes."""
    chunks = list(_synthetic_chunks(200, 2, 50, seed=1, missing=0.0))
    second = chunks[1]
    second.variants.loc[0, "pos"] = chunks[0].variants["pos"].iloc[-1]  # a repeat of chunk 0's last allele
    second.variants.loc[1, "pos"] = chunks[0].variants["pos"].iloc[-1]
    second.variants.loc[1, "alt"] = "T"  # same site, another allele: not a repeat
    monkeypatch.setattr(genotypes, "iter_dosage_chunks", lambda *a, **kw: iter(chunks))
    samples = chunks[0].samples
    y = np.tile([0, 1], 100)
    kw = dict(min_maf=0.01, min_call_rate=0.9)
    variants, _, _, counts = select_dosage_variants("dup.vcf", samples, **kw)
    u_variants, _, _, u_counts = select_dosage_variants(
        "dup.vcf", samples, **kw, labels=y, n_folds=2, seed=0, keep_per_fold=1000
    )
    assert counts["duplicates"] == u_counts["duplicates"] == 1
    pd.testing.assert_frame_equal(u_variants, variants)


def test_bad_labels_and_unsorted_input_are_refused(monkeypatch):
    chunks = list(_synthetic_chunks(100, 2, 30, seed=2, missing=0.0))
    samples = chunks[0].samples
    y = np.tile([0, 1], 50)
    kw = dict(min_maf=0.01, min_call_rate=0.9)
    monkeypatch.setattr(genotypes, "iter_dosage_chunks", lambda *a, **kw: iter(chunks))
    with pytest.raises(InputError, match="one 0/1 value per sample"):
        select_dosage_variants("x.vcf", samples, **kw, labels=y[:-1], n_folds=2, seed=0, keep_per_fold=5)
    with pytest.raises(InputError, match="0/1"):
        select_dosage_variants("x.vcf", samples, **kw, labels=y * 2, n_folds=2, seed=0, keep_per_fold=5)
    with pytest.raises(ValueError, match="needs labels"):
        select_dosage_variants("x.vcf", samples, **kw, keep_per_fold=5)
    monkeypatch.setattr(genotypes, "iter_dosage_chunks", lambda *a, **kw: iter(chunks[::-1]))
    with pytest.raises(InputError, match="sorted input") as err:
        select_dosage_variants("x.vcf", samples, **kw, labels=y, n_folds=2, seed=0, keep_per_fold=5)
    assert "x.vcf" in str(err.value)
    select_dosage_variants("x.vcf", samples, **kw)  # the dense path does not need order


@pytest.mark.parametrize("with_consequences", [False, True])
def test_annotation_candidates_give_the_same_rare_damaging_alleles(tmp_path, with_consequences):
    """read_annotation_candidates keeps every allele rare_damaging can pick, in either consequence mode."""
    from genorisk.features.variants import rare_damaging, read_annotation_candidates

    rng = np.random.default_rng(3)
    n = 2000
    table = pd.DataFrame(
        {
            "chrom": "chr21",
            "pos": np.arange(n) + 1000,
            "ref": "A",
            "alt": rng.choice(["C", "G", "<DEL>", "*"], n, p=[0.45, 0.45, 0.05, 0.05]),
            "allele_class": None,
            "gene": rng.choice([None, "APP", "SOD1"], n),
            "region_class": rng.choice(["CDS", "splice_region", "intron", "intergenic", "3_prime_UTR"], n),
            "consequence": (
                rng.choice([None, "missense", "synonymous", "stop_gained", "intron"], n) if with_consequences else None
            ),
            "clinvar_significance": rng.choice([None, None, None, "Pathogenic", "Benign", "Likely_pathogenic"], n),
            "population_af": rng.choice([np.nan, 0.001, 0.2], n),
        }
    )
    table["allele_class"] = np.where(table["alt"].str.len() == 1, "SNV", "symbolic")
    path = tmp_path / "variants.parquet"
    table.to_parquet(path)
    candidates, computed = read_annotation_candidates(path)
    assert computed is with_consequences and len(candidates) < n
    cols = ["chrom", "pos", "ref", "alt"]
    want = table[rare_damaging(table, max_af=0.01)][cols].reset_index(drop=True)
    got = candidates[rare_damaging(candidates, max_af=0.01, consequences_computed=computed)][cols]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
