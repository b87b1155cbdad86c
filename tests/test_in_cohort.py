"""The in-cohort polygenic score and the strong baseline (genorisk.model.in_cohort, issue #16)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from genorisk.model.config import ModelConfig
from genorisk.model.in_cohort import (
    BURDEN_SCORE_SIZES,
    burden_ranking,
    cross_fitted_scores,
    fit_ridge_score,
    fit_stacked_score,
    fit_strong_baseline,
    likelihood_ridges,
    ridge_score,
)
from genorisk.model.select import dosage_ranking

#: The config schema's defaults (the in-cohort score's sizes and elastic net).
DEFAULTS = ModelConfig.from_dict({})


def additive_cohort(n=3000, m=1500, n_causal=60, h2=0.4, prevalence=0.2, seed=3):
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, m)
    g = rng.binomial(2, maf, size=(n, m)).astype(np.float32)
    effect = np.zeros(m)
    causal = rng.choice(m, n_causal, replace=False)
    effect[causal] = rng.normal(size=n_causal)
    genetic = ((g - 2 * maf) / np.sqrt(2 * maf * (1 - maf))) @ effect
    genetic *= np.sqrt(h2) / genetic.std()
    age = rng.normal(size=n)
    liability = genetic + 0.3 * age + rng.normal(scale=np.sqrt(1 - h2 - 0.09), size=n)
    y = (liability > np.quantile(liability, 1 - prevalence)).astype(np.int8)
    g[rng.random(g.shape) < 0.01] = np.nan  # missing calls
    data = np.hstack([g, age[:, None].astype(np.float32)])
    return data, y, genetic, ["dosage"] * m + ["covariate"]


def test_the_ridge_score_learns_an_additive_signal_in_fold():
    data, y, genetic, kinds = additive_cohort()
    train, test = np.arange(2400), np.arange(2400, 3000)
    ranking = dosage_ranking(data, y, kinds, rows=train)
    fit, val = train[:1900], train[1900:]
    k, factor, r_val = fit_ridge_score(data, y, ranking, fit, val)
    assert k in (50, 200, 1000) and r_val > 0.1
    score = ridge_score(data, y, ranking[:k], train, factor)
    held = score.score(data, test)
    assert roc_auc_score(y[test], held) > 0.65  # h2 0.4 at K 0.2: a real score on unseen people
    assert np.corrcoef(held, genetic[test])[0, 1] > 0.5


def test_cross_fitted_scores_never_see_their_own_row():
    data, y, _, kinds = additive_cohort(n=600, m=300)
    rows = np.arange(600)
    cols = dosage_ranking(data, y, kinds)[:100]
    crossed = cross_fitted_scores(data, y, cols, rows, 1.0, seed=1)
    # Flipping one person's outcome changes every score but that person's own.
    flipped = y.copy()
    flipped[7] = 1 - flipped[7]
    again = cross_fitted_scores(data, flipped, cols, rows, 1.0, seed=1)
    assert again[7] == pytest.approx(crossed[7])
    assert not np.allclose(np.delete(again, 7), np.delete(crossed, 7))


def test_the_strong_baseline_is_one_linear_model_over_dosages_and_covariates():
    """The LinearOffset equals the logistic regression on [score, covariates] it expands, row for row."""
    data, y, _, kinds = additive_cohort(n=1200, m=400)
    rows, new = np.arange(1000), np.arange(1000, 1200)
    cols = dosage_ranking(data, y, kinds, rows=rows)[:200]
    score = ridge_score(data, y, cols, rows, 1.0)
    crossed = cross_fitted_scores(data, y, cols, rows, 1.0, seed=0)
    base_cols = np.array([data.shape[1] - 1])
    names = [f"v{i}" for i in range(data.shape[1] - 1)] + ["age"]
    offset, (b_s,) = fit_strong_baseline(data, y, [score], [crossed], rows, base_cols, names, seed=0)
    assert offset.features == [names[c] for c in cols] + ["age"]

    # The regression it expands, fitted directly on the standardised score and age.
    s_mean, s_sd = crossed.mean(), crossed.std()
    age = data[rows, -1].astype(np.float64)
    X = np.column_stack([(crossed - s_mean) / s_sd, (age - age.mean()) / age.std()])
    lr = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit(X, y[rows])
    new_age = data[new, -1].astype(np.float64)
    X_new = np.column_stack([(score.score(data, new) - s_mean) / s_sd, (new_age - age.mean()) / age.std()])
    cols_all = [names.index(f) for f in offset.features]
    np.testing.assert_allclose(offset.margin(data[np.ix_(new, cols_all)]), lr.decision_function(X_new), atol=1e-8)
    assert b_s == pytest.approx(lr.coef_[0][0] / s_sd)
    # Contributions are exact: they add up to the margin minus the intercept.
    contrib = offset.contributions(data[np.ix_(new, cols_all)])
    np.testing.assert_allclose(contrib.sum(axis=1) + offset.intercept, lr.decision_function(X_new), atol=1e-8)


def burden_cohort(n=3000, n_genes=40, n_causal_genes=3, seed=5):
    """Dosages of an additive score plus per-gene counts of rare alleles, 3 genes causal."""
    data, y0, genetic, kinds = additive_cohort(n=n, m=300, n_causal=30, h2=0.3, prevalence=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    burden = rng.binomial(20, rng.uniform(0.001, 0.006, n_genes), size=(n, n_genes)).astype(np.float32)
    causal = rng.choice(n_genes, n_causal_genes, replace=False)
    liability = genetic + 0.9 * burden[:, causal].sum(axis=1) + rng.normal(scale=0.8, size=n)
    y = (liability > np.quantile(liability, 0.85)).astype(np.int8)
    data = np.hstack([data[:, :-1], burden, data[:, -1:]])
    kinds = kinds[:-1] + ["burden"] * n_genes + ["covariate"]
    return data, y, kinds, 300 + causal


def test_the_burden_ranking_sees_only_training_rows_and_puts_causal_genes_first():
    data, y, kinds, causal = burden_cohort()
    rows = np.arange(2400)
    ranking = burden_ranking(data, y, kinds, rows=rows)
    assert sorted(ranking) == list(range(300, 340))  # burden columns only
    assert set(ranking[:3]) == set(causal)
    # Outcomes of rows outside `rows` do not move it.
    flipped = y.copy()
    flipped[2400:] = 1 - flipped[2400:]
    np.testing.assert_array_equal(burden_ranking(data, flipped, kinds, rows=rows), ranking)


def test_the_burden_score_joins_the_strong_baseline_and_helps_on_new_people():
    """A ridge over the top in-fold genes, with its own size and penalty, on top of the variants' score."""
    data, y, kinds, _ = burden_cohort(n=4000)
    rows, new = np.arange(3000), np.arange(3000, 4000)
    fit, val = rows[:2400], rows[2400:]
    ranking = dosage_ranking(data, y, kinds, rows=rows)
    k, factor, _ = fit_ridge_score(data, y, ranking, fit, val)
    score = ridge_score(data, y, ranking[:k], rows, factor)
    crossed = cross_fitted_scores(data, y, ranking[:k], rows, factor, seed=0)
    genes = burden_ranking(data, y, kinds, rows=rows)
    k_g, factor_g, r_g = fit_ridge_score(data, y, genes, fit, val, sizes=BURDEN_SCORE_SIZES)
    assert 1 <= k_g <= 10 and r_g > 0.05  # a few genes, not all 40
    gene_score = ridge_score(data, y, genes[:k_g], rows, factor_g)
    gene_crossed = cross_fitted_scores(data, y, genes[:k_g], rows, factor_g, seed=0)
    names = [f"c{i}" for i in range(data.shape[1])]
    age = np.array([data.shape[1] - 1])

    def auc(offset):
        cols = [names.index(f) for f in offset.features]
        return roc_auc_score(y[new], offset.margin(data[np.ix_(new, cols)]))

    both, b = fit_strong_baseline(data, y, [score, gene_score], [crossed, gene_crossed], rows, age, names, seed=0)
    assert b[0] > 0 and b[1] > 0
    # One linear model: the variants' columns, then the genes', then age.
    assert both.features == [names[c] for c in ranking[:k]] + [names[c] for c in genes[:k_g]] + ["c340"]
    variants_only, _ = fit_strong_baseline(data, y, [score], [crossed], rows, age, names, seed=0)
    assert auc(both) > auc(variants_only) + 0.02
    # A score without columns is left out, coefficient 0.
    empty = ridge_score(data, y, genes[:0], rows, factor_g)
    same, b_empty = fit_strong_baseline(
        data, y, [score, empty], [crossed, np.zeros(len(rows))], rows, age, names, seed=0
    )
    assert b_empty[1] == 0.0 and same.features == variants_only.features


