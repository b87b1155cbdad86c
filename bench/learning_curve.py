#!/usr/bin/env python3
"""Learning curve of the risk model: OOF ROC AUC against cohort size, next to the ceiling.

Usage::

    .venv/bin/python bench/learning_curve.py [--sizes 1000 2000 4000 10000]
        [--variants 500] [--trials 4] [--threads 2] [--scores with without] [--out learning_curve]
        [--causal 50] [--h2 H2] [--prevalence 0.1] [--age-variance 0.05]
        [--architectures additive non-additive] [--issue-cohort]
        [--heldout N] [--replicates R] [--no-hgb] [--append] [--results-dir bench/results]

Cohorts are simulated under the liability-threshold model (HWE genotypes,
prevalence K, cases = top K of liability) in two architectures:

* ``additive`` - 50 causal variants (h2 = 0.4) plus age;
* ``non-additive`` - additive h2 = 0.2, plus epistasis (product of two
  centred dosages, 0.1), gene x age (centred dosage x centred age, 0.1) and
  dominance (heterozygote indicator, centred, 0.05), plus age.

Features: a noisy PGS (the additive value plus noise, correlation 0.7 with
it: a realistic external score; ``--scores without`` drops it, as for a new
endpoint), age, sex, 4 null PCs and the dosages of the causal and null
variants. The ceiling (Wray et al. 2010) uses all variance a predictor could
capture (genetic, all kinds, plus age). Beside genorisk's boosted model, on the
same outer folds: the strong baseline (logistic regression on the in-cohort
ridge score, PGS, age, sex and PCs; issue #16), the model genorisk ships by its
rule, and scikit-learn's HistGradientBoosting (defaults, early stopping, the
same in-fold dosage filter), with paired-bootstrap CIs of the differences.

Writes ``bench/results/learning_curve.md`` and ``.json``. The simulator
:func:`simulate_cohort` is shared with ``bench/cases/train_model.py`` and
``bench/cases/score_patients.py``.

Held-out truth (issue #16 items 4-6): ``--heldout N`` also draws N new people
of each cohort's genetic model (:func:`simulate_cohort_and_heldout`) and scores
them with the model genorisk ships (saved, loaded and scored as patients are)
and, paired, with the model its rule did not ship; ``--replicates R`` runs R
cohorts per setting, seed ``--seed + n + 1,000,000 x r`` (replicate 0 is the
learning curve's cohort), and adds a per-setting summary: the mean of each
figure and how many replicates meet each #16 target. ``--issue-cohort`` is
#16's example (additive, 40 causal, h2 0.35, prevalence 0.08, no age effect,
ceiling 0.826, no external score). Either writes sections (``--append`` keeps
the earlier ones) to ``OUT.md`` / ``OUT.json`` instead, rewritten after every
cohort (an interrupted run's section says it is incomplete).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VAR_AGE = 0.05


def _scaling(v: np.ndarray, var: float) -> Callable[[np.ndarray], np.ndarray]:
    """The map that scales ``v`` to mean 0 and variance ``var``, fixed by ``v``'s mean and SD.

    Held-out people of the same population are scaled by the cohort's map, so
    their liability is the same function of their genotypes and age.
    """
    mean, sd = v.mean(), v.std()
    if sd > 0:
        return lambda u: (u - mean) / sd * np.sqrt(var)
    return np.zeros_like


def _genetic_terms(
    g: np.ndarray, age: np.ndarray, maf: np.ndarray, n_causal: int, architecture: str
) -> tuple[np.ndarray, list[tuple[np.ndarray, float]]]:
    """Standardised causal dosages and the unscaled non-additive terms with their variances."""
    z = (g[:, :n_causal] - 2 * maf[:n_causal]) / np.sqrt(2 * maf[:n_causal] * (1 - maf[:n_causal]))
    if architecture == "additive":
        return z, []
    het = (g[:, 3] == 1).astype(float)
    return z, [
        (z[:, 0] * z[:, 1], 0.1),  # epistasis
        (z[:, 2] * age, 0.1),  # gene x age
        (het, 0.05),  # dominance (overdominance at variant 3)
    ]


def simulate_cohort(
    n: int,
    *,
    n_variants: int = 500,
    n_causal: int = 50,
    architecture: str = "additive",
    prevalence: float = 0.1,
    seed: int = 0,
    h2: float | None = None,
    var_age: float = VAR_AGE,
) -> tuple[pd.DataFrame, np.ndarray, dict, dict]:
    """Simulate a cohort; return (X, y, schema, truth).

    ``truth`` has ``h2`` (additive genetic variance), ``h2_total`` (all
    variance a predictor could capture: genetic of all kinds plus age) and
    ``prevalence``, ready for ``train_model(..., truth=truth)``.

    Parameters
    ----------
    n : int
        People.
    n_variants, n_causal : int
        Variants (HWE dosages, MAF uniform on 0.05-0.5) and how many of the
        first ones are causal (standard-normal effects on standardised dosages).
    architecture : "additive" | "non-additive"
        See the module docstring.
    prevalence : float
        Liability threshold ``K``: people with liability above
        ``norm.ppf(1 - K)`` are cases.
    seed : int
    h2 : float, optional
        Additive genetic variance on the liability scale; default 0.4
        (additive) or 0.2 (non-additive, beside 0.25 of non-additive variance).
    var_age : float, default 0.05
        Liability variance explained by age.

    The defaults give, for a seed, the cohorts of ``bench/results/learning_curve.md``.
    """
    X, y, schema, truth, _, _ = simulate_cohort_and_heldout(
        n,
        0,
        n_variants=n_variants,
        n_causal=n_causal,
        architecture=architecture,
        prevalence=prevalence,
        seed=seed,
        h2=h2,
        var_age=var_age,
    )
    return X, y, schema, truth


def simulate_cohort_and_heldout(
    n: int,
    n_heldout: int,
    *,
    n_variants: int = 500,
    n_causal: int = 50,
    architecture: str = "additive",
    prevalence: float = 0.1,
    seed: int = 0,
    h2: float | None = None,
    var_age: float = VAR_AGE,
) -> tuple[pd.DataFrame, np.ndarray, dict, dict, pd.DataFrame, np.ndarray]:
    """A cohort and ``n_heldout`` new people of the same genetic model.

    Parameters are those of :func:`simulate_cohort`. The cohort is exactly
    :func:`simulate_cohort`'s for the same arguments: the held-out people are
    drawn after it from the same random stream, with the cohort's allele
    frequencies, effects, interacting pairs and liability threshold, and each
    liability component scaled by the cohort's mean and SD (so the liability
    is one fixed function of genotypes and age, and cases are the people above
    ``norm.ppf(1 - prevalence)``, as in the cohort; the held-out case fraction
    is ``prevalence`` up to sampling noise). Held-out sample IDs continue the
    cohort's (``SIM{n + i}``).

    Returns
    -------
    X, y, schema, truth
        The cohort, as :func:`simulate_cohort`.
    X_heldout : DataFrame
        The held-out people's features, the same columns as ``X``.
    y_heldout : ndarray of int8
        Their status.
    """
    if architecture not in ("additive", "non-additive"):
        raise ValueError(f"unknown architecture {architecture!r}")
    h2_add = h2 if h2 is not None else (0.4 if architecture == "additive" else 0.2)
    h2_nonadd = 0.0 if architecture == "additive" else 0.25
    explained = h2_add + h2_nonadd + var_age
    if not (h2_add > 0 and var_age >= 0 and explained < 1):
        raise ValueError(f"h2 {h2_add} + non-additive {h2_nonadd} + age {var_age} must be in (0, 1)")
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence}")
    if not (architecture == "additive" or n_causal >= 4) or n_causal > n_variants:
        raise ValueError(f"n_causal {n_causal} must be at most n_variants {n_variants} (and >= 4 if non-additive)")
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, n_variants)
    g = rng.binomial(2, maf, size=(n, n_variants)).astype(np.float32)
    age = rng.normal(size=n)
    z, terms = _genetic_terms(g, age, maf, n_causal, architecture)
    effects = rng.normal(size=n_causal)
    genetic_value = z @ effects
    # The genetic model, fixed by the cohort: every component's scaling and the threshold.
    scale_additive = _scaling(genetic_value, h2_add)
    scale_terms = [_scaling(v, var) for v, var in terms]
    scale_age = _scaling(age, var_age)
    threshold = norm.ppf(1 - prevalence)

    def people(
        g: np.ndarray, age: np.ndarray, genetic_value: np.ndarray, terms: list, first: int
    ) -> tuple[pd.DataFrame, np.ndarray]:
        m = len(g)
        additive = scale_additive(genetic_value)
        parts = [scale(v) for scale, (v, _) in zip(scale_terms, terms, strict=True)]
        liability = additive + sum(parts) + scale_age(age) + rng.normal(size=m) * np.sqrt(1 - explained)
        y = (liability > threshold).astype(np.int8)
        # A realistic external PGS: correlation 0.7 with the true additive value.
        pgs = additive / np.sqrt(h2_add) * 0.7 + rng.normal(size=m) * np.sqrt(1 - 0.49)
        sex = rng.integers(0, 2, m)
        pcs = rng.normal(size=(m, 4))
        columns = {
            "pgs_PGS000001": pgs,
            "age": 60 + 10 * age,
            "sex": sex,
            **{f"PC{i + 1}": pcs[:, i] for i in range(4)},
            **{f"chr21_{5030001 + i}_A_G": g[:, i] for i in range(n_variants)},
        }
        index = pd.Index([f"SIM{first + i:06d}" for i in range(m)], name="sample_id")
        return pd.DataFrame(columns, index=index).astype(np.float32), y

    X, y = people(g, age, genetic_value, terms, 0)
    # The held-out people: drawn after the cohort, so the cohort does not depend on n_heldout.
    g_h = rng.binomial(2, maf, size=(n_heldout, n_variants)).astype(np.float32)
    age_h = rng.normal(size=n_heldout)
    z_h, terms_h = _genetic_terms(g_h, age_h, maf, n_causal, architecture)
    X_h, y_h = people(g_h, age_h, z_h @ effects, terms_h, n)
    truth = {"h2": h2_add, "h2_total": explained, "prevalence": prevalence}
    return X, y, _schema(n_variants), truth, X_h, y_h


def _schema(n_variants: int) -> dict:
    features = [
        {
            "name": "pgs_PGS000001",
            "kind": "pgs",
            "label": "polygenic score PGS000001",
            "group": "polygenic score PGS000001",
            "definition": {"pgs_id": "PGS000001"},
        },
        {"name": "age", "kind": "covariate", "label": "age", "group": "age", "definition": {"unit": "years"}},
        {"name": "sex", "kind": "covariate", "label": "sex", "group": "sex", "definition": {"coding": "0=F,1=M"}},
    ]
    features += [
        {
            "name": f"PC{i + 1}",
            "kind": "pc",
            "label": f"ancestry PC{i + 1}",
            "group": "ancestry (PCs)",
            "definition": {"pc": i + 1},
        }
        for i in range(4)
    ]
    features += [
        {
            "name": f"chr21_{5030001 + i}_A_G",
            "kind": "dosage",
            "label": f"variant chr21:{5030001 + i} A>G",
            "group": f"gene GENE{i // 10}",
            "definition": {"chrom": "chr21", "pos": 5030001 + i, "ref": "A", "alt": "G"},
        }
        for i in range(n_variants)
    ]
    return {"schema_version": 1, "features": features}


def write_cohort(workdir: Path, name: str, X: pd.DataFrame, y: np.ndarray, schema: dict, truth: dict) -> None:
    """Write ``name.parquet``, ``name.labels.tsv``, ``name.schema.json``, ``name.truth.json``."""
    workdir.mkdir(parents=True, exist_ok=True)
    X.to_parquet(workdir / f"{name}.parquet")
    pd.DataFrame({"sample_id": X.index, "label": y}).to_csv(workdir / f"{name}.labels.tsv", sep="\t", index=False)
    (workdir / f"{name}.schema.json").write_text(json.dumps(schema))
    (workdir / f"{name}.truth.json").write_text(json.dumps(truth))


def hist_gradient_boosting_oof(X: pd.DataFrame, y: np.ndarray, schema: dict, config) -> np.ndarray:
    """Out-of-fold probabilities of scikit-learn's HistGradientBoostingClassifier under genorisk's protocol.

    The same outer folds (:func:`genorisk.model.fold_stats.outer_folds`), the same in-fold dosage
    filter (the top ``max_dosage_features`` by the trend test on the fold's training rows), and
    scikit-learn's defaults otherwise, with early stopping on its own ``validation_fraction`` of the
    training rows (the off-the-shelf learner: no search).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from genorisk.model.fold_stats import outer_folds
    from genorisk.model.select import dosage_ranking, top_k_columns

    kinds = [f["kind"] for f in schema["features"]]
    data = X.to_numpy(dtype=np.float32)
    fold_of = outer_folds(y, config.n_folds, config.seed)
    oof = np.empty(len(y))
    for k in range(config.n_folds):
        train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        cols = top_k_columns(dosage_ranking(data, y, kinds, rows=train), kinds, config.max_dosage_features)
        clf = HistGradientBoostingClassifier(
            max_iter=1000,
            early_stopping=True,
            validation_fraction=config.validation_fraction,
            n_iter_no_change=config.early_stopping_rounds,
            random_state=config.seed + k,
        )
        clf.fit(data[np.ix_(train, cols)], y[train])
        oof[test] = clf.predict_proba(data[np.ix_(test, cols)])[:, 1]
    return oof


def _heldout_bench():
    """``bench/heldout.py``: its held-out figures and #16 targets, so both benches judge alike."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_heldout", Path(__file__).resolve().parent / "heldout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_heldout(model, X_heldout: pd.DataFrame, schema: dict, artifact: Path) -> np.ndarray:
    """Held-out risks by the deployment path: the artifact written, loaded back and scored.

    :func:`genorisk.model.save_model`, :func:`genorisk.model.load_model` and
    :func:`genorisk.model.score_patients` (what ``genorisk score`` and the
    patient reports run), so the risk is the published model's, calibrator
    included. The risks are at the cohort's case fraction: the held-out
    people come from the cohort's population, so no prior shift applies.
    """
    from genorisk.model import load_model, save_model, score_patients

    save_model(model, artifact)
    scored = score_patients(load_model(artifact), X_heldout, schema=schema, top_n=1)
    return np.array([s["risk"] for s in scored])


def without_external_score(X: pd.DataFrame, schema: dict) -> tuple[pd.DataFrame, dict]:
    """A new endpoint with no published score: the PGS column and its schema entry dropped."""
    return X.drop(columns="pgs_PGS000001"), {
        **schema,
        "features": [f for f in schema["features"] if f["kind"] != "pgs"],
    }


#: Replicate r of a setting uses seed ``--seed + n + REPLICATE_SEED_STRIDE * r`` (replicate 0: today's cohort).
REPLICATE_SEED_STRIDE = 1_000_000
#: The issue's example cohort (#16): 40 causal variants, h2 0.35, prevalence 0.08, ceiling 0.826
#: (no age effect: the ceiling is that of h2 0.35 alone), additive, no external score.
ISSUE_COHORT = {"causal": 40, "h2": 0.35, "prevalence": 0.08, "age_variance": 0.0}


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from genorisk.model import ModelConfig, train_model
    from genorisk.model.metrics import evaluate_predictions

    argv = list(argv if argv is not None else sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 10000])
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--causal", type=int, default=50, help="causal variants (default 50)")
    parser.add_argument("--h2", type=float, default=None, help="additive h2 (default 0.4 additive, 0.2 non-additive)")
    parser.add_argument("--prevalence", type=float, default=0.1)
    parser.add_argument("--age-variance", type=float, default=VAR_AGE, help="liability variance of age")
    parser.add_argument("--architectures", nargs="+", default=["additive", "non-additive"])
    parser.add_argument(
        "--issue-cohort",
        action="store_true",
        help="#16's example: --causal 40 --h2 0.35 --prevalence 0.08 --age-variance 0 --architectures additive "
        "--scores without",
    )
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scores", nargs="+", default=["with", "without"], help="with and/or without the external score"
    )
    parser.add_argument(
        "--heldout", type=int, default=0, help="held-out people of the same genetic model, scored per cohort"
    )
    parser.add_argument("--replicates", type=int, default=1, help="cohorts per setting (seeds in the module doc)")
    parser.add_argument("--append", action="store_true", help="keep the result file's earlier sections")
    parser.add_argument("--no-hgb", action="store_true", help="skip HistGradientBoosting (held-out runs)")
    parser.add_argument("--discussion", type=Path, help="Markdown shown as the held-out report's 'Reading'")
    parser.add_argument(
        "--render-only", action="store_true", help="re-render OUT.md from OUT.json (with --discussion), no run"
    )
    parser.add_argument("--out", default="learning_curve", help="result file stem under --results-dir")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.render_only:
        stem = args.results_dir / args.out
        record = json.loads(stem.with_suffix(".json").read_text())
        discussion = args.discussion.read_text() if args.discussion else record.get("discussion")
        write_heldout_results(stem, record["sections"], discussion, _heldout_bench())
        return 0
    if args.issue_cohort:
        args.causal, args.h2, args.prevalence = ISSUE_COHORT["causal"], ISSUE_COHORT["h2"], ISSUE_COHORT["prevalence"]
        args.age_variance, args.architectures, args.scores = ISSUE_COHORT["age_variance"], ["additive"], ["without"]
    logging.basicConfig(level=logging.WARNING)
    config = ModelConfig(n_trials=args.trials, n_bootstrap=100, threads=args.threads, max_bin=32, seed=args.seed)
    bench = _heldout_bench() if args.heldout else None
    load_start = os.getloadavg()
    t_run = time.perf_counter()
    run = {"args": args, "argv": argv, "config": config, "bench": bench, "load_start": load_start, "t_run": t_run}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    n_cohorts = len(args.scores) * len(args.architectures) * len(args.sizes) * args.replicates
    rows = []
    for score in args.scores:
        for architecture in args.architectures:
            for n in args.sizes:
                for replicate in range(args.replicates):
                    seed = args.seed + n + REPLICATE_SEED_STRIDE * replicate
                    X, y, schema, truth, X_heldout, y_heldout = simulate_cohort_and_heldout(
                        n,
                        args.heldout,
                        n_variants=args.variants,
                        n_causal=args.causal,
                        architecture=architecture,
                        prevalence=args.prevalence,
                        seed=seed,
                        h2=args.h2,
                        var_age=args.age_variance,
                    )
                    if score == "without":  # a new endpoint with no published score: the in-cohort score only
                        X, schema = without_external_score(X, schema)
                        X_heldout = X_heldout.drop(columns="pgs_PGS000001")
                    t0 = time.perf_counter()
                    model = train_model(X, y, schema, config, truth=truth)
                    seconds = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    hgb = None if args.no_hgb else hist_gradient_boosting_oof(X, y, schema, config)
                    hgb_seconds = time.perf_counter() - t0
                    m = model.metrics
                    shipped_key = m["shipped"]["metrics"]
                    # The shipped model's OOF (calibrated boosted, or the strong baseline) against HGB, paired.
                    oof = model.oof_predictions
                    versus = (
                        evaluate_predictions(
                            y,
                            {"genorisk": oof[shipped_key], "boosted": oof["model"], "hgb": hgb},
                            n_bootstrap=config.n_bootstrap,
                            seed=config.seed,
                            compare=[("genorisk", "hgb"), ("boosted", "hgb")],
                        )
                        if hgb is not None
                        else {
                            "hgb": {"roc_auc": None},
                            "roc_auc_difference": {"genorisk-hgb": None, "boosted-hgb": None},
                        }
                    )
                    row = {
                        "score": score,
                        "architecture": architecture,
                        "n": n,
                        "n_cases": m["data"]["n_cases"],
                        "shipped": m["shipped"]["model"],
                        "auc": m["model"]["roc_auc"],
                        "baseline_auc": m["baseline"]["roc_auc"],
                        "baseline_external_auc": (m.get("baseline_external") or {}).get("roc_auc"),
                        "boosted_minus_baseline": m["roc_auc_difference"]["model-baseline"],
                        "shipped_auc": m[shipped_key]["roc_auc"],
                        "hgb_auc": versus["hgb"]["roc_auc"],
                        "shipped_minus_hgb": versus["roc_auc_difference"]["genorisk-hgb"],
                        "boosted_minus_hgb": versus["roc_auc_difference"]["boosted-hgb"],
                        "auc_ceiling": m["truth"]["auc_ceiling"],
                        "shipped_over_ceiling": m[shipped_key]["roc_auc"]["estimate"] / m["truth"]["auc_ceiling"],
                        "ece": m[shipped_key]["ece"]["estimate"],
                        "in_cohort_score": (m.get("in_cohort_score") or {}).get("final"),
                        "seconds": round(seconds, 1),
                        "hgb_seconds": None if hgb is None else round(hgb_seconds, 1),
                    }
                    if args.heldout or args.replicates > 1:
                        row = {"replicate": replicate, "seed": seed, **row}
                    if bench is not None:
                        row["heldout"] = heldout_row(
                            bench, model, X, y, schema, truth, X_heldout, y_heldout, config, seed, train_model
                        )
                        row["oof_calibration_slope"] = bench.logistic_calibration(y, oof[shipped_key])["slope"]
                    rows.append(row)
                    print(progress_line(row), flush=True)
                    if args.heldout or args.replicates > 1:  # an interrupted run keeps its rows, marked incomplete
                        save_section(rows, n_cohorts, run)

    if not (args.heldout or args.replicates > 1):
        args.results_dir.mkdir(parents=True, exist_ok=True)
        write_learning_curve(rows, args, argv)
    return 0


def save_section(rows: list[dict], n_cohorts: int, run: dict) -> None:
    """Write ``OUT.json`` and ``OUT.md``: earlier sections (``--append``) and this run's, complete or not.

    ``run``: the run's ``args``, ``argv``, ``config``, ``bench`` (:func:`_heldout_bench`),
    ``load_start`` and ``t_run``; the earlier sections are read once and kept in it.
    """
    args, config, bench = run["args"], run["config"], run["bench"]
    load_start, t_run = run["load_start"], run["t_run"]
    section = {
        "complete": len(rows) == n_cohorts,
        "cohorts_done": f"{len(rows)} of {n_cohorts}",
        "command": "nice .venv/bin/python bench/learning_curve.py " + " ".join(run["argv"]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": {"start": [round(v, 2) for v in load_start], "end": [round(v, 2) for v in os.getloadavg()]},
        "wall_seconds": round(time.perf_counter() - t_run),
        "settings": {
            "sizes": args.sizes,
            "variants": args.variants,
            "causal": args.causal,
            "h2": args.h2,
            "prevalence": args.prevalence,
            "age_variance": args.age_variance,
            "architectures": args.architectures,
            "scores": args.scores,
            "heldout": args.heldout,
            "replicates": args.replicates,
            "replicate_seeds": f"--seed + n + {REPLICATE_SEED_STRIDE} x replicate (--seed {args.seed})",
            "trials": args.trials,
            "threads": args.threads,
            "n_folds": config.n_folds,
        },
        "rows": rows,
        "summary": summarise(rows, bench),
    }
    json_path = args.results_dir / f"{args.out}.json"
    if "earlier" not in run:
        run["earlier"] = json.loads(json_path.read_text()) if args.append and json_path.exists() else {"sections": []}
    write_heldout_results(
        args.results_dir / args.out, [*run["earlier"]["sections"], section], run["earlier"].get("discussion"), bench
    )


def write_heldout_results(stem: Path, sections: list[dict], discussion: str | None, bench) -> None:
    """``STEM.json`` (the sections and the discussion) and ``STEM.md`` rendered from them."""
    record = {"sections": sections, **({"discussion": discussion} if discussion else {})}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    # Replicates without held-out people still judge the OOF targets, which the held-out bench defines.
    stem.with_suffix(".md").write_text(heldout_report(sections, bench or _heldout_bench(), discussion))


def heldout_row(bench, model, X, y, schema, truth, X_heldout, y_heldout, config, seed, train_model) -> dict:
    """The held-out figures of the shipped model and, paired, of the model the rule did not ship.

    The other model is trained again with ``model.ship`` set to it: the same
    data, config and seeds, so the same folds, search and OOF predictions
    (checked: ``same_oof``), only the published model differs.
    """
    import dataclasses
    import tempfile

    shipped = model.metrics["shipped"]["model"]
    other_kind = "linear" if shipped == "boosted" else "boosted"
    t0 = time.perf_counter()
    other = train_model(X, y, schema, dataclasses.replace(config, ship=other_kind), truth=truth)
    other_seconds = time.perf_counter() - t0
    same_oof = all(
        np.array_equal(model.oof_predictions[k], other.oof_predictions[k]) for k in ("model", "linear_calibrated")
    )
    ceiling = model.metrics["truth"]["auc_ceiling"]
    with tempfile.TemporaryDirectory(prefix="learning_curve_heldout_") as tmp:
        risk = {
            shipped: score_heldout(model, X_heldout, schema, Path(tmp) / "shipped"),
            other_kind: score_heldout(other, X_heldout, schema, Path(tmp) / "other"),
        }
    y_h = np.asarray(y_heldout, dtype=int)
    return {
        "n": int(len(y_h)),
        "n_cases": int(y_h.sum()),
        "shipped": bench.figures(y_h, risk[shipped], ceiling, seed=seed),
        "other_model": other_kind,
        "other": bench.figures(y_h, risk[other_kind], ceiling, seed=seed + 1),
        "boosted_minus_linear": bench.paired_auc_difference(
            y_h, risk["boosted"], risk["linear"], np.random.default_rng(seed + 2)
        ),
        "same_oof": bool(same_oof),
        "other_seconds": round(other_seconds, 1),
    }


def progress_line(r: dict) -> str:
    line = (
        f"{r['score']:7s} {r['architecture']:12s} n={r['n']:6d} "
        + (f"rep {r['replicate']} " if "replicate" in r else "")
        + f"boosted {r['auc']['estimate']:.3f} strong baseline {r['baseline_auc']['estimate']:.3f} "
        + (f"HGB {r['hgb_auc']['estimate']:.3f} " if r["hgb_auc"] else "")
        + f"shipped {r['shipped']} {r['shipped_auc']['estimate']:.3f} "
        f"ceiling {r['auc_ceiling']:.3f} ({r['shipped_over_ceiling']:.1%}) {r['seconds']} s (HGB {r['hgb_seconds']} s)"
    )
    if "heldout" in r:
        h = r["heldout"]
        line += (
            f" | held-out {h['shipped']['roc_auc']['estimate']:.3f}"
            f" ({h['shipped']['ratio_to_ceiling']['estimate']:.1%})"
            f" ECE {h['shipped']['ece']['estimate']:.3f} slope {h['shipped']['slope']['estimate']:.2f}"
            f" boosted-linear {h['boosted_minus_linear']['estimate']:+.3f}"
        )
    return line


def _checks(r: dict, bench) -> dict[str, bool | None]:
    """Which #16 targets one replicate meets (None: the target does not apply or was not measured)."""
    additive = r["architecture"] == "additive"
    h = r.get("heldout")
    hs = h["shipped"] if h else None
    return {
        "oof_ratio": r["shipped_over_ceiling"] >= bench.TARGET_RATIO_OOF if additive else None,
        "heldout_ratio": hs["ratio_to_ceiling"]["estimate"] >= bench.TARGET_RATIO_HELDOUT if additive and h else None,
        "ece_oof": r["ece"] < bench.TARGET_ECE,
        "ece_heldout": hs["ece"]["estimate"] < bench.TARGET_ECE if h else None,
        "slope_heldout": bench.TARGET_SLOPE[0] <= hs["slope"]["estimate"] <= bench.TARGET_SLOPE[1] if h else None,
        "boosted_beats_strong_oof": r["boosted_minus_baseline"]["ci_low"] > 0 if not additive else None,
        "boosted_beats_linear_heldout": h["boosted_minus_linear"]["ci"][0] > 0 if h and not additive else None,
    }


TARGETS = {
    "oof_ratio": "additive: OOF AUC (shipped model) / ceiling >= 0.90",
    "heldout_ratio": "additive: held-out AUC (shipped model) / ceiling >= 0.92",
    "ece_oof": "ECE (shipped model, OOF) < 0.02",
    "ece_heldout": "ECE (shipped model, held-out) < 0.02",
    "slope_heldout": "held-out calibration slope (shipped model) within 0.8-1.2 (#16 item 5)",
    "boosted_beats_strong_oof": "non-additive: boosted - strong baseline, OOF, CI above 0",
    "boosted_beats_linear_heldout": "non-additive: boosted - strong baseline (linear), held-out, CI above 0",
}


def summarise(rows: list[dict], bench) -> list[dict]:
    """Per setting (score, architecture, n): the mean of each figure and the count of replicates meeting each target."""
    if bench is None:  # replicates without held-out people: no targets to judge here
        bench = _heldout_bench()
    out = []
    keys = list(dict.fromkeys((r["score"], r["architecture"], r["n"]) for r in rows))
    for score, architecture, n in keys:
        reps = [r for r in rows if (r["score"], r["architecture"], r["n"]) == (score, architecture, n)]
        checks = [_checks(r, bench) for r in reps]
        held = [r["heldout"] for r in reps if "heldout" in r]

        def mean(values: list[float]) -> float | None:
            return float(np.mean(values)) if values else None

        out.append(
            {
                "score": score,
                "architecture": architecture,
                "n": n,
                "replicates": len(reps),
                "auc_ceiling": mean([r["auc_ceiling"] for r in reps]),
                "n_cases": mean([r["n_cases"] for r in reps]),
                "shipped": {k: sum(r["shipped"] == k for r in reps) for k in ("boosted", "linear")},
                "oof_auc": mean([r["shipped_auc"]["estimate"] for r in reps]),
                "oof_ratio": mean([r["shipped_over_ceiling"] for r in reps]),
                "oof_ece": mean([r["ece"] for r in reps]),
                "oof_slope": mean(
                    [r["oof_calibration_slope"]["estimate"] for r in reps if "oof_calibration_slope" in r]
                ),
                "oof_boosted_minus_strong": mean([r["boosted_minus_baseline"]["estimate"] for r in reps]),
                "oof_shipped_minus_hgb": mean([r["shipped_minus_hgb"]["estimate"] for r in reps if r["hgb_auc"]]),
                "heldout_cases": mean([h["n_cases"] for h in held]),
                "heldout_auc": mean([h["shipped"]["roc_auc"]["estimate"] for h in held]),
                "heldout_ratio": mean([h["shipped"]["ratio_to_ceiling"]["estimate"] for h in held]),
                "heldout_ece": mean([h["shipped"]["ece"]["estimate"] for h in held]),
                "heldout_ece_floor": mean([h["shipped"]["ece_if_perfectly_calibrated"]["median"] for h in held]),
                "heldout_slope": mean([h["shipped"]["slope"]["estimate"] for h in held]),
                "heldout_boosted_minus_linear": mean([h["boosted_minus_linear"]["estimate"] for h in held]),
                "heldout_auc_ci_half_width": mean(
                    [(h["shipped"]["roc_auc"]["ci"][1] - h["shipped"]["roc_auc"]["ci"][0]) / 2 for h in held]
                ),
                "heldout_difference_ci_half_width": mean(
                    [(h["boosted_minus_linear"]["ci"][1] - h["boosted_minus_linear"]["ci"][0]) / 2 for h in held]
                ),
                "same_oof": all(h["same_oof"] for h in held),
                "met": {
                    k: None
                    if all(c[k] is None for c in checks)
                    else sum(bool(c[k]) for c in checks if c[k] is not None)
                    for k in TARGETS
                },
            }
        )
    return out


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def _ci(m: dict) -> str:
    lo, hi = m["ci"] if "ci" in m else (m["ci_low"], m["ci_high"])
    return f"{m['estimate']:.3f} ({lo:.3f}-{hi:.3f})"


def _diff(m: dict) -> str:
    lo, hi = m["ci"] if "ci" in m else (m["ci_low"], m["ci_high"])
    return f"{m['estimate']:+.3f} ({lo:+.3f} to {hi:+.3f})"


def _misses(rows: list[dict], key: str, value, target: float, above: bool) -> str:
    """The replicates that miss a threshold target, each with its value and the shortfall."""
    out = []
    for r in rows:
        v = value(r)
        if (v < target) if above else (v >= target):
            out.append(f"rep {r['replicate']} {v:.3f} ({v - target:+.3f})")
    return "; misses: " + ", ".join(out) if out else ""


def verdict_lines(s: dict, rows: list[dict], bench) -> list[str]:
    """Plain sentences: each applicable target, met on how many replicates, by how much each miss is."""
    R = s["replicates"]
    lines = []
    met = s["met"]
    if s["architecture"] == "additive":
        lines.append(
            f"  - OOF / ceiling >= {bench.TARGET_RATIO_OOF}: {met['oof_ratio']}/{R} (mean {_f(s['oof_ratio'])})"
            + _misses(rows, "oof_ratio", lambda r: r["shipped_over_ceiling"], bench.TARGET_RATIO_OOF, True)
        )
        if met["heldout_ratio"] is not None:
            lines.append(
                f"  - held-out / ceiling >= {bench.TARGET_RATIO_HELDOUT}: {met['heldout_ratio']}/{R} "
                f"(mean {_f(s['heldout_ratio'])})"
                + _misses(
                    rows,
                    "heldout_ratio",
                    lambda r: r["heldout"]["shipped"]["ratio_to_ceiling"]["estimate"],
                    bench.TARGET_RATIO_HELDOUT,
                    True,
                )
            )
    else:
        lines.append(
            f"  - boosted beats the strong baseline, OOF CI above 0: {met['boosted_beats_strong_oof']}/{R} "
            f"(mean difference {_f(s['oof_boosted_minus_strong'], '+.3f')}; CIs "
            + ", ".join(_diff(r["boosted_minus_baseline"]) for r in rows)
            + ")"
        )
        if met["boosted_beats_linear_heldout"] is not None:
            lines.append(
                f"  - the same on the held-out people: {met['boosted_beats_linear_heldout']}/{R} (mean difference "
                f"{_f(s['heldout_boosted_minus_linear'], '+.3f')}; CIs "
                + ", ".join(_diff(r["heldout"]["boosted_minus_linear"]) for r in rows)
                + ")"
            )
    lines.append(
        f"  - ECE < {bench.TARGET_ECE}: OOF {met['ece_oof']}/{R} (mean {_f(s['oof_ece'])})"
        + _misses(rows, "ece", lambda r: r["ece"], bench.TARGET_ECE, False)
    )
    if met["ece_heldout"] is not None:
        lines.append(
            f"  - ECE < {bench.TARGET_ECE}, held-out: {met['ece_heldout']}/{R} (mean {_f(s['heldout_ece'])}; "
            f"a perfectly calibrated model shows {_f(s['heldout_ece_floor'])} on these people, "
            "the binning's noise floor)"
            + _misses(rows, "ece", lambda r: r["heldout"]["shipped"]["ece"]["estimate"], bench.TARGET_ECE, False)
        )
        lines.append(
            f"  - held-out calibration slope in {bench.TARGET_SLOPE[0]}-{bench.TARGET_SLOPE[1]}: "
            f"{met['slope_heldout']}/{R} (mean {_f(s['heldout_slope'], '.2f')}; per replicate "
            + ", ".join(_ci(r["heldout"]["shipped"]["slope"]) for r in rows)
            + ")"
        )
        lines.append(
            f"  - power: {s['heldout_cases']:.0f} held-out cases on average; the held-out AUC's 95% CI is "
            f"+/-{s['heldout_auc_ci_half_width']:.3f} (= +/-{s['heldout_auc_ci_half_width'] / s['auc_ceiling']:.3f} of "
            f"the ceiling), the paired boosted - linear difference's +/-{s['heldout_difference_ci_half_width']:.3f}"
        )
    return lines


def heldout_report(sections: list[dict], bench, discussion: str | None = None) -> str:
    """The Markdown of every section: intro, the discussion (if any), per-setting summary, verdicts and rows."""
    lines = [
        "# Learning-curve cohorts with held-out people: the #16 targets per replicate",
        "",
        "Cohorts of `bench/learning_curve.py` (independent HWE variants, liability threshold; see its docstring) "
        "with held-out people of the SAME genetic model: drawn after the cohort from the same random stream, with "
        "its allele frequencies, effects, interacting pairs, component scalings and threshold "
        "(`simulate_cohort_and_heldout`; the cohort is byte-identical to `simulate_cohort`'s). genorisk's "
        "`train_model` trains on the cohort (5-fold nested CV; the model shipped by its rule: boosted only if its "
        "OOF AUC beats the strong baseline's with the CI above 0). The held-out people are scored through the "
        "deployment path: the artifact saved (`save_model`), loaded (`load_model`) and scored "
        "(`score_patients`, as `genorisk score` and the patient reports). Paired: the model the rule did not ship "
        "is trained again with `model.ship` set to it (same data, config and seeds; the OOF predictions are "
        "identical, checked) and scores the same people. Risks are at the cohort's case fraction: held-out "
        "people come from the cohort's population, so no re-anchoring (prior shift) is needed.",
        "",
        "Figures (as `bench/heldout.py`'s, the same functions): held-out ROC AUC with a stratified 2,000-resample "
        "bootstrap CI, AUC / Wray ceiling, ECE (10 equal-mass bins, "
        "`genorisk.model.metrics.expected_calibration_error`), calibration slope (logistic regression of status on "
        "logit(risk), Wald 95% CI), paired held-out AUC difference boosted - linear (stratified paired bootstrap). "
        "OOF figures are `train_model`'s (shipped model's calibrated OOF predictions; 100 bootstrap resamples).",
        "",
        "Targets (#16 items 5-6, simulated cohorts of 4,000 without an external score): "
        + "; ".join(TARGETS.values())
        + ". Rows with the external score are shown for comparison.",
    ]
    if discussion:
        lines += ["", "## Reading", "", discussion.strip()]
    for i, sec in enumerate(sections, 1):
        st = sec["settings"]
        lines += [
            "",
            f"## Section {i}: {', '.join(st['architectures'])}, {st['causal']} causal of {st['variants']} variants, "
            f"h2 {st['h2'] if st['h2'] is not None else 'default (0.4 additive / 0.2 + 0.25 non-additive)'}, "
            f"prevalence {st['prevalence']}, age variance {st['age_variance']}",
            "",
            f"Command: `{sec['command']}`. {sec['date']}; load average {sec['load_average']['start']} at the start, "
            f"{sec['load_average']['end']} at the end; {sec['wall_seconds']} s. {st['replicates']} replicates per "
            f"setting, seeds {st['replicate_seeds']}; {st['heldout']} held-out people per cohort; "
            f"{st['trials']} trials, {st['threads']} threads."
            + ("" if sec.get("complete", True) else f" **Incomplete: {sec['cohorts_done']} cohorts done.**"),
            "",
            "| score | architecture | n | reps | ceiling | shipped (boosted/linear) | OOF / ceiling | "
            "held-out / ceiling | ECE OOF | ECE held-out (floor) | slope held-out | boosted - strong OOF | "
            "boosted - linear held-out | OOF >= 0.90 | held-out >= 0.92 | ECE < 0.02 (OOF/held-out) | "
            "slope 0.8-1.2 | boosted wins OOF/held-out |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in sec["summary"]:
            R = s["replicates"]

            def k(key: str, s: dict = s) -> str:
                return "n/a" if s["met"][key] is None else f"{s['met'][key]}/{s['replicates']}"

            lines.append(
                f"| {s['score']} | {s['architecture']} | {s['n']} | {R} | {s['auc_ceiling']:.3f} | "
                f"{s['shipped']['boosted']}/{s['shipped']['linear']} | {_f(s['oof_ratio'])} | "
                f"{_f(s['heldout_ratio'])} | "
                f"{_f(s['oof_ece'])} | {_f(s['heldout_ece'])} ({_f(s['heldout_ece_floor'])}) | "
                f"{_f(s['heldout_slope'], '.2f')} | {_f(s['oof_boosted_minus_strong'], '+.3f')} | "
                f"{_f(s['heldout_boosted_minus_linear'], '+.3f')} | {k('oof_ratio')} | {k('heldout_ratio')} | "
                f"{k('ece_oof')} / {k('ece_heldout')} | {k('slope_heldout')} | "
                f"{k('boosted_beats_strong_oof')} / {k('boosted_beats_linear_heldout')} |"
            )
        lines += ["", "Means over replicates; the counts are replicates meeting each target (n/a: does not apply).", ""]
        for s in sec["summary"]:
            reps = [
                r
                for r in sec["rows"]
                if (r["score"], r["architecture"], r["n"]) == (s["score"], s["architecture"], s["n"])
            ]
            lines.append(f"- **{s['score']} external score, {s['architecture']}, n = {s['n']}**:")
            lines += verdict_lines(s, reps, bench)
        lines += [
            "",
            "| score | architecture | n | rep | seed | cases (cohort / held-out) | shipped | OOF AUC | OOF / ceiling | "
            "held-out AUC | held-out / ceiling | other held-out AUC | ECE OOF | ECE held-out | slope held-out | "
            "boosted - strong OOF | boosted - linear held-out | shipped - HGB OOF | same OOF |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sec["rows"]:
            h = r.get("heldout")
            lines.append(
                f"| {r['score']} | {r['architecture']} | {r['n']} | {r['replicate']} | {r['seed']} | {r['n_cases']} / "
                f"{h['n_cases'] if h else '-'} | {r['shipped']} | {_ci(r['shipped_auc'])} | "
                f"{r['shipped_over_ceiling']:.3f} | {_ci(h['shipped']['roc_auc']) if h else '-'} | "
                f"{_f(h['shipped']['ratio_to_ceiling']['estimate']) if h else '-'} | "
                f"{(h['other_model'] + ' ' + _ci(h['other']['roc_auc'])) if h else '-'} | {r['ece']:.3f} | "
                f"{_f(h['shipped']['ece']['estimate']) if h else '-'} | {_ci(h['shipped']['slope']) if h else '-'} | "
                f"{_diff(r['boosted_minus_baseline'])} | {_diff(h['boosted_minus_linear']) if h else '-'} | "
                f"{_diff(r['shipped_minus_hgb']) if r['hgb_auc'] else '-'} | {h['same_oof'] if h else '-'} |"
            )
    return "\n".join(lines) + "\n"


def write_learning_curve(rows: list[dict], args, argv: list[str]) -> None:
    """``OUT.md`` and ``OUT.json`` of one cohort per setting, without held-out people (the learning curve)."""
    settings = {
        "variants": args.variants,
        "trials": args.trials,
        "threads": args.threads,
        "seed": args.seed,
        "n_folds": 5,
        "prevalence": args.prevalence,
    }
    (args.results_dir / f"{args.out}.json").write_text(
        json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n"
    )

    def ci(m):  # None: not measured (--no-hgb)
        return "-" if m is None else f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"

    def diff(m):
        return "-" if m is None else f"{m['estimate']:+.3f} ({m['ci_low']:+.3f} to {m['ci_high']:+.3f})"

    lines = [
        "## Learning curve: OOF ROC AUC against cohort size, beside the strong baseline and HistGradientBoosting",
        "",
        f"{time.strftime('%Y-%m-%d')}; prevalence {args.prevalence}; {args.variants} variants ({args.causal} causal) "
        "+ age, sex, 4 PCs, "
        "with or without an external PGS (correlation 0.7 with the true additive value); "
        f"5-fold nested CV, {args.trials} trials, {args.threads} threads. AUC with 95% paired-bootstrap CI. "
        "Ceiling: Wray et al. 2010 with all capturable variance (genetic + age). Strong baseline: logistic "
        "regression on the in-cohort polygenic score (stacked ridges and elastic net, fitted in-fold) + PGS + "
        "age + sex + PCs. Boosted: genorisk's trees, with the terms of its in-fold interaction screen as "
        "columns (`model.interaction_screen`). "
        "HGB: scikit-learn HistGradientBoostingClassifier, defaults with early stopping, same outer folds and "
        "in-fold dosage filter. Shipped: the model genorisk publishes by its rule (boosted only if it beats the "
        "strong baseline beyond the CI). Command: `.venv/bin/python bench/learning_curve.py " + " ".join(argv) + "`.",
        "",
        "| score | architecture | n | cases | boosted AUC | strong baseline AUC | boosted - baseline | shipped | "
        "HGB AUC | shipped - HGB | shipped / ceiling | ECE (shipped) | train s | HGB s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['score']} | {r['architecture']} | {r['n']} | {r['n_cases']} | {ci(r['auc'])} | "
            f"{ci(r['baseline_auc'])} | {diff(r['boosted_minus_baseline'])} | {r['shipped']} | {ci(r['hgb_auc'])} | "
            f"{diff(r['shipped_minus_hgb'])} | {r['shipped_over_ceiling']:.1%} | {r['ece']:.3f} | "
            f"{r['seconds']} | {r['hgb_seconds']} |"
        )
    (args.results_dir / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
