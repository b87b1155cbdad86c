"""In-fold trend statistics from shards equal the dense in-fold filter, and never see a fold's test labels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_small_cohort
from sklearn.model_selection import StratifiedKFold

from genorisk.model.fold_stats import (
    concat_fold_stats,
    fold_trend_statistics,
    outer_folds,
    shard_fold_stats,
    shard_top_k,
    top_k_per_fold,
)
from genorisk.model.select import trend_test_statistic

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simulated_store(tmp_path_factory):
    """A small simulated cohort (chr21 segment), converted to a pgen by plink2; with its 0/1 status."""
    if shutil.which("plink2") is None:
        pytest.skip("plink2 not installed")
    out = tmp_path_factory.mktemp("sim")
    simulate_small_cohort(out)
    subprocess.run(
        ["plink2", "--vcf", str(out / "cohort.vcf.gz"), "--vcf-half-call", "missing", "--max-alleles", "2",
         "--threads", "1", "--memory", "1000", "--make-pgen", "--out", str(out / "store")],
        check=True, capture_output=True,
    )  # fmt: skip
    pheno = pd.read_csv(out / "phenotypes.tsv", sep="\t", dtype={"sample_id": str})
    psam = pd.read_csv(out / "store.psam", sep="\t", dtype=str)
    status = pheno.set_index("sample_id").loc[psam.iloc[:, 0], "status"].astype(np.int64)
    return out / "store", status


def _random_cohort(seed: int = 3, n: int = 300, m: int = 240):
    rng = np.random.default_rng(seed)
    af = rng.uniform(0.01, 0.5, m)
    x = rng.binomial(2, af, size=(n, m)).astype(np.float64)
    x[:, :40] = rng.uniform(0, 2, size=(n, 40))  # imputed dosages
    x[:, 50] = 1.0  # monomorphic
    x[:, 60] = x[:, 61]  # exact ties
    x[rng.random((n, m)) < 0.03] = np.nan
    x[:, 70] = np.nan  # all missing
    y = (rng.random(n) < 0.3).astype(np.int64)
    y[x[:, 5] > 1] = 1  # one real signal
    return x, y


def _dense(x, y, fold_of):
    """The per-fold statistics as training computes them on the dense matrix."""
    n_folds = int(fold_of.max()) + 1
    out = np.empty((x.shape[1], n_folds))
    for f in range(n_folds):
        rows = np.flatnonzero(fold_of != f)
        out[:, f] = trend_test_statistic(x, y[rows], rows=rows)
    return out


def _shards(x, y, fold_of, bounds, block=37):
    """Fold statistics per shard (variant ranges), read in variant-major blocks with -9 for missing as pgenlib does."""
    xt = np.where(np.isnan(x), -9.0, x).T
    out = []
    for lo, hi in bounds:
        blocks = (xt[b : min(b + block, hi)] for b in range(lo, hi, block))
        out.append(shard_fold_stats(blocks, y, fold_of, first_index=lo))
    return out


def test_outer_folds_are_trainings_folds():
    y = np.array([0, 1] * 30 + [0] * 17)
    fold_of = outer_folds(y, 4, seed=11)
    splitter = StratifiedKFold(n_splits=4, shuffle=True, random_state=11)
    for k, (_, test_idx) in enumerate(splitter.split(np.zeros((len(y), 5)), y)):
        assert set(np.flatnonzero(fold_of == k)) == set(test_idx)
    assert (fold_of >= 0).all()


def test_fold_statistics_equal_dense_trend_test():
    x, y = _random_cohort()
    fold_of = outer_folds(y, 5, seed=1)
    shards = _shards(x, y, fold_of, [(0, 100), (100, 101), (101, 240)])
    stats = concat_fold_stats(shards)
    got = fold_trend_statistics(stats)
    want = _dense(x, y, fold_of)
    assert got.shape == (240, 5)
    assert np.max(np.abs(got - want)) < 1e-9
    assert (got[[50, 70]] == 0).all()
    np.testing.assert_array_equal(stats.variant_index, np.arange(240))


def test_top_k_merge_equals_global_ranking():
    x, y = _random_cohort(seed=8)
    fold_of = outer_folds(y, 3, seed=2)
    shards = _shards(x, y, fold_of, [(0, 90), (90, 170), (170, 240)])
    stats = [fold_trend_statistics(s) for s in shards]
    everything = np.concatenate(stats)
    for k in (1, 10, 60, 500):
        per_shard = [shard_top_k(st, s.variant_index, k) for st, s in zip(stats, shards, strict=True)]
        merged = top_k_per_fold(per_shard, k)
        whole = top_k_per_fold([(s.variant_index, st) for st, s in zip(stats, shards, strict=True)], k)
        for f in range(3):
            want = np.argsort(-everything[:, f], kind="stable")[:k]
            np.testing.assert_array_equal(merged[:, f], want)
            np.testing.assert_array_equal(whole[:, f], want)
    # Exactly tied columns keep column order.
    top = top_k_per_fold([(np.arange(240), everything)], 240)
    for f in range(3):
        col = list(top[:, f])
        if everything[60, f] == everything[61, f]:
            assert col.index(60) < col.index(61)


def test_no_leakage_test_labels_of_a_fold():
    x, y = _random_cohort(seed=5)
    fold_of = outer_folds(y, 4, seed=9)
    rng = np.random.default_rng(0)
    for f in range(4):
        test_rows = np.flatnonzero(fold_of == f)
        y_perm = y.copy()
        y_perm[test_rows] = rng.permutation(y[test_rows])
        y_perm[test_rows[:3]] = 1 - y_perm[test_rows[:3]]  # change the labels, not only their order
        before = fold_trend_statistics(concat_fold_stats(_shards(x, y, fold_of, [(0, 240)])))
        after = fold_trend_statistics(concat_fold_stats(_shards(x, y_perm, fold_of, [(0, 240)])))
        np.testing.assert_array_equal(before[:, f], after[:, f])
        assert not np.array_equal(before, after)  # the other folds do see those rows


@pytest.mark.integration
def test_fold_statistics_on_simulated_store(simulated_store):
    import pgenlib

    prefix, phenotypes = simulated_store
    pvar = pgenlib.PvarReader(f"{prefix}.pvar".encode())
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode(), pvar=pvar)
    n, m = reader.get_raw_sample_ct(), reader.get_variant_ct()
    y = phenotypes.to_numpy()
    fold_of = outer_folds(y, 3, seed=42)

    def blocks(lo, hi, size=500):
        for b in range(lo, hi, size):
            buf = np.empty((min(size, hi - b), n), dtype=np.float64)
            reader.read_dosages_range(b, b + len(buf), buf)
            yield buf

    cut = m // 2
    shards = [
        shard_fold_stats(blocks(0, cut), y, fold_of),
        shard_fold_stats(blocks(cut, m), y, fold_of, first_index=cut),
    ]
    got = fold_trend_statistics(concat_fold_stats(shards))
    dense = np.concatenate(list(blocks(0, m))).T
    dense[dense < 0] = np.nan
    want = _dense(dense, y, fold_of)
    assert np.max(np.abs(got - want)) < 1e-9
    k = 25
    top = top_k_per_fold([shard_top_k(fold_trend_statistics(s), s.variant_index, k) for s in shards], k)
    for f in range(3):
        np.testing.assert_array_equal(top[:, f], np.argsort(-want[:, f], kind="stable")[:k])
