"""The in-cohort polygenic score and the strong baseline (genorisk.model.in_cohort, issue #16)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from genorisk.model.in_cohort import cross_fitted_scores, fit_ridge_score, fit_strong_baseline, ridge_score
from genorisk.model.select import dosage_ranking


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
    offset, b_s = fit_strong_baseline(data, y, score, crossed, rows, base_cols, names, seed=0)
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