def test_an_optional_score_is_left_out_when_it_does_not_help_on_the_validation_rows():
    """Size 0 is the empty score: a gene score whose validation correlation is negative is dropped."""
    rng = np.random.default_rng(0)
    n = 2000
    counts = rng.binomial(4, 0.05, size=(n, 5)).astype(np.float32)
    fit, val = np.arange(1500), np.arange(1500, 2000)
    carrier = counts.sum(axis=1) > 0
    y = np.zeros(n, dtype=np.int8)
    y[fit] = carrier[fit]  # carriers are cases on the fitting rows ...
    y[val] = ~carrier[val]  # ... and controls on the validation rows
    ranking = np.arange(5)
    assert fit_ridge_score(counts, y, ranking, fit, val, sizes=BURDEN_SCORE_SIZES)[0] == 0
    # Without the size 0 the best of the bad scores is taken, as for the variants' score.
    assert fit_ridge_score(counts, y, ranking, fit, val, sizes=(1, 3))[0] > 0


def test_the_likelihood_penalty_follows_the_heritability():
    # A continuous trait of 200 equal-variance variants: delta = s_e / s_g, so lambda / k ~ (1 - h2) / h2.
    rng = np.random.default_rng(5)
    n, k = 3000, 200
    maf = rng.uniform(0.1, 0.5, k)
    g = rng.binomial(2, maf, size=(n, k)).astype(np.float64)
    z = (g - 2 * maf) / np.sqrt(2 * maf * (1 - maf))
    rows, cols = np.arange(n), np.arange(k)
    for h2 in (0.2, 0.6):
        genetic = z @ rng.normal(size=k)
        y = genetic * np.sqrt(h2) / genetic.std() + rng.normal(scale=np.sqrt(1 - h2), size=n)
        delta = likelihood_ridges(g, y, cols, rows, [k])[0].penalty / k
        assert (1 - h2) / h2 / 2 < delta < (1 - h2) / h2 * 2


@pytest.mark.parametrize(("n_causal", "best", "min_r"), [(20, 0, 0.7), (600, 2, 0.45)])
def test_the_stack_weighs_the_size_the_architecture_needs(n_causal, best, min_r):
    # Sparse: 20 causal among 1,500 -> the top 50 carries the score; dense: 600 causal -> the top 1,000.
    data, y, genetic, kinds = additive_cohort(n=3000, m=1500, n_causal=n_causal, seed=11)
    train, test = np.arange(2400), np.arange(2400, 3000)
    ranking = dosage_ranking(data, y, kinds, rows=train)
    stacked = fit_stacked_score(data, y, ranking, train, sizes=DEFAULTS.in_cohort_score_sizes, elastic_net=0, seed=2)
    assert stacked.info["sizes"] == [50, 200, 1000] and "elastic_net" not in stacked.info
    assert int(np.argmax(stacked.info["stack_coefficients"])) == best
    held = stacked.score.score(data, test)
    assert np.corrcoef(held, genetic[test])[0, 1] > min_r
    # The cross-fitted training scores track the deployed score's, without its in-sample fit.
    deployed = stacked.score.score(data, train)
    assert 0.5 < np.corrcoef(stacked.cross_fitted, deployed)[0, 1] < 0.999


@pytest.mark.parametrize(("n_causal", "min_gain"), [(20, 0.05), (600, -0.01)])
def test_the_elastic_net_lifts_a_sparse_score_and_leaves_a_dense_one(n_causal, min_gain):
    # Sparse: the net keeps the 20 causal variants' weights and drops the noise the ridges spread over.
    data, y, genetic, kinds = additive_cohort(n=3000, m=1500, n_causal=n_causal, seed=11)
    train, test = np.arange(2400), np.arange(2400, 3000)
    ranking = dosage_ranking(data, y, kinds, rows=train)
    r = {}
    for net in (0, 200):
        stacked = fit_stacked_score(data, y, ranking, train, sizes=[50, 200, 1000], elastic_net=net, seed=2)
        r[net] = np.corrcoef(stacked.score.score(data, test), genetic[test])[0, 1]
    assert r[200] - r[0] > min_gain
    info = stacked.info["elastic_net"]
    assert info["n_variants"] == 200 and 0 < info["nonzero"] <= 200
    assert len(stacked.info["stack_coefficients"]) == 4 and min(stacked.info["stack_coefficients"]) >= 0
    if n_causal == 20:
        assert int(np.argmax(stacked.info["stack_coefficients"])) == 3


def test_an_elastic_net_wider_than_the_ridges_widens_the_deployed_score():
    data, y, _, kinds = additive_cohort(n=800, m=400)
    train = np.arange(600)
    ranking = dosage_ranking(data, y, kinds, rows=train)
    stacked = fit_stacked_score(data, y, ranking, train, sizes=[20], elastic_net=100, seed=1)
    assert np.array_equal(stacked.score.columns, ranking[:100]) and stacked.info["n_variants"] == 100
    assert np.count_nonzero(stacked.score.weights[20:]) > 0


def test_the_stacked_score_never_sees_a_row_outside_its_training_rows():
    data, y, _, kinds = additive_cohort(n=800, m=400)
    train = np.arange(600)
    sizes, net = DEFAULTS.in_cohort_score_sizes, DEFAULTS.in_cohort_score_elastic_net
    first = fit_stacked_score(
        data, y, dosage_ranking(data, y, kinds, rows=train), train, sizes=sizes, elastic_net=net, seed=1
    )
    assert "elastic_net" in first.info
    flipped = y.copy()
    flipped[600:] = 1 - flipped[600:]
    again = fit_stacked_score(
        data, flipped, dosage_ranking(data, flipped, kinds, rows=train), train, sizes=sizes, elastic_net=net, seed=1
    )
    assert np.array_equal(first.score.weights, again.score.weights)
    assert np.array_equal(first.cross_fitted, again.cross_fitted)


def test_a_size_beyond_the_row_count_solves_in_the_kernel_as_in_the_gram_matrix():
    rng = np.random.default_rng(1)
    n, p = 300, 700
    g = rng.binomial(2, 0.3, size=(n, p)).astype(np.float64)
    y = (g[:, :50] @ rng.normal(size=50) + rng.normal(size=n) * 5 > 3).astype(float)
    rows, ranking = np.arange(n), np.arange(p)
    ridges = likelihood_ridges(g, y, ranking, rows, [50, 299, 300, 301, 700])
    # Either side of the row count the likelihood is the same function (the kernel's non-zero spectrum).
    assert ridges[1].penalty / 299 == pytest.approx(ridges[2].penalty / 300) == pytest.approx(ridges[3].penalty / 301)
    dual = ridges[3]
    z = (g[:, :301] - dual.mean) / dual.scale
    primal = np.linalg.solve(z.T @ z + dual.penalty * np.eye(301), z.T @ (y - y.mean()))
    np.testing.assert_allclose(dual.weights, primal, atol=1e-8)


def test_the_features_keep_what_the_largest_score_needs():
    from genorisk.model import ModelConfig

    assert ModelConfig.from_dict({}).dosage_columns_per_fold == 2000
    big = ModelConfig.from_dict({"in_cohort_score_sizes": [5000, 50]})
    assert big.in_cohort_score_sizes == (50, 5000) and big.dosage_columns_per_fold == 10000
    no_screen = {"interaction_screen": 0}
    assert (
        ModelConfig.from_dict(
            {"in_cohort_score_sizes": [5000], "in_cohort_score": False, **no_screen}
        ).dosage_columns_per_fold
        == 1000
    )
    wide_net = ModelConfig.from_dict({"in_cohort_score_sizes": [50], "in_cohort_score_elastic_net": 600, **no_screen})
    assert wide_net.dosage_columns_per_fold == 1200
    # The interaction screen reads its partners 40 deep per screened variant.
    assert ModelConfig.from_dict({"in_cohort_score": False, "interaction_screen": 100}).dosage_columns_per_fold == 4000
